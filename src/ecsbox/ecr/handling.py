"""What every ECR handler shares: its dependencies and the boundary where ECR rule errors become
AWS errors."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import Clock
from ecsbox.ecr.addresses import RegistryAddresses
from ecsbox.ecr.model import EcrRuleError, Partition
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Awaitable[dict[str, Any]]])


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    addresses: RegistryAddresses


def aws_errors(fn: F) -> F:
    """Turn :class:`EcrRuleError` raised below a handler into the :class:`AwsError` the wire layer
    answers with (same code, same message)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await fn(*args, **kwargs)
        except EcrRuleError as exc:
            raise AwsError(exc.code, exc.message) from exc

    return wrapper  # type: ignore[return-value]


def partition_of(ctx: RequestContext, params: dict[str, Any]) -> Partition:
    """The partition a request acts on: the caller's region, and ``registryId`` when given (ecsbox
    lets a caller name another account's registry; AWS would check cross-account permissions)."""
    return (str(params.get("registryId") or ctx.account_id), ctx.region)
