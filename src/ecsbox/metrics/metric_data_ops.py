"""GetMetricData: several metrics' statistics at once, as timestamp / value series, paged by
``MaxDatapoints`` with an opaque ``NextToken``.

Each query reads like GetMetricStatistics (the start rounded, periods counted from it, no datapoints
when the data's age does not allow the period); a period whose statistic cannot be computed (a
percentile of statistic sets) has no datapoint. Newest first by default (``ScanBy``).
"""

from __future__ import annotations

from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.metrics.handling import Deps, aws_errors, epoch
from ecsbox.metrics.metric_data import ASCENDING, DESCENDING, Result, StatQuery, labels, page, parse_queries
from ecsbox.metrics.model import Partition, validation
from ecsbox.metrics.paging import DEFAULT_MAX_DATAPOINTS, data_token, decode_data_token, request_fingerprint
from ecsbox.metrics.queries import window
from ecsbox.metrics.statistics import STANDARD, statistic_value


class GetMetricData:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @aws_errors
    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        queries = parse_queries(params.get("MetricDataQueries") or [], ctx.account_id)
        start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
        if start >= end:
            raise validation("The parameter StartTime must be less than the parameter EndTime.")
        max_datapoints = params.get("MaxDatapoints")
        if max_datapoints is None:
            max_datapoints = DEFAULT_MAX_DATAPOINTS
        elif max_datapoints <= 0:
            raise validation("The parameter MaxDatapoints must be greater than 0.")
        descending = (params.get("ScanBy") or DESCENDING) != ASCENDING
        fingerprint = request_fingerprint(
            {
                "queries": params.get("MetricDataQueries"),
                "start": start,
                "end": end,
                "descending": descending,
                "partition": list(ctx.partition),
            }
        )
        token = params.get("NextToken")
        resume = decode_data_token(token, fingerprint) if token else None
        returned = [query for query in queries if query.returns]
        now = self.deps.clock.now()
        results: list[Result] = []
        for query, label in zip(returned, labels(returned), strict=True):
            if query.account_id is not None:
                results.append(Result(query.id, label, [], status="Forbidden"))
                continue
            points = await self._series(ctx.partition, query, start, end, now)
            results.append(Result(query.id, label, points[::-1] if descending else points))
        answered, next_resume = page(results, int(max_datapoints), descending, resume)
        output: dict[str, Any] = {"MetricDataResults": answered, "Messages": []}
        if next_resume is not None:
            output["NextToken"] = data_token(fingerprint, next_resume)
        return output

    async def _series(
        self, partition: Partition, query: StatQuery, start: float, end: float, now: float
    ) -> list[tuple[float, float]]:
        """The query's (timestamp, value) datapoints, oldest first."""
        span = window(start, end, query.period, now)
        if not span.readable:
            return []
        buckets = await self.deps.metrics.buckets(
            partition,
            query.metric,
            query.period,
            span.start,
            span.end,
            query.unit,
            values=query.stat not in STANDARD,
        )
        points: list[tuple[float, float]] = []
        for bucket in buckets:
            value = statistic_value(bucket, query.stat)
            if value is not None:
                points.append((bucket.start, value))
        return points
