"""The metric alarm reads: DescribeAlarms, DescribeAlarmsForMetric and DescribeAlarmHistory.

ecsbox has metric alarms only: asking for composite alarms answers an empty ``CompositeAlarms``, as
AWS does for an account that has none. Both paged reads hand out keyset tokens (the shared codec of
:mod:`ecsbox.core.paging`), so alarms created between two pages never shift the next one.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.core import paging
from ecsbox.metrics import alarm_repo
from ecsbox.metrics.alarm_handling import Deps, aws_errors
from ecsbox.metrics.alarm_model import METRIC_ALARM, AlarmRecord
from ecsbox.metrics.model import (
    INVALID_NEXT_TOKEN,
    MetricId,
    MetricsRuleError,
    Partition,
    invalid_combination,
)
from ecsbox.store import Store

DEFAULT_PAGE = 50
COMPOSITE_ALARM = "CompositeAlarm"
_ALARMS_SCOPE = "DescribeAlarms"
_HISTORY_SCOPE = "DescribeAlarmHistory"
_ECHOED = (
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "EvaluationWindow",
    "ActionConfiguration",
)


def alarm_view(record: AlarmRecord) -> dict[str, Any]:
    """A MetricAlarm as DescribeAlarms answers it: what PutMetricAlarm was given, and the state."""
    document = record.document
    view: dict[str, Any] = {"AlarmName": record.name, "AlarmArn": record.arn}
    if document.get("AlarmDescription") is not None:
        view["AlarmDescription"] = document["AlarmDescription"]
    view["AlarmConfigurationUpdatedTimestamp"] = record.configuration_updated
    view["ActionsEnabled"] = record.actions_enabled
    view["OKActions"] = list(document.get("OKActions") or ())
    view["AlarmActions"] = list(document.get("AlarmActions") or ())
    view["InsufficientDataActions"] = list(document.get("InsufficientDataActions") or ())
    view["StateValue"] = record.state_value
    view["StateReason"] = record.state_reason
    if record.state_reason_data is not None:
        view["StateReasonData"] = record.state_reason_data
    view["StateUpdatedTimestamp"] = record.state_updated
    for key in _ECHOED:
        if document.get(key) is not None:
            view[key] = document[key]
    view["StateTransitionedTimestamp"] = record.state_transitioned
    return view


def _invalid_token() -> MetricsRuleError:
    return MetricsRuleError(INVALID_NEXT_TOKEN, "The value for parameter NextToken is invalid.")


def _history_position(key: list[Any] | None) -> tuple[float, int]:
    """Where a DescribeAlarmHistory token resumes: (timestamp, item id); InvalidNextToken for what
    no page of ours handed out (a tampered token must not reach the database as a float id).

    >>> _history_position([1_700_000_000.5, 7])
    (1700000000.5, 7)
    >>> _history_position([1_700_000_000.5, 1e300])
    Traceback (most recent call last):
    ...
    ecsbox.metrics.model.MetricsRuleError: The value for parameter NextToken is invalid.
    """
    if key is None or len(key) != 2:
        raise _invalid_token()
    timestamp, item_id = key
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise _invalid_token()
    if isinstance(item_id, bool) or not isinstance(item_id, int):
        raise _invalid_token()
    return float(timestamp), item_id


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value)


def _wants_metric_alarms(params: dict[str, Any]) -> tuple[bool, bool]:
    """(metric alarms, composite alarms) a request's AlarmTypes asks for; omitted: metric alarms."""
    types = params.get("AlarmTypes")
    if types is None:
        return True, False
    return METRIC_ALARM in types, COMPOSITE_ALARM in types


