"""Schema version 3: a data directory written by a version-2 ecsbox opens with CloudWatch Logs' tables
added, its existing state untouched, and ends up with the schema a new data directory gets."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, select

from ecsbox.core.clock import FakeClock
from ecsbox.logs import LogIngest
from ecsbox.store import Store, migrations, schema

VERSION_3_TABLES = {"log_groups", "log_streams", "log_events", "log_metric_filters", "log_purges"}
VERSION_3_INDEXES = {"ix_log_streams_last_event", "ix_log_events_group_time", "ix_log_events_stream_time"}


def write_version_2(path: Path) -> None:
    """A database as a version-2 ecsbox left it: every table but version 3's, stamped 2, with state."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        version_2 = [table for table in schema.metadata.sorted_tables if table.name not in VERSION_3_TABLES]
        schema.metadata.create_all(conn, tables=version_2)
        conn.execute(schema.meta.insert().values(key="schema_version", value="2"))
        conn.execute(schema.meta.insert().values(key="server_id", value="kept-server-id"))
        conn.execute(
            schema.ecr_repositories.insert().values(
                account_id="000000000000", region="us-east-1", name="web", created_at=1.0, document="{}"
            )
        )
    engine.dispose()


def sqlite_schema(path: Path) -> set[tuple[str, str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return {(kind, name, sql or "") for kind, name, sql in rows}


def names(path: Path, kind: str) -> set[str]:
    return {name for found, name, _ in sqlite_schema(path) if found == kind}


def test_step_3_adds_the_logs_tables(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    write_version_2(old)
    assert not names(old, "table") & VERSION_3_TABLES
    assert migrations.LATEST >= 3
    engine = create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        migrations.STEPS[3](conn)
    engine.dispose()
    assert names(old, "table") >= VERSION_3_TABLES
    assert names(old, "index") >= VERSION_3_INDEXES


def test_a_version_2_database_is_upgraded_and_keeps_its_state(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    write_version_2(old)
    store = Store(f"sqlite:///{old}")
    assert store.open() == (2, migrations.LATEST)
    try:
        repositories = store.read_now(lambda conn: conn.execute(select(schema.ecr_repositories.c.name)).all())
        assert repositories == [("web",)]
        # The new tables work.
        ingest = LogIngest(store, FakeClock())
        asyncio.run(
            ingest.deliver(("000000000000", "us-east-1"), "/ecs/web", "s", [(1, "hello")], create_group=True)
        )
        stored = store.read_now(lambda conn: conn.execute(select(schema.log_events.c.message)).all())
        assert stored == [("hello",)]
    finally:
        store.close()
    again = Store(f"sqlite:///{old}")
    assert again.open() == (migrations.LATEST, migrations.LATEST)
    again.close()


def test_an_upgraded_database_has_the_schema_of_a_new_one(tmp_path: Path) -> None:
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    write_version_2(old)
    for path in (old, new):
        store = Store(f"sqlite:///{path}")
        store.open()
        store.close()
    assert sqlite_schema(old) == sqlite_schema(new)
