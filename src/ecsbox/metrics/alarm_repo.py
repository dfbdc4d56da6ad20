"""SQL for metric alarms, their history, the actions still to carry out, and the events an alarm
writes to the outbox.

Every function takes an open ``Connection`` and runs inside the caller's ``store.read`` /
``store.write`` function, so one state change — the new state, its StateUpdate history item, one
pending row per action and the EventBridge event — commits as one transaction
(:func:`change_state`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from ecsbox.metrics import alarm_messages
from ecsbox.metrics.alarm_model import (
    METRIC_ALARM,
    SCALING,
    AlarmRecord,
    Partition,
    StateInfo,
    action_kind,
    actions_for,
)
from ecsbox.metrics.alarm_text import to_json
from ecsbox.store import outbox
from ecsbox.store.resource_tags import (  # the shared table's SQL, as this package's
    clear_tags as clear_tags,
)
from ecsbox.store.resource_tags import (
    get_tags as get_tags,
)
from ecsbox.store.resource_tags import (
    put_tags as put_tags,
)
from ecsbox.store.resource_tags import (
    remove_tags as remove_tags,
)
from ecsbox.store.schema import metric_alarm_actions, metric_alarm_history, metric_alarms

_A = metric_alarms.c
_H = metric_alarm_history.c
_P = metric_alarm_actions.c
HISTORY_SUMMARY_LIMIT = 255


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _record(r: Any) -> AlarmRecord:
    return AlarmRecord(
        partition=(r.account_id, r.region),
        name=r.name,
        document=orjson.loads(r.document),
        actions_enabled=bool(r.actions_enabled),
        configuration_updated=float(r.configuration_updated),
        state_value=r.state_value,
        state_reason=r.state_reason,
        state_reason_data=r.state_reason_data,
        state_updated=float(r.state_updated),
        state_transitioned=float(r.state_transitioned),
        evaluated=None if r.evaluated is None else float(r.evaluated),
    )


def _key(partition: Partition, name: str) -> Any:
    return and_(_A.account_id == partition[0], _A.region == partition[1], _A.name == name)


# ---- alarms --------------------------------------------------------------------------------------------


def get(conn: Connection, partition: Partition, name: str) -> AlarmRecord | None:
    row = conn.execute(select(metric_alarms).where(_key(partition, name))).first()
    return None if row is None else _record(row)


def list_alarms(
    conn: Connection,
    partition: Partition,
    *,
    names: Sequence[str] | None = None,
    prefix: str | None = None,
    state: str | None = None,
    after: str | None = None,
) -> list[AlarmRecord]:
    """A partition's alarms in name order, filtered as DescribeAlarms asks."""
    query = select(metric_alarms).where(_A.account_id == partition[0], _A.region == partition[1])
    if names is not None:
        query = query.where(_A.name.in_(list(names)))
    if prefix is not None:
        # Not LIKE: names may hold % and _.
        query = query.where(func.substr(_A.name, 1, len(prefix)) == prefix)
    if state is not None:
        query = query.where(_A.state_value == state)
    if after is not None:
        query = query.where(_A.name > after)
    return [_record(r) for r in conn.execute(query.order_by(_A.name))]


def all_alarms(conn: Connection) -> list[AlarmRecord]:
    """Every alarm of every partition (what the evaluator looks at)."""
    return [
        _record(r) for r in conn.execute(select(metric_alarms).order_by(_A.account_id, _A.region, _A.name))
    ]


def insert_alarm(conn: Connection, record: AlarmRecord) -> None:
    conn.execute(
        insert(metric_alarms).values(
            account_id=record.partition[0],
            region=record.partition[1],
            name=record.name,
            document=_json(record.document),
            actions_enabled=int(record.actions_enabled),
            configuration_updated=record.configuration_updated,
            state_value=record.state_value,
            state_reason=record.state_reason,
            state_reason_data=record.state_reason_data,
            state_updated=record.state_updated,
            state_transitioned=record.state_transitioned,
            evaluated=None,
        )
    )