class AlarmReads:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
        if names is not None and prefix is not None:
            raise invalid_combination("AlarmNames and AlarmNamePrefix cannot both be specified.")
        family = params.get("ChildrenOfAlarmName") or params.get("ParentsOfAlarmName")
        others = ("AlarmNames", "AlarmNamePrefix", "AlarmTypes", "StateValue", "ActionPrefix")
        if family is not None and any(params.get(key) is not None for key in others):
            raise invalid_combination(
                "ChildrenOfAlarmName and ParentsOfAlarmName cannot be specified with parameters other than "
                "MaxRecords and NextToken."
            )
        after: str | None = None
        if params.get("NextToken") is not None:
            key = paging.decode_token(str(params["NextToken"]), _ALARMS_SCOPE)
            if key is None or len(key) != 1 or not isinstance(key[0], str):
                raise _invalid_token()
            after = key[0]
        want_metric, _ = _wants_metric_alarms(params)
        # ecsbox has no composite alarms (so none has children or parents): always an empty list.
        answer: dict[str, Any] = {"CompositeAlarms": []}
        if family is not None or not want_metric:
            answer["MetricAlarms"] = []
            return answer
        limit = int(params.get("MaxRecords") or DEFAULT_PAGE)
        action_prefix = params.get("ActionPrefix")

        def read(conn: Connection) -> list[AlarmRecord]:
            return alarm_repo.list_alarms(
                conn, ctx.partition, names=names, prefix=prefix, state=params.get("StateValue"), after=after
            )

        records = await self.store.read(read)
        if action_prefix is not None:
            records = [r for r in records if any(arn.startswith(action_prefix) for arn in _actions(r))]
        page = records[:limit]
        answer["MetricAlarms"] = [alarm_view(r) for r in page]
        if len(records) > limit:
            answer["NextToken"] = paging.encode_token(_ALARMS_SCOPE, [page[-1].name])
        return answer

    @aws_errors
    async def for_metric(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        dimensions = [(d["Name"], d["Value"]) for d in params.get("Dimensions") or ()]
        metric = MetricId.of(params["Namespace"], params["MetricName"], dimensions)

        def read(conn: Connection) -> list[AlarmRecord]:
            return alarm_repo.list_alarms(conn, ctx.partition)

        chosen = []
        for record in await self.store.read(read):
            document = record.document
            if record.config.metric != metric:
                continue
            if any(
                params.get(key) is not None and document.get(key) != params[key]
                for key in ("Statistic", "ExtendedStatistic", "Period", "Unit")
            ):
                continue
            chosen.append(alarm_view(record))
        return {"MetricAlarms": chosen}

    @aws_errors
    async def history(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ascending = params.get("ScanBy") == "TimestampAscending"
        after: tuple[float, int] | None = None
        if params.get("NextToken") is not None:
            key = paging.decode_token(str(params["NextToken"]), f"{_HISTORY_SCOPE}/{int(ascending)}")
            after = _history_position(key)
        want_metric, _ = _wants_metric_alarms(params)
        if not want_metric:
            return {"AlarmHistoryItems": []}
        limit = int(params.get("MaxRecords") or DEFAULT_PAGE)

        def read(conn: Connection) -> list[alarm_repo.HistoryItem]:
            return alarm_repo.history(
                conn,
                ctx.partition,
                name=params.get("AlarmName"),
                item_type=params.get("HistoryItemType"),
                start=_epoch(params.get("StartDate")),
                end=_epoch(params.get("EndDate")),
                ascending=ascending,
                after=after,
                limit=limit + 1,
            )

        items = await self.store.read(read)
        page = items[:limit]
        answer: dict[str, Any] = {
            "AlarmHistoryItems": [
                {
                    "AlarmName": item.alarm_name,
                    "AlarmType": item.alarm_type,
                    "Timestamp": item.timestamp,
                    "HistoryItemType": item.item_type,
                    "HistorySummary": item.summary,
                    "HistoryData": item.data,
                }
                for item in page
            ]
        }
        if len(items) > limit:
            answer["NextToken"] = paging.encode_token(
                f"{_HISTORY_SCOPE}/{int(ascending)}", [page[-1].timestamp, page[-1].id]
            )
        return answer


def _actions(record: AlarmRecord) -> list[str]:
    document = record.document
    return [
        str(arn)
        for key in ("OKActions", "AlarmActions", "InsufficientDataActions")
        for arn in document.get(key) or ()
    ]


async def alarm_states(
    store: Store, partition: Partition, names: Sequence[str]
) -> dict[str, tuple[str, float]]:
    """For other capabilities (ECS deployment alarms): each named alarm that exists, with its state
    and how long it takes to judge (Period x EvaluationPeriods, seconds)."""

    def read(conn: Connection) -> list[AlarmRecord]:
        return alarm_repo.list_alarms(conn, partition, names=list(dict.fromkeys(names)))

    return {
        record.name: (record.state_value, float(record.config.period * record.config.evaluation_periods))
        for record in await store.read(read)
    }
