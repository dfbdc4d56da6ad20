"""ListMetrics: the metrics of a partition that received a datapoint recently, filtered by namespace,
name and dimensions, 500 a page in (namespace, name, dimensions) order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.metrics import metric_repo
from ecsbox.metrics.handling import Deps, aws_errors
from ecsbox.metrics.listing import filters_of, listed_since, matches
from ecsbox.metrics.paging import LIST_PAGE, decode_list_token, list_token

_SCAN = 1_000  # series read per query while filling a page


class ListMetrics:
    def __init__(self, deps: Deps, page: int = LIST_PAGE) -> None:
        self.deps = deps
        self.page = page

    @aws_errors
    async def list_metrics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("NextToken")
        after = decode_list_token(token) if token else None
        owning = params.get("OwningAccount")
        linked = bool(params.get("IncludeLinkedAccounts"))
        found: list[tuple[str, str, str]] = []
        more = False
        if owning is None or owning == ctx.account_id:  # no account is linked to another here
            found, more = await self.deps.store.read(
                lambda conn: self._scan(conn, ctx, params, after), heavy=True
            )
        metrics = [
            {"Namespace": ns, "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}
            for ns, name, dims in ((ns, name, metric_repo.dimensions_of(text)) for ns, name, text in found)
        ]
        result: dict[str, Any] = {"Metrics": metrics}
        if linked:
            result["OwningAccounts"] = [ctx.account_id] * len(metrics)
        if more and found:
            result["NextToken"] = list_token(found[-1])
        return result

    def _scan(
        self,
        conn: Connection,
        ctx: RequestContext,
        params: dict[str, Any],
        after: tuple[str, str, str] | None,
    ) -> tuple[list[tuple[str, str, str]], bool]:
        """Up to a page of matching series after ``after``, and whether more may follow."""
        since = listed_since(self.deps.clock.now(), params.get("RecentlyActive"))
        filters = filters_of(params.get("Dimensions"))
        found: list[tuple[str, str, str]] = []
        while True:
            rows = metric_repo.recent_series(
                conn, ctx.partition, since, params.get("Namespace"), params.get("MetricName"), after, _SCAN
            )
            for row in rows:
                if matches(metric_repo.dimensions_of(row[2]), filters):
                    found.append(row)
                    if len(found) == self.page:
                        return found, True
            if len(rows) < _SCAN:
                return found, False
            after = rows[-1]
