"""GetMetricStatistics: one metric's statistics per period, as datapoints.

Without ``Unit`` each unit the metric was put with answers its own datapoints (CloudWatch returns
"all data that was collected with any unit ... along with the corresponding units"); with it, only
points put with that unit count. A start older than 3 hours, 15 or 63 days needs a period that is a
multiple of 60, 300 or 3600 seconds, or no datapoints come back (:mod:`ecsbox.metrics.queries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.metrics.handling import Deps, aws_errors, epoch, metric_of
from ecsbox.metrics.model import Bucket, invalid_combination, invalid_value
from ecsbox.metrics.queries import (
    MAX_STATISTICS_DATAPOINTS,
    is_extended_statistic,
    is_valid_period,
    window,
)
from ecsbox.metrics.statistics import statistic_value

PERIOD_RULE = "must be a value in the set [ 1, 5, 10, 20, 30 ] or a multiple of 60."


def too_many_datapoints(count: int) -> str:
    """GetMetricStatistics' answer to a request for more than 1,440 periods."""
    return (
        f"You have requested up to {count} datapoints, which exceeds the limit of "
        f"{MAX_STATISTICS_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, "
        "or decreasing the time range."
    )


def check_statistics(statistics: Sequence[str], extended: Sequence[str]) -> None:
    """Exactly one of Statistics (the model's enum) and ExtendedStatistics (percentiles)."""
    if not statistics and not extended:
        raise invalid_combination("Must specify either Statistics or ExtendedStatistics.")
    if statistics and extended:
        raise invalid_combination(
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both."
        )
    for index, name in enumerate(extended, 1):
        if not is_extended_statistic(name):
            raise invalid_value(
                f"The value {name} for parameter ExtendedStatistics.member.{index} is not supported."
            )


def datapoint(bucket: Bucket, statistics: Sequence[str], extended: Sequence[str]) -> dict[str, Any]:
    """One period as a Datapoint: its start, the statistics asked (a percentile the period cannot
    answer, having no raw values, is left out) and its unit.

    >>> b = Bucket(60.0, 2.0, 6.0, 2.0, 4.0, "Seconds", ((2.0, 1.0), (4.0, 1.0)))
    >>> datapoint(b, ["Average", "Maximum"], [])
    {'Timestamp': 60.0, 'Unit': 'Seconds', 'Average': 3.0, 'Maximum': 4.0}
    >>> datapoint(b, [], ["p50"])["ExtendedStatistics"]
    {'p50': 2.0}
    """
    point: dict[str, Any] = {"Timestamp": bucket.start, "Unit": bucket.unit}
    for name in statistics:
        value = statistic_value(bucket, name)
        if value is not None:
            point[name] = value
    if extended:
        values = {name: statistic_value(bucket, name) for name in extended}
        point["ExtendedStatistics"] = {name: value for name, value in values.items() if value is not None}
    return point


class GetMetricStatistics:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @aws_errors
    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["MetricName"])
        statistics = list(params.get("Statistics") or [])
        extended = list(params.get("ExtendedStatistics") or [])
        check_statistics(statistics, extended)
        period = int(params["Period"])
        if not is_valid_period(period):
            raise invalid_value(f"The parameter Period {PERIOD_RULE}")
        start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
        if start >= end:
            raise invalid_value("The parameter StartTime must be less than the parameter EndTime.")
        span = window(start, end, period, self.deps.clock.now())
        if span.count > MAX_STATISTICS_DATAPOINTS:
            raise invalid_combination(too_many_datapoints(span.count))
        if not span.readable:
            return {"Label": name, "Datapoints": []}
        metric = metric_of(str(params["Namespace"]), name, params.get("Dimensions"))
        unit = params.get("Unit")
        wants_values = bool(extended)
        if unit is None:
            buckets = await self.deps.metrics.buckets_by_unit(
                ctx.partition, metric, period, span.start, span.end, values=wants_values
            )
        else:
            buckets = await self.deps.metrics.buckets(
                ctx.partition, metric, period, span.start, span.end, str(unit), values=wants_values
            )
        return {"Label": name, "Datapoints": [datapoint(b, statistics, extended) for b in buckets]}
