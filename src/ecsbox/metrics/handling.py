"""What every CloudWatch metric handler shares: its dependencies, the boundary where metric rule
errors become AWS errors, and how a request names a metric and its times."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import Clock
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.metrics.model import MetricId, MetricsRuleError
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
F = TypeVar("F", bound=Callable[..., Awaitable[dict[str, Any]]])


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    metrics: MetricStore


def aws_errors(fn: F) -> F:
    """Turn :class:`MetricsRuleError` raised below a handler into the :class:`AwsError` the wire
    layer answers with (same code, same message)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await fn(*args, **kwargs)
        except MetricsRuleError as exc:
            raise AwsError(exc.code, exc.message) from exc

    return wrapper  # type: ignore[return-value]


def epoch(value: Any) -> float:
    """A parsed wire timestamp (an aware datetime) in epoch seconds."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return moment.timestamp()
    return float(value)


def metric_of(namespace: str, name: str, dimensions: Sequence[Mapping[str, Any]] | None) -> MetricId:
    """The metric a request names by namespace, name and ``[{Name, Value}]`` dimensions."""
    return MetricId.of(namespace, name, [(str(d["Name"]), str(d["Value"])) for d in dimensions or ()])


def dimensions_view(metric: MetricId) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in metric.dimensions]
