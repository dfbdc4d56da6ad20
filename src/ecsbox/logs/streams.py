"""Log streams: CreateLogStream, DescribeLogStreams (by name or by last event time, either way up
or down) and DeleteLogStream.

``storedBytes`` of a stream is 0, as AWS has reported since 2019 (the group's is kept);
``uploadSequenceToken`` is still returned, though PutLogEvents ignores it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.logs import group_repo, stream_repo
from ecsbox.logs.handling import Deps, aws_errors, named_group
from ecsbox.logs.model import (
    DELETION_PROTECTED,
    DESCRIBE_PAGE,
    INVALID_TOKEN,
    GroupRef,
    LogsRuleError,
    Partition,
    invalid_parameter,
    stream_arn,
)
from ecsbox.logs.paging import decode_token, encode_token, page_limit, sequence_token
from ecsbox.logs.stream_repo import StreamRow

_SCOPE = "DescribeLogStreams"


def stream_view(partition: Partition, group: str, stream: StreamRow) -> dict[str, Any]:
    view: dict[str, Any] = {"logStreamName": stream.name, "creationTime": stream.created_ms}
    if stream.first_event_ms is not None:
        view["firstEventTimestamp"] = stream.first_event_ms
    if stream.last_event_ms is not None:
        view["lastEventTimestamp"] = stream.last_event_ms
    if stream.last_ingestion_ms is not None:
        view["lastIngestionTime"] = stream.last_ingestion_ms
    view["uploadSequenceToken"] = sequence_token(stream.id, stream.upload_seq)
    view["arn"] = stream_arn(partition, group, stream.name)
    view["storedBytes"] = 0
    return view


class LogStreams:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = GroupRef(ctx.partition, params["logGroupName"])
        name = params["logStreamName"]
        now = self.deps.now_ms()

        def write(conn: Connection) -> dict[str, Any]:
            group = group_repo.require_group(conn, ref)
            stream_repo.insert_stream(conn, group.id, name, now)
            return {}

        return await self.store.write(write)

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = named_group(ctx, params)
        by_last_event = params.get("orderBy") == "LastEventTime"
        prefix = params.get("logStreamNamePrefix")
        if by_last_event and prefix is not None:
            raise invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        descending = bool(params.get("descending"))
        limit = page_limit(params.get("limit"), DESCRIBE_PAGE)
        key = None if params.get("nextToken") is None else decode_token(params["nextToken"], _SCOPE)

        def read(conn: Connection) -> tuple[list[StreamRow], bool]:
            group = group_repo.require_group(conn, ref)
            after = _after(key, group.id, by_last_event, descending)
            rows = stream_repo.list_streams(
                conn,
                group.id,
                prefix=prefix,
                by_last_event=by_last_event,
                descending=descending,
                after=after,
                limit=limit + 1,
            )
            return rows, len(rows) > limit

        rows, more = await self.store.read(read)
        rows = rows[:limit]
        answer: dict[str, Any] = {"logStreams": [stream_view(ref.partition, ref.name, s) for s in rows]}
        if more:
            last = rows[-1]
            sort_key: list[Any] = [last.last_event_ms or 0, last.name] if by_last_event else [last.name]
            answer["nextToken"] = encode_token(
                _SCOPE, [rows[-1].group_id, by_last_event, descending, *sort_key]
            )
        return answer

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = GroupRef(ctx.partition, params["logGroupName"])
        name = params["logStreamName"]

        def write(conn: Connection) -> dict[str, Any]:
            group = group_repo.require_group(conn, ref)
            stream = stream_repo.require_stream(conn, group.id, name)
            if group.deletion_protection:
                raise LogsRuleError("ValidationException", DELETION_PROTECTED)
            stream_repo.delete_stream(conn, group, stream)
            return {}

        return await self.store.write(write)


def _after(
    key: list[Any] | None, group_id: int, by_last_event: bool, descending: bool
) -> tuple[int, str] | str | None:
    """The sort key a DescribeLogStreams token carries, checked against this listing."""
    if key is None:
        return None
    if key[:3] != [group_id, by_last_event, descending]:
        raise invalid_parameter(INVALID_TOKEN)
    rest = key[3:]
    if by_last_event and len(rest) == 2 and isinstance(rest[0], int) and isinstance(rest[1], str):
        return (rest[0], rest[1])
    if not by_last_event and len(rest) == 1 and isinstance(rest[0], str):
        return str(rest[0])
    raise invalid_parameter(INVALID_TOKEN)
