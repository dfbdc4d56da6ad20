"""Metric filters: PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter and TestMetricFilter.

Filters are stored with their log group; :func:`ecsbox.logs.metric_filters.metric_data` computes
the datapoints each event makes, for CloudWatch metrics to record once that capability exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.logs import group_repo
from ecsbox.logs.group_repo import MetricFilterRow
from ecsbox.logs.handling import Deps, aws_errors
from ecsbox.logs.metric_filters import Pattern, check_transformation
from ecsbox.logs.model import (
    DESCRIBE_PAGE,
    FILTER_NOT_FOUND,
    INVALID_TOKEN,
    MAX_METRIC_FILTERS,
    GroupRef,
    LogsRuleError,
    invalid_parameter,
)
from ecsbox.logs.paging import decode_token, encode_token, page_limit
from ecsbox.logs.patterns import PatternError, compile_pattern

_SCOPE = "DescribeMetricFilters"
_OPTIONAL = ("applyOnTransformedLogs", "fieldSelectionCriteria", "emitSystemFieldDimensions")


class MatchAll:
    """A blank filter pattern: every event matches, nothing is extracted."""

    def matches(self, message: str) -> bool:
        return True

    def fields(self, message: str) -> dict[str, Any] | None:
        return {}


def pattern_of(text: str) -> Pattern:
    """The compiled pattern (a blank one matches everything), or InvalidParameterException with
    the pattern engine's message."""
    if not text.strip():
        return MatchAll()
    try:
        return compile_pattern(text)
    except PatternError as exc:
        raise LogsRuleError(exc.code, str(exc)) from exc


def check_pattern(text: str) -> str:
    pattern_of(text)
    return text


def filter_view(row: MetricFilterRow, group_name: str) -> dict[str, Any]:
    return {
        "filterName": row.name,
        "filterPattern": row.pattern,
        "metricTransformations": row.transformations,
        "creationTime": row.created_ms,
        "logGroupName": group_name,
        "applyOnTransformedLogs": bool(row.document.get("applyOnTransformedLogs", False)),
        **{key: row.document[key] for key in _OPTIONAL[1:] if key in row.document},
    }


def extracted_values(pattern: Pattern, message: str) -> dict[str, str]:
    """TestMetricFilter's ``extractedValues``: a space-delimited pattern's fields (``$status`` →
    ``"404"``, unnamed ones ``$1``, ``$2`` …), or for a JSON pattern the fields it names, as text."""
    fields = pattern.fields(message) or {}
    text = getattr(pattern, "text", "")
    if getattr(pattern, "kind", "") == "json":
        fields = {key: value for key, value in fields.items() if key in text}
    return {str(key): _text(value) for key, value in fields.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


class MetricFilters:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = GroupRef(ctx.partition, params["logGroupName"])
        pattern = check_pattern(params["filterPattern"])
        transformations = [check_transformation(t) for t in params["metricTransformations"]]
        document = {key: params[key] for key in _OPTIONAL if params.get(key) is not None}
        now = self.deps.now_ms()

        def write(conn: Connection) -> dict[str, Any]:
            group = group_repo.require_group(conn, ref)
            is_new = group_repo.get_metric_filter(conn, group.id, params["filterName"]) is None
            if (
                is_new
                and group_repo.count_metric_filters(conn, [group.id]).get(group.id, 0) >= MAX_METRIC_FILTERS
            ):
                raise LogsRuleError("LimitExceededException", "Resource limit exceeded.")
            group_repo.put_metric_filter(
                conn, MetricFilterRow(group.id, params["filterName"], pattern, transformations, document, now)
            )
            return {}

        return await self.store.write(write)

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group_name = params.get("logGroupName")
        metric_name, namespace = params.get("metricName"), params.get("metricNamespace")
        if metric_name is not None and namespace is None:
            raise invalid_parameter("metricNamespace must be specified with metricName.")
        # AWS uses filterNamePrefix only together with logGroupName.
        prefix = params.get("filterNamePrefix") if group_name is not None else None
        limit = page_limit(params.get("limit"), DESCRIBE_PAGE)
        after: tuple[int, str] | None = None
        if params.get("nextToken") is not None:
            key = decode_token(params["nextToken"], _SCOPE)
            if len(key) != 2 or not isinstance(key[0], int) or not isinstance(key[1], str):
                raise invalid_parameter(INVALID_TOKEN)
            after = (key[0], key[1])

        def read(conn: Connection) -> tuple[list[MetricFilterRow], dict[int, str]]:
            if group_name is not None:
                group = group_repo.require_group(conn, GroupRef(ctx.partition, group_name))
                names = {group.id: group.name}
            else:
                names = group_repo.group_names(conn, ctx.partition)
            return group_repo.list_metric_filters(conn, list(names), prefix=prefix), names

        rows, names = await self.store.read(read)
        chosen = [
            row
            for row in rows
            if (after is None or (row.group_id, row.name) > after)
            and (namespace is None or any(t["metricNamespace"] == namespace for t in row.transformations))
            and (metric_name is None or any(t["metricName"] == metric_name for t in row.transformations))
        ]
        page = chosen[:limit]
        answer: dict[str, Any] = {"metricFilters": [filter_view(row, names[row.group_id]) for row in page]}
        if len(chosen) > limit:
            answer["nextToken"] = encode_token(_SCOPE, [page[-1].group_id, page[-1].name])
        return answer

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = GroupRef(ctx.partition, params["logGroupName"])

        def write(conn: Connection) -> dict[str, Any]:
            group = group_repo.require_group(conn, ref)
            if not group_repo.delete_metric_filter(conn, group.id, params["filterName"]):
                raise LogsRuleError("ResourceNotFoundException", FILTER_NOT_FOUND)
            return {}

        return await self.store.write(write)

    @aws_errors
    async def test(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        pattern = pattern_of(params["filterPattern"])
        matches = []
        for number, message in enumerate(params["logEventMessages"], start=1):
            if pattern.matches(message):
                matches.append(
                    {
                        "eventNumber": number,
                        "eventMessage": message,
                        "extractedValues": extracted_values(pattern, message),
                    }
                )
        return {"matches": matches}
