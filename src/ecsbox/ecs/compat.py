"""What a task definition needs from where it runs: ``compatibilities`` and ``requiresAttributes``.

Both are pure functions of the registered definition (after cpu/memory conversion). The rules are
reconstructed from real DescribeTaskDefinition outputs — AWS documents neither function — and the
seed ``describe-task-definition.as-published.json`` is reproduced exactly, order included.
"""

from __future__ import annotations

import re
from typing import Any

from ecsbox.ecs.fargate import is_fargate_size
from ecsbox.ecs.model import (
    LAUNCH_TYPE_EC2,
    LAUNCH_TYPE_EXTERNAL,
    LAUNCH_TYPE_FARGATE,
    LAUNCH_TYPE_MANAGED_INSTANCES,
    Document,
)

ECR_IMAGE_RE = re.compile(r"^[^/]+\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")

FARGATE_LOG_DRIVERS = ("awslogs", "splunk", "awsfirelens")

DOCKER_API = "com.amazonaws.ecs.capability.docker-remote-api."
CAP = "com.amazonaws.ecs.capability."

# The order AWS prints requiresAttributes in (its own set order, stable across definitions as
# observed); attributes not listed here follow, sorted.
ATTRIBUTE_ORDER = (
    f"{CAP}logging-driver.awslogs",
    "ecs.capability.execution-role-awslogs",
    f"{CAP}ecr-auth",
    f"{DOCKER_API}1.19",
    f"{DOCKER_API}1.21",
    f"{DOCKER_API}1.17",
    f"{CAP}task-iam-role",
    f"{DOCKER_API}1.28",
    "ecs.capability.container-health-check",
    "ecs.capability.env-files.s3",
    "ecs.capability.execution-role-ecr-pull",
    "ecs.capability.secrets.ssm.environment-variables",
    "ecs.capability.secrets.asm.environment-variables",
    "ecs.capability.extensible-ephemeral-storage",
    f"{DOCKER_API}1.18",
    "ecs.capability.task-eni",
    f"{DOCKER_API}1.29",
    f"{DOCKER_API}1.24",
)


def is_ecr_image(image: str) -> bool:
    """``123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1`` → True; ``nginx`` → False."""
    return ".dkr.ecr" in (image or "") and bool(ECR_IMAGE_RE.match(image))


def _containers(definition: Document) -> list[dict[str, Any]]:
    return list(definition.get("containerDefinitions") or [])


def _log_drivers(definition: Document) -> list[str]:
    drivers: list[str] = []
    for container in _containers(definition):
        driver = (container.get("logConfiguration") or {}).get("logDriver")
        if driver and driver not in drivers:
            drivers.append(driver)
    return drivers


def fargate_obstacles(definition: Document) -> list[str]:
    """Why this definition cannot run on Fargate, as the ClientException messages ECS gives when
    ``requiresCompatibilities`` names FARGATE; empty when it can. Task cpu/memory are already
    units/MiB strings."""
    reasons: list[str] = []
    if definition.get("networkMode") != "awsvpc":
        reasons.append("Fargate only supports network mode 'awsvpc'.")
    cpu, memory = definition.get("cpu"), definition.get("memory")
    if cpu is None:
        reasons.append("Fargate requires that 'cpu' be defined at the task level.")
    if memory is None:
        reasons.append("Fargate requires that 'memory' be defined at the task level.")
    if cpu is not None and memory is not None:
        os_family = (definition.get("runtimePlatform") or {}).get("operatingSystemFamily", "LINUX")
        if not is_fargate_size(int(cpu), int(memory), windows=os_family != "LINUX"):
            reasons.append(
                f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
                "See the Amazon ECS documentation for the valid values."
            )
    has_execution_role = bool(definition.get("executionRoleArn"))
    for driver in _log_drivers(definition):
        if driver not in FARGATE_LOG_DRIVERS:
            reasons.append(f"Fargate does not support log driver {driver}.")
        elif driver == "awslogs" and not has_execution_role:
            reasons.append(
                "Fargate requires task definition to have execution role ARN to support log driver awslogs."
            )
    if not has_execution_role and any(is_ecr_image(c.get("image", "")) for c in _containers(definition)):
        reasons.append("Fargate requires task definition to have execution role ARN to support ECR images.")
    for volume in definition.get("volumes") or []:
        if (volume.get("host") or {}).get("sourcePath"):
            reasons.append("Fargate does not support host volumes with a sourcePath.")
        if volume.get("dockerVolumeConfiguration"):
            reasons.append("Fargate does not support Docker volumes.")
    if any(c.get("privileged") for c in _containers(definition)):
        reasons.append("Fargate does not support privileged containers.")
    if definition.get("ipcMode"):
        reasons.append("Fargate does not support ipcMode.")
    if definition.get("pidMode") == "host":
        reasons.append("Fargate does not support pidMode 'host'.")
    if definition.get("inferenceAccelerators"):
        reasons.append("Fargate does not support inference accelerators.")
    return reasons


