"""Container records arriving over Forward, delivered as their tag's route says."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from ecsbox.core.log_routes import LogRoute, encode_route
from ecsbox.logs.container_logs import ContainerLogs
from ecsbox.logs.model import LogsRuleError, group_not_found, stream_not_found
from ecsbox.logs.multiline import datetime_format_regex, first_line_test, join_lines

CONTAINER_ID = "c" * 64


class FakeIngest:
    def __init__(self, refuse: LogsRuleError | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse = refuse

    async def deliver(
        self,
        partition: tuple[str, str],
        group: str,
        stream: str,
        events: Sequence[tuple[int, str]],
        *,
        create_group: bool,
        create_stream: bool = True,
    ) -> None:
        self.calls.append((partition, group, stream, list(events), create_group, create_stream))
        if self.refuse is not None:
            raise self.refuse


def route(stream: str = "ecs/web/t1", **options: str) -> LogRoute:
    return LogRoute("awslogs", "111122223333", "eu-west-1", "/ecs/app", stream, "web", "t1", options)


def record(line: str) -> dict[str, Any]:
    return {"container_id": CONTAINER_ID, "container_name": "/web", "source": "stdout", "log": line}


def test_lines_go_to_the_routes_group_and_stream_in_its_partition() -> None:
    ingest = FakeIngest()
    logs = ContainerLogs(ingest)  # type: ignore[arg-type]
    asyncio.run(logs.handle(encode_route(route()), [(1.5, record("a")), (1.25, record("b"))]))
    assert ingest.calls == [
        (("111122223333", "eu-west-1"), "/ecs/app", "ecs/web/t1", [(1500, "a"), (1250, "b")], False, True)
    ]


def test_without_a_prefix_the_stream_is_the_container_id() -> None:
    ingest = FakeIngest()
    asyncio.run(ContainerLogs(ingest).handle(encode_route(route("")), [(2.0, record("x"))]))  # type: ignore[arg-type]
    assert ingest.calls[0][2] == CONTAINER_ID


def test_create_group_is_passed_on() -> None:
    ingest = FakeIngest()
    tag = encode_route(route(**{"awslogs-create-group": "true"}))
    asyncio.run(ContainerLogs(ingest).handle(tag, [(2.0, record("x"))]))  # type: ignore[arg-type]
    assert ingest.calls[0][4] is True


def test_unknown_tags_are_dropped_and_a_missing_group_drops_the_lines() -> None:
    ingest = FakeIngest(group_not_found())
    logs = ContainerLogs(ingest)  # type: ignore[arg-type]
    asyncio.run(logs.handle("docker.abc", [(1.0, record("x"))]))
    assert ingest.calls == []
    asyncio.run(logs.handle(encode_route(route()), [(1.0, record("x"))]))  # no exception: acknowledged
    assert len(ingest.calls) == 1


def test_multiline_joins_continuations_and_flushes_the_last_event_when_quiet() -> None:
    ingest = FakeIngest()
    now = [100.0]
    logs = ContainerLogs(ingest, wall=lambda: now[0])  # type: ignore[arg-type]
    tag = encode_route(route(**{"awslogs-multiline-pattern": "^INFO"}))
    lines = [
        (1.0, record("INFO one")),
        (1.1, record("  at a")),
        (1.2, record("INFO two")),
        (1.3, record("  at b")),
    ]
    asyncio.run(logs.handle(tag, lines))
    assert [call[3] for call in ingest.calls] == [[(1000, "INFO one\n  at a")]]
    assert asyncio.run(logs.flush()) == 0  # not quiet yet
    now[0] += 1.0
    assert asyncio.run(logs.flush()) == 1
    assert ingest.calls[-1][3] == [(1200, "INFO two\n  at b")]


@pytest.mark.parametrize(
    ("lines", "events", "open_"),
    [
        ([], [], None),
        (["INFO a"], [], "INFO a"),
        (["INFO a", " b", "INFO c"], ["INFO a\n b"], "INFO c"),
        ([" orphan", "INFO a"], [" orphan"], "INFO a"),  # a first continuation starts an event
    ],
)
def test_join_lines(lines: list[str], events: list[str], open_: str | None) -> None:
    joined, pending = join_lines([(i, t) for i, t in enumerate(lines)], lambda t: t.startswith("INFO"), None)
    assert [text for _, text in joined] == events
    assert (pending[1] if pending else None) == open_


@pytest.mark.parametrize(
    ("strftime", "line", "starts"),
    [
        ("%Y-%m-%d", "2024-03-07 12:00 boot", True),
        ("%Y-%m-%d", "  at frame", False),
        # Docker's documented example: the pattern is a regular expression, so brackets are escaped.
        (r"\[%b %d, %Y %H:%M:%S\]", "[May 01, 2017 19:00:01] A message", True),
        ("%H:%M:%S%L", "19:00:01.123 x", True),
    ],
)
def test_datetime_format(strftime: str, line: str, starts: bool) -> None:
    test = first_line_test({"awslogs-datetime-format": strftime})
    assert test is not None and test(line) is starts
    assert datetime_format_regex("%Y").startswith("^")


def test_prepare_checks_the_group_and_the_known_stream() -> None:
    ingest = FakeIngest(group_not_found())
    with pytest.raises(LookupError, match="log group does not exist"):
        asyncio.run(ContainerLogs(ingest).prepare(route()))  # type: ignore[arg-type]
    fine = FakeIngest(stream_not_found())
    asyncio.run(ContainerLogs(fine).prepare(route("")))  # type: ignore[arg-type]  # container id: later
    assert fine.calls[0][5] is False
