"""What every SNS handler shares: its dependencies, the boundary where notify rule errors become AWS
errors, and how a request's ARN is checked against the caller's partition."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import rule_errors_as_aws
from ecsbox.core.clock import Clock
from ecsbox.notify.messages import Urls
from ecsbox.notify.model import (
    NotifyRuleError,
    TopicRef,
    invalid_parameter,
    not_authorized,
    require_topic_arn,
)
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class MessageSigner(Protocol):
    certificate_pem: bytes

    def sign(self, text: str, version: str) -> str: ...


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    endpoint_url: Callable[[], str]  # ecsbox's own address, known once the server has bound its port
    signer: MessageSigner
    wake: Callable[[], None]  # tells the delivery worker there is something new to deliver

    def urls(self) -> Urls:
        return Urls(self.endpoint_url())


# Turns NotifyRuleError raised below a handler into the AwsError the wire layer answers with.
aws_errors = rule_errors_as_aws(NotifyRuleError)


def is_signed(ctx: RequestContext) -> bool:
    """Did the request carry credentials? (ConfirmSubscription and Unsubscribe may come as plain
    GETs of the URLs SNS sends, with no signature.)"""
    return bool(ctx.principal_arn)


def own_topic(ctx: RequestContext, value: str, action: str, member: str = "TopicArn") -> TopicRef:
    """The topic an ARN names, when it is the caller's: another region's is an invalid parameter
    (SNS is regional), another account's is not the caller's to use (the default access policy)."""
    topic = require_topic_arn(value, member)
    account_id, region = topic.partition
    if region != ctx.region:
        raise invalid_parameter(member)
    if account_id != ctx.account_id:
        raise not_authorized(ctx.principal_arn, action, value)
    return topic


def own_partition(ctx: RequestContext, partition: tuple[str, str], action: str, resource: str) -> None:
    account_id, region = partition
    if region != ctx.region:
        raise invalid_parameter("SubscriptionArn")
    if account_id != ctx.account_id:
        raise not_authorized(ctx.principal_arn, action, resource)
