"""Schema version 5: a data directory written by a version-4 ecsbox opens with ``metric_points.with_values``
set from each point's raw values and the (series_id, ts) index replaced by the covering one; every point
is kept and reads answer as they do on a new data directory holding the same points."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
)

from ecsbox.core.clock import FakeClock
from ecsbox.metrics.metric_repo import dimensions_json
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.metrics.model import Bucket, Datum, MetricId
from ecsbox.store import Store, migrations, schema

PARTITION = ("123456789012", "eu-west-1")
METRIC = MetricId.of("App", "Latency", {"Service": "web"})
START = 1_700_006_400.0  # a whole hour
MINUTE = 60

# metric_points as schema version 4 defined it: no with_values, an index on (series_id, ts).
_v4 = MetaData()
VERSION_4_POINTS = Table(
    "metric_points",
    _v4,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, nullable=False),
    Column("ts", Float, nullable=False),
    Column("resolution", Integer, nullable=False),
    Column("unit", String(32), nullable=False),
    Column("sample_count", Float, nullable=False),
    Column("sum", Float, nullable=False),
    Column("minimum", Float, nullable=False),
    Column("maximum", Float, nullable=False),
    Column("value_counts", Text, nullable=True),
    Index("ix_metric_points_series_ts", "series_id", "ts"),
    Index("ix_metric_points_age", "resolution", "ts"),
)

# The points a version-4 ecsbox stored, as datums: minute 0 has raw values only, minute 1 mixes raw
# values and a statistic set, minute 2 is a statistic set alone, minute 3 has raw values in two units.
DATA = [
    Datum.single(METRIC, START + 5, 3.0, unit="Milliseconds"),
    Datum.single(METRIC, START + 5, 9.0, unit="Milliseconds"),
    Datum(METRIC, START + 10, 2.0, 5.0, 1.0, 4.0, "Milliseconds", 60, ((1.0, 1.0), (4.0, 1.0))),
    Datum.single(METRIC, START + MINUTE + 1, 7.0, unit="Milliseconds"),
    Datum(METRIC, START + MINUTE + 2, 10.0, 50.0, 2.0, 8.0, "Milliseconds"),
    Datum(METRIC, START + 2 * MINUTE, 4.0, 8.0, 1.0, 3.0, "Milliseconds"),
    Datum.single(METRIC, START + 3 * MINUTE, 1.0, unit="Milliseconds"),
    Datum.single(METRIC, START + 3 * MINUTE + 30, 2.0, unit="Seconds"),
]


def version_4_row(series_id: int, datum: Datum) -> dict[str, Any]:
    values = datum.value_counts
    return {
        "series_id": series_id,
        "ts": float(datum.timestamp // MINUTE * MINUTE),
        "resolution": 60,
        "unit": datum.unit,
        "sample_count": datum.sample_count,
        "sum": datum.sum,
        "minimum": datum.minimum,
        "maximum": datum.maximum,
        "value_counts": None if values is None else "[" + ",".join(f"[{v},{c}]" for v, c in values) + "]",
    }


def write_version_4(path: Path) -> None:
    """A database as a version-4 ecsbox left it: every table, metric_points as version 4 had it,
    stamped 4, with one series and DATA's points."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        others = [table for table in schema.metadata.sorted_tables if table.name != "metric_points"]
        schema.metadata.create_all(conn, tables=others)
        _v4.create_all(conn)
        conn.execute(schema.meta.insert().values(key="schema_version", value="4"))
        key = conn.execute(
            schema.metric_series.insert().values(
                account_id=PARTITION[0],
                region=PARTITION[1],
                namespace=METRIC.namespace,
                name=METRIC.name,
                dimensions=dimensions_json(METRIC.dimensions),
                created=START,
                last_put=START,
            )
        ).inserted_primary_key
        assert key is not None
        series_id = key[0]
        conn.execute(VERSION_4_POINTS.insert(), [version_4_row(series_id, datum) for datum in DATA])
    engine.dispose()


def write_version_5(path: Path) -> None:
    """DATA put through a new data directory's MetricStore."""
    store = Store(f"sqlite:///{path}")
    store.open()
    try:
        asyncio.run(MetricStore(store, FakeClock(START)).put(PARTITION, DATA))
    finally:
        store.close()


