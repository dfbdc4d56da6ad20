"""Metric reads are index-only: every shape of the period aggregate is answered from
``ix_metric_points_series_covering`` without visiting ``metric_points`` (SQLite's EXPLAIN QUERY PLAN says
COVERING INDEX), and every writer keeps ``with_values`` — what the aggregate counts instead of the raw
values — equal to whether the point has raw values."""

from __future__ import annotations

import asyncio
import doctest
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from ecsbox.core.clock import FakeClock
from ecsbox.metrics import metric_repo
from ecsbox.metrics.housekeeping import MetricsHousekeeping
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.metrics.model import Datum, MetricId
from ecsbox.store import Store
from ecsbox.store.schema import metric_points

PARTITION = ("123456789012", "eu-west-1")
START = 1_700_006_400.0  # a whole hour
HOUR = 3_600
METRIC = MetricId.of("App", "Latency", {"Service": "web"})
OTHER = MetricId.of("App", "Latency", {"Service": "api"})
COVERING = "USING COVERING INDEX ix_metric_points_series_covering"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'ecsbox.db'}")
    store.open()
    try:
        yield store
    finally:
        store.close()


def points() -> list[Datum]:
    """Two series with 1 s points over ten minutes: raw values in Milliseconds, statistic sets in Seconds."""
    data: list[Datum] = []
    for second in range(0, 600, 7):
        for metric in (METRIC, OTHER):
            value = float(second % 11)
            data.append(
                Datum.single(metric, START + second, value, unit="Milliseconds", storage_resolution=1)
            )
            data.append(Datum(metric, START + second, 3.0, 6.0, 1.0, 3.0, "Seconds", storage_resolution=1))
    return data


def traced_aggregates(conn: Connection, unit: str | None, by_unit: bool) -> tuple[list[Any], list[str]]:
    """``metric_repo.aggregates``' rows, and the SQL it ran with its values bound (SQLite's trace)."""
    series_id = metric_repo.find_series(conn, PARTITION, METRIC)
    assert series_id is not None
    statements: list[str] = []
    driver = conn.connection.dbapi_connection
    assert driver is not None
    driver.set_trace_callback(statements.append)
    try:
        rows = metric_repo.aggregates(conn, series_id, START, 60, START, START + 600, unit, by_unit)
    finally:
        driver.set_trace_callback(None)
    return rows, statements


def plan(conn: Connection, statement: str) -> list[str]:
    return [str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()]


@pytest.mark.parametrize("analyzed", [False, True], ids=["no-statistics", "analyzed"])
@pytest.mark.parametrize(
    ("unit", "by_unit"),
    [(None, False), (None, True), ("Seconds", False)],
    ids=["all-units", "by-unit", "one-unit"],
)
def test_every_aggregate_reads_only_the_covering_index(
    store: Store, unit: str | None, by_unit: bool, analyzed: bool
) -> None:
    asyncio.run(MetricStore(store, FakeClock(START)).put(PARTITION, points()))
    if analyzed:  # the planner's choice holds with table statistics too
        asyncio.run(store.write(lambda conn: conn.exec_driver_sql("ANALYZE")))

    def check(conn: Connection) -> None:
        rows, statements = traced_aggregates(conn, unit, by_unit)
        assert len(rows) == (20 if by_unit else 10)  # the query read something: ten minutes
        # (unit, points with values, points) per row: the counts come from the index too.
        if unit == "Seconds":
            assert {(row[1], row[6]) for row in rows} == {("Seconds", 0)}
        elif by_unit:
            assert {row[1]: set() for row in rows}.keys() == {"Milliseconds", "Seconds"}
            assert all(row[6] == (row[7] if row[1] == "Milliseconds" else 0) for row in rows)
        else:
            assert all(0 < row[6] < row[7] for row in rows)  # some points with values, some without
        [statement] = [s for s in statements if "FROM metric_points" in s]
        steps = plan(conn, statement)
        assert any(COVERING in step for step in steps), steps
        assert not any("metric_points" in step and COVERING not in step for step in steps), steps

    store.read_now(check)


def test_a_read_of_raw_values_is_not_covered(store: Store) -> None:
    """The check above can fail: a query of a column the index lacks plans a table lookup."""
    asyncio.run(MetricStore(store, FakeClock(START)).put(PARTITION, points()))
    steps = store.read_now(
        lambda conn: plan(conn, "SELECT value_counts FROM metric_points WHERE series_id = 1 AND ts >= 0")
    )
    assert not any(COVERING in step for step in steps), steps
    assert any("USING INDEX ix_metric_points_series_covering" in step for step in steps), steps


def with_values_by_kind(store: Store) -> dict[tuple[bool, int], int]:
    """Points per (has raw values, with_values)."""
    has_values = metric_points.c.value_counts.is_not(None)
    rows = store.read_now(
        lambda conn: conn.execute(
            select(has_values, metric_points.c.with_values, func.count()).group_by(
                has_values, metric_points.c.with_values
            )
        ).all()
    )
    return {(bool(h), int(w)): int(n) for h, w, n in rows}


def test_every_writer_sets_with_values(store: Store) -> None:
    clock = FakeClock(START)
    metrics = MetricStore(store, clock)
    asyncio.run(metrics.put(PARTITION, points()))
    assert with_values_by_kind(store) == {(True, 1): 172, (False, 0): 172}  # PutMetricData's writer

    # Retention's writer: 1 s points roll up into minutes after 3 hours, per series and unit. A
    # minute of raw values keeps them; a minute of statistic sets has none.
    clock.advance(4 * HOUR)
    report = asyncio.run(MetricsHousekeeping(store, clock, batch=50).run_once())
    assert report.rolled_up == 344
    assert with_values_by_kind(store) == {(True, 1): 20, (False, 0): 20}

    # A minute that mixes raw values and a statistic set has none after the roll-up.
    late = START + 5 * HOUR
    asyncio.run(
        metrics.put(
            PARTITION,
            [
                Datum(METRIC, late, 1.0, 2.0, 2.0, 2.0, storage_resolution=1, value_counts=((2.0, 1.0),)),
                Datum(METRIC, late + 1, 2.0, 2.0, 1.0, 1.0, storage_resolution=1),
            ],
        )
    )
    clock.advance(5 * HOUR)
    assert asyncio.run(MetricsHousekeeping(store, clock).run_once()).rolled_up == 2
    assert with_values_by_kind(store) == {(True, 1): 20, (False, 0): 21}
    [bucket] = asyncio.run(metrics.buckets(PARTITION, METRIC, 60, late, late + 60))
    assert (bucket.sample_count, bucket.value_counts) == (3.0, None)


def test_doctests() -> None:
    result = doctest.testmod(metric_repo)
    assert result.attempted > 0
    assert result.failed == 0
