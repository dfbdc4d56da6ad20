"""SQL for tasks. A task is changed only inside one write function that reads the row, applies a
change and writes it back (:func:`mutate_task`), so the API and the agent never overwrite each
other's changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from ecsbox.ecs.documents import dumps
from ecsbox.ecs.local_instance import task_reservation
from ecsbox.store import Prepared
from ecsbox.store.schema import ecs_tasks

Partition = tuple[str, str]


@dataclass
class TaskRecord:
    task_arn: str
    account_id: str
    region: str
    cluster: str
    task_id: str
    desired_status: str
    last_status: str
    family: str
    launch_type: str
    created_at: float
    document: dict[str, Any]
    runtime: dict[str, Any] = field(default_factory=dict)
    service_name: str | None = None
    started_by: str | None = None
    group_name: str | None = None
    stopped_wall: float | None = None

    @property
    def partition(self) -> Partition:
        return (self.account_id, self.region)


def _row_values(record: TaskRecord) -> dict[str, Any]:
    return {
        "task_arn": record.task_arn,
        "account_id": record.account_id,
        "region": record.region,
        "cluster": record.cluster,
        "task_id": record.task_id,
        "desired_status": record.desired_status,
        "last_status": record.last_status,
        "service_name": record.service_name,
        "started_by": record.started_by,
        "group_name": record.group_name,
        "family": record.family,
        "launch_type": record.launch_type,
        "created_at": record.created_at,
        "stopped_wall": record.stopped_wall,
        "document": dumps(record.document),
        "runtime": dumps(record.runtime),
    }


_COLUMNS = tuple(column.name for column in ecs_tasks.c)


def _record(row: Any) -> TaskRecord:
    """A record from a SQLAlchemy row of every column."""
    return _record_from(row._mapping)


def _record_of(values: tuple[Any, ...]) -> TaskRecord:
    """A record from a driver row of every column in table order (as :data:`_GET_TASK` returns it)."""
    return _record_from(dict(zip(_COLUMNS, values, strict=True)))


def _record_from(row: Mapping[str, Any]) -> TaskRecord:
    return TaskRecord(
        task_arn=row["task_arn"],
        account_id=row["account_id"],
        region=row["region"],
        cluster=row["cluster"],
        task_id=row["task_id"],
        desired_status=row["desired_status"],
        last_status=row["last_status"],
        family=row["family"],
        launch_type=row["launch_type"],
        created_at=row["created_at"],
        document=orjson.loads(row["document"]),
        runtime=orjson.loads(row["runtime"]),
        service_name=row["service_name"],
        started_by=row["started_by"],
        group_name=row["group_name"],
        stopped_wall=row["stopped_wall"],
    )


# The agent reads and writes a task several times while it starts: these run on the driver.
_INSERT_TASK = Prepared(insert(ecs_tasks).values({name: bindparam(f"v_{name}") for name in _COLUMNS}))
_GET_TASK = Prepared(select(ecs_tasks).where(ecs_tasks.c.task_arn == bindparam("task_arn")))
_SAVE_TASK = Prepared(
    update(ecs_tasks)
    .where(ecs_tasks.c.task_arn == bindparam("task_arn"))
    .values({name: bindparam(f"v_{name}") for name in _COLUMNS if name != "task_arn"})
)


def _bound(record: TaskRecord) -> dict[str, Any]:
    return {f"v_{name}": value for name, value in _row_values(record).items()}


def insert_task(conn: Connection, record: TaskRecord) -> None:
    _INSERT_TASK.rows(conn, _bound(record))


def get_task(conn: Connection, task_arn: str) -> TaskRecord | None:
    row = _GET_TASK.first(conn, {"task_arn": task_arn})
    return _record_of(row) if row is not None else None


def task_with_id(conn: Connection, partition: Partition, task_id: str) -> TaskRecord | None:
    """The partition's task with this id, in whichever cluster (ids are unique)."""
    t = ecs_tasks.c
    row = conn.execute(
        select(ecs_tasks)
        .where(t.account_id == partition[0], t.region == partition[1], t.task_id == task_id)
        .limit(1)
    ).first()
    return _record(row) if row is not None else None


def find_task(conn: Connection, partition: Partition, cluster: str, task_id: str) -> TaskRecord | None:
    t = ecs_tasks.c
    row = conn.execute(
        select(ecs_tasks).where(
            t.account_id == partition[0], t.region == partition[1], t.cluster == cluster, t.task_id == task_id
        )
    ).first()
    return _record(row) if row is not None else None


