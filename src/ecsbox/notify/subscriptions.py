"""Subscriptions: Subscribe (and the confirmation request it sends), ConfirmSubscription,
Unsubscribe, ListSubscriptions, ListSubscriptionsByTopic, GetSubscriptionAttributes and
SetSubscriptionAttributes.

Every endpoint ecsbox delivers to (http, https, email, email-json) confirms before it receives
notifications. ConfirmSubscription and Unsubscribe also answer the plain, unsigned GETs of the
SubscribeURL and UnsubscribeURL that SNS's messages carry; the topic or subscription ARN then says
whose it is.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.core.paging import decode_token, encode_token
from ecsbox.notify import delivery_repo, subscription_repo, topic_repo
from ecsbox.notify.envelopes import Target, confirmation_delivery
from ecsbox.notify.handling import Deps, aws_errors, is_signed, own_partition, own_topic
from ecsbox.notify.messages import (
    SUBSCRIPTION_CONFIRMATION,
    UNSUBSCRIBE_CONFIRMATION,
    subscribe_message,
    unsubscribe_message,
)
from ecsbox.notify.model import (
    CONFIRMED,
    DELETED,
    HTTP_PROTOCOLS,
    LIST_PAGE,
    PENDING,
    PENDING_CONFIRMATION_ARN,
    invalid_parameter,
    not_authorized,
    require_subscription_arn,
    require_topic_arn,
    subscription_not_found,
    topic_not_found,
)
from ecsbox.notify.subscription_repo import SubscriptionRow
from ecsbox.notify.subscription_rules import (
    check_endpoint,
    check_protocol,
    check_subscribe_attributes,
    listed,
    same_request,
    set_subscription_attribute,
    subscription_view,
)
from ecsbox.notify.tokens import RANDOM_HEX, is_current, make_token


def new_token(wall_now: float) -> str:
    return make_token(wall_now, secrets.token_hex(RANDOM_HEX // 2))


def _flag(value: str | None, member: str) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise invalid_parameter(member)
    return value.lower() == "true"


class Subscriptions:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store

    # -- subscribe and confirm --

    @aws_errors
    async def subscribe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = own_topic(ctx, params["TopicArn"], "Subscribe")
        protocol = check_protocol(params["Protocol"])
        endpoint = check_endpoint(protocol, params.get("Endpoint"))
        requested = {
            str(k): str(v) if v is not None else "" for k, v in (params.get("Attributes") or {}).items()
        }
        attributes = check_subscribe_attributes(protocol, requested)
        return_arn = bool(params.get("ReturnSubscriptionArn"))

        def read(conn: Connection) -> tuple[topic_repo.TopicRow, SubscriptionRow | None]:
            topic = topic_repo.require_topic(conn, ref)
            return topic, subscription_repo.find_live_by_endpoint(conn, ref.arn, protocol, endpoint)

        topic, existing = await self.store.read(read)
        if existing is not None and not same_request(existing.attributes, attributes):
            raise invalid_parameter(
                "Attributes Reason: Subscription already exists with different attributes"
            )
        if existing is not None and existing.state == CONFIRMED:
            return {"SubscriptionArn": existing.arn}
        now, wall = self.deps.clock.now(), self.deps.clock.wall()
        arn = existing.arn if existing is not None else f"{ref.arn}:{uuid.uuid4()}"
        token = (
            existing.token
            if existing is not None and existing.token and is_current(existing.token, wall)
            else None
        )
        token = token or new_token(wall)
        stored = existing.attributes if existing is not None else attributes
        target = Target(arn, ref.arn, protocol, endpoint, stored, topic.attributes)
        delivery = confirmation_delivery(
            target,
            SUBSCRIPTION_CONFIRMATION,
            str(uuid.uuid4()),
            token,
            subscribe_message(ref.arn),
            now,
            sign=self.deps.signer.sign,
            urls=self.deps.urls(),
        )
        row = SubscriptionRow(
            arn, ref.partition, ref.arn, protocol, endpoint, ctx.account_id, PENDING, token, stored, now
        )

        def write(conn: Connection) -> str:
            topic_repo.require_topic(conn, ref)
            current = subscription_repo.find_live_by_endpoint(conn, ref.arn, protocol, endpoint)
            if current is not None and (current.arn != arn or current.state == CONFIRMED):
                return current.arn  # another Subscribe (or a confirmation) got there first
            if current is None:
                subscription_repo.insert_subscription(conn, row)
            else:
                subscription_repo.set_token(conn, arn, token)
            delivery_repo.add(conn, [delivery], now, wall)
            return arn

        answered = await self.store.write(write)
        self.deps.wake()
        return {"SubscriptionArn": answered if return_arn else PENDING_CONFIRMATION_ARN}

    @aws_errors
    async def confirm(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = require_topic_arn(params["TopicArn"])
        signed = is_signed(ctx)
        if signed and ref.partition[1] != ctx.region:
            raise invalid_parameter("TopicArn")
        token = params["Token"]
        authenticate = signed and _flag(params.get("AuthenticateOnUnsubscribe"), "AuthenticateOnUnsubscribe")
        wall = self.deps.clock.wall()

        def write(conn: Connection) -> dict[str, Any]:
            if topic_repo.find_topic(conn, ref) is None:
                raise topic_not_found()
            subscription = subscription_repo.find_by_token(conn, ref.arn, token)
            if subscription is None or not is_current(token, wall):
                raise invalid_parameter("Token")
            if subscription.state == CONFIRMED:
                return {"SubscriptionArn": subscription.arn}
            attributes = dict(subscription.attributes)
            attributes["ConfirmationWasAuthenticated"] = "true" if signed else "false"
            if authenticate:
                attributes["AuthenticateOnUnsubscribe"] = "true"
            else:
                attributes.pop("AuthenticateOnUnsubscribe", None)
            subscription_repo.set_state(conn, subscription.arn, CONFIRMED, token, attributes)
            return {"SubscriptionArn": subscription.arn}

        return await self.store.write(write)

    # -- unsubscribe --

    @aws_errors
    async def unsubscribe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Idempotent. The owner's (or the topic owner's) signed call removes the subscription;
        anyone else's (an unsigned GET of the UnsubscribeURL) sends an HTTP/S endpoint a final
        UnsubscribeConfirmation whose SubscribeURL restores it."""
        arn = params["SubscriptionArn"]
        ref = require_subscription_arn(arn)
        signed = is_signed(ctx)
        if signed and ref.topic.partition[1] != ctx.region:
            raise invalid_parameter("SubscriptionArn")
        subscription = await self.store.read(lambda c: subscription_repo.find(c, arn))
        if subscription is None or subscription.state == DELETED:
            return {}
        owners = {subscription.owner, ref.topic.partition[0]}
        by_owner = signed and ctx.account_id in owners
        if subscription.attributes.get("AuthenticateOnUnsubscribe") == "true" and not by_owner:
            raise not_authorized(ctx.principal_arn, "Unsubscribe", arn)
        farewell = None
        if not by_owner and subscription.state == CONFIRMED and subscription.protocol in HTTP_PROTOCOLS:
            farewell = await self._farewell(subscription)

        def write(conn: Connection) -> dict[str, Any]:
            delivery_repo.drop_for(conn, [arn])
            if farewell is None:
                subscription_repo.delete_subscription(conn, arn)
                return {}
            token, delivery = farewell
            subscription_repo.set_state(conn, arn, DELETED, token, subscription.attributes)
            delivery_repo.add(conn, [delivery], self.deps.clock.now(), self.deps.clock.wall())
            return {}

        result = await self.store.write(write)
        if farewell is not None:
            self.deps.wake()
        return result

    async def _farewell(self, subscription: SubscriptionRow) -> tuple[str, Any]:
        topic_ref = require_subscription_arn(subscription.arn).topic
        topic = await self.store.read(lambda c: topic_repo.find_topic(c, topic_ref))
        token = new_token(self.deps.clock.wall())
        target = Target(
            subscription.arn,
            subscription.topic_arn,
            subscription.protocol,
            subscription.endpoint,
            subscription.attributes,
            topic.attributes if topic is not None else {},
        )
        delivery = confirmation_delivery(
            target,
            UNSUBSCRIBE_CONFIRMATION,
            str(uuid.uuid4()),
            token,
            unsubscribe_message(subscription.arn),
            self.deps.clock.now(),
            sign=self.deps.signer.sign,
            urls=self.deps.urls(),
        )
        return token, delivery

    # -- listings --

    async def _page(
        self, ctx: RequestContext, params: dict[str, Any], scope: str, topic_arn: str | None
    ) -> dict[str, Any]:
        after: str | None = None
        if params.get("NextToken"):
            last = decode_token(params["NextToken"], scope)
            if last is None or len(last) != 1 or not isinstance(last[0], str):
                raise invalid_parameter("NextToken")
            after = last[0]

        def read(conn: Connection) -> list[SubscriptionRow]:
            if topic_arn is not None and topic_repo.find_topic(conn, require_topic_arn(topic_arn)) is None:
                raise topic_not_found()
            return subscription_repo.listing(conn, ctx.partition, topic_arn, after, LIST_PAGE + 1)

        rows = await self.store.read(read)
        result: dict[str, Any] = {"Subscriptions": [listed(r.facts()) for r in rows[:LIST_PAGE]]}
        if len(rows) > LIST_PAGE:
            result["NextToken"] = encode_token(scope, [rows[LIST_PAGE - 1].arn])
        return result

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._page(ctx, params, f"ListSubscriptions:{ctx.account_id}:{ctx.region}", None)

    @aws_errors
    async def list_by_topic(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = own_topic(ctx, params["TopicArn"], "ListSubscriptionsByTopic")
        return await self._page(ctx, params, f"ListSubscriptionsByTopic:{ref.arn}", ref.arn)

    # -- attributes --

    async def _live(self, ctx: RequestContext, arn: str, action: str) -> SubscriptionRow:
        ref = require_subscription_arn(arn)
        own_partition(ctx, ref.topic.partition, action, arn)
        subscription = await self.store.read(lambda c: subscription_repo.find(c, arn))
        if subscription is None or subscription.state == DELETED:
            raise subscription_not_found()
        return subscription

    @aws_errors
    async def get_attributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        subscription = await self._live(ctx, params["SubscriptionArn"], "GetSubscriptionAttributes")
        topic_ref = require_subscription_arn(subscription.arn).topic
        topic = await self.store.read(lambda c: topic_repo.find_topic(c, topic_ref))
        topic_policy = topic.attributes.get("DeliveryPolicy") if topic is not None else None
        return {"Attributes": subscription_view(subscription.facts(), topic_policy)}

    @aws_errors
    async def set_attributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["SubscriptionArn"]
        subscription = await self._live(ctx, arn, "SetSubscriptionAttributes")
        name, value = params["AttributeName"], params.get("AttributeValue")

        def write(conn: Connection) -> dict[str, Any]:
            current = subscription_repo.find(conn, arn)
            if current is None or current.state == DELETED:
                raise subscription_not_found()
            updated = set_subscription_attribute(subscription.protocol, current.attributes, name, value)
            subscription_repo.set_attributes(conn, arn, updated)
            return {}

        return await self.store.write(write)
