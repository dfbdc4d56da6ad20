"""The metric alarm operations: PutMetricAlarm, SetAlarmState, EnableAlarmActions, DisableAlarmActions,
DeleteAlarms and the tag operations on alarm ARNs; :func:`alarm_operations` adds the reads
(:mod:`ecsbox.metrics.alarm_describe`) and is what :func:`ecsbox.metrics.register` hands the wire
layer.

* PutMetricAlarm creates an alarm in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"), or
  replaces an existing alarm's whole configuration and leaves its state alone; either way a
  ConfigurationUpdate history item. Tags apply only when it creates.
* SetAlarmState moves the alarm at once (with history, actions and the EventBridge event, as any
  state change); the next evaluation moves it to where the data says, as on AWS.
* DeleteAlarms deletes what exists and ignores names that do not (as CloudWatch does); the history
  stays.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.core.clock import Clock
from ecsbox.metrics import alarm_messages, alarm_repo
from ecsbox.metrics.alarm_describe import AlarmReads
from ecsbox.metrics.alarm_handling import (
    RESOURCE_NOT_FOUND_EXCEPTION,
    Deps,
    Handler,
    alarm_not_found,
    aws_errors,
)
from ecsbox.metrics.alarm_model import (
    INITIAL_REASON,
    INSUFFICIENT_DATA,
    AlarmRecord,
    StateInfo,
    alarm_name_of,
)
from ecsbox.metrics.alarm_rules import check_alarm, check_reason_data, check_tags
from ecsbox.metrics.model import MetricsRuleError, invalid_value
from ecsbox.store import Store


class AlarmWrites:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.clock = deps.clock

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition, name = ctx.partition, str(params["AlarmName"])
        document, tags = check_alarm(params, partition)
        actions_enabled = bool(document.pop("ActionsEnabled"))
        now = self.clock.now()

        def write(conn: Connection) -> None:
            existing = alarm_repo.get(conn, partition, name)
            if existing is None:
                record = AlarmRecord(
                    partition,
                    name,
                    document,
                    actions_enabled,
                    now,
                    INSUFFICIENT_DATA,
                    INITIAL_REASON,
                    None,
                    now,
                    now,
                )
                alarm_repo.insert_alarm(conn, record)
                alarm_repo.put_tags(conn, record.arn, tags)
                summary, data = alarm_messages.created(record)
            else:
                record = replace(
                    existing, document=document, actions_enabled=actions_enabled, configuration_updated=now
                )
                alarm_repo.replace_configuration(conn, record)
                summary, data = alarm_messages.updated(existing, record)
            alarm_repo.add_history(conn, partition, name, now, "ConfigurationUpdate", summary, data)

        await self.store.write(write)
        return {}

    @aws_errors
    async def set_state(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition, name = ctx.partition, str(params["AlarmName"])
        reason_data = check_reason_data(params.get("StateReasonData"))
        new = StateInfo(str(params["StateValue"]), str(params["StateReason"]), reason_data, self.clock.now())

        def write(conn: Connection) -> None:
            record = alarm_repo.get(conn, partition, name)
            if record is None:
                raise alarm_not_found(name)
            if record.state_value == new.value:  # no transition: nothing to announce or act on
                alarm_repo.set_reason(conn, partition, name, new.reason, new.reason_data)
                return
            alarm_repo.change_state(conn, record, new)

        await self.store.write(write)
        return {}

    @aws_errors
    async def enable_actions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._set_actions(ctx, params, True)

    @aws_errors
    async def disable_actions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._set_actions(ctx, params, False)

    async def _set_actions(
        self, ctx: RequestContext, params: dict[str, Any], enabled: bool
    ) -> dict[str, Any]:
        partition, now = ctx.partition, self.clock.now()
        names = list(dict.fromkeys(str(n) for n in params["AlarmNames"]))

        def write(conn: Connection) -> None:
            for record in alarm_repo.list_alarms(conn, partition, names=names):
                if record.actions_enabled == enabled:
                    continue
                changed = replace(record, actions_enabled=enabled, configuration_updated=now)
                alarm_repo.replace_configuration(conn, changed)
                summary, data = alarm_messages.updated(record, changed)
                alarm_repo.add_history(
                    conn, partition, record.name, now, "ConfigurationUpdate", summary, data
                )

        await self.store.write(write)
        return {}

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition, now = ctx.partition, self.clock.now()
        names = list(dict.fromkeys(str(n) for n in params["AlarmNames"]))

        def write(conn: Connection) -> None:
            for record in alarm_repo.list_alarms(conn, partition, names=names):
                alarm_repo.delete_alarm(conn, partition, record.name)
                alarm_repo.clear_tags(conn, record.arn)
                summary, data = alarm_messages.deleted(record)
                alarm_repo.add_history(
                    conn, partition, record.name, now, "ConfigurationUpdate", summary, data
                )

        await self.store.write(write)
        return {}

    # ---- tags -------------------------------------------------------------------------------------

    def _alarm_of(self, conn: Connection, ctx: RequestContext, arn: str) -> AlarmRecord:
        named = alarm_name_of(arn)
        if named is None:
            raise invalid_value(
                f"The value {arn} for parameter ResourceARN is not a valid ARN of a CloudWatch alarm."
            )
        partition, name = named
        record = alarm_repo.get(conn, partition, name) if partition == ctx.partition else None
        if record is None:
            raise MetricsRuleError(RESOURCE_NOT_FOUND_EXCEPTION, f"The resource {arn} does not exist.")
        return record

    @aws_errors
    async def tag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = str(params["ResourceARN"])
        tags = check_tags(params["Tags"])

        def write(conn: Connection) -> None:
            record = self._alarm_of(conn, ctx, arn)
            merged = {**alarm_repo.get_tags(conn, record.arn), **tags}
            check_tags([{"Key": k, "Value": v} for k, v in merged.items()])
            alarm_repo.put_tags(conn, record.arn, tags)

        await self.store.write(write)
        return {}

    @aws_errors
    async def untag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = str(params["ResourceARN"])
        keys = [str(k) for k in params["TagKeys"]]

        def write(conn: Connection) -> None:
            record = self._alarm_of(conn, ctx, arn)
            alarm_repo.remove_tags(conn, record.arn, keys)

        await self.store.write(write)
        return {}

    @aws_errors
    async def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = str(params["ResourceARN"])

        def read(conn: Connection) -> dict[str, str]:
            record = self._alarm_of(conn, ctx, arn)
            return alarm_repo.get_tags(conn, record.arn)

        tags = await self.store.read(read)
        return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}


def alarm_operations(store: Store, clock: Clock) -> dict[str, Handler]:
    """Every metric alarm operation ecsbox implements, bound to its dependencies."""
    deps = Deps(store=store, clock=clock)
    writes = AlarmWrites(deps)
    reads = AlarmReads(deps)
    return {
        "PutMetricAlarm": writes.put,
        "SetAlarmState": writes.set_state,
        "EnableAlarmActions": writes.enable_actions,
        "DisableAlarmActions": writes.disable_actions,
        "DeleteAlarms": writes.delete,
        "TagResource": writes.tag,
        "UntagResource": writes.untag,
        "ListTagsForResource": writes.list_tags,
        "DescribeAlarms": reads.describe,
        "DescribeAlarmsForMetric": reads.for_metric,
        "DescribeAlarmHistory": reads.history,
    }
