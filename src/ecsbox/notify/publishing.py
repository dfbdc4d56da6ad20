"""Publish, and :class:`Notifier`, the same for other capabilities (CloudWatch alarm actions): a
message to a topic becomes one delivery per confirmed subscription whose filter policy it passes,
all written in one transaction; the delivery worker sends them.

SMS (PhoneNumber) and mobile push (a TargetArn that is not a topic) are refused with the reason:
ecsbox delivers to http, https, email and email-json subscriptions of topics.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.core.clock import Clock
from ecsbox.notify import delivery_repo, subscription_repo, topic_repo
from ecsbox.notify.envelopes import Delivery, Target, notification_delivery
from ecsbox.notify.filter_policy import passes
from ecsbox.notify.handling import Deps, MessageSigner, aws_errors, own_topic
from ecsbox.notify.model import (
    Partition,
    TopicRef,
    invalid_parameter,
    not_authorized,
    parse_topic_arn,
    require_topic_arn,
)
from ecsbox.notify.publish_rules import OutgoingMessage, check_publish, check_size
from ecsbox.notify.subscription_rules import filter_policy_of
from ecsbox.notify.topic_attributes import maximum_message_size
from ecsbox.store import Store

INLINE_SIGNATURES = 4  # more subscriptions than this are signed in a thread
# MessageGroupId: up to 128 letters, digits and punctuation (Publish's documentation).
_GROUP_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


async def fan_out(deps: Deps, ref: TopicRef, outgoing: OutgoingMessage, raw_message: str) -> str:
    """Publish ``outgoing`` to a topic: its MessageId, after the deliveries are stored."""

    def read(conn: Connection) -> tuple[topic_repo.TopicRow, list[subscription_repo.SubscriptionRow]]:
        return topic_repo.require_topic(conn, ref), subscription_repo.confirmed_of_topic(conn, ref.arn)

    topic, subscriptions = await deps.store.read(read)
    check_size(raw_message, outgoing.attributes, maximum_message_size(topic.attributes))
    message_id = str(uuid.uuid4())
    now, wall = deps.clock.now(), deps.clock.wall()
    urls = deps.urls()

    def build() -> list[Delivery]:
        deliveries: list[Delivery] = []
        for subscription in subscriptions:
            policy = filter_policy_of(subscription.attributes)
            if not passes(policy, outgoing.text_for(subscription.protocol), outgoing.attributes):
                continue
            target = Target(
                subscription.arn,
                ref.arn,
                subscription.protocol,
                subscription.endpoint,
                subscription.attributes,
                topic.attributes,
            )
            delivery = notification_delivery(
                target, message_id, outgoing, now, sign=deps.signer.sign, urls=urls
            )
            deliveries.append(delivery)
        return deliveries

    # Each signature costs about a millisecond: many subscriptions are signed off the event loop.
    many = len(subscriptions) > INLINE_SIGNATURES
    deliveries = await asyncio.to_thread(build) if many else build()

    def write(conn: Connection) -> None:
        topic_repo.require_topic(conn, ref)  # deleted meanwhile: NotFound, nothing sent
        delivery_repo.add(conn, deliveries, now, wall)

    await deps.store.write(write)
    if deliveries:
        deps.wake()
    return message_id


def _publish_target(ctx: RequestContext, params: dict[str, Any]) -> TopicRef:
    topic_arn, target_arn, phone = params.get("TopicArn"), params.get("TargetArn"), params.get("PhoneNumber")
    if phone:
        raise invalid_parameter("PhoneNumber Reason: ecsbox sends no SMS messages")
    if topic_arn and target_arn:
        raise invalid_parameter(
            "TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn can be specified"
        )
    if not (topic_arn or target_arn):
        raise invalid_parameter("TopicArn or TargetArn Reason: no value for required parameter")
    if target_arn and parse_topic_arn(target_arn) is None:
        raise invalid_parameter(
            "TargetArn Reason: ecsbox publishes to topics only; mobile push endpoints are not served"
        )
    member = "TopicArn" if topic_arn else "TargetArn"
    return own_topic(ctx, str(topic_arn or target_arn), "Publish", member)


class Publishing:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @aws_errors
    async def publish(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = _publish_target(ctx, params)
        if params.get("MessageDeduplicationId") is not None:
            raise invalid_parameter(
                "The request includes MessageDeduplicationId parameter that is not valid for this topic type"
            )
        group = params.get("MessageGroupId")
        if group is not None and not _GROUP_ID.fullmatch(group):
            raise invalid_parameter("MessageGroupId Reason: up to 128 letters, digits and punctuation")
        message = params["Message"]
        outgoing = check_publish(
            message, params.get("Subject"), params.get("MessageStructure"), params.get("MessageAttributes")
        )
        return {"MessageId": await fan_out(self.deps, ref, outgoing, message)}


class Notifier:
    """Publishing for other capabilities (CloudWatch alarm actions)::

        message_id = await notifier.publish(partition, topic_arn, subject, message)

    Raises :class:`~ecsbox.notify.model.NotifyRuleError`: ``NotFound`` when the topic is gone,
    ``InvalidParameter`` for a subject or message SNS would refuse, ``AuthorizationError`` for
    another account's topic.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        endpoint_url: str | Callable[[], str],
        *,
        signer: MessageSigner | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        if signer is None:
            from ecsbox.notify.signing import load_signer

            signer = load_signer(store, clock.wall())
        url = endpoint_url if callable(endpoint_url) else (lambda: str(endpoint_url))
        self.deps = Deps(store, clock, url, signer, wake or (lambda: None))

    async def publish(self, partition: Partition, topic_arn: str, subject: str | None, message: str) -> str:
        ref = require_topic_arn(topic_arn)
        if ref.partition[1] != partition[1]:
            raise invalid_parameter("TopicArn")
        if ref.partition[0] != partition[0]:
            raise not_authorized(f"arn:aws:iam::{partition[0]}:root", "Publish", topic_arn)
        outgoing = check_publish(message, subject, None, None)
        return await fan_out(self.deps, ref, outgoing, message)
