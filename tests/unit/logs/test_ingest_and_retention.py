"""LogIngest (the container log paths' entry point) and housekeeping (retention expiry, purges), on a
real store with a FakeClock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.unit.logs.support import PARTITION, Logs, open_logs

from ecsbox.logs import LogsRuleError
from ecsbox.logs.model import GROUP_NOT_FOUND, MS_PER_DAY, STREAM_NOT_FOUND
from ecsbox.store.schema import log_events, log_purges

DAY_S = 86_400


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Logs]:
    yield from open_logs(tmp_path)


def stored_events(logs: Logs) -> int:
    return int(
        logs.store.read_now(
            lambda conn: conn.execute(select(func.count()).select_from(log_events)).scalar_one()
        )
    )


def messages(logs: Logs, group: str, stream: str) -> list[str]:
    got = logs("GetLogEvents", logGroupName=group, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in got["events"]]


def test_deliver_creates_the_stream_and_stores_one_batch(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="/ecs/web")
    now = logs.now_ms()
    logs.run(
        logs.ingest.deliver(
            PARTITION, "/ecs/web", "web/app/1", [(now, "one"), (now + 1, "two")], create_group=False
        )
    )
    assert messages(logs, "/ecs/web", "web/app/1") == ["one", "two"]
    stream = logs("DescribeLogStreams", logGroupName="/ecs/web")["logStreams"][0]
    assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"]) == (now, now + 1)
    assert stream["lastIngestionTime"] == now
    assert logs("DescribeLogGroups")["logGroups"][0]["storedBytes"] == len("one") + len("two")


def test_deliver_to_a_missing_group_fails_as_aws_tells_the_awslogs_driver(logs: Logs) -> None:
    with pytest.raises(LogsRuleError) as caught:
        logs.run(logs.ingest.deliver(PARTITION, "/ecs/missing", "s", [(1, "x")], create_group=False))
    assert (caught.value.code, caught.value.message) == ("ResourceNotFoundException", GROUP_NOT_FOUND)
    assert logs("DescribeLogGroups")["logGroups"] == []
    logs.run(logs.ingest.deliver(PARTITION, "/ecs/missing", "s", [(1, "x")], create_group=True))
    assert [g["logGroupName"] for g in logs("DescribeLogGroups")["logGroups"]] == ["/ecs/missing"]


def test_a_group_deliver_creates_gets_the_retention_asked_for_and_an_existing_one_keeps_its_own(
    logs: Logs,
) -> None:
    logs.run(
        logs.ingest.deliver(
            PARTITION, "/perf", "s", [(1, "x")], create_group=True, new_group_retention_days=1
        )
    )
    logs("CreateLogGroup", logGroupName="/kept")
    logs("PutRetentionPolicy", logGroupName="/kept", retentionInDays=30)
    logs.run(
        logs.ingest.deliver(
            PARTITION, "/kept", "s", [(1, "x")], create_group=True, new_group_retention_days=1
        )
    )
    groups = {g["logGroupName"]: g.get("retentionInDays") for g in logs("DescribeLogGroups")["logGroups"]}
    assert groups == {"/perf": 1, "/kept": 30}


def test_deliver_without_create_stream_needs_the_stream(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g")
    with pytest.raises(LogsRuleError) as caught:
        logs.run(
            logs.ingest.deliver(PARTITION, "g", "s", [(1, "x")], create_group=False, create_stream=False)
        )
    assert caught.value.message == STREAM_NOT_FOUND


def test_deliver_drops_empty_messages_and_cleans_bad_text(logs: Logs) -> None:
    now = logs.now_ms()
    logs.run(
        logs.ingest.deliver(
            PARTITION, "g", "s", [(now, ""), (now, "bad \ud800 text"), (now, "ok")], create_group=True
        )
    )
    assert messages(logs, "g", "s") == ["bad \ufffd text", "ok"]


def test_a_stream_deleted_while_remembered_is_created_again(logs: Logs) -> None:
    now = logs.now_ms()
    logs.run(logs.ingest.deliver(PARTITION, "g", "s", [(now, "before")], create_group=True))
    logs("DeleteLogStream", logGroupName="g", logStreamName="s")
    logs.run(logs.ingest.deliver(PARTITION, "g", "s", [(now, "after")], create_group=False))
    assert messages(logs, "g", "s") == ["after"]  # the deleted stream's event is not in the new one
    logs("DeleteLogGroup", logGroupName="g")
    with pytest.raises(LogsRuleError):
        logs.run(logs.ingest.deliver(PARTITION, "g", "s", [(now, "gone")], create_group=False))


def test_retention_expires_old_events_in_batches_on_ecsbox_time(logs: Logs) -> None:
    logs("CreateLogGroup", logGroupName="g")
    logs("CreateLogGroup", logGroupName="keep-forever")
    now = logs.now_ms()
    old = [(now - 3 * MS_PER_DAY - 1000 + i, f"old {i}") for i in range(120)]  # more than a batch of 50
    fresh = [(now - 1 - i, f"fresh {i}") for i in range(3)]
    logs.run(logs.ingest.deliver(PARTITION, "g", "s", old + fresh, create_group=False))
    logs.run(logs.ingest.deliver(PARTITION, "keep-forever", "s", old, create_group=False))
    logs("PutRetentionPolicy", logGroupName="g", retentionInDays=3)

    report = logs.run(logs.housekeeping.run_once())
    assert report.events_expired == 120  # 3 days and a bit old: expired
    assert sorted(messages(logs, "g", "s")) == sorted(m for _, m in fresh)
    groups = {g["logGroupName"]: g for g in logs("DescribeLogGroups")["logGroups"]}
    assert groups["g"]["storedBytes"] == sum(len(m) for _, m in fresh)
    assert groups["g"]["retentionInDays"] == 3
    assert len(messages(logs, "keep-forever", "s")) == 120  # no retention: nothing expires

    logs.clock.advance(3 * DAY_S)  # now the fresh ones are 3 days old too
    assert logs.run(logs.housekeeping.run_once()).events_expired == 3
    assert messages(logs, "g", "s") == []
    assert logs("DescribeLogGroups", logGroupNamePrefix="g")["logGroups"][0]["storedBytes"] == 0


def test_deleted_groups_and_streams_are_purged_in_the_background(logs: Logs) -> None:
    now = logs.now_ms()
    logs.run(logs.ingest.deliver(PARTITION, "g", "a", [(now, f"a{i}") for i in range(70)], create_group=True))
    logs.run(logs.ingest.deliver(PARTITION, "g", "b", [(now, f"b{i}") for i in range(30)], create_group=True))
    logs.run(logs.ingest.deliver(PARTITION, "h", "c", [(now, f"c{i}") for i in range(80)], create_group=True))
    logs("DeleteLogStream", logGroupName="g", logStreamName="a")
    logs("DeleteLogGroup", logGroupName="h")
    # Gone at once for every reader, and from the group's bytes ...
    assert [e["message"][0] for e in logs("FilterLogEvents", logGroupName="g")["events"]] == ["b"] * 30
    assert logs("DescribeLogGroups")["logGroups"][0]["storedBytes"] == sum(len(f"b{i}") for i in range(30))
    # ... and from the database once housekeeping ran.
    assert stored_events(logs) == 180
    report = logs.run(logs.housekeeping.run_once())
    assert report.events_purged == 150
    assert stored_events(logs) == 30
    assert logs.store.read_now(lambda conn: conn.execute(select(log_purges)).all()) == []


def test_pause_between_passes() -> None:
    from ecsbox.core.clock import FakeClock
    from ecsbox.logs import LogsHousekeeping

    assert LogsHousekeeping(None, FakeClock(), 1.0).pause_s() == 60.0  # type: ignore[arg-type]
    assert LogsHousekeeping(None, FakeClock(), 720.0).pause_s() == 5.0  # type: ignore[arg-type]
    assert LogsHousekeeping(None, FakeClock(), 86_400.0).pause_s() == 1.0  # type: ignore[arg-type]
