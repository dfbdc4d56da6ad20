"""Schema version 2: a data directory written by a version-1 ecsbox opens with the registry's tables
(ECR) and the outbox added, its existing state untouched, and ends up with the schema a new data
directory gets."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from sqlalchemy import Connection, create_engine, select

from ecsbox.ecr import image_repo
from ecsbox.store import Store, migrations, schema

# The tables of schema version 1, and what version 2 added.
VERSION_1_TABLES = {
    "ecsbox_meta",
    "tags",
    "ecs_families",
    "ecs_task_definitions",
    "ecs_clusters",
    "ecs_capacity_providers",
    "ecs_tasks",
    "ecs_services",
    "ecs_attributes",
    "ecs_account_settings",
    "ssm_parameters",
    "ssm_parameter_versions",
    "sm_secrets",
    "sm_secret_versions",
}
VERSION_2_TABLES = {
    "ecr_repositories",
    "ecr_images",
    "ecr_tags",
    "ecr_references",
    "ecr_repository_blobs",
    "ecr_lifecycle_previews",
    "outbox",
}
VERSION_2_INDEXES = {
    "ix_ecr_images_pushed",
    "ix_ecr_tags_digest",
    "ix_ecr_references_target",
    "ix_ecr_repository_blobs_digest",
}
PARTITION = ("000000000000", "us-east-1")


def write_version_1(path: Path) -> None:
    """A database as a version-1 ecsbox left it: every table but version 2's, stamped 1, with state."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        version_1 = [table for table in schema.metadata.sorted_tables if table.name in VERSION_1_TABLES]
        schema.metadata.create_all(conn, tables=version_1)
        conn.execute(schema.meta.insert().values(key="schema_version", value="1"))
        conn.execute(schema.meta.insert().values(key="server_id", value="kept-server-id"))
        conn.execute(schema.tags.insert().values(resource_arn="arn:aws:ecs:x", key="team", value="core"))
    engine.dispose()


def sqlite_schema(path: Path) -> set[tuple[str, str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return {(kind, name, sql or "") for kind, name, sql in rows}


def table_names(path: Path) -> set[str]:
    return {name for kind, name, _ in sqlite_schema(path) if kind == "table"}


def index_names(path: Path) -> set[str]:
    return {name for kind, name, _ in sqlite_schema(path) if kind == "index"}


def test_step_2_adds_the_registry_tables_and_the_outbox(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    write_version_1(old)
    assert table_names(old) == VERSION_1_TABLES
    engine = create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        migrations.STEPS[2](conn)
    engine.dispose()
    assert table_names(old) == VERSION_1_TABLES | VERSION_2_TABLES
    assert index_names(old) >= VERSION_2_INDEXES


def test_a_version_1_database_is_upgraded_to_version_2(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    write_version_1(old)
    store = Store(f"sqlite:///{old}")
    assert store.open() == (1, migrations.LATEST)
    try:
        # Version 1's state is there as it was.
        assert store.read_now(
            lambda conn: conn.execute(select(schema.tags.c.resource_arn, schema.tags.c.value)).all()
        ) == [("arn:aws:ecs:x", "core")]
        meta = dict(
            store.read_now(lambda conn: conn.execute(select(schema.meta.c.key, schema.meta.c.value)).all())
        )
        assert meta["server_id"] == "kept-server-id"
        assert meta["schema_version"] == str(migrations.LATEST)

        # The new tables work: an image pushed writes its rows and an outbox event, in one transaction.
        def push(conn: Connection) -> bool:
            conn.execute(
                schema.ecr_repositories.insert().values(
                    account_id=PARTITION[0], region=PARTITION[1], name="web", created_at=1.0, document="{}"
                )
            )
            return image_repo.put_image(
                conn,
                PARTITION,
                "web",
                digest="sha256:" + "ab" * 32,
                media_type="application/vnd.oci.image.manifest.v1+json",
                manifest=b"{}",
                size_bytes=2,
                references=[("sha256:" + "cd" * 32, "blob")],
                tag="v1",
                now=10.0,
                immutable=False,
            )

        assert asyncio.run(store.write(push)) is True
        events = store.read_now(
            lambda conn: conn.execute(select(schema.outbox.c.detail_type, schema.outbox.c.source)).all()
        )
        assert events == [("ECR Image Action", "aws.ecr")]
        assert [
            image.tags for image in store.read_now(lambda c: image_repo.list_images(c, PARTITION, "web"))
        ] == [["v1"]]
    finally:
        store.close()

    # Opened again, nothing runs twice.
    again = Store(f"sqlite:///{old}")
    assert again.open() == (migrations.LATEST, migrations.LATEST)
    again.close()


def test_an_upgraded_database_has_the_schema_of_a_new_one(tmp_path: Path) -> None:
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    write_version_1(old)
    for path in (old, new):
        store = Store(f"sqlite:///{path}")
        store.open()
        store.close()
    upgraded = sqlite_schema(old)
    assert upgraded == sqlite_schema(new)
    assert index_names(old) >= VERSION_2_INDEXES
    assert table_names(old) >= VERSION_1_TABLES | VERSION_2_TABLES
