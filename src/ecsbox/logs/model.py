"""CloudWatch Logs' vocabulary: limits, ARNs, and the rule error every logs module raises.

Pure: no I/O. :class:`LogsRuleError` carries the error code the botocore model names; the handler
boundary (:func:`ecsbox.logs.handling.aws_errors`) turns it into the AWS error unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecsbox.core.errors import EcsboxError

Partition = tuple[str, str]  # (account id, region)

MS_PER_DAY = 86_400_000
MS_PER_HOUR = 3_600_000

# PutLogEvents (SEMANTICS §7.2).
MAX_BATCH_BYTES = 1_048_576  # Σ (UTF-8 message bytes + 26)
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_SPAN_MS = 24 * MS_PER_HOUR
TOO_NEW_MS = 2 * MS_PER_HOUR  # events more than 2 h ahead are rejected
TOO_OLD_MS = 14 * MS_PER_DAY  # events older than 14 days are rejected

# Reads.
MAX_PAGE_EVENTS = 10_000  # GetLogEvents / FilterLogEvents: default and maximum limit
MAX_PAGE_BYTES = 1_048_576  # a page holds up to 1 MB of events
DESCRIBE_PAGE = 50  # DescribeLogGroups / DescribeLogStreams / DescribeMetricFilters: default and max

MAX_TAGS = 50
MAX_METRIC_FILTERS = 100  # per log group
MAX_DIMENSIONS = 3  # per metric transformation

# PutRetentionPolicy: the values AWS accepts (the Days shape's documentation).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

GROUP_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")
DEFAULT_GROUP_CLASS = "STANDARD"

# AWS's own answers.
GROUP_NOT_FOUND = "The specified log group does not exist."
STREAM_NOT_FOUND = "The specified log stream does not exist."
GROUP_EXISTS = "The specified log group already exists"
STREAM_EXISTS = "The specified log stream already exists"
FILTER_NOT_FOUND = "The specified metric filter does not exist."
NOT_CHRONOLOGICAL = "Log events in a single PutLogEvents request must be in chronological order."
SPAN_TOO_LONG = "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
INVALID_TOKEN = "The specified nextToken is invalid."
NAME_AND_IDENTIFIER = "LogGroup name and LogGroup ARN are mutually exclusive parameters."
NAME_OR_IDENTIFIER = "Either logGroupName or logGroupIdentifier must be specified."
DELETION_PROTECTED = (
    "Deletion protection is enabled for this log group: disable it to delete the group or its streams."
)


class LogsRuleError(EcsboxError):
    """A request CloudWatch Logs refuses: ``code`` is the model's exception name
    (``ResourceNotFoundException``), ``message`` what AWS says."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def invalid_parameter(message: str) -> LogsRuleError:
    return LogsRuleError("InvalidParameterException", message)


def group_not_found() -> LogsRuleError:
    return LogsRuleError("ResourceNotFoundException", GROUP_NOT_FOUND)


def stream_not_found() -> LogsRuleError:
    return LogsRuleError("ResourceNotFoundException", STREAM_NOT_FOUND)


# ---- ARNs ------------------------------------------------------------------------------------------

_GROUP_ARN_RE = re.compile(
    r"arn:aws[a-z-]*:logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):log-group:(?P<name>[^:]+)(?::\*)?"
)


def group_arn(partition: Partition, name: str) -> str:
    """The ARN a log group is tagged by (``logGroupArn``):
    ``group_arn(("123456789012", "eu-west-1"), "/ecs/web")`` →
    ``arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/web``."""
    account_id, region = partition
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def group_arn_wildcard(partition: Partition, name: str) -> str:
    """The older ``arn`` member of DescribeLogGroups, which ends in ``:*``."""
    return group_arn(partition, name) + ":*"


def stream_arn(partition: Partition, group: str, stream: str) -> str:
    """``stream_arn(("123456789012", "eu-west-1"), "g", "s")`` →
    ``arn:aws:logs:eu-west-1:123456789012:log-group:g:log-stream:s``."""
    return f"{group_arn(partition, group)}:log-stream:{stream}"


@dataclass(frozen=True)
class GroupRef:
    """A log group as a request names it: its partition and name."""

    partition: Partition
    name: str


def parse_group_arn(arn: str) -> GroupRef | None:
    """``parse_group_arn("arn:aws:logs:us-east-1:123456789012:log-group:web:*")`` →
    ``GroupRef(("123456789012", "us-east-1"), "web")``; anything else → None."""
    match = _GROUP_ARN_RE.fullmatch(arn)
    if match is None:
        return None
    return GroupRef((match.group("account"), match.group("region")), match.group("name"))


def group_identifier(caller: Partition, identifier: str) -> GroupRef:
    """A ``logGroupIdentifier``: a log group's name (the caller's own partition) or its ARN (with
    or without the trailing ``:*``)."""
    if identifier.startswith("arn:"):
        found = parse_group_arn(identifier)
        if found is None:
            raise invalid_parameter(f"Invalid log group identifier: {identifier}")
        return found
    return GroupRef(caller, identifier)


def event_id(row_id: int) -> str:
    """The eventId of a stored event: 56 decimal digits, as AWS's look. ``event_id(7)`` ends in ``7``."""
    return f"{row_id:056d}"
