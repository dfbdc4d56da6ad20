"""PutMetricData: the request checked against CloudWatch's rules (:mod:`ecsbox.metrics.limits`), then
stored in one transaction — all of it or, on any broken rule, none of it."""

from __future__ import annotations

from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.metrics.handling import Deps, aws_errors
from ecsbox.metrics.limits import data_of


class PutMetricData:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        data = data_of(
            str(params["Namespace"]),
            params.get("MetricData") or [],
            self.deps.clock.now(),
            params.get("EntityMetricData") or [],
        )
        await self.deps.metrics.put(ctx.partition, data)
        return {}
