"""What every ECS handler shares: its dependencies and the boundary where ECS rule errors become
AWS errors."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.loaders

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import Clock
from ecsbox.ecs.model import EcsRuleError
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Awaitable[dict[str, Any]]])


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock


def aws_errors(fn: F) -> F:
    """Turn :class:`EcsRuleError` raised anywhere below a handler into the :class:`AwsError` the
    wire layer answers with (same code, same message)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await fn(*args, **kwargs)
        except EcsRuleError as exc:
            raise AwsError(exc.code, exc.message) from exc

    return wrapper  # type: ignore[return-value]


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def caller_arn(ctx: RequestContext) -> str:
    """The caller's principal ARN, or the account root when the wire layer did not name one."""
    return ctx.principal_arn or root_arn(ctx.account_id)


@functools.cache
def _members(shape: str) -> dict[str, int]:
    model = botocore.loaders.create_loader().load_service_model("ecs", "service-2")
    return {name: index for index, name in enumerate(model["shapes"][shape]["members"])}


def in_model_order(shape: str, document: dict[str, Any]) -> dict[str, Any]:
    """``document``'s members in the order the ECS model lists them for ``shape`` — the order AWS
    prints them in (a TaskDefinition starts taskDefinitionArn, containerDefinitions, family, …)."""
    order = _members(shape)
    return dict(sorted(document.items(), key=lambda item: order.get(item[0], len(order))))