def save_task(conn: Connection, record: TaskRecord) -> None:
    _SAVE_TASK.rows(conn, {"task_arn": record.task_arn, **_bound(record)})


def mutate_task(
    conn: Connection, task_arn: str, change: Callable[[TaskRecord], bool | None]
) -> TaskRecord | None:
    """Read the task, let ``change`` edit it (returning False leaves it unwritten), write it back."""
    record = get_task(conn, task_arn)
    if record is None:
        return None
    if change(record) is not False:
        save_task(conn, record)
    return record


def unfinished_tasks(conn: Connection) -> list[TaskRecord]:
    """Every task the agent still has work for: not yet STOPPED."""
    rows = conn.execute(select(ecs_tasks).where(ecs_tasks.c.last_status != "STOPPED")).all()
    return [_record(row) for row in rows]


def all_task_arns(conn: Connection) -> set[str]:
    return {row[0] for row in conn.execute(select(ecs_tasks.c.task_arn)).all()}


def expired_tasks(conn: Connection, stopped_before_wall: float) -> list[TaskRecord]:
    rows = conn.execute(
        select(ecs_tasks).where(
            ecs_tasks.c.last_status == "STOPPED", ecs_tasks.c.stopped_wall < stopped_before_wall
        )
    ).all()
    return [_record(row) for row in rows]


def delete_task(conn: Connection, task_arn: str) -> None:
    conn.execute(delete(ecs_tasks).where(ecs_tasks.c.task_arn == task_arn))


def list_task_arns(
    conn: Connection,
    partition: Partition,
    cluster: str,
    *,
    desired_status: str,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    launch_type: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[str]:
    t = ecs_tasks.c
    conditions = [
        t.account_id == partition[0],
        t.region == partition[1],
        t.cluster == cluster,
        t.desired_status == desired_status,
    ]
    if family:
        conditions.append(t.family == family)
    if started_by:
        conditions.append(t.started_by == started_by)
    if service_name:
        conditions.append(t.service_name == service_name)
    if launch_type:
        conditions.append(t.launch_type == launch_type)
    if after:
        conditions.append(t.task_arn > after)
    query = select(t.task_arn).where(and_(*conditions)).order_by(t.task_arn).limit(limit)
    return [row[0] for row in conn.execute(query).all()]


def service_tasks(
    conn: Connection, partition: Partition, cluster: str, service_name: str
) -> list[TaskRecord]:
    t = ecs_tasks.c
    rows = conn.execute(
        select(ecs_tasks).where(
            t.account_id == partition[0],
            t.region == partition[1],
            t.cluster == cluster,
            t.service_name == service_name,
        )
    ).all()
    return [_record(row) for row in rows]


_CLUSTER_TASK_STATES = Prepared(
    select(ecs_tasks.c.last_status, ecs_tasks.c.launch_type).where(
        ecs_tasks.c.account_id == bindparam("account_id"),
        ecs_tasks.c.region == bindparam("region"),
        ecs_tasks.c.cluster == bindparam("cluster"),
        ecs_tasks.c.desired_status == "RUNNING",
    )
)


def cluster_task_states(conn: Connection, partition: Partition, cluster: str) -> list[tuple[str, str]]:
    """(lastStatus, launchType) of a cluster's tasks that are meant to run, for its counts."""
    rows = _CLUSTER_TASK_STATES.rows(
        conn, {"account_id": partition[0], "region": partition[1], "cluster": cluster}
    )
    return [(row[0], row[1]) for row in rows]


def ec2_reservations(
    conn: Connection, partition: Partition, cluster: str
) -> tuple[list[tuple[int, int]], int, int]:
    """What a cluster's EC2 tasks that are meant to run reserve on the local container instance
    (cpu units, memory MiB each), and how many of them run and are pending."""
    t = ecs_tasks.c
    rows = conn.execute(
        select(ecs_tasks).where(
            t.account_id == partition[0],
            t.region == partition[1],
            t.cluster == cluster,
            t.launch_type == "EC2",
            t.desired_status == "RUNNING",
        )
    ).all()
    reservations, running, pending = [], 0, 0
    for row in rows:
        record = _record(row)
        reservations.append(
            task_reservation(record.runtime["taskDefinition"], record.document.get("overrides"))
        )
        if record.last_status == "RUNNING":
            running += 1
        else:
            pending += 1
    return reservations, running, pending
