"""Subscriptions' rules: which protocols ecsbox delivers to, what an endpoint must look like for
each, which attributes Subscribe and SetSubscriptionAttributes take, and what
GetSubscriptionAttributes and the listings show. Pure.

>>> check_endpoint("https", "https://hooks.example.com/sns")
'https://hooks.example.com/sns'
>>> mask_endpoint("https://ops:s3cret@hooks.example.com/sns")
'https://ops:****@hooks.example.com/sns'
>>> check_endpoint("email", "Ops@Example.com")
'Ops@Example.com'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ecsbox.notify.delivery_policy import (
    effective_http_policy,
    parse_subscription_policy,
    subscription_effective_document,
)
from ecsbox.notify.filter_policy import FilterPolicy, parse_filter_policy
from ecsbox.notify.model import (
    DELIVERED_PROTOCOLS,
    EMAIL_PROTOCOLS,
    HTTP_PROTOCOLS,
    LISTED_PENDING_ARN,
    PENDING,
    UNSERVED_PROTOCOLS,
    invalid_parameter,
    with_attribute,
)

SETTABLE = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery")
# Attributes AWS takes that need services ecsbox does not run.
_UNSERVED_ATTRIBUTES = {
    "RedrivePolicy": "RedrivePolicy: dead-letter queues are Amazon SQS queues, which ecsbox does not run",
    "SubscriptionRoleArn": "SubscriptionRoleArn: only Amazon Data Firehose subscriptions take a role",
    "ReplayPolicy": "ReplayPolicy: message replay is for FIFO topics, which ecsbox does not serve",
}
_UNSERVED_WHERE = {
    "sqs": "Amazon SQS queues",
    "lambda": "AWS Lambda functions",
    "sms": "phones (SMS)",
    "application": "mobile push endpoints",
    "firehose": "Amazon Data Firehose delivery streams",
}
# A practical address: a local part without spaces, quotes or slashes, then a dotted domain.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[A-Za-z0-9!#$%&'*+=?^_`{{|}}~.-]{{1,64}}@{_LABEL}(?:\.{_LABEL})+")


@dataclass(frozen=True)
class SubscriptionFacts:
    """What the attribute views need to know of one subscription."""

    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    state: int
    attributes: dict[str, str]


def check_protocol(protocol: str) -> str:
    """The protocol, lower-cased, when ecsbox delivers to it; InvalidParameter otherwise."""
    lowered = protocol.lower()
    if lowered in DELIVERED_PROTOCOLS:
        return lowered
    if lowered in UNSERVED_PROTOCOLS:
        raise invalid_parameter(
            f"Protocol Reason: ecsbox delivers to http, https, email and email-json endpoints; "
            f"{lowered} delivers to {_UNSERVED_WHERE[lowered]}, which ecsbox does not run"
        )
    raise invalid_parameter(f"Amazon SNS does not support this protocol string: {protocol}")


def check_endpoint(protocol: str, endpoint: str | None) -> str:
    """The endpoint when it suits the protocol; InvalidParameter as SNS words it otherwise."""
    if not endpoint:
        raise invalid_parameter("Endpoint Reason: An endpoint is required for this protocol")
    if protocol in HTTP_PROTOCOLS:
        try:
            parts = urlsplit(endpoint)
            host = parts.hostname
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise invalid_parameter("Endpoint Reason: not a valid URL") from None
        if parts.scheme.lower() != protocol or not host:
            raise invalid_parameter("Endpoint must match the specified protocol")
        if any(ch.isspace() for ch in endpoint):
            raise invalid_parameter("Endpoint Reason: not a valid URL")
        return endpoint
    if not _EMAIL.fullmatch(endpoint):
        raise invalid_parameter("Email address")
    return endpoint


def mask_endpoint(endpoint: str) -> str:
    """An HTTP/S endpoint's password is never shown (AWS answers ``****``)."""
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return endpoint
    if parts.password is None:
        return endpoint
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@", 1)
    return parts._replace(netloc=netloc).geturl()


def _boolean(name: str, value: str) -> str:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise invalid_parameter(f"Attributes Reason: {name}: Invalid value [{value}]. Must be true or false.")
    return lowered


