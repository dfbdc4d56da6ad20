"""The store: batched writes stay isolated, commits are durable, schema versions are honoured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from ecsbox.store import SchemaTooNew, Store, StoreError, migrations, schema


def put(key: str, value: str = "v"):
    return lambda conn: conn.execute(schema.meta.insert().values(key=key, value=value))


def keys(conn) -> list[str]:
    return sorted(row[0] for row in conn.execute(select(schema.meta.c.key)))


def test_a_failing_write_does_not_undo_its_batch(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.open()

    async def scenario() -> list[object]:
        return await asyncio.gather(
            store.write(put("a")), store.write(put("a")), store.write(put("b")), return_exceptions=True
        )

    results = asyncio.run(scenario())
    assert isinstance(results[1], StoreError)
    assert [r for i, r in enumerate(results) if i != 1] == [results[0], results[2]]
    assert {"a", "b"} <= set(store.read_now(keys))
    store.close()


def test_a_handler_error_reaches_its_caller_unchanged(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.open()

    def boom(conn) -> None:
        conn.execute(schema.meta.insert().values(key="half", value="done"))
        raise LookupError("no such thing")

    with pytest.raises(LookupError):
        store.write_now(boom)
    assert "half" not in store.read_now(keys)
    store.close()


def test_writes_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    store = Store(url)
    assert store.open() == (None, migrations.LATEST)
    store.write_now(put("kept"))
    store.close()
    again = Store(url)
    assert again.open() == (migrations.LATEST, migrations.LATEST)
    assert "kept" in again.read_now(keys)
    again.close()


def test_reset_wipes_state_but_keeps_schema_version(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.open()
    store.write_now(
        lambda c: c.execute(schema.tags.insert().values(resource_arn="arn:x", key="k", value="v"))
    )
    asyncio.run(store.reset())
    assert store.read_now(lambda c: c.execute(select(schema.tags)).all()) == []
    assert "schema_version" in store.read_now(keys)
    store.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    store = Store(url)
    store.open()
    store.write_now(
        lambda c: c.execute(
            schema.meta.update()
            .where(schema.meta.c.key == "schema_version")
            .values(value=str(migrations.LATEST + 1))
        )
    )
    store.close()
    with pytest.raises(SchemaTooNew):
        Store(url).open()


def test_an_older_schema_runs_its_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    store = Store(url)
    store.open()
    store.close()
    ran: list[int] = []
    next_version = migrations.LATEST + 1
    monkeypatch.setattr(migrations, "LATEST", next_version)
    monkeypatch.setitem(migrations.STEPS, next_version, lambda conn: ran.append(next_version))
    again = Store(url)
    assert again.open() == (next_version - 1, next_version)
    assert ran == [next_version]
    again.close()


def test_prepared_statements_run_like_core_ones(tmp_path: Path) -> None:
    from sqlalchemy import bindparam, insert

    from ecsbox.store import Prepared

    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.open()
    add = Prepared(insert(schema.tags))
    page = Prepared(
        select(schema.tags.c.key)
        .where(schema.tags.c.resource_arn == bindparam("arn"))
        .order_by(schema.tags.c.key)
        .limit(bindparam("limit"))
    )
    for key in ("b", "a", "c"):
        store.write_now(
            lambda c, key=key: add.rows(c, {"resource_arn": "arn:x", "key": key, "value": "v", "seq": 0})
        )
    assert store.read_now(lambda c: page.rows(c, {"arn": "arn:x", "limit": 2})) == [("a",), ("b",)]
    assert store.read_now(lambda c: page.first(c, {"arn": "arn:y", "limit": 2})) is None
    store.close()


def test_bulk_insert_runs_many_rows_on_the_driver(tmp_path: Path) -> None:
    from sqlalchemy import bindparam, insert

    from ecsbox.store import BulkInsert

    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    store.open()
    order = ("resource_arn", "key", "value", "seq")
    add = BulkInsert(insert(schema.tags).values({name: bindparam(name) for name in order}), order)
    store.write_now(lambda c: add.run(c, [("arn:x", "b", "2", 2), ("arn:x", "a", "1", 1)]))
    store.write_now(lambda c: add.run(c, []))  # nothing to insert: nothing happens
    rows = store.read_now(
        lambda c: [
            tuple(r) for r in c.execute(select(schema.tags.c.key, schema.tags.c.value).order_by("seq"))
        ]
    )
    assert rows == [("a", "1"), ("b", "2")]
    store.close()
