"""Schema versions and the steps that bring an older database forward.

A new database is created from :data:`ecsbox.store.schema.metadata` and stamped with
:data:`LATEST`. An existing one at version ``v < LATEST`` runs ``STEPS[v+1] … STEPS[LATEST]``, each
in its own transaction, so an upgrade never loses state. A database newer than this ecsbox is
refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect, select

from ecsbox.store.errors import SchemaTooNew
from ecsbox.store.schema import meta, metadata

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


# version → the step that turns version-1 into it. Version 1 is the first schema.
STEPS: dict[int, Step] = {2: _add_ecr_and_outbox, 3: _add_logs, 4: _add_metrics_and_notify}
LATEST = 4


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