def check_subscription_attribute(protocol: str, name: str, value: str, stored: dict[str, str]) -> str:
    """The value to store for one settable attribute of a subscription of ``protocol``."""
    if name in _UNSERVED_ATTRIBUTES:
        raise invalid_parameter(f"Attributes Reason: {_UNSERVED_ATTRIBUTES[name]}")
    if name not in SETTABLE:
        raise invalid_parameter("AttributeName")
    if name == "RawMessageDelivery":
        checked = _boolean(name, value)
        if checked == "true" and protocol in EMAIL_PROTOCOLS:
            raise invalid_parameter(f"Delivery protocol [{protocol}] does not support raw message delivery.")
        return checked
    if name == "DeliveryPolicy":
        if value and protocol not in HTTP_PROTOCOLS:
            raise invalid_parameter("DeliveryPolicy: only HTTP/S subscriptions take a delivery policy")
        if value:
            parse_subscription_policy(value)
        return value
    if name == "FilterPolicyScope":
        if value not in ("MessageAttributes", "MessageBody"):
            raise invalid_parameter(
                f"Attributes Reason: FilterPolicyScope: Invalid value [{value}]. "
                "Please use either MessageBody or MessageAttributes"
            )
        if stored.get("FilterPolicy"):
            parse_filter_policy(stored["FilterPolicy"], value)
        return value
    if value:  # FilterPolicy
        parse_filter_policy(value, stored.get("FilterPolicyScope") or "MessageAttributes")
    return value


def check_subscribe_attributes(protocol: str, attributes: dict[str, str]) -> dict[str, str]:
    """Subscribe's Attributes → what to store (the scope first, so the policy is read in it)."""
    stored: dict[str, str] = {}
    ordered = sorted(attributes.items(), key=lambda item: item[0] != "FilterPolicyScope")
    for name, value in ordered:
        checked = check_subscription_attribute(protocol, name, value or "", stored)
        if checked:
            stored[name] = checked
    return stored


def set_subscription_attribute(
    protocol: str, stored: dict[str, str], name: str, value: str | None
) -> dict[str, str]:
    """SetSubscriptionAttributes: the new stored attributes (an empty value clears one)."""
    checked = check_subscription_attribute(protocol, name, value or "", stored)
    return with_attribute(stored, name, checked)


def filter_policy_of(stored: dict[str, str]) -> FilterPolicy | None:
    text = stored.get("FilterPolicy")
    if not text:
        return None
    return parse_filter_policy(text, stored.get("FilterPolicyScope") or "MessageAttributes")


def is_raw(stored: dict[str, str]) -> bool:
    return stored.get("RawMessageDelivery") == "true"


def subscription_view(facts: SubscriptionFacts, topic_delivery_policy: str | None) -> dict[str, str]:
    """GetSubscriptionAttributes' map."""
    stored = facts.attributes
    view: dict[str, str] = {
        "Owner": facts.owner,
        "RawMessageDelivery": stored.get("RawMessageDelivery", "false"),
        "TopicArn": facts.topic_arn,
        "Endpoint": mask_endpoint(facts.endpoint),
        "Protocol": facts.protocol,
        "PendingConfirmation": "true" if facts.state == PENDING else "false",
        "ConfirmationWasAuthenticated": stored.get("ConfirmationWasAuthenticated", "false"),
        "SubscriptionArn": facts.arn,
        "SubscriptionPrincipal": f"arn:aws:iam::{facts.owner}:root",
    }
    if facts.protocol in HTTP_PROTOCOLS:
        policy = effective_http_policy(topic_delivery_policy, stored.get("DeliveryPolicy"))
        view["EffectiveDeliveryPolicy"] = subscription_effective_document(policy)
    for name in ("DeliveryPolicy", "FilterPolicy"):
        if stored.get(name):
            view[name] = stored[name]
    if stored.get("FilterPolicy"):
        view["FilterPolicyScope"] = stored.get("FilterPolicyScope") or "MessageAttributes"
    return view


def listed(facts: SubscriptionFacts) -> dict[str, Any]:
    """One entry of ListSubscriptions / ListSubscriptionsByTopic."""
    return {
        "SubscriptionArn": LISTED_PENDING_ARN if facts.state == PENDING else facts.arn,
        "Owner": facts.owner,
        "Protocol": facts.protocol,
        "Endpoint": mask_endpoint(facts.endpoint),
        "TopicArn": facts.topic_arn,
    }


def same_request(stored: dict[str, str], requested: dict[str, str]) -> bool:
    """Subscribe again with the same endpoint: do the attributes agree (so it is idempotent)?

    >>> same_request({"RawMessageDelivery": "true"}, {"RawMessageDelivery": "true"})
    True
    >>> same_request({}, {"FilterPolicy": "{}"})
    False
    """
    return all(stored.get(name) == value for name, value in requested.items())
