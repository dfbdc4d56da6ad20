"""Operations that answer requests with no signature (SNS's SubscribeURL and UnsubscribeURL are
plain GETs): they reach their handler, as an anonymous caller, even when signatures are checked
strictly; every other operation still needs one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ecsbox.aws import Gateway, HttpRequest, RequestContext, ServiceRegistry
from ecsbox.aws.sigv4 import Authenticator, parse_access_keys

STRICT = Authenticator(
    "000000000000", "us-east-1", parse_access_keys(("AKID:SECRET:123456789012",), "0" * 12)
)
LENIENT = Authenticator("000000000000", "us-east-1", {})
CONFIRM = "Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:123456789012:t&Token=abc"


def gateway(authenticator: Authenticator) -> tuple[Gateway, list[RequestContext]]:
    seen: list[RequestContext] = []

    def confirm(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        seen.append(ctx)
        return {"SubscriptionArn": params["TopicArn"] + ":sub"}

    registry = ServiceRegistry()
    registry.register("sns", "ConfirmSubscription", confirm)
    registry.register("sns", "ListTopics", lambda ctx, params: {"Topics": []})
    registry.allow_unsigned("sns", "ConfirmSubscription")
    return Gateway(registry, authenticator), seen


@pytest.mark.parametrize("authenticator", [STRICT, LENIENT])
def test_a_plain_get_reaches_an_unsigned_operation_as_nobody(authenticator: Authenticator) -> None:
    routed, seen = gateway(authenticator)
    response = asyncio.run(routed.handle(HttpRequest("GET", "/", CONFIRM, {"host": "localhost:4566"})))
    assert response.status == 200
    assert b"<SubscriptionArn>arn:aws:sns:eu-west-1:123456789012:t:sub</SubscriptionArn>" in response.body
    assert b"<ConfirmSubscriptionResponse" in response.body
    (ctx,) = seen
    assert (ctx.account_id, ctx.region, ctx.principal_arn) == ("", "", "")


def test_other_operations_still_need_a_signature_when_checked_strictly() -> None:
    routed, _ = gateway(STRICT)
    response = asyncio.run(
        routed.handle(HttpRequest("GET", "/", "Action=ListTopics", {"host": "localhost:4566"}))
    )
    assert response.status == 403
    assert b"MissingAuthenticationTokenException" in response.body


def test_only_operations_of_the_model_can_be_opened() -> None:
    with pytest.raises(ValueError, match="no operation"):
        ServiceRegistry().allow_unsigned("sns", "OpenSesame")
