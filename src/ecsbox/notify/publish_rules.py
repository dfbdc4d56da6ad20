"""Publish's rules: the subject, the message (and ``MessageStructure=json``), the message attributes
and the size limit, checked as SNS checks them, giving the message to deliver. Pure.

>>> outgoing = check_publish('{"default": "CPU high", "email": "CPU is above 80% on web"}', None, "json", {})
>>> outgoing.text_for("email"), outgoing.text_for("http")
('CPU is above 80% on web', 'CPU high')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ecsbox.notify.model import MAX_SUBJECT, invalid_parameter, invalid_value, load_json

Attributes = dict[str, tuple[str, str | bytes]]  # name → (DataType, StringValue or BinaryValue)

_ATTRIBUTE_NAME = re.compile(r"(?!\.)(?!.*\.\.)[A-Za-z0-9_.-]+(?<!\.)")
_RESERVED_PREFIXES = ("aws.", "amazon.")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?")
MAX_ATTRIBUTE_NAME = 256


@dataclass(frozen=True)
class OutgoingMessage:
    """What Publish sends: a message for every protocol (``MessageStructure=json`` may give some
    protocols their own), an optional subject and message attributes."""

    default: str
    subject: str | None = None
    per_protocol: dict[str, str] = field(default_factory=dict)
    attributes: Attributes = field(default_factory=dict)

    def text_for(self, protocol: str) -> str:
        return self.per_protocol.get(protocol, self.default)


def check_subject(subject: str | None) -> str | None:
    """A subject: 1 to 100 characters, no line breaks or other control characters.

    >>> check_subject("CPU alarm"), check_subject(None)
    ('CPU alarm', None)
    """
    if subject is None:
        return None
    if not subject or len(subject) > MAX_SUBJECT or any(ord(ch) < 32 or ord(ch) == 127 for ch in subject):
        raise invalid_parameter("Subject")
    return subject


def parse_structure(message: str) -> tuple[str, dict[str, str]]:
    """``MessageStructure=json``: the ``default`` message and the protocols' own (non-string
    values are ignored, as AWS ignores them; duplicate keys are refused)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        document = load_json(message, max_depth=None, object_pairs_hook=no_duplicates)
    except ValueError:
        raise invalid_parameter("Message Structure - JSON message body failed to parse") from None
    if not isinstance(document, dict):
        raise invalid_parameter("Message Structure - JSON message body failed to parse")
    default = document.get("default")
    if not isinstance(default, str):
        raise invalid_parameter("Message Structure - No default entry in JSON message body")
    per_protocol = {k: v for k, v in document.items() if k != "default" and isinstance(v, str)}
    return default, per_protocol


def _check_attribute_name(name: str) -> None:
    if len(name.encode()) > MAX_ATTRIBUTE_NAME:
        raise invalid_value("Length of message attribute name must be less than 256 bytes.")
    if not _ATTRIBUTE_NAME.fullmatch(name) or name.lower().startswith(_RESERVED_PREFIXES):
        raise invalid_value(
            f"Invalid non-alphanumeric character '{name}' was found in the message attribute name. "
            "Can only include alphanumeric characters, hyphens, underscores, or dots."
        )


def check_attribute(name: str, attribute: dict[str, Any]) -> tuple[str, str | bytes]:
    """One MessageAttributeValue → (DataType, value)."""
    _check_attribute_name(name)
    data_type = str(attribute.get("DataType", ""))
    if not _DATA_TYPE.fullmatch(data_type):
        raise invalid_value(
            f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
            "type prefixes is Binary, Number, and String."
        )
    binary = data_type.startswith("Binary")
    key = "BinaryValue" if binary else "StringValue"
    if key not in attribute:
        raise invalid_value(
            f"The message attribute '{name}' with type '{data_type}' must use field '{key.removesuffix('Value')}'."
        )
    value = attribute[key]
    if not value:
        raise invalid_value(
            f"The message attribute '{name}' must contain non-empty message attribute value for message "
            f"attribute type '{data_type}'."
        )
    if binary:
        return data_type, bytes(value)
    text = str(value)
    if data_type.startswith("Number"):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):  # NaN, Infinity, or beyond a double (SNS: up to 10^126)
            raise invalid_value(f"Could not cast message attribute '{name}' value to number.")
    if data_type == "String.Array":
        try:
            items = load_json(text)
        except ValueError:
            items = None
        if not isinstance(items, list) or any(isinstance(item, dict | list) for item in items):
            raise invalid_value(
                f"The message attribute '{name}' has an invalid message attribute value: a String.Array "
                "is a JSON array of strings, numbers, true, false or null."
            )
    return data_type, text


def check_attributes(attributes: dict[str, dict[str, Any]] | None) -> Attributes:
    return {name: check_attribute(name, value) for name, value in (attributes or {}).items()}


def message_size(message: str, attributes: Attributes) -> int:
    """Bytes SNS counts against the limit: the message's UTF-8 bytes plus, per attribute, its
    name, data type and value.

    >>> message_size("héllo", {"k": ("String", "v")})
    14
    """
    size = len(message.encode())
    for name, (data_type, value) in attributes.items():
        value_bytes = value if isinstance(value, bytes) else value.encode()
        size += len(name.encode()) + len(data_type.encode()) + len(value_bytes)
    return size


def check_size(message: str, attributes: Attributes, limit: int) -> None:
    if message_size(message, attributes) > limit:
        raise invalid_parameter("Message too long")


def check_publish(
    message: str,
    subject: str | None,
    structure: str | None,
    attributes: dict[str, dict[str, Any]] | None,
) -> OutgoingMessage:
    """Publish's input → the message to deliver (the size is checked against the topic's limit
    separately: :func:`check_size`)."""
    if not message:
        raise invalid_parameter("Empty message")
    checked_subject = check_subject(subject)
    if structure is not None and structure != "json":
        raise invalid_parameter("MessageStructure Reason: the only valid value is json")
    default, per_protocol = parse_structure(message) if structure == "json" else (message, {})
    return OutgoingMessage(default, checked_subject, per_protocol, check_attributes(attributes))
