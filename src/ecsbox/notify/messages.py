"""The JSON documents SNS sends: SubscriptionConfirmation, Notification and UnsubscribeConfirmation,
field by field and in AWS's order and layout, with the string AWS signs for each. Pure: the
signature comes from a ``sign(text, signature_version)`` function handed in.

>>> timestamp(1_700_000_000.5)
'2023-11-14T22:13:20.500Z'
>>> print(canonical_string({"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:t",
...                         "Message": "hi", "Timestamp": "2023-11-14T22:13:20.500Z"}), end="")
Message
hi
MessageId
m-1
Timestamp
2023-11-14T22:13:20.500Z
TopicArn
arn:t
Type
Notification
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Sign = Callable[[str, str], str]  # (string to sign, SignatureVersion "1" | "2") → base64 signature

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

CERTIFICATE_PATH = "/_ecsbox/sns/SimpleNotificationService.pem"

_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


@dataclass(frozen=True)
class Urls:
    """Where the documents point: ecsbox's own address (``http://localhost:4566``)."""

    endpoint_url: str

    @property
    def signing_cert_url(self) -> str:
        return self.endpoint_url.rstrip("/") + CERTIFICATE_PATH

    def subscribe_url(self, topic_arn: str, token: str) -> str:
        """The URL whose plain GET confirms a subscription (ecsbox routes it to ConfirmSubscription).

        >>> Urls("http://localhost:4566").subscribe_url("arn:aws:sns:us-east-1:000000000000:t", "ab12")
        'http://localhost:4566/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:000000000000:t&Token=ab12'
        """
        return (
            f"{self.endpoint_url.rstrip('/')}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"
        )

    def unsubscribe_url(self, subscription_arn: str) -> str:
        return f"{self.endpoint_url.rstrip('/')}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"


def timestamp(now: float) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as SNS stamps its messages."""
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def canonical_string(document: dict[str, Any]) -> str:
    """What SignatureVersion 1 and 2 sign: name and value lines of the type's fields, in name
    order, leaving out a Notification's Subject when it has none."""
    fields = _NOTIFICATION_FIELDS if document["Type"] == NOTIFICATION else _CONFIRMATION_FIELDS
    return "".join(f"{name}\n{document[name]}\n" for name in fields if name in document)


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def aws_json(document: dict[str, Any]) -> str:
    """A document laid out as SNS lays it out: two-space indent, ``"Name" : value``, message
    attributes one compact object per line.

    >>> print(aws_json({"Type": "Notification", "MessageAttributes": {"k": {"Type": "String", "Value": "v"}}}))
    {
      "Type" : "Notification",
      "MessageAttributes" : {
        "k" : {"Type":"String","Value":"v"}
      }
    }
    """
    lines = []
    for name, value in document.items():
        if isinstance(value, dict):
            inner = ",\n".join(f"    {_value(key)} : {_compact(item)}" for key, item in value.items())
            lines.append(f"  {_value(name)} : {{\n{inner}\n  }}")
        else:
            lines.append(f"  {_value(name)} : {_value(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


def _signed(document: dict[str, Any], version: str, sign: Sign, urls: Urls) -> dict[str, Any]:
    signature = sign(canonical_string(document), version)
    return {
        **document,
        "SignatureVersion": version,
        "Signature": signature,
        "SigningCertURL": urls.signing_cert_url,
    }


def subscribe_message(topic_arn: str) -> str:
    return (
        f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )


def unsubscribe_message(subscription_arn: str) -> str:
    return (
        f"You have chosen to deactivate subscription {subscription_arn}.\n"
        "To cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
    )


def confirmation_document(
    kind: str,
    message_id: str,
    token: str,
    topic_arn: str,
    message: str,
    now: float,
    *,
    version: str,
    sign: Sign,
    urls: Urls,
) -> dict[str, Any]:
    """A SubscriptionConfirmation or UnsubscribeConfirmation, signed."""
    document = {
        "Type": kind,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": message,
        "SubscribeURL": urls.subscribe_url(topic_arn, token),
        "Timestamp": timestamp(now),
    }
    return _signed(document, version, sign, urls)


def attributes_document(attributes: dict[str, tuple[str, str | bytes]]) -> dict[str, dict[str, str]]:
    """Message attributes as a Notification carries them (Binary values in base64).

    >>> attributes_document({"n": ("Number", "1"), "b": ("Binary", b"\\x00")})
    {'n': {'Type': 'Number', 'Value': '1'}, 'b': {'Type': 'Binary', 'Value': 'AA=='}}
    """
    shown: dict[str, dict[str, str]] = {}
    for name, (data_type, value) in attributes.items():
        text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
        shown[name] = {"Type": data_type, "Value": text}
    return shown


def notification_document(
    message_id: str,
    topic_arn: str,
    subject: str | None,
    message: str,
    now: float,
    subscription_arn: str,
    attributes: dict[str, tuple[str, str | bytes]],
    *,
    version: str,
    sign: Sign,
    urls: Urls,
) -> dict[str, Any]:
    """A Notification to one subscription, signed; Subject and MessageAttributes only when given."""
    document: dict[str, Any] = {"Type": NOTIFICATION, "MessageId": message_id, "TopicArn": topic_arn}
    if subject is not None:
        document["Subject"] = subject
    document["Message"] = message
    document["Timestamp"] = timestamp(now)
    signed = _signed(document, version, sign, urls)
    signed["UnsubscribeURL"] = urls.unsubscribe_url(subscription_arn)
    if attributes:
        signed["MessageAttributes"] = attributes_document(attributes)
    return signed