def point_rows(path: Path) -> list[tuple[Any, ...]]:
    """Every point's stored fields but its id, and ``with_values`` when the table has it."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [row[1] for row in conn.execute("PRAGMA table_info(metric_points)") if row[1] != "id"]
        return sorted(conn.execute(f"SELECT {', '.join(names)} FROM metric_points").fetchall(), key=repr)


def indexes(path: Path) -> dict[str, list[str]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            found = inspect(conn).get_indexes("metric_points")
    finally:
        engine.dispose()
    return {str(index["name"]): [str(name) for name in index["column_names"]] for index in found}


def columns(path: Path) -> list[tuple[str, str, bool, str | None]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            found = inspect(conn).get_columns("metric_points")
    finally:
        engine.dispose()
    return [(c["name"], str(c["type"]), bool(c["nullable"]), c["default"]) for c in found]


def reads(path: Path) -> list[list[Bucket]]:
    """What every shape of read answers: by period, by period and unit, one unit; periods of 1 and 5
    minutes."""
    store = Store(f"sqlite:///{path}")
    store.open()
    try:
        metrics = MetricStore(store, FakeClock(START))
        end = START + 5 * MINUTE

        async def everything() -> list[list[Bucket]]:
            return [
                await metrics.buckets(PARTITION, METRIC, MINUTE, START, end),
                await metrics.buckets(PARTITION, METRIC, 5 * MINUTE, START, end),
                await metrics.buckets_by_unit(PARTITION, METRIC, MINUTE, START, end),
                await metrics.buckets(PARTITION, METRIC, MINUTE, START, end, "Milliseconds"),
            ]

        return asyncio.run(everything())
    finally:
        store.close()


def test_step_5_adds_with_values_and_the_covering_index(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    write_version_4(old)
    before = point_rows(old)
    assert "ix_metric_points_series_ts" in indexes(old)
    assert migrations.LATEST >= 5
    engine = create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        migrations.STEPS[5](conn)
    engine.dispose()

    after = point_rows(old)
    assert [row[:-1] for row in after] == before  # every point kept as it was
    assert [row[-1] for row in after] == [0 if row[-1] is None else 1 for row in before]
    assert sorted(row[-1] for row in after) == [0, 0] + [1] * 6
    assert indexes(old) == {
        "ix_metric_points_series_covering": [
            "series_id",
            "ts",
            "unit",
            "sample_count",
            "sum",
            "minimum",
            "maximum",
            "with_values",
        ],
        "ix_metric_points_age": ["resolution", "ts"],
    }


def test_a_version_4_database_is_upgraded_and_reads_as_a_new_one(tmp_path: Path) -> None:
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    write_version_4(old)
    write_version_5(new)
    store = Store(f"sqlite:///{old}")
    assert store.open() == (4, migrations.LATEST)
    store.close()

    assert point_rows(old) == point_rows(new)  # the same points, with_values included
    answers = reads(old)
    assert answers == reads(new)
    by_minute = answers[0]
    assert [(b.start - START, b.sample_count, b.sum) for b in by_minute] == [
        (0.0, 4.0, 17.0),
        (60.0, 11.0, 57.0),
        (120.0, 4.0, 8.0),
        (180.0, 2.0, 3.0),
    ]
    # Raw values only where every point of the period had them.
    assert [b.value_counts for b in by_minute] == [
        ((1.0, 1.0), (3.0, 1.0), (4.0, 1.0), (9.0, 1.0)),
        None,
        None,
        ((1.0, 1.0), (2.0, 1.0)),
    ]

    again = Store(f"sqlite:///{old}")
    assert again.open() == (migrations.LATEST, migrations.LATEST)
    again.close()


def test_an_upgraded_metric_points_table_is_the_new_one(tmp_path: Path) -> None:
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    write_version_4(old)
    write_version_5(new)
    store = Store(f"sqlite:///{old}")
    store.open()
    store.close()
    # SQLite keeps ADD COLUMN's text at the end of CREATE TABLE, so the table's SQL differs from a new
    # one's; what it holds does not.
    assert columns(old) == columns(new)
    assert ("with_values", "INTEGER", False, "'0'") in columns(old)
    assert indexes(old) == indexes(new)
