"""One delivery to one endpoint, ready to go: for HTTP/S the request's headers and body, for email
the mbox entry to append; with the retry delays and throttle its delivery policy gives. This is
what a row of ``sns_deliveries`` holds, so the delivery worker needs nothing else. Pure.

>>> target = Target("arn:aws:sns:us-east-1:000000000000:t:6b0e71bd-7e97-4d97-80ce-4a0994e55286",
...                 "arn:aws:sns:us-east-1:000000000000:t", "http", "http://127.0.0.1:9/", {}, {})
>>> delivery = notification_delivery(target, "m-1", OutgoingMessage("hi"), 1_700_000_000.0,
...                                   sign=lambda text, version: "c2ln", urls=Urls("http://localhost:4566"))
>>> delivery.headers[0], delivery.delays
(('x-amz-sns-message-type', 'Notification'), [20.0, 20.0, 20.0])
>>> row = (delivery.subscription_arn, "http", "http://127.0.0.1:9/", "Notification")
>>> Delivery.decode(delivery.encode(), *row) == delivery
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ecsbox.notify.delivery_policy import EMAIL_RETRY_POLICY, effective_http_policy, retry_delays
from ecsbox.notify.mail import (
    CONFIRMATION_SUBJECT,
    DEFAULT_SUBJECT,
    SENDER_NAME,
    MailHeaders,
    confirmation_text,
    mbox_entry,
    notification_text,
)
from ecsbox.notify.messages import (
    NOTIFICATION,
    Sign,
    Urls,
    aws_json,
    confirmation_document,
    notification_document,
)
from ecsbox.notify.model import HTTP_PROTOCOLS
from ecsbox.notify.publish_rules import OutgoingMessage
from ecsbox.notify.subscription_rules import is_raw
from ecsbox.notify.topic_attributes import signature_version

USER_AGENT = "Amazon Simple Notification Service Agent"


@dataclass(frozen=True)
class Target:
    """A subscription as a delivery needs it, with its topic's attributes."""

    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    attributes: dict[str, str]  # the subscription's stored attributes
    topic_attributes: dict[str, str]


@dataclass(frozen=True)
class Delivery:
    subscription_arn: str
    protocol: str
    endpoint: str
    message_type: str
    headers: tuple[tuple[str, str], ...]  # HTTP/S only
    payload: str  # the HTTP body, or the mbox entry
    delays: list[float]  # before retry 1, 2, ...: the policy's whole schedule
    max_receives_per_second: int | None = None

    def encode(self) -> str:
        """The ``body`` column: everything but what has a column of its own."""
        document = {
            "headers": [list(h) for h in self.headers],
            "payload": self.payload,
            "delays": self.delays,
            "throttle": self.max_receives_per_second,
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(
        cls, body: str, subscription_arn: str, protocol: str, endpoint: str, message_type: str
    ) -> Delivery:
        document: dict[str, Any] = json.loads(body)
        return cls(
            subscription_arn,
            protocol,
            endpoint,
            message_type,
            tuple((str(k), str(v)) for k, v in document.get("headers") or []),
            str(document.get("payload", "")),
            [float(d) for d in document.get("delays") or []],
            document.get("throttle"),
        )


def _http(target: Target, message_type: str, message_id: str, payload: str, *, raw: bool = False) -> Delivery:
    policy = effective_http_policy(
        target.topic_attributes.get("DeliveryPolicy"), target.attributes.get("DeliveryPolicy")
    )
    headers = [
        ("x-amz-sns-message-type", message_type),
        ("x-amz-sns-message-id", message_id),
        ("x-amz-sns-topic-arn", target.topic_arn),
    ]
    if message_type != "SubscriptionConfirmation":
        headers.append(("x-amz-sns-subscription-arn", target.arn))
    if raw:
        headers.append(("x-amz-sns-rawdelivery", "true"))
    headers += [("Content-Type", policy.content_type), ("User-Agent", USER_AGENT)]
    return Delivery(
        target.arn,
        target.protocol,
        target.endpoint,
        message_type,
        tuple(headers),
        payload,
        retry_delays(policy.retry),
        policy.max_receives_per_second,
    )


def _mail(target: Target, message_type: str, headers: MailHeaders, body: str, now: float) -> Delivery:
    return Delivery(
        target.arn,
        target.protocol,
        target.endpoint,
        message_type,
        (),
        mbox_entry(headers, body, now),
        retry_delays(EMAIL_RETRY_POLICY),
    )


def confirmation_delivery(
    target: Target,
    kind: str,
    message_id: str,
    token: str,
    message: str,
    now: float,
    *,
    sign: Sign,
    urls: Urls,
) -> Delivery:
    """A SubscriptionConfirmation (or, to HTTP/S, an UnsubscribeConfirmation) for one endpoint."""
    version = signature_version(target.topic_attributes)
    document = confirmation_document(
        kind, message_id, token, target.topic_arn, message, now, version=version, sign=sign, urls=urls
    )
    if target.protocol in HTTP_PROTOCOLS:
        return _http(target, kind, message_id, aws_json(document))
    headers = MailHeaders(SENDER_NAME, target.endpoint, CONFIRMATION_SUBJECT, message_id)
    if target.protocol == "email":
        body = confirmation_text(target.topic_arn, document["SubscribeURL"])
    else:
        body = aws_json(document)
    return _mail(target, kind, headers, body, now)


def notification_delivery(
    target: Target,
    message_id: str,
    outgoing: OutgoingMessage,
    now: float,
    *,
    sign: Sign,
    urls: Urls,
) -> Delivery:
    """A Notification for one endpoint, in the form its protocol and attributes ask for."""
    text = outgoing.text_for(target.protocol)
    if target.protocol in HTTP_PROTOCOLS and is_raw(target.attributes):
        return _http(target, NOTIFICATION, message_id, text, raw=True)
    document = notification_document(
        message_id,
        target.topic_arn,
        outgoing.subject,
        text,
        now,
        target.arn,
        outgoing.attributes,
        version=signature_version(target.topic_attributes),
        sign=sign,
        urls=urls,
    )
    if target.protocol in HTTP_PROTOCOLS:
        return _http(target, NOTIFICATION, message_id, aws_json(document))
    sender = target.topic_attributes.get("DisplayName") or SENDER_NAME
    mail_id = f"{message_id}.{target.arn.rpartition(':')[2]}"
    headers = MailHeaders(sender, target.endpoint, outgoing.subject or DEFAULT_SUBJECT, mail_id)
    plain = target.protocol == "email"
    body = notification_text(text, document["UnsubscribeURL"]) if plain else aws_json(document)
    return _mail(target, NOTIFICATION, headers, body, now)