def replace_configuration(conn: Connection, record: AlarmRecord) -> None:
    """Store a new configuration; the state stays, and the alarm is due for evaluation at once."""
    conn.execute(
        update(metric_alarms)
        .where(_key(record.partition, record.name))
        .values(
            document=_json(record.document),
            actions_enabled=int(record.actions_enabled),
            configuration_updated=record.configuration_updated,
            evaluated=None,
        )
    )


def set_evaluated(conn: Connection, partition: Partition, name: str, when: float) -> None:
    conn.execute(update(metric_alarms).where(_key(partition, name)).values(evaluated=when))


def set_reason(
    conn: Connection, partition: Partition, name: str, reason: str, reason_data: str | None
) -> None:
    conn.execute(
        update(metric_alarms)
        .where(_key(partition, name))
        .values(state_reason=reason, state_reason_data=reason_data)
    )


def delete_alarm(conn: Connection, partition: Partition, name: str) -> None:
    conn.execute(delete(metric_alarms).where(_key(partition, name)))
    conn.execute(
        delete(metric_alarm_actions).where(
            _P.account_id == partition[0], _P.region == partition[1], _P.alarm_name == name
        )
    )


# ---- state changes -------------------------------------------------------------------------------------


def change_state(conn: Connection, record: AlarmRecord, new: StateInfo) -> AlarmRecord:
    """Move an alarm to a new state value, in the caller's transaction: the state columns, a
    StateUpdate history item, one pending action per ARN the new state names (when actions are
    enabled), and a "CloudWatch Alarm State Change" event in the outbox. Returns the updated record."""
    old = record.state
    conn.execute(
        update(metric_alarms)
        .where(_key(record.partition, record.name))
        .values(
            state_value=new.value,
            state_reason=new.reason,
            state_reason_data=new.reason_data,
            state_updated=new.timestamp,
            state_transitioned=new.timestamp,
        )
    )
    summary, data = alarm_messages.state_updated(old, new)
    add_history(conn, record.partition, record.name, new.timestamp, "StateUpdate", summary, data)
    if record.actions_enabled:
        message = alarm_messages.notification(record, old, new)
        for arn in actions_for(record.document, new.value):
            add_action(conn, record, arn, _action_message(message, arn, new, repeat=False), new.timestamp)
    add_event(
        conn,
        record.partition,
        alarm_messages.STATE_CHANGE,
        [record.arn],
        alarm_messages.state_change_detail(record, old, new),
        new.timestamp,
    )
    return AlarmRecord(
        record.partition,
        record.name,
        record.document,
        record.actions_enabled,
        record.configuration_updated,
        new.value,
        new.reason,
        new.reason_data,
        new.timestamp,
        new.timestamp,
        record.evaluated,
    )


def repeat_scaling_actions(conn: Connection, record: AlarmRecord, current: StateInfo) -> int:
    """While an alarm stays in a state, invoke the scaling policies that state names again (AWS keeps
    invoking Auto Scaling actions on every evaluation, unlike notifications). An invocation still
    pending is not doubled. ``current`` carries the latest evaluation's reason and data."""
    if not record.actions_enabled:
        return 0
    policies = [
        arn for arn in actions_for(record.document, record.state_value) if action_kind(arn) == SCALING
    ]
    if not policies:
        return 0
    message = alarm_messages.notification(record, record.state, current)
    added = 0
    for arn in policies:
        if not has_pending(conn, record.partition, record.name, arn):
            add_action(
                conn, record, arn, _action_message(message, arn, current, repeat=True), current.timestamp
            )
            added += 1
    return added


def _action_message(message: dict[str, Any], arn: str, state: StateInfo, repeat: bool) -> dict[str, Any]:
    """The row's message: the notification; for a scaling policy also the reason data (the breach
    size) and whether it is a repeat, which only ecsbox's scaling event reads."""
    if action_kind(arn) != SCALING:
        return message
    return {**message, "NewStateReasonData": state.reason_data, "Repeat": repeat}


# ---- history --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryItem:
    id: int
    alarm_name: str
    alarm_type: str
    timestamp: float
    item_type: str
    summary: str
    data: str


