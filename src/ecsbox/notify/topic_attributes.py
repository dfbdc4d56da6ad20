"""Topic attributes: which ones CreateTopic and SetTopicAttributes take, what values they accept,
and what GetTopicAttributes shows (the stored ones plus the computed ones). Pure.

Stored attributes are the settable ones as the caller gave them; ``Policy`` defaults to AWS's
default access policy document, ``EffectiveDeliveryPolicy`` is computed from ``DeliveryPolicy``.

>>> check_topic_attribute("SignatureVersion", "2")
'2'
>>> default_policy(("123456789012", "eu-west-1"), "alarms")[:52]
'{"Version":"2008-10-17","Id":"__default_policy_ID","'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ecsbox.notify.delivery_policy import parse_topic_policy, topic_effective_document
from ecsbox.notify.model import (
    DEFAULT_MAXIMUM_MESSAGE_SIZE,
    FIFO_NAME_RULE,
    FIFO_NOT_SERVED,
    MIN_MAXIMUM_MESSAGE_SIZE,
    NotifyRuleError,
    Partition,
    invalid_parameter,
    load_json,
    topic_arn,
    with_attribute,
)

# Delivery status logging: <protocol>SuccessFeedbackRoleArn / ...SampleRate / ...FailureFeedbackRoleArn.
_FEEDBACK_PROTOCOLS = ("HTTP", "Firehose", "Lambda", "Application", "SQS")
FEEDBACK_ATTRIBUTES = tuple(
    f"{protocol}{suffix}"
    for protocol in _FEEDBACK_PROTOCOLS
    for suffix in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")
)
SETTABLE = (
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "SignatureVersion",
    "TracingConfig",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    *FEEDBACK_ATTRIBUTES,
)
# Attributes only a FIFO topic has; ecsbox serves standard topics only.
FIFO_ONLY = ("ContentBasedDeduplication", "FifoThroughputScope", "ArchivePolicy")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_POLICY_ACTIONS = (
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
)


@dataclass(frozen=True)
class SubscriptionCounts:
    confirmed: int = 0
    pending: int = 0
    deleted: int = 0


def default_policy(partition: Partition, name: str) -> str:
    """AWS's default access policy of a new topic: only its owner's account may use it."""
    account_id, _ = partition
    document = {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": list(_POLICY_ACTIONS),
                "Resource": topic_arn(partition, name),
                "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
            }
        ],
    }
    return json.dumps(document, separators=(",", ":"))


def _integer_in(name: str, value: str, low: int, high: int, reason: str) -> str:
    try:
        number = int(value)
    except ValueError:
        raise invalid_parameter(f"Attributes Reason: {name}: {reason}") from None
    if not low <= number <= high:
        raise invalid_parameter(f"Attributes Reason: {name}: {reason}")
    return str(number)


def check_topic_attribute(name: str, value: str) -> str:
    """The value to store for a settable attribute; InvalidParameter as SNS words it otherwise."""
    if name in FIFO_ONLY or name == "FifoTopic":
        if name == "FifoTopic" and value.lower() == "false":
            return "false"
        raise invalid_parameter(FIFO_NOT_SERVED)
    if name not in SETTABLE:
        raise invalid_parameter("AttributeName")
    if name == "Policy":
        try:
            document = load_json(value)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("Statement"), list | dict):
            raise invalid_parameter("Policy Error: the policy must be a JSON object with a Statement")
        return value
    if name == "DeliveryPolicy":
        if value:
            parse_topic_policy(value)  # raises on what AWS refuses
        return value
    if name == "SignatureVersion" and value not in ("1", "2"):
        raise invalid_parameter("SignatureVersion Reason: must be 1 or 2")
    if name == "TracingConfig" and value not in ("PassThrough", "Active"):
        raise invalid_parameter("TracingConfig Reason: must be PassThrough or Active")
    if name == "MaximumMessageSize":
        return _integer_in(
            name,
            value,
            MIN_MAXIMUM_MESSAGE_SIZE,
            DEFAULT_MAXIMUM_MESSAGE_SIZE,
            f"must be an integer from {MIN_MAXIMUM_MESSAGE_SIZE} to {DEFAULT_MAXIMUM_MESSAGE_SIZE} "
            "(larger messages go to SQS, Firehose and Lambda subscriptions only, which ecsbox does not serve)",
        )
    if name.endswith("SampleRate"):
        return _integer_in(name, value, 0, 100, "must be an integer from 0 to 100")
    if name.endswith("RoleArn") and value and not _ROLE_ARN.fullmatch(value):
        raise invalid_parameter(f"Attributes Reason: {name}: not an IAM role ARN")
    return value


def check_create_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """CreateTopic's Attributes → what to store (``FifoTopic`` = "false" is the default, not kept)."""
    stored: dict[str, str] = {}
    for name, value in attributes.items():
        checked = check_topic_attribute(name, value if value is not None else "")
        if name != "FifoTopic":
            stored[name] = checked
    return stored


def differs(stored: dict[str, str], requested: dict[str, str]) -> bool:
    """CreateTopic on an existing name: does the request ask for other attribute values?

    >>> differs({"DisplayName": "Ops"}, {"DisplayName": "Ops"}), differs({}, {"DisplayName": "Ops"})
    (False, True)
    """
    return any(stored.get(name, "") != value for name, value in requested.items())


def set_attribute(stored: dict[str, str], name: str, value: str | None) -> dict[str, str]:
    """SetTopicAttributes: the new stored attributes (an empty value clears an attribute)."""
    if name == "FifoTopic":
        raise invalid_parameter("AttributeName")
    checked = check_topic_attribute(name, value or "") if (value or name == "Policy") else ""
    return with_attribute(stored, name, checked)


def topic_view(
    partition: Partition, name: str, stored: dict[str, str], counts: SubscriptionCounts
) -> dict[str, str]:
    """GetTopicAttributes' map, in the order AWS answers it."""
    account_id, _ = partition
    view: dict[str, str] = {
        "Policy": stored.get("Policy") or default_policy(partition, name),
        "Owner": account_id,
        "SubscriptionsPending": str(counts.pending),
        "TopicArn": topic_arn(partition, name),
        "EffectiveDeliveryPolicy": topic_effective_document(stored.get("DeliveryPolicy") or None),
        "SubscriptionsConfirmed": str(counts.confirmed),
        "DisplayName": stored.get("DisplayName", ""),
        "SubscriptionsDeleted": str(counts.deleted),
    }
    for key, value in stored.items():
        if key not in view:
            view[key] = value
    return view


def maximum_message_size(stored: dict[str, str]) -> int:
    return int(stored.get("MaximumMessageSize") or DEFAULT_MAXIMUM_MESSAGE_SIZE)


def signature_version(stored: dict[str, str]) -> str:
    return stored.get("SignatureVersion") or "1"


def decode(text: str) -> dict[str, str]:
    """The stored attributes column (JSON) → a dict; anything else is an empty dict."""
    try:
        document: Any = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in document.items()} if isinstance(document, dict) else {}


def check_fifo_request(name: str, attributes: dict[str, str]) -> NotifyRuleError | None:
    """CreateTopic's FIFO rules: a ``.fifo`` name or FifoTopic=true is a FIFO topic, refused with
    the reason; FifoTopic=true on another name breaks AWS's naming rule first."""
    fifo = str(attributes.get("FifoTopic", "false")).lower() == "true"
    if fifo and not name.endswith(".fifo"):
        return invalid_parameter(FIFO_NAME_RULE)
    if fifo:
        return invalid_parameter(FIFO_NOT_SERVED)
    return None
