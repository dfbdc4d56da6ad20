"""The vocabulary of SSM Parameter Store and Secrets Manager: types, tiers, stages, limits, and the
error that pure secrets logic raises (translated to an AWS error at the handler boundary).

Nothing here does I/O; the pure modules (``names``, ``arns``, ``stages``, ``filters``, ``paging``)
import only this module and ``ecsbox.core``.
"""

from __future__ import annotations

from typing import Any

from ecsbox.core.errors import EcsboxError

Document = dict[str, Any]

# ---- SSM Parameter Store ---------------------------------------------------------------------

PARAMETER_TYPES = ("String", "StringList", "SecureString")
SECURE_STRING = "SecureString"
DEFAULT_SSM_KEY_ID = "alias/aws/ssm"  # the AWS managed key a SecureString uses when none is named

TIER_STANDARD = "Standard"
TIER_ADVANCED = "Advanced"
TIER_INTELLIGENT = "Intelligent-Tiering"
MAX_STANDARD_VALUE = 4096
MAX_ADVANCED_VALUE = 8192

DATA_TYPE_TEXT = "text"
# Data types AWS accepts that ecsbox cannot validate on one machine (an AMI must exist in EC2, ...).
UNSUPPORTED_DATA_TYPES = ("aws:ec2:image", "aws:ssm:integration")

MAX_HIERARCHY_LEVELS = 15
MAX_NAME_WITH_ARN_PREFIX = 1011  # the documented limit counts the ARN that precedes the name
MAX_PARAMETER_VERSIONS = 100  # the oldest version goes when a 101st is written
MAX_PARAMETER_TAGS = 50

DESCRIBE_PAGE = 10  # DescribeParameters' page when MaxResults is absent
BY_PATH_PAGE = 10  # GetParametersByPath's page when MaxResults is absent

# ---- Secrets Manager -------------------------------------------------------------------------

AWSCURRENT = "AWSCURRENT"
AWSPREVIOUS = "AWSPREVIOUS"
AWSPENDING = "AWSPENDING"

MIN_RECOVERY_DAYS = 7
MAX_RECOVERY_DAYS = 30
DEFAULT_RECOVERY_DAYS = 30
SECONDS_PER_DAY = 86400

MAX_SECRET_TAGS = 50
LIST_SECRETS_PAGE = 100
MAX_SECRET_VERSIONS = 100  # unlabelled (deprecated) versions past this many are removed, oldest first

ARN_SUFFIX_LENGTH = 6
ARN_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class SecretsRuleError(EcsboxError):
    """A request broke a Parameter Store or Secrets Manager rule. ``code`` is the AWS error code
    the service's model names for it; the handler layer turns this into the wire error unchanged."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# ---- SSM errors ----------------------------------------------------------------------------------


def ssm_validation(message: str) -> SecretsRuleError:
    return SecretsRuleError("ValidationException", message)


def parameter_not_found(name: str = "") -> SecretsRuleError:
    """AWS answers a missing parameter with an empty message on GetParameter and DeleteParameter."""
    del name
    return SecretsRuleError("ParameterNotFound", "")


def parameter_version_not_found(name: str, version: int) -> SecretsRuleError:
    return SecretsRuleError(
        "ParameterVersionNotFound",
        f"Systems Manager could not find version {version} of {name}. Verify the version and try again.",
    )


# ---- Secrets Manager errors ----------------------------------------------------------------------


def invalid_parameter(message: str) -> SecretsRuleError:
    return SecretsRuleError("InvalidParameterException", message)


def invalid_request(message: str) -> SecretsRuleError:
    return SecretsRuleError("InvalidRequestException", message)


SECRET_NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."


def secret_not_found() -> SecretsRuleError:
    return SecretsRuleError("ResourceNotFoundException", SECRET_NOT_FOUND)


def marked_for_deletion() -> SecretsRuleError:
    return invalid_request(MARKED_FOR_DELETION)


def no_value_for_stage(stage: str) -> SecretsRuleError:
    return SecretsRuleError(
        "ResourceNotFoundException",
        f"Secrets Manager can't find the specified secret value for staging label: {stage}",
    )


def no_value_for_version(version_id: str) -> SecretsRuleError:
    return SecretsRuleError(
        "ResourceNotFoundException",
        f"Secrets Manager can't find the specified secret value for VersionId: {version_id}",
    )
