"""SQL for log events: the bulk insert of a batch, time-ordered scans of a group (FilterLogEvents) or
a stream (GetLogEvents) in pages, and the deletes retention and purges run in batches.

Reads and the insert run on the database driver directly (:class:`ecsbox.store.Prepared`, and
``executemany`` for the insert): for a million events SQLAlchemy's per-row result handling would
cost more than SQLite itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from ecsbox.store import BulkInsert, Prepared
from ecsbox.store.schema import log_events

_E = log_events.c
MAX_SEQ = 2**63 - 1

# id, stream id, timestamp, ingestion time, message
EventRow = tuple[int, int, int, int, str]


_INSERT_ORDER = ("group_id", "stream_id", "timestamp", "ingestion_ms", "message")
_INSERT = BulkInsert(
    insert(log_events).values({name: bindparam(name) for name in _INSERT_ORDER}), _INSERT_ORDER
)


def insert_events(
    conn: Connection, group_id: int, stream_id: int, events: Sequence[tuple[int, str]], ingested_ms: int
) -> None:
    """Store a batch of (timestamp, message) in one ``executemany``."""
    _INSERT.run(conn, [(group_id, stream_id, ts, ingested_ms, message) for ts, message in events])


# ---- scans -------------------------------------------------------------------------------------------
#
# A scan resumes strictly after (ascending) or before (descending) a position (timestamp, id); the
# range on timestamp lets the (group|stream, timestamp) index do the work, the rest filters ties.

_FIELDS = (_E.id, _E.stream_id, _E.timestamp, _E.ingestion_ms, _E.message)


def _scan(owner: Any, ascending: bool) -> Prepared:
    at_ts: Any = bindparam("at_ts")
    at_id: Any = bindparam("at_id")
    order: tuple[Any, ...]
    if ascending:
        where = (
            (owner == bindparam("owner"))
            & (_E.timestamp >= at_ts)
            & (_E.timestamp <= bindparam("hi"))
            & ((_E.timestamp > at_ts) | (_E.id > at_id))
        )
        order = (_E.timestamp, _E.id)
    else:
        where = (
            (owner == bindparam("owner"))
            & (_E.timestamp <= at_ts)
            & (_E.timestamp >= bindparam("lo"))
            & ((_E.timestamp < at_ts) | (_E.id < at_id))
        )
        order = (_E.timestamp.desc(), _E.id.desc())
    return Prepared(select(*_FIELDS).where(where).order_by(*order).limit(bindparam("batch")))


_GROUP_ASC = _scan(_E.group_id, True)
_GROUP_DESC = _scan(_E.group_id, False)
_STREAM_ASC = _scan(_E.stream_id, True)
_STREAM_DESC = _scan(_E.stream_id, False)


def scan(
    conn: Connection,
    *,
    group_id: int | None = None,
    stream_id: int | None = None,
    ascending: bool,
    at: tuple[int, int],
    bound: int,
    batch: int,
) -> list[EventRow]:
    """Up to ``batch`` events of a group or a stream strictly after (ascending) or before
    (descending) position ``at`` = (timestamp, id), not beyond the timestamp ``bound`` (the last
    timestamp ascending, the first descending, both inclusive)."""
    at_ts, at_id = at
    if group_id is not None:
        owner, statement = group_id, (_GROUP_ASC if ascending else _GROUP_DESC)
    elif stream_id is not None:
        owner, statement = stream_id, (_STREAM_ASC if ascending else _STREAM_DESC)
    else:
        raise ValueError("scan a group or a stream")
    params: dict[str, Any] = {"owner": owner, "at_ts": at_ts, "at_id": at_id, "batch": batch}
    params["hi" if ascending else "lo"] = bound
    return statement.rows(conn, params)


# ---- deletes ------------------------------------------------------------------------------------------

_OLDEST = Prepared(
    select(_E.id, _E.stream_id, _E.message)
    .where((_E.group_id == bindparam("group_id")) & (_E.timestamp < bindparam("cutoff")))
    .order_by(_E.timestamp)
    .limit(bindparam("batch"))
)
_OF_GROUP = Prepared(
    select(_E.id, _E.stream_id, _E.message).where(_E.group_id == bindparam("owner")).limit(bindparam("batch"))
)
_OF_STREAM = Prepared(
    select(_E.id, _E.stream_id, _E.message)
    .where(_E.stream_id == bindparam("owner"))
    .limit(bindparam("batch"))
)


def oldest(conn: Connection, group_id: int, cutoff_ms: int, batch: int) -> list[tuple[int, int, str]]:
    """Up to ``batch`` events of a group with a timestamp before ``cutoff_ms``: (id, stream, message)."""
    found = _OLDEST.rows(conn, {"group_id": group_id, "cutoff": cutoff_ms, "batch": batch})
    return found


def some_of(conn: Connection, kind: str, owner: int, batch: int) -> list[tuple[int, int, str]]:
    """Up to ``batch`` events of a group (``kind`` "group") or a stream: (id, stream, message)."""
    statement = _OF_GROUP if kind == "group" else _OF_STREAM
    return statement.rows(conn, {"owner": owner, "batch": batch})


def delete_ids(conn: Connection, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), 500):  # within every database's bound-parameter limit
        conn.execute(delete(log_events).where(_E.id.in_(list(ids[start : start + 500]))))
