"""What CloudWatch metrics are made of, shared by every part of the metrics package: a metric's
identity, a datum to store, a period's aggregate, and the ports that write and read them. Pure.

>>> MetricId.of("AWS/ECS", "CPUUtilization", {"ServiceName": "web", "ClusterName": "c"}).dimensions
(('ClusterName', 'c'), ('ServiceName', 'web'))
>>> d = Datum.single(MetricId.of("App", "Latency"), 1_700_000_000.0, 12.5, unit="Milliseconds")
>>> (d.sample_count, d.sum, d.minimum, d.maximum, d.value_counts)
(1.0, 12.5, 12.5, 12.5, ((12.5, 1.0),))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ecsbox.core.errors import EcsboxError

Partition = tuple[str, str]  # (account id, region)
Dimensions = tuple[tuple[str, str], ...]  # (name, value) pairs sorted by name
ValueCounts = tuple[tuple[float, float], ...]  # (value, count) pairs


class MetricsRuleError(EcsboxError):
    """A CloudWatch rule was broken; ``code`` is the error code the model names."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# The codes CloudWatch answers with. GetMetricData answers ``ValidationError`` (a code its model does not
# declare, as AWS does) for queries it cannot run; the other operations the model's three codes.
INVALID_VALUE = "InvalidParameterValue"
INVALID_COMBINATION = "InvalidParameterCombination"
MISSING = "MissingParameter"
VALIDATION = "ValidationError"
INVALID_NEXT_TOKEN = "InvalidNextToken"


def invalid_value(message: str) -> MetricsRuleError:
    return MetricsRuleError(INVALID_VALUE, message)


def invalid_combination(message: str) -> MetricsRuleError:
    return MetricsRuleError(INVALID_COMBINATION, message)


def missing(message: str) -> MetricsRuleError:
    return MetricsRuleError(MISSING, message)


def validation(message: str) -> MetricsRuleError:
    return MetricsRuleError(VALIDATION, message)


def check_text(value: Any, where: str) -> None:
    """Every string must be storable Unicode: JSON can carry a lone surrogate (``"\\ud800"``),
    which no database stores and no UTF-8 encoder writes. InvalidParameterValue otherwise.

    >>> check_text({"Name": ["ok", "fine"]}, "Dimensions")
    >>> check_text(["a\\ud800"], "AlarmNames")
    Traceback (most recent call last):
    ...
    ecsbox.metrics.model.MetricsRuleError: The parameter AlarmNames contains invalid characters.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid_value(f"The parameter {where} contains invalid characters.") from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(key, where)
            check_text(item, where)
    elif isinstance(value, list | tuple):
        for item in value:
            check_text(item, where)


def check_request_text(params: Mapping[str, Any]) -> None:
    """:func:`check_text` on every member of a request, naming the member that holds bad text
    (the handler boundary runs it before any handler reads the request)."""
    for member, value in params.items():
        check_text(value, member)


@dataclass(frozen=True)
class MetricId:
    """One metric: namespace, name and dimension set (order does not matter to AWS, so sorted)."""

    namespace: str
    name: str
    dimensions: Dimensions = ()

    @staticmethod
    def of(
        namespace: str, name: str, dimensions: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    ) -> MetricId:
        pairs = dimensions.items() if isinstance(dimensions, Mapping) else dimensions
        return MetricId(namespace, name, tuple(sorted((str(k), str(v)) for k, v in pairs)))


@dataclass(frozen=True)
class Datum:
    """One datapoint to store: a PutMetricData datum, a collector sample, a metric filter match.

    ``value_counts`` holds the raw values when they are known (percentiles need them); a statistic
    set has only the four aggregates. ``storage_resolution`` is 1 (high resolution) or 60.
    """

    metric: MetricId
    timestamp: float  # epoch seconds
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    unit: str = "None"
    storage_resolution: int = 60
    value_counts: ValueCounts | None = None

    @staticmethod
    def single(
        metric: MetricId, timestamp: float, value: float, *, unit: str = "None", storage_resolution: int = 60
    ) -> Datum:
        return Datum(metric, timestamp, 1.0, value, value, value, unit, storage_resolution, ((value, 1.0),))


@dataclass(frozen=True)
class Bucket:
    """One period of one metric, aggregated: what every statistic is computed from.

    ``value_counts`` is None when any point in the period came as a statistic set (then no
    percentile can be computed, as on AWS).
    """

    start: float  # epoch seconds, the period's start
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    unit: str
    value_counts: ValueCounts | None = None


class MetricWriter(Protocol):
    """Stores datapoints (committed when ``put`` returns). The collector, metric filters and
    embedded-metric-format log events write through this; PutMetricData validates, then does too."""

    async def put(self, partition: Partition, data: Sequence[Datum]) -> None: ...


class MetricReader(Protocol):
    """Reads a metric's datapoints aggregated by period: one :class:`Bucket` per period in
    [start, end) that holds data, oldest first. Periods are counted from ``start``: period k is
    [start + k·period, start + (k+1)·period), as CloudWatch counts them from a query's (rounded)
    start time; pass a ``start`` that is a multiple of the period for periods aligned to the epoch.
    ``unit`` (when given) keeps only points stored with that unit. Alarms, GetMetricStatistics and
    GetMetricData read through this."""

    async def buckets(
        self,
        partition: Partition,
        metric: MetricId,
        period: int,
        start: float,
        end: float,
        unit: str | None = None,
    ) -> list[Bucket]: ...
