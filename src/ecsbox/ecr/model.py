"""ECR's vocabulary: names, digests, addresses and the rule errors every ECR module raises.

Pure: no I/O. ``EcrRuleError`` carries the error code the botocore model names; the API layer
turns it into the AWS error, the registry layer into the OCI distribution error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Partition = tuple[str, str]  # (account id, region)

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"

# SEMANTICS §6.1: 2 to 256 characters, lowercase, "/" namespaces.
_REPOSITORY_PART_RE = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,299}$")  # the OCI tag grammar; ECR allows 1 to 300 characters
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
ANY_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")  # OCI digest grammar

TOKEN_LIFETIME_S = 12 * 3600  # GetAuthorizationToken: valid 12 hours of wall-clock time


class EcrRuleError(Exception):
    """A request ECR refuses: ``code`` is the model's exception name (``RepositoryNotFoundException``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def repository_name_valid(name: str) -> bool:
    """``repository_name_valid("team/web-app")`` → True; ``"Web"`` → False (upper case)."""
    if not 2 <= len(name) <= 256:
        return False
    return all(_REPOSITORY_PART_RE.match(part) for part in name.split("/"))


def repository_arn(partition: Partition, name: str) -> str:
    """``repository_arn(("123456789012", "eu-west-1"), "web")`` →
    ``arn:aws:ecr:eu-west-1:123456789012:repository/web``."""
    account, region = partition
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def repository_not_found(partition: Partition, name: str) -> EcrRuleError:
    account, _ = partition
    return EcrRuleError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{account}'",
    )


def invalid_parameter(message: str) -> EcrRuleError:
    return EcrRuleError("InvalidParameterException", message)


# ---- addresses ---------------------------------------------------------------------------------

# An image URI as AWS writes it: <account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@digest].
AWS_IMAGE_RE = re.compile(
    r"^(?P<account>[^./]+)\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<rest>.+)$"
)


@dataclass(frozen=True)
class AwsImage:
    """An ECR image reference in AWS's form, split: ``account`` may be a placeholder (not 12
    digits, like the seed's ``xxxx``), which means the task's own account."""

    account: str
    region: str
    repository: str
    reference: str  # ":tag", "@sha256:…", or "" (latest)


def parse_aws_image(image: str) -> AwsImage | None:
    """``parse_aws_image("xxxx.dkr.ecr.us-east-1.amazonaws.com/web:v1")`` →
    ``AwsImage("xxxx", "us-east-1", "web", ":v1")``; not an ECR URI → None."""
    match = AWS_IMAGE_RE.match(image.strip())
    if match is None:
        return None
    rest = match.group("rest")
    if "@" in rest:
        repository, digest = rest.split("@", 1)
        reference = "@" + digest
    else:
        last = rest.rsplit("/", 1)[-1]
        if ":" in last:
            repository, tag = rest.rsplit(":", 1)
            reference = ":" + tag
        else:
            repository, reference = rest, ""
    return AwsImage(match.group("account"), match.group("region"), repository, reference)


def image_partition(image: AwsImage, task_partition: Partition) -> Partition:
    """The partition an AWS-form image URI names; a placeholder account means the task's own.
    ``image_partition(AwsImage("xxxx", "us-east-1", "web", ""), ("000000000000", "eu-west-1"))``
    → ``("000000000000", "us-east-1")``."""
    account = image.account if re.fullmatch(r"\d{12}", image.account) else task_partition[0]
    return (account, image.region)
