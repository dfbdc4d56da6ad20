"""What every Parameter Store and Secrets Manager handler shares: its dependencies and the
boundary where secrets rule errors become AWS errors."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import Clock
from ecsbox.secrets.model import SecretsRuleError
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Awaitable[dict[str, Any]]])


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock


def aws_errors(fn: F) -> F:
    """Turn :class:`SecretsRuleError` raised anywhere below a handler into the :class:`AwsError`
    the wire layer answers with (same code, same message)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await fn(*args, **kwargs)
        except SecretsRuleError as exc:
            raise AwsError(exc.code, exc.message) from exc

    return wrapper  # type: ignore[return-value]


def caller_arn(ctx: RequestContext) -> str:
    """The caller's principal ARN, or the account root when the wire layer did not name one."""
    return ctx.principal_arn or f"arn:aws:iam::{ctx.account_id}:root"
