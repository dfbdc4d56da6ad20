"""Schema versions and the steps that bring an older database forward.

A new database is created from :data:`ecsbox.store.schema.metadata` and stamped with
:data:`LATEST`. An existing one at version ``v < LATEST`` runs ``STEPS[v+1] … STEPS[LATEST]``, each
in its own transaction, so an upgrade never loses state. A database newer than this ecsbox is
refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Index, inspect, select, update
from sqlalchemy.schema import CreateColumn, DropIndex

from ecsbox.store.errors import SchemaTooNew
from ecsbox.store.schema import meta, metadata, metric_points

Step = Callable[[Connection], None]


def _add_ecr_and_outbox(conn: Connection) -> None:
    """Version 2: the registry's tables (ECR) and the outbox of events."""
    from ecsbox.store import schema

    tables = [
        schema.ecr_repositories,
        schema.ecr_images,
        schema.ecr_tags,
        schema.ecr_references,
        schema.ecr_repository_blobs,
        schema.ecr_lifecycle_previews,
        schema.outbox,
    ]
    metadata.create_all(conn, tables=tables)


def _add_logs(conn: Connection) -> None:
    """Version 3: CloudWatch Logs' tables (log groups, streams, events, metric filters, purges)."""
    from ecsbox.store import schema

    tables = [
        schema.log_groups,
        schema.log_streams,
        schema.log_events,
        schema.log_metric_filters,
        schema.log_purges,
    ]
    metadata.create_all(conn, tables=tables)


def _add_metrics_and_notify(conn: Connection) -> None:
    """Version 4: CloudWatch metrics and alarms, and SNS topics, subscriptions and deliveries."""
    from ecsbox.store import schema

    tables = [
        schema.metric_series,
        schema.metric_points,
        schema.metric_alarms,
        schema.metric_alarm_history,
        schema.metric_alarm_actions,
        schema.sns_topics,
        schema.sns_subscriptions,
        schema.sns_deliveries,
    ]
    metadata.create_all(conn, tables=tables)


_OLD_SERIES_INDEX = "ix_metric_points_series_ts"  # version 4's (series_id, ts)
_COVERING_INDEX = "ix_metric_points_series_covering"


def _cover_metric_reads(conn: Connection) -> None:
    """Version 5: ``metric_points.with_values`` (1 where ``value_counts`` is not NULL), and the index
    on (series_id, ts) replaced by ``ix_metric_points_series_covering``, which holds every column a
    period aggregate reads.

    Step 4 creates ``metric_points`` as the schema now defines it, so a database that came through it
    in the same upgrade has both already; the step then changes nothing.
    """
    inspector = inspect(conn)
    table = conn.dialect.identifier_preparer.format_table(metric_points)
    if "with_values" not in {column["name"] for column in inspector.get_columns(metric_points.name)}:
        # ADD COLUMN with its DEFAULT 0 (NOT NULL needs one), as both databases spell it.
        column = CreateColumn(metric_points.c.with_values).compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column}")
        conn.execute(
            update(metric_points).where(metric_points.c.value_counts.is_not(None)).values(with_values=1)
        )
    indexes = {index["name"] for index in inspector.get_indexes(metric_points.name)}
    if _OLD_SERIES_INDEX in indexes:
        conn.execute(DropIndex(Index(_OLD_SERIES_INDEX)))
    if _COVERING_INDEX not in indexes:  # built after the UPDATE: once, from the final values
        next(index for index in metric_points.indexes if index.name == _COVERING_INDEX).create(conn)


# version → the step that turns version-1 into it. Version 1 is the first schema.
STEPS: dict[int, Step] = {
    2: _add_ecr_and_outbox,
    3: _add_logs,
    4: _add_metrics_and_notify,
    5: _cover_metric_reads,
}
LATEST = 5


def current_version(conn: Connection) -> int | None:
    """The stamped schema version, or None for an empty database."""
    if not inspect(conn).has_table(meta.name):
        return None
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else None


def _stamp(conn: Connection, version: int) -> None:
    updated = conn.execute(
        meta.update().where(meta.c.key == "schema_version").values(value=str(version))
    ).rowcount
    if not updated:
        conn.execute(meta.insert().values(key="schema_version", value=str(version)))


def migrate(conn_factory: Callable[[], Connection]) -> tuple[int | None, int]:
    """Create or upgrade the schema; returns (version found, version now)."""
    with conn_factory() as conn, conn.begin():
        found = current_version(conn)
        if found is None:
            metadata.create_all(conn)
            _stamp(conn, LATEST)
            return None, LATEST
    if found > LATEST:
        raise SchemaTooNew(
            f"the data was written by a newer ecsbox (schema {found}, this ecsbox knows {LATEST})"
        )
    for version in range(found + 1, LATEST + 1):
        with conn_factory() as conn, conn.begin():
            STEPS[version](conn)
            _stamp(conn, version)
    return found, LATEST
