"""MetricsHousekeeping on a real store (SQLite in a temp dir) with a FakeClock: points are rolled up as
they age, reads still answer the same statistics at the periods AWS allows, and old points go."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ecsbox.core.clock import FakeClock
from ecsbox.metrics.housekeeping import MetricsHousekeeping
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.metrics.model import Datum, MetricId
from ecsbox.store import Store
from ecsbox.store.schema import metric_points, metric_series

PARTITION = ("123456789012", "eu-west-1")
START = 1_700_006_400.0  # a whole hour
HOUR = 3_600
DAY = 86_400
METRIC = MetricId.of("App", "Latency", {"Service": "web"})


class Box:
    def __init__(self, store: Store, clock: FakeClock, runner: asyncio.Runner) -> None:
        self.store, self.clock, self.runner = store, clock, runner
        self.metrics = MetricStore(store, clock)
        self.housekeeping = MetricsHousekeeping(store, clock, batch=7)  # small batches: many writes

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)

    def resolutions(self) -> dict[int, int]:
        rows = self.store.read_now(
            lambda conn: conn.execute(
                select(metric_points.c.resolution, func.count()).group_by(metric_points.c.resolution)
            ).all()
        )
        return {int(r): int(n) for r, n in rows}

    def period_sums(self, period: int, start: float, end: float) -> list[tuple[float, float, float]]:
        buckets = self.run(self.metrics.buckets(PARTITION, METRIC, period, start, end))
        return [(b.start, b.sample_count, b.sum) for b in buckets]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    store = Store(f"sqlite:///{tmp_path / 'ecsbox.db'}")
    store.open()
    try:
        with asyncio.Runner() as runner:
            yield Box(store, FakeClock(START), runner)
    finally:
        store.close()


def high_resolution(seconds: range, at: float = START) -> list[Datum]:
    return [Datum.single(METRIC, at + s, float(s % 7), storage_resolution=1) for s in seconds]


def test_high_resolution_points_become_minutes_after_three_hours(box: Box) -> None:
    box.run(box.metrics.put(PARTITION, high_resolution(range(0, 180))))
    before = box.period_sums(60, START, START + 180)
    [p99_before] = [
        b.value_counts for b in box.run(box.metrics.buckets(PARTITION, METRIC, 180, START, START + 180))
    ]

    box.clock.advance(3 * HOUR - 60)  # not yet 3 hours old
    box.run(box.housekeeping.run_once())
    assert box.resolutions() == {1: 180}

    box.clock.advance(4 * 60)
    report = box.run(box.housekeeping.run_once())
    assert report.rolled_up == 180
    assert box.resolutions() == {60: 3}  # one point a minute, though no batch held a whole minute
    assert box.period_sums(60, START, START + 180) == before
    [merged] = box.run(box.metrics.buckets(PARTITION, METRIC, 180, START, START + 180))
    assert merged.value_counts == p99_before  # percentiles survive the roll-up


def test_each_age_rolls_into_the_next_resolution_and_455_days_expire(box: Box) -> None:
    minutes = [Datum.single(METRIC, START + 60 * m, 1.0) for m in range(120)]
    box.run(box.metrics.put(PARTITION, minutes))
    box.clock.advance(16 * DAY)
    box.run(box.housekeeping.run_once())
    assert box.resolutions() == {300: 24}
    assert box.period_sums(3600, START, START + 2 * HOUR) == [(START, 60.0, 60.0), (START + HOUR, 60.0, 60.0)]

    box.clock.advance(50 * DAY)
    box.run(box.housekeeping.run_once())
    assert box.resolutions() == {3600: 2}
    assert box.period_sums(3600, START, START + 2 * HOUR) == [(START, 60.0, 60.0), (START + HOUR, 60.0, 60.0)]

    box.clock.advance(390 * DAY)  # 456 days after the data
    report = box.run(box.housekeeping.run_once())
    assert report.expired == 2 and box.resolutions() == {}
    assert report.series_removed == 1
    count = box.store.read_now(
        lambda conn: conn.execute(select(func.count()).select_from(metric_series)).scalar_one()
    )
    assert count == 0


def test_late_high_resolution_data_is_rolled_up_on_the_next_pass(box: Box) -> None:
    box.clock.advance(10 * DAY)
    box.run(box.housekeeping.run_once())
    box.run(box.metrics.put(PARTITION, high_resolution(range(0, 30), at=START + DAY)))  # 9 days old
    box.run(box.housekeeping.run_once())
    assert box.resolutions() == {60: 1}
    assert box.period_sums(60, START + DAY, START + DAY + 60) == [
        (START + DAY, 30.0, float(sum(s % 7 for s in range(30))))
    ]


def test_recent_points_are_left_alone(box: Box) -> None:
    box.run(box.metrics.put(PARTITION, high_resolution(range(0, 50))))
    report = box.run(box.housekeeping.roll_up_once(START + 60))
    assert (report.rolled_up, report.expired, report.series_removed) == (0, 0, 0)
    assert box.resolutions() == {1: 50}


def test_pause_follows_the_time_scale(box: Box) -> None:
    assert box.housekeeping.pause_s() == 60.0
    assert MetricsHousekeeping(box.store, box.clock, time_scale=60).pause_s() == 5.0
    assert MetricsHousekeeping(box.store, box.clock, time_scale=86_400).pause_s() == 1.0
