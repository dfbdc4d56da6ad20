"""``ecsbox logs tail``: the window, the lines, and following without repeating an event."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest

from ecsbox.cli.logs_tail import format_event, since_seconds, stream_colour, tail


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800)]
)
def test_since(text: str, seconds: int) -> None:
    assert since_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "1y", "-5m", "1.5h"])
def test_since_refuses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        since_seconds(text)


def test_a_line_names_its_time_and_stream_coloured_only_on_a_terminal() -> None:
    event = {"timestamp": 1_700_000_000_123, "logStreamName": "ecs/web/1", "message": "hello\n"}
    assert format_event(event, colour=False) == "2023-11-14T22:13:20.123Z ecs/web/1 hello"
    coloured = format_event(event, colour=True)
    assert f"\033[{stream_colour('ecs/web/1')}mecs/web/1\033[0m" in coloured
    assert stream_colour("ecs/web/1") == stream_colour("ecs/web/1")


class FakeLogs:
    """FilterLogEvents over a list that grows between polls, two events per page."""

    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.batches = batches
        self.events: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []

    def filter_log_events(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if "nextToken" not in params and self.batches:
            self.events += self.batches.pop(0)
        found = [e for e in self.events if e["timestamp"] >= params["startTime"]]
        offset = int(params.get("nextToken", 0))
        page: dict[str, Any] = {"events": found[offset : offset + 2]}
        if offset + 2 < len(found):
            page["nextToken"] = str(offset + 2)
        return page


def event(ms: int, message: str, stream: str = "s") -> dict[str, Any]:
    return {"timestamp": ms, "message": message, "logStreamName": stream, "eventId": f"{ms}-{message}"}


def test_follow_prints_each_event_once_in_time_order() -> None:
    logs = FakeLogs(
        [[event(1_000, "b"), event(900, "a"), event(1_100, "c")], [event(1_100, "d"), event(1_200, "e")], []]
    )
    out = io.StringIO()
    polls = [0]

    def sleep(_: float) -> None:
        polls[0] += 1
        if polls[0] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tail(
            logs,
            "g",
            since_s=10,
            pattern="ERROR",
            follow=True,
            out=out,
            colour=False,
            now=lambda: 1.0,
            sleep=sleep,
        )
    assert [line.rsplit(" ", 1)[1] for line in out.getvalue().splitlines()] == ["a", "b", "c", "d", "e"]
    assert all(call["filterPattern"] == "ERROR" for call in logs.calls)
    assert logs.calls[0]["startTime"] == -9000  # 10 s before "now" (1 s)


def test_without_follow_one_pass() -> None:
    logs = FakeLogs([[event(5, "x")]])
    out = io.StringIO()
    tail(logs, "g", since_s=600, pattern=None, follow=False, out=out, colour=False, now=lambda: 0.0)
    assert out.getvalue().strip().endswith(" s x")
    assert "filterPattern" not in logs.calls[0]
