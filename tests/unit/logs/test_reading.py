"""GetLogEvents' tokens and FilterLogEvents' scan, through the handlers on a real store with a
FakeClock (the same behaviours through boto3 are in tests/contract/test_logs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.logs.support import PARTITION, Logs, open_logs

from ecsbox.aws.context import RequestContext
from ecsbox.logs.event_repo import EventRow
from ecsbox.logs.handling import Deps
from ecsbox.logs.paging import ScanPosition
from ecsbox.logs.search import Search, collect


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Logs]:
    yield from open_logs(tmp_path)


def seed(logs: Logs, count: int, group: str = "g", stream: str = "s") -> int:
    """``count`` events one millisecond apart ending now (two share each timestamp); returns now."""
    now = logs.now_ms()
    events = [(now - count + i + (i % 2), f"event {i:03d}") for i in range(count)]
    logs.run(logs.ingest.deliver(PARTITION, group, stream, events, create_group=True))
    return now


def page(logs: Logs, **params: object) -> dict:
    return logs("GetLogEvents", logGroupName="g", logStreamName="s", **params)


def test_get_log_events_pages_forward_to_the_end_and_then_repeats_its_token(logs: Logs) -> None:
    seed(logs, 25)
    seen: list[str] = []
    got = page(logs, startFromHead=True, limit=10)
    while True:
        seen += [e["message"] for e in got["events"]]
        token = got["nextForwardToken"]
        got = page(logs, nextToken=token, limit=10)
        if got["nextForwardToken"] == token:
            assert got["events"] == []
            break
    assert seen == sorted(seen) and len(seen) == 25 == len(set(seen))

    # New events appear after the end token, and only they.
    logs.clock.advance(1)
    logs.put("g", "s", ["later"])
    got = page(logs, nextToken=token)
    assert [e["message"] for e in got["events"]] == ["later"]


def test_get_log_events_starts_from_the_tail_and_pages_backward(logs: Logs) -> None:
    seed(logs, 25)
    got = page(logs, limit=10)  # startFromHead defaults to false: the newest events
    assert [e["message"] for e in got["events"]] == [f"event {i:03d}" for i in range(15, 25)]
    older = page(logs, nextToken=got["nextBackwardToken"], limit=10)
    assert [e["message"] for e in older["events"]] == [f"event {i:03d}" for i in range(5, 15)]
    oldest = page(logs, nextToken=older["nextBackwardToken"], limit=10)
    assert [e["message"] for e in oldest["events"]] == [f"event {i:03d}" for i in range(5)]
    end = page(logs, nextToken=oldest["nextBackwardToken"], limit=10)
    assert end["events"] == [] and end["nextBackwardToken"] == oldest["nextBackwardToken"]
    # ... and forward again from any page's forward token.
    again = page(logs, nextToken=oldest["nextForwardToken"], limit=3)
    assert [e["message"] for e in again["events"]] == [f"event {i:03d}" for i in range(5, 8)]


def test_get_log_events_time_range_is_start_inclusive_end_exclusive(logs: Logs) -> None:
    now = logs.now_ms()
    logs.run(
        logs.ingest.deliver(
            PARTITION, "g", "s", [(now - 30, "a"), (now - 20, "b"), (now - 10, "c")], create_group=True
        )
    )
    got = page(logs, startTime=now - 20, endTime=now - 10, startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["b"]
    empty = page(logs, startTime=now, startFromHead=True)
    assert empty["events"] == []
    assert empty["nextForwardToken"].startswith("f/") and empty["nextBackwardToken"].startswith("b/")


def test_get_log_events_errors(logs: Logs) -> None:
    seed(logs, 1)
    assert (
        logs.fails("GetLogEvents", logGroupName="nope", logStreamName="s").code == "ResourceNotFoundException"
    )
    assert logs.fails("GetLogEvents", logGroupName="g", logStreamName="nope").message == (
        "The specified log stream does not exist."
    )
    bad = logs.fails("GetLogEvents", logGroupName="g", logStreamName="s", nextToken="f/123")
    assert bad.code == "InvalidParameterException"
    both = logs.fails("GetLogEvents", logGroupName="g", logGroupIdentifier="g", logStreamName="s")
    assert both.code == "InvalidParameterException"
    arn = f"arn:aws:logs:{PARTITION[1]}:{PARTITION[0]}:log-group:g:*"
    assert len(logs("GetLogEvents", logGroupIdentifier=arn, logStreamName="s")["events"]) == 1


def rows(count: int) -> list[EventRow]:
    return [(i + 1, 1 + i % 2, 1000 + i, 5000, f"m{i}") for i in range(count)]


def batches(all_rows: list[EventRow], size: int) -> Iterator[list[EventRow]]:
    for start in range(0, len(all_rows), size):
        yield all_rows[start : start + size]
    if len(all_rows) % size == 0:
        yield []


@pytest.mark.parametrize(
    ("limit", "budget_rows", "budget_bytes", "found", "resume_at"),
    [
        (100, 1000, 10**6, 25, None),  # everything, no resume
        (10, 1000, 10**6, 10, 19),  # limit: resume after the 10th match (row id 19, odd ids match)
        (100, 20, 10**6, 10, 20),  # row budget: resume after the 20th row looked at
        (100, 1000, 3 * 28 + 5, 3, 5),  # bytes: 3 events of 2 bytes + 26 fit
    ],
)
def test_collect_stops_at_the_limit_the_row_budget_or_the_byte_budget(
    limit: int, budget_rows: int, budget_bytes: int, found: int, resume_at: int | None
) -> None:
    page = collect(
        batches(rows(50), 8),
        ascending=True,
        streams={1: "a", 2: "b"},
        wanted={1},  # stream 1: rows with odd ids
        matches=None,
        limit=limit,
        budget_rows=budget_rows,
        budget_bytes=budget_bytes,
        batch_size=8,
    )
    assert len(page.events) == found
    assert all(name == "a" for _, name in page.events)
    assert page.resume == (None if resume_at is None else ScanPosition(True, 1000 + resume_at - 1, resume_at))


def test_collect_skips_deleted_streams_and_applies_the_pattern() -> None:
    page = collect(
        batches(rows(6), 4),
        ascending=True,
        streams={1: "a"},  # stream 2 was deleted
        wanted=None,
        matches=lambda message: message != "m2",
        limit=100,
        batch_size=4,
    )
    assert [row[4] for row, _ in page.events] == ["m0", "m4"]
    assert page.resume is None


def test_filter_log_events_pages_through_a_scan_budget(logs: Logs) -> None:
    seed(logs, 40, stream="one")
    seed(logs, 40, stream="two")
    search = Search(Deps(logs.store, logs.clock), scan_budget=15)  # a call looks at 15 events at most
    ctx = RequestContext(PARTITION[0], PARTITION[1], "logs", "FilterLogEvents", "req-1")
    seen: list[str] = []
    token = None
    calls = 0
    while True:
        params = {"logGroupName": "g", "logStreamNames": ["two"], "filterPattern": '"event 01"'}
        got = logs.run(search.filter(ctx, {**params, **({"nextToken": token} if token else {})}))
        calls += 1
        seen += [e["message"] for e in got["events"]]
        assert all(e["logStreamName"] == "two" for e in got["events"])
        token = got.get("nextToken")
        if token is None:
            break
    assert seen == [f"event {i:03d}" for i in range(10, 20)]
    # Only stream "two" is read (through its own index): 40 events, 15 a call.
    assert calls == 3


def test_few_streams_read_through_their_index_give_what_a_group_scan_gives(logs: Logs) -> None:
    for number in range(20):
        seed(logs, 15, stream=f"s{number:02d}")
    ctx = RequestContext(PARTITION[0], PARTITION[1], "logs", "FilterLogEvents", "req-1")
    search = Search(Deps(logs.store, logs.clock), scan_budget=37)

    def everything(**params: object) -> list[tuple[str, str, str]]:
        found, token = [], None
        while True:
            got = logs.run(
                search.filter(ctx, {"logGroupName": "g", **params, **({"nextToken": token} if token else {})})
            )
            found += [(e["eventId"], e["logStreamName"], e["message"]) for e in got["events"]]
            token = got.get("nextToken")
            if token is None:
                return found

    few = [f"s{n:02d}" for n in (3, 7, 11)]  # merged per-stream scans
    many = [f"s{n:02d}" for n in range(17)]  # one scan of the group, filtered
    in_few = [row for row in everything(logStreamNames=many) if row[1] in few]
    assert everything(logStreamNames=few) == in_few and len(in_few) == 45
    # Newest first is the same events the other way round (timestamp, then ingestion order).
    assert everything(logStreamNames=few, startFromHead=False) == in_few[::-1]
