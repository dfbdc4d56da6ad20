"""SNS's vocabulary: ARNs, names, protocols, subscription states, limits, AWS's own messages, and the
rule error every notify module raises.

Pure: no I/O. :class:`NotifyRuleError` carries the error code of the botocore model (the query
code: ``InvalidParameter``, ``NotFound`` ...); the handler boundary
(:func:`ecsbox.notify.handling.aws_errors`) turns it into the AWS error unchanged.

>>> topic_arn(("123456789012", "eu-west-1"), "alarms")
'arn:aws:sns:eu-west-1:123456789012:alarms'
>>> parse_topic_arn("arn:aws:sns:eu-west-1:123456789012:alarms")
TopicRef(partition=('123456789012', 'eu-west-1'), name='alarms')
>>> parse_subscription_arn("arn:aws:sns:eu-west-1:123456789012:alarms:6b0e71bd-7e97-4d97-80ce-4a0994e55286").topic.name
'alarms'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecsbox.core.errors import EcsboxError

Partition = tuple[str, str]  # (account id, region)

# ---- limits ------------------------------------------------------------------------------------

MAX_TOPIC_NAME = 256
LIST_PAGE = 100  # ListTopics, ListSubscriptions, ListSubscriptionsByTopic: 100 per page
MAX_TAGS = 50
DEFAULT_MAXIMUM_MESSAGE_SIZE = 262_144  # bytes of message body plus message attributes
MIN_MAXIMUM_MESSAGE_SIZE = 1024
MAX_SUBJECT = 100
MAX_MESSAGE_ATTRIBUTES = 10
TOKEN_LIFETIME_S = 2 * 86_400.0  # "Confirmation tokens are valid for two days" (Subscribe)
PENDING_LIFETIME_S = 48 * 3_600.0  # "SNS automatically deletes unconfirmed subscriptions after 48 hours"

# ---- protocols and states ----------------------------------------------------------------------

DELIVERED_PROTOCOLS = ("http", "https", "email", "email-json")
HTTP_PROTOCOLS = ("http", "https")
EMAIL_PROTOCOLS = ("email", "email-json")
# Protocols AWS serves that deliver to services ecsbox does not run (or to phones and apps).
UNSERVED_PROTOCOLS = ("sqs", "lambda", "sms", "application", "firehose")

PENDING = 0  # waiting for ConfirmSubscription
CONFIRMED = 1
DELETED = 2  # unsubscribed by someone else than its owner: restorable with the token it was sent

PENDING_CONFIRMATION_ARN = "pending confirmation"  # Subscribe's answer for a pending subscription
LISTED_PENDING_ARN = "PendingConfirmation"  # ListSubscriptions' value for a pending subscription

# ---- AWS's words -------------------------------------------------------------------------------

TOPIC_NOT_FOUND = "Topic does not exist"
SUBSCRIPTION_NOT_FOUND = "Subscription does not exist"
RESOURCE_NOT_FOUND = "Resource does not exist"
INVALID_TOKEN = "Invalid token"
FIFO_NAME_RULE = (
    "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII "
    "letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
)
FIFO_NOT_SERVED = (
    "FifoTopic Reason: ecsbox serves standard topics only: FIFO topics deliver only to Amazon SQS "
    "queues, which ecsbox does not run"
)
TAG_QUOTA = "Could not complete request: tag quota of per resource exceeded"

_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_REGION = re.compile(r"[a-z][a-z0-9-]{0,31}")  # AWS's (us-east-1) and local names alike
_ACCOUNT = re.compile(r"\d{12}")


class NotifyRuleError(EcsboxError):
    """A request SNS refuses: ``code`` is the model's query code (``InvalidParameter``,
    ``NotFound``, ``AuthorizationError`` ...), ``message`` what AWS says."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def invalid_parameter(what: str) -> NotifyRuleError:
    """``InvalidParameter`` worded as SNS words it: ``Invalid parameter: <what>``."""
    return NotifyRuleError("InvalidParameter", f"Invalid parameter: {what}")


def invalid_value(message: str) -> NotifyRuleError:
    """``ParameterValueInvalid`` (the model's InvalidParameterValueException), for message attributes."""
    return NotifyRuleError("ParameterValueInvalid", message)


def topic_not_found() -> NotifyRuleError:
    return NotifyRuleError("NotFound", TOPIC_NOT_FOUND)


def subscription_not_found() -> NotifyRuleError:
    return NotifyRuleError("NotFound", SUBSCRIPTION_NOT_FOUND)


def not_authorized(principal_arn: str, action: str, resource: str) -> NotifyRuleError:
    who = principal_arn or "anonymous"
    return NotifyRuleError(
        "AuthorizationError",
        f"User: {who} is not authorized to perform: SNS:{action} on resource: {resource}",
    )


# ---- attributes --------------------------------------------------------------------------------


