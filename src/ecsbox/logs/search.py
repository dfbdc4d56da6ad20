"""FilterLogEvents: the events of a log group's streams that match a filter pattern, in timestamp
order (then ingestion order), across streams.

The group is scanned in time order through its (group, timestamp) index, a batch of rows at a
time, and the pattern is applied to each message. One call looks at no more than
:data:`SCAN_BUDGET` events: when it stops there, or at ``limit`` matches, or at 1 MB of matches,
it answers what it found with a ``nextToken`` that resumes just after the last event looked at (a
page may then be short, or empty, as AWS's are). No ``nextToken`` means the range is exhausted,
which is what ``aws logs tail --follow`` waits for before it polls again from the newest
timestamp it has seen (skipping the eventIds it already printed).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.logs import event_repo, group_repo, stream_repo
from ecsbox.logs.event_repo import MAX_SEQ, EventRow
from ecsbox.logs.handling import Deps, aws_errors, named_group
from ecsbox.logs.limits import message_bytes
from ecsbox.logs.model import (
    EVENT_OVERHEAD_BYTES,
    MAX_PAGE_BYTES,
    MAX_PAGE_EVENTS,
    LogsRuleError,
    event_id,
    invalid_parameter,
)
from ecsbox.logs.paging import ScanPosition, decode_filter_token, filter_token
from ecsbox.logs.patterns import PatternError, compile_pattern

SCAN_BATCH = 4_000  # rows per query
SCAN_BUDGET = 200_000  # rows one call looks at, at most
MERGE_STREAMS = 16  # up to this many chosen streams are read through their own index and merged
DESCENDING_SINCE_MS = 1_704_067_200_000  # 2024-01-01: startFromHead=false needs a startTime after it

Matcher = Callable[[str], bool]


def matcher_for(text: str | None) -> Matcher | None:
    """The predicate of a filter pattern; None (every event) for an absent or blank pattern."""
    if text is None or not text.strip():
        return None
    try:
        return compile_pattern(text).matches
    except PatternError as exc:
        raise LogsRuleError(exc.code, str(exc)) from exc


@dataclass
class Page:
    events: list[tuple[EventRow, str]] = field(default_factory=list)  # (row, stream name)
    resume: ScanPosition | None = None  # where the next call goes on; None: nothing more
    group_id: int = 0


def collect(
    batches: Iterator[list[EventRow]],
    *,
    ascending: bool,
    streams: dict[int, str],
    wanted: set[int] | None,
    matches: Matcher | None,
    limit: int,
    budget_rows: int = SCAN_BUDGET,
    budget_bytes: int = MAX_PAGE_BYTES,
    batch_size: int = SCAN_BATCH,
) -> Page:
    """Walk batches of rows (in scan order) and keep the matching events of live, wanted streams,
    until ``limit`` events, ``budget_bytes`` of them, ``budget_rows`` rows looked at, or the end
    (a batch shorter than ``batch_size``)."""
    page = Page()
    looked = 0
    size = 0
    for rows in batches:
        for row in rows:
            looked += 1
            stream_id = row[1]
            name = streams.get(stream_id)
            if name is None or (wanted is not None and stream_id not in wanted):
                pass
            elif matches is None or matches(row[4]):
                event_size = message_bytes(row[4]) + EVENT_OVERHEAD_BYTES
                if page.events and size + event_size > budget_bytes:
                    last = page.events[-1][0]
                    page.resume = ScanPosition(ascending, last[2], last[0])
                    return page
                page.events.append((row, name))
                size += event_size
                if len(page.events) >= limit:
                    page.resume = ScanPosition(ascending, row[2], row[0])
                    return page
            if looked >= budget_rows:
                page.resume = ScanPosition(ascending, row[2], row[0])
                return page
        if len(rows) < batch_size:
            return page
    return page


class Search:
    def __init__(self, deps: Deps, scan_budget: int = SCAN_BUDGET) -> None:
        self.store = deps.store
        self.scan_budget = scan_budget

    @aws_errors
    async def filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = named_group(ctx, params)
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise invalid_parameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        matches = matcher_for(params.get("filterPattern"))
        limit = int(params.get("limit") or MAX_PAGE_EVENTS)
        first = int(params.get("startTime") or 0)
        last = MAX_SEQ if params.get("endTime") is None else int(params["endTime"])  # inclusive
        ascending = params.get("startFromHead") is not False
        token = params.get("nextToken")
        if (
            token is None
            and not ascending
            and params.get("startTime") is not None
            and first < DESCENDING_SINCE_MS
        ):
            raise invalid_parameter(
                "startFromHead=false is supported only when startTime is on or after Jan 1, 2024 00:00:00 UTC."
            )

        def read(conn: Connection) -> Page:
            group = group_repo.require_group(conn, ref)
            streams = stream_repo.stream_names(conn, group.id)
            wanted: set[int] | None = None
            if names is not None:
                chosen = set(names)
                wanted = {sid for sid, name in streams.items() if name in chosen}
            elif prefix is not None:
                wanted = {sid for sid, name in streams.items() if name.startswith(prefix)}
            if token is not None:
                position = decode_filter_token(str(token), group.id)
            else:
                position = (
                    ScanPosition(ascending, first, -1) if ascending else ScanPosition(False, last, MAX_SEQ)
                )
            if first > last or wanted == set():
                return Page(group_id=group.id)
            if wanted is not None and len(wanted) <= MERGE_STREAMS:
                batches = _merged_batches(conn, sorted(wanted), position, first, last)
            else:
                batches = _batches(conn, group.id, position, first, last)
            page = collect(
                batches,
                ascending=position.ascending,
                streams=streams,
                wanted=wanted,
                matches=matches,
                limit=limit,
                budget_rows=self.scan_budget,
            )
            page.group_id = group.id
            return page

        page = await self.store.read(read, heavy=True)
        answer: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": name,
                    "timestamp": ts,
                    "message": message,
                    "ingestionTime": ingested,
                    "eventId": event_id(row_id),
                }
                for (row_id, _stream, ts, ingested, message), name in page.events
            ],
            "searchedLogStreams": [],  # AWS stopped reporting these in 2020: always empty
        }
        if page.resume is not None:
            answer["nextToken"] = filter_token(page.group_id, page.resume)
        return answer


def _start(position: ScanPosition, first: int, last: int) -> tuple[int, int]:
    """Where a scan from ``position`` begins within [first, last]."""
    if position.ascending and position.timestamp < first:
        return (first, -1)
    if not position.ascending and position.timestamp > last:
        return (last, MAX_SEQ)
    return (position.timestamp, position.seq)


def _stream_rows(
    conn: Connection, stream_id: int, ascending: bool, at: tuple[int, int], bound: int
) -> Iterator[EventRow]:
    while True:
        rows = event_repo.scan(
            conn, stream_id=stream_id, ascending=ascending, at=at, bound=bound, batch=SCAN_BATCH
        )
        yield from rows
        if len(rows) < SCAN_BATCH:
            return
        at = (rows[-1][2], rows[-1][0])


def _merged_batches(
    conn: Connection, stream_ids: list[int], position: ScanPosition, first: int, last: int
) -> Iterator[list[EventRow]]:
    """Batches of a few streams' events in scan order: each stream read through its own index,
    merged on (timestamp, id), the order a whole-group scan has."""
    at = _start(position, first, last)
    bound = last if position.ascending else first
    merged = heapq.merge(
        *(_stream_rows(conn, sid, position.ascending, at, bound) for sid in stream_ids),
        key=lambda row: (row[2], row[0]),
        reverse=not position.ascending,
    )
    while True:
        batch = list(islice(merged, SCAN_BATCH))
        yield batch
        if len(batch) < SCAN_BATCH:
            return


def _batches(
    conn: Connection, group_id: int, position: ScanPosition, first: int, last: int
) -> Iterator[list[EventRow]]:
    """Batches of a group's events in scan order from ``position``, within [first, last]."""
    at = _start(position, first, last)
    while True:
        rows = event_repo.scan(
            conn,
            group_id=group_id,
            ascending=position.ascending,
            at=at,
            bound=last if position.ascending else first,
            batch=SCAN_BATCH,
        )
        yield rows
        if len(rows) < SCAN_BATCH:
            return
        at = (rows[-1][2], rows[-1][0])
