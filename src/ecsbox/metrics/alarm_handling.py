"""What every alarm operation shares: its dependencies, and the boundary where CloudWatch rule errors
become the AWS errors the wire layer answers with."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import Clock
from ecsbox.metrics.alarm_rules import check_text
from ecsbox.metrics.model import MetricsRuleError
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Awaitable[dict[str, Any]]])

RESOURCE_NOT_FOUND = "ResourceNotFound"  # the alarm operations' code (404)
RESOURCE_NOT_FOUND_EXCEPTION = "ResourceNotFoundException"  # the tag operations' code (404)


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock


def aws_errors(fn: F) -> F:
    """Check that every string of the request is storable, and turn :class:`MetricsRuleError` raised
    below a handler into the :class:`AwsError` the wire layer answers with (same code and message)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            if args and isinstance(args[-1], dict):
                check_text(args[-1], "request")
            return await fn(*args, **kwargs)
        except MetricsRuleError as exc:
            raise AwsError(exc.code, exc.message) from exc

    return wrapper  # type: ignore[return-value]


def alarm_not_found(name: str) -> MetricsRuleError:
    return MetricsRuleError(RESOURCE_NOT_FOUND, f"Alarm {name} does not exist.")