def add_history(
    conn: Connection,
    partition: Partition,
    name: str,
    timestamp: float,
    item_type: str,
    summary: str,
    data: dict[str, Any],
) -> None:
    conn.execute(
        insert(metric_alarm_history).values(
            account_id=partition[0],
            region=partition[1],
            alarm_name=name,
            alarm_type=METRIC_ALARM,
            timestamp=timestamp,
            item_type=item_type,
            summary=summary[:HISTORY_SUMMARY_LIMIT],
            data=to_json(data),
        )
    )


def history(
    conn: Connection,
    partition: Partition,
    *,
    name: str | None = None,
    item_type: str | None = None,
    start: float | None = None,
    end: float | None = None,
    ascending: bool = False,
    after: tuple[float, int] | None = None,
    limit: int = 100,
) -> list[HistoryItem]:
    """History items, newest first (or oldest first), after the (timestamp, id) key ``after``."""
    query = select(metric_alarm_history).where(_H.account_id == partition[0], _H.region == partition[1])
    if name is not None:
        query = query.where(_H.alarm_name == name)
    if item_type is not None:
        query = query.where(_H.item_type == item_type)
    if start is not None:
        query = query.where(_H.timestamp >= start)
    if end is not None:
        query = query.where(_H.timestamp <= end)
    if after is not None:
        stamp, row_id = after
        if ascending:
            query = query.where(or_(_H.timestamp > stamp, and_(_H.timestamp == stamp, _H.id > row_id)))
        else:
            query = query.where(or_(_H.timestamp < stamp, and_(_H.timestamp == stamp, _H.id < row_id)))
    order = (_H.timestamp.asc(), _H.id.asc()) if ascending else (_H.timestamp.desc(), _H.id.desc())
    rows = conn.execute(query.order_by(*order).limit(limit))
    return [
        HistoryItem(int(r.id), r.alarm_name, r.alarm_type, float(r.timestamp), r.item_type, r.summary, r.data)
        for r in rows
    ]


def prune_history(conn: Connection, before: float) -> int:
    """Forget history items older than ``before`` (CloudWatch keeps two weeks of history)."""
    return int(conn.execute(delete(metric_alarm_history).where(_H.timestamp < before)).rowcount or 0)


# ---- actions to carry out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingAction:
    id: int
    partition: Partition
    alarm_name: str
    action_arn: str
    message: dict[str, Any]
    created: float
    attempts: int


def add_action(
    conn: Connection, record: AlarmRecord, arn: str, message: dict[str, Any], created: float
) -> None:
    conn.execute(
        insert(metric_alarm_actions).values(
            account_id=record.partition[0],
            region=record.partition[1],
            alarm_name=record.name,
            action_arn=arn,
            message=_json(message),
            created=created,
            attempts=0,
        )
    )


def has_pending(conn: Connection, partition: Partition, name: str, arn: str) -> bool:
    row = conn.execute(
        select(_P.id)
        .where(
            _P.account_id == partition[0],
            _P.region == partition[1],
            _P.alarm_name == name,
            _P.action_arn == arn,
        )
        .limit(1)
    ).first()
    return row is not None


def pending_actions(conn: Connection, limit: int = 100) -> list[PendingAction]:
    rows = conn.execute(select(metric_alarm_actions).order_by(_P.id).limit(limit))
    return [
        PendingAction(
            int(r.id),
            (r.account_id, r.region),
            r.alarm_name,
            r.action_arn,
            orjson.loads(r.message),
            float(r.created),
            int(r.attempts),
        )
        for r in rows
    ]


def finish_action(conn: Connection, action_id: int) -> bool:
    """Remove a carried-out (or given-up) action; False when it was already gone."""
    return bool(conn.execute(delete(metric_alarm_actions).where(_P.id == action_id)).rowcount)


def count_attempt(conn: Connection, action_id: int) -> None:
    conn.execute(update(metric_alarm_actions).where(_P.id == action_id).values(attempts=_P.attempts + 1))


# ---- events -----------------------------------------------------------------------------------------------


def add_event(
    conn: Connection,
    partition: Partition,
    detail_type: str,
    resources: list[str],
    detail: dict[str, Any],
    now: float,
) -> None:
    """An event of CloudWatch (``alarm_messages.SOURCE``) in the outbox, as EventBridge would carry it."""
    outbox.add_event(conn, partition, alarm_messages.SOURCE, detail_type, resources, detail, now)
