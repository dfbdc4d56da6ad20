"""SQL for the shared ``tags`` table, keyed by the resource's ARN: every capability whose tags are
a plain key → value map reads and writes them here, in the order they were first given."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, func, insert, select, update

from ecsbox.store.schema import tags


def get_tags(conn: Connection, resource_arn: str) -> dict[str, str]:
    rows = conn.execute(
        select(tags.c.key, tags.c.value)
        .where(tags.c.resource_arn == resource_arn)
        .order_by(tags.c.seq, tags.c.key)
    )
    return {r.key: r.value for r in rows}


def put_tags(conn: Connection, resource_arn: str, new_tags: dict[str, str]) -> None:
    """Add tags; a key already present keeps its place and takes the new value."""
    if not new_tags:
        return
    t = tags.c
    seq = conn.execute(select(func.max(t.seq)).where(t.resource_arn == resource_arn)).scalar() or 0
    for key, value in new_tags.items():
        changed = conn.execute(
            update(tags).where(t.resource_arn == resource_arn, t.key == key).values(value=value)
        ).rowcount
        if not changed:
            seq += 1
            conn.execute(insert(tags).values(resource_arn=resource_arn, key=key, value=value, seq=seq))


def remove_tags(conn: Connection, resource_arn: str, keys: Sequence[str]) -> None:
    conn.execute(delete(tags).where(tags.c.resource_arn == resource_arn, tags.c.key.in_(list(keys))))


def clear_tags(conn: Connection, resource_arn: str) -> None:
    conn.execute(delete(tags).where(tags.c.resource_arn == resource_arn))
