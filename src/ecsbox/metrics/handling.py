"""What every CloudWatch metric handler shares: its dependencies, the boundary where metric rule
errors become AWS errors, and how a request names a metric and its times."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import rule_errors_as_aws
from ecsbox.core.clock import Clock
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.metrics.model import MetricId, MetricsRuleError, check_request_text
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    metrics: MetricStore


# Checks that every string of the request is storable (a lone surrogate reaches no database), and
# turns MetricsRuleError raised below a handler into the AwsError the wire layer answers with.
aws_errors = rule_errors_as_aws(MetricsRuleError, check_request_text)


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