def external_obstacles(definition: Document) -> list[str]:
    """Why this definition cannot run on External (ECS Anywhere) instances; empty when it can."""
    reasons: list[str] = []
    if definition.get("networkMode") == "awsvpc":
        reasons.append("The EXTERNAL launch type does not support network mode 'awsvpc'.")
    for volume in definition.get("volumes") or []:
        if volume.get("efsVolumeConfiguration") or volume.get("fsxWindowsFileServerVolumeConfiguration"):
            reasons.append("The EXTERNAL launch type does not support EFS or FSx volumes.")
    if definition.get("inferenceAccelerators"):
        reasons.append("The EXTERNAL launch type does not support inference accelerators.")
    return reasons


def compatibilities(definition: Document) -> list[str]:
    """The launch types a definition can run on, in the order ECS prints them.

    The seed Fargate definition (awsvpc, 256/512, execution role) → ``["EC2", "FARGATE"]``;
    the awslogs example (bridge, links) → ``["EXTERNAL", "EC2"]``; awsvpc without task size →
    ``["EC2"]``. MANAGED_INSTANCES is added only when the definition asks for it.
    """
    result: list[str] = []
    if not external_obstacles(definition):
        result.append(LAUNCH_TYPE_EXTERNAL)
    result.append(LAUNCH_TYPE_EC2)
    if not fargate_obstacles(definition):
        result.append(LAUNCH_TYPE_FARGATE)
    if LAUNCH_TYPE_MANAGED_INSTANCES in (definition.get("requiresCompatibilities") or []):
        result.append(LAUNCH_TYPE_MANAGED_INSTANCES)
    return result


def _secret_sources(container: dict[str, Any]) -> list[str]:
    secrets = list(container.get("secrets") or [])
    secrets += list((container.get("logConfiguration") or {}).get("secretOptions") or [])
    return [str(s.get("valueFrom", "")) for s in secrets]


def required_attribute_names(definition: Document) -> set[str]:
    """The container-instance attributes the definition needs (unordered).

    - a log driver ``d`` → ``com.amazonaws.ecs.capability.logging-driver.d``, and any
      ``logConfiguration``, ``ulimits`` or ``dockerLabels`` → ``docker-remote-api.1.18``;
    - awslogs with an execution role → ``ecs.capability.execution-role-awslogs``;
    - an ECR image → ``ecs.capability.execution-role-ecr-pull`` with an execution role, else
      ``com.amazonaws.ecs.capability.ecr-auth`` (the instance role pulls);
    - a task role → ``com.amazonaws.ecs.capability.task-iam-role`` outside awsvpc (in awsvpc the
      task ENI capability carries it, as in the seed), plus ``task-iam-role-network-host`` in host mode;
    - awsvpc → ``ecs.capability.task-eni``; a health check → ``ecs.capability.container-health-check``;
      secrets → ``ecs.capability.secrets.{ssm,asm}.environment-variables``; environment files →
      ``ecs.capability.env-files.s3``; ephemeral storage → ``ecs.capability.extensible-ephemeral-storage``;
      dependsOn / start / stop timeouts → ``ecs.capability.container-ordering``; FireLens →
      ``ecs.capability.firelens.<type>``.
    """
    names: set[str] = set()
    execution_role = bool(definition.get("executionRoleArn"))
    network_mode = definition.get("networkMode")
    for container in _containers(definition):
        log = container.get("logConfiguration")
        if log:
            names.add(f"{DOCKER_API}1.18")
            driver = log.get("logDriver")
            if driver:
                names.add(f"{CAP}logging-driver.{driver}")
                if driver == "awslogs" and execution_role:
                    names.add("ecs.capability.execution-role-awslogs")
        if container.get("ulimits") or container.get("dockerLabels"):
            names.add(f"{DOCKER_API}1.18")
        if is_ecr_image(container.get("image", "")):
            names.add("ecs.capability.execution-role-ecr-pull" if execution_role else f"{CAP}ecr-auth")
        if container.get("healthCheck"):
            names.add("ecs.capability.container-health-check")
        for source in _secret_sources(container):
            kind = "asm" if ":secretsmanager:" in source else "ssm"
            names.add(f"ecs.capability.secrets.{kind}.environment-variables")
        if container.get("environmentFiles"):
            names.add("ecs.capability.env-files.s3")
        if container.get("dependsOn") or container.get("startTimeout") or container.get("stopTimeout"):
            names.add("ecs.capability.container-ordering")
        firelens = container.get("firelensConfiguration")
        if firelens and firelens.get("type"):
            names.add(f"ecs.capability.firelens.{firelens['type']}")
    if definition.get("taskRoleArn"):
        if network_mode != "awsvpc":
            names.add(f"{CAP}task-iam-role")
        if network_mode == "host":
            names.add(f"{CAP}task-iam-role-network-host")
    if network_mode == "awsvpc":
        names.add("ecs.capability.task-eni")
    if definition.get("ephemeralStorage"):
        names.add("ecs.capability.extensible-ephemeral-storage")
    return names


def requires_attributes(definition: Document) -> list[dict[str, str]]:
    """``requiresAttributes`` as DescribeTaskDefinition prints it: ``[{"name": …}, …]`` in AWS's order.

    The seed php-sample-fargate definition → logging-driver.awslogs, execution-role-awslogs,
    execution-role-ecr-pull, docker-remote-api.1.18, task-eni.
    """
    names = required_attribute_names(definition)
    rank = {name: index for index, name in enumerate(ATTRIBUTE_ORDER)}
    ordered = sorted(names, key=lambda name: (rank.get(name, len(rank)), name))
    return [{"name": name} for name in ordered]
