"""SQL for log streams: lookups, creation, listings in name or last-event order, deletion, and the
counters every accepted batch moves (first / last event, last ingestion, bytes, batches)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update

from ecsbox.logs import group_repo
from ecsbox.logs.group_repo import GroupRow
from ecsbox.logs.model import STREAM_EXISTS, LogsRuleError, stream_not_found
from ecsbox.store import Prepared
from ecsbox.store.schema import log_groups, log_streams

_S = log_streams.c


@dataclass(frozen=True)
class StreamRow:
    id: int
    group_id: int
    name: str
    created_ms: int
    first_event_ms: int | None
    last_event_ms: int | None
    last_ingestion_ms: int | None
    stored_bytes: int
    upload_seq: int


_COLUMNS = (
    _S.id,
    _S.group_id,
    _S.name,
    _S.created_ms,
    _S.first_event_ms,
    _S.last_event_ms,
    _S.last_ingestion_ms,
    _S.stored_bytes,
    _S.upload_seq,
)


def _row(r: Any) -> StreamRow:
    return StreamRow(*r)


_GET = Prepared(select(*_COLUMNS).where(_S.group_id == bindparam("group_id"), _S.name == bindparam("name")))


def get_stream(conn: Connection, group_id: int, name: str) -> StreamRow | None:
    found = _GET.first(conn, {"group_id": group_id, "name": name})
    return _row(found) if found is not None else None


_GET_BY_ID = Prepared(select(*_COLUMNS).where(_S.id == bindparam("stream_id")))


def get_stream_by_id(conn: Connection, stream_id: int) -> StreamRow | None:
    found = _GET_BY_ID.first(conn, {"stream_id": stream_id})
    return _row(found) if found is not None else None


def require_stream(conn: Connection, group_id: int, name: str) -> StreamRow:
    """The stream, or ResourceNotFoundException "The specified log stream does not exist."."""
    row = get_stream(conn, group_id, name)
    if row is None:
        raise stream_not_found()
    return row


def insert_stream(conn: Connection, group_id: int, name: str, created_ms: int) -> StreamRow:
    """A new stream; ResourceAlreadyExistsException when the group has one of that name."""
    if get_stream(conn, group_id, name) is not None:
        raise LogsRuleError("ResourceAlreadyExistsException", STREAM_EXISTS)
    stream_id = conn.execute(
        insert(log_streams)
        .values(group_id=group_id, name=name, created_ms=created_ms, stored_bytes=0, upload_seq=0)
        .returning(_S.id)
    ).scalar_one()
    return StreamRow(int(stream_id), group_id, name, created_ms, None, None, None, 0, 0)


def list_streams(
    conn: Connection,
    group_id: int,
    *,
    prefix: str | None,
    by_last_event: bool,
    descending: bool,
    after: tuple[int, str] | str | None,
    limit: int,
) -> list[StreamRow]:
    """A group's streams in name order, or in last-event order (streams without events first, as
    time 0; ties by name), after the key of the last stream of the previous page."""
    query = select(*_COLUMNS).where(_S.group_id == group_id)
    order: tuple[Any, ...]
    if prefix:
        query = query.where(func.substr(_S.name, 1, len(prefix)) == prefix)
    if by_last_event:
        last = func.coalesce(_S.last_event_ms, 0)
        if isinstance(after, tuple):
            at, name = after
            if descending:
                query = query.where((last < at) | ((last == at) & (_S.name < name)))
            else:
                query = query.where((last > at) | ((last == at) & (_S.name > name)))
        order = (last.desc(), _S.name.desc()) if descending else (last, _S.name)
    else:
        if isinstance(after, str):
            query = query.where(_S.name < after if descending else _S.name > after)
        order = (_S.name.desc(),) if descending else (_S.name,)
    return [_row(r) for r in conn.execute(query.order_by(*order).limit(limit))]


def stream_names(conn: Connection, group_id: int) -> dict[int, str]:
    """Every stream of a group: id → name."""
    return {int(r.id): r.name for r in conn.execute(select(_S.id, _S.name).where(_S.group_id == group_id))}


def delete_stream(conn: Connection, group: GroupRow, stream: StreamRow) -> None:
    """Remove the stream at once (its bytes leave the group's storedBytes); its events are purged
    in the background."""
    conn.execute(delete(log_streams).where(_S.id == stream.id))
    group_repo.add_stored_bytes(conn, group.id, -stream.stored_bytes)
    group_repo.add_purge(conn, "stream", stream.id)


def subtract_stored_bytes(conn: Connection, stream_id: int, removed: int) -> None:
    if removed:
        conn.execute(
            update(log_streams).where(_S.id == stream_id).values(stored_bytes=_S.stored_bytes - removed)
        )


# What one accepted batch changes, in two statements compiled once (the ingest path's hot loop).
_RECORD_BATCH = Prepared(
    update(log_streams)
    .where(_S.id == bindparam("stream_id"))
    .values(
        first_event_ms=case(
            (_S.first_event_ms.is_(None) | (_S.first_event_ms > bindparam("low")), bindparam("low")),
            else_=_S.first_event_ms,
        ),
        last_event_ms=case(
            (_S.last_event_ms.is_(None) | (_S.last_event_ms < bindparam("high")), bindparam("high")),
            else_=_S.last_event_ms,
        ),
        last_ingestion_ms=bindparam("ingested"),
        stored_bytes=_S.stored_bytes + bindparam("size"),
        upload_seq=_S.upload_seq + 1,
    )
    .returning(_S.upload_seq)
)
_GROUP_BYTES = Prepared(
    update(log_groups)
    .where(log_groups.c.id == bindparam("group_id"))
    .values(stored_bytes=log_groups.c.stored_bytes + bindparam("size"))
)


def record_batch(
    conn: Connection, group_id: int, stream_id: int, low: int, high: int, ingested: int, size: int
) -> int | None:
    """Move a stream's counters (and its group's bytes) for a batch of events with timestamps
    ``low``..``high``; returns the stream's new batch count, or None when the stream is gone."""
    found = _RECORD_BATCH.first(
        conn, {"stream_id": stream_id, "low": low, "high": high, "ingested": ingested, "size": size}
    )
    if found is None:
        return None
    _GROUP_BYTES.rows(conn, {"group_id": group_id, "size": size})
    return int(found[0])
