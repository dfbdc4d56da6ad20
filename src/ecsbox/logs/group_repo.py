"""SQL for log groups, their tags and metric filters, and the purges that follow a deletion.

Every function takes an open ``Connection`` and runs inside the caller's ``store.read`` /
``store.write`` function, so a handler composes several into one atomic change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from ecsbox.logs.model import (
    GROUP_EXISTS,
    GroupRef,
    LogsRuleError,
    Partition,
    group_arn,
    group_not_found,
)
from ecsbox.store import Prepared
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
from ecsbox.store.schema import log_groups, log_metric_filters, log_purges, log_streams

_G = log_groups.c


@dataclass(frozen=True)
class GroupRow:
    id: int
    partition: Partition
    name: str
    created_ms: int
    retention_days: int | None
    kms_key_id: str | None
    log_group_class: str
    deletion_protection: bool
    stored_bytes: int

    @property
    def arn(self) -> str:
        return group_arn(self.partition, self.name)


_COLUMNS = (
    _G.id,
    _G.account_id,
    _G.region,
    _G.name,
    _G.created_ms,
    _G.retention_days,
    _G.kms_key_id,
    _G.log_group_class,
    _G.deletion_protection,
    _G.stored_bytes,
)


def _row(r: Any) -> GroupRow:
    return GroupRow(
        int(r.id),
        (r.account_id, r.region),
        r.name,
        int(r.created_ms),
        r.retention_days,
        r.kms_key_id,
        r.log_group_class,
        bool(r.deletion_protection),
        int(r.stored_bytes),
    )


def _in(partition: Partition) -> Any:
    account_id, region = partition
    return (_G.account_id == account_id) & (_G.region == region)


def get_group(conn: Connection, ref: GroupRef) -> GroupRow | None:
    found = conn.execute(select(*_COLUMNS).where(_in(ref.partition) & (_G.name == ref.name))).first()
    return _row(found) if found is not None else None


def require_group(conn: Connection, ref: GroupRef) -> GroupRow:
    """The group, or ResourceNotFoundException "The specified log group does not exist."."""
    row = get_group(conn, ref)
    if row is None:
        raise group_not_found()
    return row


def insert_group(
    conn: Connection,
    ref: GroupRef,
    created_ms: int,
    *,
    kms_key_id: str | None = None,
    log_group_class: str = "STANDARD",
    deletion_protection: bool = False,
) -> GroupRow:
    """A new group; ResourceAlreadyExistsException when the partition has one of that name."""
    if get_group(conn, ref) is not None:
        raise LogsRuleError("ResourceAlreadyExistsException", GROUP_EXISTS)
    account_id, region = ref.partition
    group_id = conn.execute(
        insert(log_groups)
        .values(
            account_id=account_id,
            region=region,
            name=ref.name,
            created_ms=created_ms,
            retention_days=None,
            kms_key_id=kms_key_id,
            log_group_class=log_group_class,
            deletion_protection=int(deletion_protection),
            stored_bytes=0,
        )
        .returning(_G.id)
    ).scalar_one()
    return GroupRow(
        int(group_id),
        ref.partition,
        ref.name,
        created_ms,
        None,
        kms_key_id,
        log_group_class,
        deletion_protection,
        0,
    )


def list_groups(
    conn: Connection,
    partition: Partition,
    *,
    prefix: str | None = None,
    substring: str | None = None,
    names: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    after: str | None = None,
    limit: int,
) -> list[GroupRow]:
    """Groups in name order (ASCII), after ``after``, filtered by name prefix, substring
    (case-sensitive), exact names or classes; at most ``limit``."""
    query = select(*_COLUMNS).where(_in(partition))
    if prefix:
        query = query.where(func.substr(_G.name, 1, len(prefix)) == prefix)
    if substring:  # LIKE narrows (case-insensitively on some databases); Python decides
        query = query.where(_G.name.contains(substring, autoescape=True))
    if names is not None:
        query = query.where(_G.name.in_(list(names)))
    if classes:
        query = query.where(_G.log_group_class.in_(list(classes)))
    if after is not None:
        query = query.where(_G.name > after)
    if not substring:
        return [_row(r) for r in conn.execute(query.order_by(_G.name).limit(limit))]
    found = (_row(r) for r in conn.execute(query.order_by(_G.name)))
    return [g for g in found if substring in g.name][:limit]


def retention_groups(conn: Connection) -> list[GroupRow]:
    """Every group that has a retention policy (housekeeping expires their old events)."""
    return [_row(r) for r in conn.execute(select(*_COLUMNS).where(_G.retention_days.is_not(None)))]


def set_retention(conn: Connection, group_id: int, days: int | None) -> None:
    conn.execute(update(log_groups).where(_G.id == group_id).values(retention_days=days))


def set_deletion_protection(conn: Connection, group_id: int, enabled: bool) -> None:
    conn.execute(update(log_groups).where(_G.id == group_id).values(deletion_protection=int(enabled)))


def add_stored_bytes(conn: Connection, group_id: int, delta: int) -> None:
    if delta:
        conn.execute(update(log_groups).where(_G.id == group_id).values(stored_bytes=_G.stored_bytes + delta))


def delete_group(conn: Connection, group: GroupRow) -> None:
    """Remove the group, its streams, metric filters and tags at once; its events are purged in
    the background (:mod:`ecsbox.logs.housekeeping`)."""
    conn.execute(delete(log_streams).where(log_streams.c.group_id == group.id))
    conn.execute(delete(log_metric_filters).where(log_metric_filters.c.group_id == group.id))
    conn.execute(delete(log_groups).where(_G.id == group.id))
    clear_tags(conn, group.arn)
    add_purge(conn, "group", group.id)


# ---- purges ---------------------------------------------------------------------------------------


def add_purge(conn: Connection, kind: str, target_id: int) -> None:
    conn.execute(insert(log_purges).values(kind=kind, target_id=target_id))


def pending_purges(conn: Connection) -> list[tuple[str, int]]:
    return [
        (r.kind, int(r.target_id)) for r in conn.execute(select(log_purges.c.kind, log_purges.c.target_id))
    ]


def finish_purge(conn: Connection, kind: str, target_id: int) -> None:
    conn.execute(delete(log_purges).where(log_purges.c.kind == kind, log_purges.c.target_id == target_id))


# ---- metric filters -------------------------------------------------------------------------------

_F = log_metric_filters.c


@dataclass(frozen=True)
class MetricFilterRow:
    group_id: int
    name: str
    pattern: str
    transformations: list[dict[str, Any]]
    document: dict[str, Any]
    created_ms: int


def _filter_row(r: Any) -> MetricFilterRow:
    return MetricFilterRow(
        int(r.group_id),
        r.name,
        r.pattern,
        orjson.loads(r.transformations),
        orjson.loads(r.document),
        int(r.created_ms),
    )


def get_metric_filter(conn: Connection, group_id: int, name: str) -> MetricFilterRow | None:
    found = conn.execute(select(log_metric_filters).where(_F.group_id == group_id, _F.name == name)).first()
    return _filter_row(found) if found is not None else None


def put_metric_filter(conn: Connection, row: MetricFilterRow) -> None:
    """Create or replace a filter (a replaced filter keeps its creation time)."""
    values = {
        "pattern": row.pattern,
        "transformations": orjson.dumps(row.transformations).decode(),
        "document": orjson.dumps(row.document).decode(),
    }
    updated = conn.execute(
        update(log_metric_filters).where(_F.group_id == row.group_id, _F.name == row.name).values(**values)
    ).rowcount
    if not updated:
        conn.execute(
            insert(log_metric_filters).values(
                group_id=row.group_id, name=row.name, created_ms=row.created_ms, **values
            )
        )


def delete_metric_filter(conn: Connection, group_id: int, name: str) -> bool:
    return bool(
        conn.execute(delete(log_metric_filters).where(_F.group_id == group_id, _F.name == name)).rowcount
    )


def count_metric_filters(conn: Connection, group_ids: Sequence[int]) -> dict[int, int]:
    if not group_ids:
        return {}
    rows = conn.execute(
        select(_F.group_id, func.count()).where(_F.group_id.in_(list(group_ids))).group_by(_F.group_id)
    )
    return {int(group_id): int(count) for group_id, count in rows}


def list_metric_filters(
    conn: Connection, group_ids: Sequence[int], *, prefix: str | None = None
) -> list[MetricFilterRow]:
    """The filters of these groups in (group, name) order, those whose name starts with ``prefix``
    (a log group has at most 100, so callers page and filter further in memory)."""
    query = select(log_metric_filters).where(_F.group_id.in_(list(group_ids)))
    if prefix:
        query = query.where(func.substr(_F.name, 1, len(prefix)) == prefix)
    return [_filter_row(r) for r in conn.execute(query.order_by(_F.group_id, _F.name))]


# The metric hook reads a group's filters once per stored batch of events: built once, since
# composing a statement costs more than running it on SQLite.
_GROUP_FILTERS = Prepared(
    select(_F.group_id, _F.name, _F.pattern, _F.transformations, _F.document, _F.created_ms)
    .where(_F.group_id == bindparam("group_id"))
    .order_by(_F.name)
)


def group_filters(conn: Connection, group_id: int) -> list[MetricFilterRow]:
    """One group's metric filters in name order (what :func:`list_metric_filters` gives for it)."""
    return [
        MetricFilterRow(
            int(g), name, pattern, orjson.loads(transformations), orjson.loads(document), int(created)
        )
        for g, name, pattern, transformations, document, created in _GROUP_FILTERS.rows(
            conn, {"group_id": group_id}
        )
    ]


def group_names(conn: Connection, partition: Partition) -> dict[int, str]:
    """Every group of a partition: id → name."""
    rows = conn.execute(select(_G.id, _G.name).where(_in(partition)))
    return {int(r.id): r.name for r in rows}
