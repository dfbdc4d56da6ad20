"""What every ECS handler shares: its dependencies and the boundary where ECS rule errors become
AWS errors."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import botocore.loaders

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import rule_errors_as_aws
from ecsbox.core.clock import Clock
from ecsbox.ecs.model import EcsRuleError
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock


# Turns EcsRuleError raised below a handler into the AwsError the wire layer answers with.
aws_errors = rule_errors_as_aws(EcsRuleError)


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