def with_attribute(stored: dict[str, str], name: str, checked: str) -> dict[str, str]:
    """Set*Attributes' result: a copy of ``stored`` with ``name`` set to its ``checked`` value, or
    without it when that value is empty (an empty value clears an attribute).

    >>> with_attribute({"A": "1"}, "B", "2"), with_attribute({"A": "1"}, "A", "")
    ({'A': '1', 'B': '2'}, {})
    """
    updated = dict(stored)
    if checked:
        updated[name] = checked
    else:
        updated.pop(name, None)
    return updated


# ---- JSON in attributes and messages -----------------------------------------------------------

MAX_JSON_DEPTH = 100  # arrays and objects inside one another in a policy document


def load_json(
    text: str,
    max_depth: int | None = MAX_JSON_DEPTH,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """A JSON document a caller sent (a policy, a ``MessageStructure=json`` message, a String.Array),
    read as AWS's parser reads it: standard JSON only (no NaN or Infinity, no number beyond a
    double), nested at most ``max_depth`` deep (None: as deep as the parser goes). ValueError for
    anything else, never a RecursionError.

    >>> load_json('{"http": {"numRetries": 3}}')
    {'http': {'numRetries': 3}}
    >>> for text in ('{"a": NaN}', '[1e999]', "[" * 5000 + "]" * 5000, "[" * 101 + "]" * 101):
    ...     try:
    ...         load_json(text)
    ...     except ValueError as exc:
    ...         print(exc)
    NaN is not a JSON value
    the number 1e999 is out of range
    the document nests too deeply
    the document nests deeper than 100 levels
    """
    try:
        document = json.loads(
            text, parse_constant=_not_json, parse_float=_double, object_pairs_hook=object_pairs_hook
        )
    except RecursionError:
        raise ValueError("the document nests too deeply") from None
    if max_depth is not None and nesting_depth(document) > max_depth:
        raise ValueError(f"the document nests deeper than {max_depth} levels")
    return document


def nesting_depth(document: Any) -> int:
    """How many arrays and objects lie inside one another (walked without recursion).

    >>> nesting_depth("x"), nesting_depth([1, {"a": []}])
    (0, 3)
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        else:
            continue
        deepest = max(deepest, depth + 1)
    return deepest


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _double(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text} is out of range")
    return number


# ---- names and ARNs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicRef:
    partition: Partition
    name: str

    @property
    def arn(self) -> str:
        return topic_arn(self.partition, self.name)


@dataclass(frozen=True)
class SubscriptionRef:
    topic: TopicRef
    id: str

    @property
    def arn(self) -> str:
        return f"{self.topic.arn}:{self.id}"


def topic_arn(partition: Partition, name: str) -> str:
    account_id, region = partition
    return f"arn:aws:sns:{region}:{account_id}:{name}"


def is_valid_topic_name(name: str) -> bool:
    """Standard topic names: 1 to 256 ASCII letters, digits, ``_`` and ``-``.

    >>> [is_valid_topic_name(n) for n in ("alarms", "ops_2-a", "", "a.b", "x" * 257)]
    [True, True, False, False, False]
    """
    return _NAME.fullmatch(name) is not None


def is_fifo_name(name: str) -> bool:
    """``orders.fifo`` → True: a FIFO topic's name (ecsbox refuses those, see FIFO_NOT_SERVED)."""
    return name.endswith(".fifo") and is_valid_topic_name(name.removesuffix(".fifo"))


def parse_topic_arn(value: str) -> TopicRef | None:
    """The topic an ARN names, or None when it is not a topic ARN."""
    parts = value.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"]:
        return None
    _, _, _, region, account_id, name = parts
    if not (_REGION.fullmatch(region) and _ACCOUNT.fullmatch(account_id)):
        return None
    if not (is_valid_topic_name(name) or is_fifo_name(name)):
        return None
    return TopicRef((account_id, region), name)


def parse_subscription_arn(value: str) -> SubscriptionRef | None:
    """The subscription an ARN names (``<topic ARN>:<uuid>``), or None."""
    head, _, last = value.rpartition(":")
    topic = parse_topic_arn(head)
    if topic is None or _UUID.fullmatch(last) is None:
        return None
    return SubscriptionRef(topic, last)


def require_topic_arn(value: str, member: str = "TopicArn") -> TopicRef:
    topic = parse_topic_arn(value)
    if topic is None:
        raise invalid_parameter(member)
    return topic


def require_subscription_arn(value: str) -> SubscriptionRef:
    """Unsubscribe and the subscription attribute calls: AWS's answers for what is not one."""
    parts = value.split(":")
    if len(parts) < 6:
        raise invalid_parameter(
            f"SubscriptionArn Reason: An ARN must have at least 6 elements, not {len(parts)}"
        )
    subscription = parse_subscription_arn(value)
    if subscription is None:
        raise invalid_parameter("SubscriptionId")
    return subscription
