"""The metric hook: after PutLogEvents and after LogIngest.deliver commit events, the sink wired in
hears of them with the datapoints the log group's metric filters make (a fake sink records them)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.logs.support import ACCOUNT, PARTITION, REGION, START

from ecsbox.aws.context import RequestContext
from ecsbox.core.clock import FakeClock
from ecsbox.logs import LogIngest, MetricDatum, logs_operations
from ecsbox.store import Store

Heard = tuple[tuple[str, str], str, list[tuple[int, str]], list[MetricDatum]]


class Box:
    """The logs handlers and LogIngest with a sink that records what it hears (or fails)."""

    def __init__(self, store: Store, runner: asyncio.Runner) -> None:
        self.clock = FakeClock(START)
        self.runner = runner
        self.heard: list[Heard] = []
        self.sink_fails = False
        self.handlers = logs_operations(store, self.clock, metric_sink=self.sink)
        self.ingest = LogIngest(store, self.clock, metric_sink=self.sink)

    async def sink(
        self, partition: tuple[str, str], group: str, events: list[tuple[int, str]], data: list[MetricDatum]
    ) -> None:
        if self.sink_fails:
            raise RuntimeError("the metric store is down")
        self.heard.append((partition, group, events, data))

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(ACCOUNT, REGION, "logs", operation, "req-1")
        return self.runner.run(self.handlers[operation](ctx, copy.deepcopy(params)))

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def put(self, messages: list[str], offsets_ms: list[int] | None = None) -> dict[str, Any]:
        now = self.now_ms()
        offsets = offsets_ms or [0] * len(messages)
        return self(
            "PutLogEvents",
            logGroupName="/ecs/web",
            logStreamName="app",
            logEvents=[{"timestamp": now + o, "message": m} for o, m in zip(offsets, messages, strict=True)],
        )

    def deliver(self, events: list[tuple[int, str]], group: str = "/ecs/web") -> None:
        self.runner.run(self.ingest.deliver(PARTITION, group, "web/app/1", events, create_group=True))


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    store = Store(f"sqlite:///{tmp_path / 'ecsbox.db'}")
    store.open()
    try:
        with asyncio.Runner() as runner:
            box = Box(store, runner)
            box("CreateLogGroup", logGroupName="/ecs/web")
            box("CreateLogStream", logGroupName="/ecs/web", logStreamName="app")
            yield box
    finally:
        store.close()


ERRORS = {
    "filterName": "errors",
    "filterPattern": "{ $.status >= 500 }",
    "metricTransformations": [
        {"metricName": "ServerErrors", "metricNamespace": "Web", "metricValue": "1", "unit": "Count"}
    ],
}


def test_put_log_events_tells_the_sink_with_the_filters_datapoints(box: Box) -> None:
    box("PutMetricFilter", logGroupName="/ecs/web", **ERRORS)
    now = box.now_ms()
    box.put(['{"status": 503}', '{"status": 200}', '{"status": 500}'], [0, 1, 2])
    [(partition, group, events, data)] = box.heard
    assert (partition, group) == (PARTITION, "/ecs/web")
    assert events == [(now, '{"status": 503}'), (now + 1, '{"status": 200}'), (now + 2, '{"status": 500}')]
    assert data == [
        MetricDatum("Web", "ServerErrors", 1.0, now, "Count"),
        MetricDatum("Web", "ServerErrors", 1.0, now + 2, "Count"),
    ]


def test_a_group_without_filters_still_tells_the_events(box: Box) -> None:
    box.put(["hello"])
    [(_, _, events, data)] = box.heard
    assert [m for _, m in events] == ["hello"] and data == []


def test_rejected_events_are_not_told(box: Box) -> None:
    box("PutMetricFilter", logGroupName="/ecs/web", **{**ERRORS, "filterPattern": ""})
    fifteen_days_ms = 15 * 86_400_000
    answer = box.put(["too old", "fine"], [-fifteen_days_ms, 0])
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}  # exclusive, as AWS counts
    [(_, _, events, data)] = box.heard
    assert [m for _, m in events] == ["fine"] and len(data) == 1
    # Nothing accepted: nothing to tell.
    box.put(["too old"], [-fifteen_days_ms])
    assert len(box.heard) == 1


def test_a_filter_put_or_deleted_counts_from_the_next_batch(box: Box) -> None:
    box.put(['{"status": 500}'])
    box("PutMetricFilter", logGroupName="/ecs/web", **ERRORS)
    box.put(['{"status": 500}'])
    box("DeleteMetricFilter", logGroupName="/ecs/web", filterName="errors")
    box.put(['{"status": 500}'])
    assert [len(data) for _, _, _, data in box.heard] == [0, 1, 0]


def test_a_failing_sink_loses_no_event_and_fails_no_call(box: Box) -> None:
    box.sink_fails = True
    answer = box.put(["kept"])
    assert "nextSequenceToken" in answer
    got = box("GetLogEvents", logGroupName="/ecs/web", logStreamName="app", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["kept"]
    box.deliver([(box.now_ms(), "kept too")])
    got = box("GetLogEvents", logGroupName="/ecs/web", logStreamName="web/app/1", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["kept too"]


def test_log_ingest_tells_the_sink_after_delivering(box: Box) -> None:
    box("PutMetricFilter", logGroupName="/ecs/web", **ERRORS)
    now = box.now_ms()
    box.deliver([(now, '{"status": 502}'), (now + 5, '{"status": 201}')])
    [(partition, group, events, data)] = box.heard
    assert (partition, group) == (PARTITION, "/ecs/web")
    assert events == [(now, '{"status": 502}'), (now + 5, '{"status": 201}')]
    assert data == [MetricDatum("Web", "ServerErrors", 1.0, now, "Count")]
    # The next batch goes through the remembered ids: the filters are still read.
    box.deliver([(now + 10, '{"status": 500}')])
    assert box.heard[-1][3] == [MetricDatum("Web", "ServerErrors", 1.0, now + 10, "Count")]


def test_log_ingest_into_a_new_group_and_empty_batches(box: Box) -> None:
    box.deliver([(box.now_ms(), "first line")], group="/ecs/new")
    assert [(group, [m for _, m in events]) for _, group, events, _ in box.heard] == [
        ("/ecs/new", ["first line"])
    ]
    box.deliver([(box.now_ms(), "")])  # empty messages are dropped: nothing stored, nothing told
    assert len(box.heard) == 1
