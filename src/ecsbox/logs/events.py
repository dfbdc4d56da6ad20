"""PutLogEvents and GetLogEvents.

PutLogEvents keeps AWS's limits and answers (:mod:`ecsbox.logs.limits`); ``sequenceToken`` is
ignored and a ``nextSequenceToken`` still returned, as AWS has done since January 2023. Once the
accepted events are committed, the metric hook hears of them (:mod:`ecsbox.logs.metric_hook`).

GetLogEvents reads one stream in (timestamp, ingestion order) order. Its tokens name a gap between
two events (:class:`ecsbox.logs.paging.Gap`): ``nextForwardToken`` the gap after the page,
``nextBackwardToken`` the gap before it; a request that finds nothing beyond its token answers that
very token, so a client paging until the token repeats (``aws logs get-log-events``, the SDKs'
loops) stops.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.logs import event_repo, group_repo, stream_repo
from ecsbox.logs.event_repo import MAX_SEQ, EventRow
from ecsbox.logs.group_repo import MetricFilterRow
from ecsbox.logs.handling import Deps, aws_errors, named_group
from ecsbox.logs.limits import (
    check_chronological,
    check_size,
    check_span,
    classify,
    clean_message,
    message_bytes,
)
from ecsbox.logs.metric_hook import tell
from ecsbox.logs.model import (
    EVENT_OVERHEAD_BYTES,
    MAX_PAGE_BYTES,
    MAX_PAGE_EVENTS,
    GroupRef,
)
from ecsbox.logs.paging import BACKWARD, FORWARD, Gap, decode_stream_token, sequence_token, stream_token


def fit_page(rows: list[EventRow], from_newest: bool, budget: int = MAX_PAGE_BYTES) -> list[EventRow]:
    """The events of ``rows`` (chronological) that fit in one response of ``budget`` bytes
    (message bytes + 26 each), kept from the oldest, or from the newest when ``from_newest``.
    Always at least one event, so a page never stalls on one large event."""
    total = 0
    order = range(len(rows) - 1, -1, -1) if from_newest else range(len(rows))
    kept = 0
    for index in order:
        total += message_bytes(rows[index][4]) + EVENT_OVERHEAD_BYTES
        if total > budget and kept:
            break
        kept += 1
    return rows[len(rows) - kept :] if from_newest else rows[:kept]


class LogEvents:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        events = params["logEvents"]
        timestamps = [int(e["timestamp"]) for e in events]
        messages = [clean_message(str(e["message"])) for e in events]
        check_size(messages)
        check_chronological(timestamps)
        ref = GroupRef(ctx.partition, params["logGroupName"])
        stream_name = params["logStreamName"]
        now = self.deps.now_ms()
        sink = self.deps.metric_sink
        stored: list[tuple[int, str]] = []
        filters: list[MetricFilterRow] = []

        def write(conn: Connection) -> dict[str, Any]:
            group = group_repo.require_group(conn, ref)
            stream = stream_repo.require_stream(conn, group.id, stream_name)
            verdict = classify(timestamps, now, group.retention_days)
            check_span(timestamps, verdict.accepted)
            answer: dict[str, Any] = {}
            accepted = verdict.accepted
            stored.clear()
            if accepted:
                batch = list(
                    zip(
                        timestamps[accepted.start : accepted.stop],
                        messages[accepted.start : accepted.stop],
                        strict=True,
                    )
                )
                size = sum(message_bytes(m) for _, m in batch)
                upload_seq = stream_repo.record_batch(
                    conn, group.id, stream.id, timestamps[accepted[0]], timestamps[accepted[-1]], now, size
                )
                event_repo.insert_events(conn, group.id, stream.id, batch, now)
                answer["nextSequenceToken"] = sequence_token(stream.id, upload_seq or 0)
                if sink is not None:
                    stored.extend(batch)
                    filters[:] = group_repo.group_filters(conn, group.id)
            if verdict.rejected:
                answer["rejectedLogEventsInfo"] = dict(verdict.rejected)
            return answer

        answer = await self.store.write(write)
        await tell(sink, ctx.partition, ref.name, stored, filters)
        return answer

    @aws_errors
    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = named_group(ctx, params)
        stream_name = params["logStreamName"]
        limit = int(params.get("limit") or MAX_PAGE_EVENTS)
        start = int(params.get("startTime") or 0)
        end = params.get("endTime")
        last = MAX_SEQ if end is None else int(end) - 1  # endTime is exclusive
        token = params.get("nextToken")
        if token is not None:
            direction, gap = decode_stream_token(str(token))
        else:
            direction, gap = (FORWARD if params.get("startFromHead") else BACKWARD), None

        def read(conn: Connection) -> list[EventRow]:
            group = group_repo.require_group(conn, ref)
            stream = stream_repo.require_stream(conn, group.id, stream_name)
            if start > last:
                return []
            if direction == FORWARD:
                at = (start, -1) if gap is None or gap.timestamp < start else (gap.timestamp, gap.seq - 1)
                rows = event_repo.scan(
                    conn, stream_id=stream.id, ascending=True, at=at, bound=last, batch=limit
                )
                return fit_page(rows, from_newest=False)
            at = (last, MAX_SEQ) if gap is None or gap.timestamp > last else (gap.timestamp, gap.seq)
            rows = event_repo.scan(
                conn, stream_id=stream.id, ascending=False, at=at, bound=start, batch=limit
            )
            rows.reverse()
            return fit_page(rows, from_newest=True)

        rows = await self.store.read(read, heavy=True)
        if rows:
            first, newest = rows[0], rows[-1]
            forward, backward = Gap.after(newest[2], newest[0]), Gap(first[2], first[0])
            next_forward, next_backward = stream_token(FORWARD, forward), stream_token(BACKWARD, backward)
        else:
            at = gap if gap is not None else Gap(start, 0)
            next_forward = (
                str(token) if token is not None and direction == FORWARD else stream_token(FORWARD, at)
            )
            next_backward = (
                str(token) if token is not None and direction == BACKWARD else stream_token(BACKWARD, at)
            )
        return {
            "events": [
                {"timestamp": ts, "message": message, "ingestionTime": ingested}
                for _id, _stream, ts, ingested, message in rows
            ],
            "nextForwardToken": next_forward,
            "nextBackwardToken": next_backward,
        }
