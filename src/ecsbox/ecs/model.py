"""The ECS control plane's vocabulary: statuses, reserved names, account-setting defaults, and the
error that pure ECS logic raises (translated to an AWS error at the handler boundary).

Nothing here does I/O; pure modules (``fargate``, ``compat``, ``strategy``, ``paging``,
``taskdef_rules``, ``references``) import only this module and ``ecsbox.core``.
"""

from __future__ import annotations

from typing import Any

from ecsbox.core.errors import EcsboxError

Document = dict[str, Any]

# ---- task definitions --------------------------------------------------------------------------

TASK_DEFINITION_ACTIVE = "ACTIVE"
TASK_DEFINITION_INACTIVE = "INACTIVE"
TASK_DEFINITION_DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"

LAUNCH_TYPE_EC2 = "EC2"
LAUNCH_TYPE_FARGATE = "FARGATE"
LAUNCH_TYPE_EXTERNAL = "EXTERNAL"
LAUNCH_TYPE_MANAGED_INSTANCES = "MANAGED_INSTANCES"

# ---- clusters ----------------------------------------------------------------------------------

CLUSTER_ACTIVE = "ACTIVE"
CLUSTER_INACTIVE = "INACTIVE"
DEFAULT_CLUSTER_NAME = "default"

# What DescribeClusters include=["STATISTICS"] lists, in the order AWS prints them.
CLUSTER_STATISTIC_NAMES = (
    "runningEC2TasksCount",
    "runningFargateTasksCount",
    "pendingEC2TasksCount",
    "pendingFargateTasksCount",
    "runningExternalTasksCount",
    "pendingExternalTasksCount",
    "activeEC2ServiceCount",
    "activeFargateServiceCount",
    "drainingEC2ServiceCount",
    "drainingFargateServiceCount",
    "activeExternalServiceCount",
    "drainingExternalServiceCount",
)

# ---- capacity providers ------------------------------------------------------------------------

FARGATE = "FARGATE"
FARGATE_SPOT = "FARGATE_SPOT"
FARGATE_PROVIDERS = (FARGATE, FARGATE_SPOT)  # exist in every account and region, cannot be deleted
RESERVED_PROVIDER_PREFIXES = ("aws", "ecs", "fargate")  # case-insensitive, per the API reference

PROVIDER_ACTIVE = "ACTIVE"
PROVIDER_INACTIVE = "INACTIVE"

MANAGED_SCALING_DEFAULTS: dict[str, Any] = {
    "targetCapacity": 100,
    "minimumScalingStepSize": 1,
    "maximumScalingStepSize": 10000,
    "instanceWarmupPeriod": 300,
}

# ---- account settings --------------------------------------------------------------------------

# The value each setting has when nobody set it (type "aws_managed"), and the values it accepts.
ACCOUNT_SETTING_DEFAULTS: dict[str, str] = {
    "serviceLongArnFormat": "enabled",
    "taskLongArnFormat": "enabled",
    "containerInstanceLongArnFormat": "enabled",
    "awsvpcTrunking": "disabled",
    "containerInsights": "disabled",
    "fargateFIPSMode": "disabled",
    "tagResourceAuthorization": "on",
    "fargateTaskRetirementWaitPeriod": "7",
    "guardDutyActivate": "off",
    "defaultLogDriverMode": "non-blocking",
    "fargateEventWindows": "disabled",
}

ACCOUNT_SETTING_VALUES: dict[str, tuple[str, ...]] = {
    "serviceLongArnFormat": ("enabled", "disabled"),
    "taskLongArnFormat": ("enabled", "disabled"),
    "containerInstanceLongArnFormat": ("enabled", "disabled"),
    "awsvpcTrunking": ("enabled", "disabled"),
    "containerInsights": ("enabled", "disabled", "enhanced"),
    "fargateFIPSMode": ("enabled", "disabled"),
    "tagResourceAuthorization": ("on", "off"),
    "fargateTaskRetirementWaitPeriod": ("0", "7", "14"),
    "guardDutyActivate": ("on", "off"),
    "defaultLogDriverMode": ("blocking", "non-blocking"),
    "fargateEventWindows": ("enabled", "disabled"),
}

# Set by other services (GuardDuty), only readable through ECS.
READ_ONLY_ACCOUNT_SETTINGS = ("guardDutyActivate",)

CONTAINER_INSIGHTS_VALUES = ("enabled", "disabled", "enhanced")

# ---- tags --------------------------------------------------------------------------------------

MAX_TAGS_PER_RESOURCE = 50
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256


class EcsRuleError(EcsboxError):
    """A request broke an ECS rule. ``code`` is the AWS error code the ECS model names for it
    (``ClientException``, ``InvalidParameterException``, …); the handler layer turns this into the
    wire error unchanged."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def client_error(message: str) -> EcsRuleError:
    return EcsRuleError("ClientException", message)


def invalid_parameter(message: str) -> EcsRuleError:
    return EcsRuleError("InvalidParameterException", message)
