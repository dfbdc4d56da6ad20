"""SQL for the ECS control-plane tables. Every function takes an open ``Connection`` and runs
inside the caller's ``store.read`` / ``store.write`` function, so a handler composes several of
them into one atomic operation. Documents are stored as JSON text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, or_, select, text, update

from ecsbox.ecs.documents import dumps
from ecsbox.ecs.model import Document
from ecsbox.store import Prepared
from ecsbox.store.schema import (
    ecs_account_settings,
    ecs_capacity_providers,
    ecs_clusters,
    ecs_task_definitions,
    tags,
)

Partition = tuple[str, str]  # (account_id, region)


def _prefix(column: Any, prefix: str | None) -> Any:
    """A case-sensitive prefix match (SQLite's LIKE is case-insensitive)."""
    if not prefix:
        return True
    return func.substr(column, 1, len(prefix)) == prefix


# ---- task definitions --------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskDefinitionRow:
    family: str
    revision: int
    status: str
    document: Document


# One statement hands out the next revision, in SQL that SQLite (3.35+) and PostgreSQL share.
_NEXT_REVISION = text(
    "INSERT INTO ecs_families (account_id, region, family, last_revision)"
    " VALUES (:account_id, :region, :family, 1)"
    " ON CONFLICT (account_id, region, family)"
    " DO UPDATE SET last_revision = ecs_families.last_revision + 1"
    " RETURNING last_revision"
)
_NEXT_REVISION_RUN = Prepared(_NEXT_REVISION)
_NEW_TASK_DEFINITION = Prepared(insert(ecs_task_definitions))


def next_revision(conn: Connection, partition: Partition, family: str) -> int:
    """Hand out the family's next revision: one more than the last ever handed out, so a revision
    is never reused, even after deregistration and deletion."""
    account_id, region = partition
    values = {"account_id": account_id, "region": region, "family": family}
    row = _NEXT_REVISION_RUN.first(conn, values)
    assert row is not None  # RETURNING always answers one row
    return int(row[0])


def insert_task_definition(
    conn: Connection, partition: Partition, row: TaskDefinitionRow, registered_at: float
) -> None:
    account_id, region = partition
    _NEW_TASK_DEFINITION.rows(
        conn,
        {
            "account_id": account_id,
            "region": region,
            "family": row.family,
            "revision": row.revision,
            "status": row.status,
            "registered_at": registered_at,
            "document": dumps(row.document),
        },
    )


def _taskdef_partition(partition: Partition) -> Any:
    account_id, region = partition
    return and_(ecs_task_definitions.c.account_id == account_id, ecs_task_definitions.c.region == region)


def get_task_definition(
    conn: Connection, partition: Partition, family: str, revision: int | None
) -> TaskDefinitionRow | None:
    """One revision, or the latest ACTIVE revision of the family when ``revision`` is None."""
    t = ecs_task_definitions.c
    query = select(t.family, t.revision, t.status, t.document).where(
        _taskdef_partition(partition), t.family == family
    )
    if revision is None:
        query = query.where(t.status == "ACTIVE").order_by(t.revision.desc()).limit(1)
    else:
        query = query.where(t.revision == revision)
    found = conn.execute(query).first()
    if found is None:
        return None
    return TaskDefinitionRow(found.family, found.revision, found.status, orjson.loads(found.document))


def save_task_definition(conn: Connection, partition: Partition, row: TaskDefinitionRow) -> None:
    t = ecs_task_definitions.c
    conn.execute(
        update(ecs_task_definitions)
        .where(_taskdef_partition(partition), t.family == row.family, t.revision == row.revision)
        .values(status=row.status, document=dumps(row.document))
    )


@lru_cache(maxsize=16)
def _list_statement(ascending: bool, by_family: bool, paged: bool) -> Prepared:
    """The ListTaskDefinitions query for one combination of options, built once."""
    t = ecs_task_definitions.c
    query = select(t.family, t.revision).where(
        t.account_id == bindparam("account_id"),
        t.region == bindparam("region"),
        t.status == bindparam("status"),
    )
    if by_family:
        query = query.where(t.family == bindparam("family"))
    if paged:
        last_family: Any = bindparam("last_family")
        last_revision: Any = bindparam("last_revision")
        if ascending:
            query = query.where(
                or_(t.family > last_family, and_(t.family == last_family, t.revision > last_revision))
            )
        else:
            query = query.where(
                or_(t.family < last_family, and_(t.family == last_family, t.revision < last_revision))
            )
    order = (t.family.asc(), t.revision.asc()) if ascending else (t.family.desc(), t.revision.desc())
    return Prepared(query.order_by(*order).limit(bindparam("limit")))


def list_task_definitions(
    conn: Connection,
    partition: Partition,
    family: str | None,
    status: str,
    ascending: bool,
    after: tuple[str, int] | None,
    limit: int,
) -> list[tuple[str, int]]:
    """(family, revision) pairs in family then revision order, after the keyset ``after``; only
    ``family``'s revisions when given (ListTaskDefinitions' familyPrefix is a whole family name)."""
    account_id, region = partition
    values: dict[str, Any] = {"account_id": account_id, "region": region, "status": status, "limit": limit}
    if family:
        values["family"] = family
    if after is not None:
        values["last_family"], values["last_revision"] = after
    statement = _list_statement(ascending, bool(family), after is not None)
    return [(name, revision) for name, revision in statement.rows(conn, values)]


def list_families(
    conn: Connection,
    partition: Partition,
    family_prefix: str | None,
    status: str,
    after: str | None,
    limit: int,
) -> list[str]:
    """Families with an ACTIVE revision (ACTIVE), with revisions but none ACTIVE (INACTIVE), or any (ALL)."""
    t = ecs_task_definitions.c
    query = select(t.family).where(_taskdef_partition(partition), _prefix(t.family, family_prefix)).distinct()
    other = ecs_task_definitions.alias("other")
    has_active = exists().where(
        other.c.account_id == t.account_id,
        other.c.region == t.region,
        other.c.family == t.family,
        other.c.status == "ACTIVE",
    )
    if status == "ACTIVE":
        query = query.where(t.status == "ACTIVE")
    elif status == "INACTIVE":
        query = query.where(~has_active)
    if after is not None:
        query = query.where(t.family > after)
    return [r.family for r in conn.execute(query.order_by(t.family).limit(limit))]


# ---- clusters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterRow:
    name: str
    status: str
    seq: int
    document: Document


def _cluster_key(partition: Partition, name: str) -> Any:
    account_id, region = partition
    c = ecs_clusters.c
    return and_(c.account_id == account_id, c.region == region, c.name == name)


# Hot reads are built once: composing a statement costs more than running it on SQLite.
_GET_CLUSTER = Prepared(
    select(ecs_clusters.c.name, ecs_clusters.c.status, ecs_clusters.c.seq, ecs_clusters.c.document).where(
        ecs_clusters.c.account_id == bindparam("account_id"),
        ecs_clusters.c.region == bindparam("region"),
        ecs_clusters.c.name == bindparam("name"),
    )
)


def get_cluster(conn: Connection, partition: Partition, name: str) -> ClusterRow | None:
    account_id, region = partition
    found = _GET_CLUSTER.first(conn, {"account_id": account_id, "region": region, "name": name})
    if found is None:
        return None
    found_name, status, seq, document = found
    return ClusterRow(found_name, status, seq, orjson.loads(document))


def put_cluster(
    conn: Connection, partition: Partition, name: str, status: str, document: Document, now: float
) -> None:
    """Insert a cluster, or replace an existing (INACTIVE) one of that name with a new one."""
    account_id, region = partition
    conn.execute(delete(ecs_clusters).where(_cluster_key(partition, name)))
    seq = (conn.execute(select(func.max(ecs_clusters.c.seq))).scalar() or 0) + 1
    conn.execute(
        insert(ecs_clusters).values(
            account_id=account_id,
            region=region,
            name=name,
            status=status,
            created_at=now,
            seq=seq,
            document=dumps(document),
        )
    )


def save_cluster(conn: Connection, partition: Partition, name: str, status: str, document: Document) -> None:
    conn.execute(
        update(ecs_clusters)
        .where(_cluster_key(partition, name))
        .values(status=status, document=dumps(document))
    )


def list_clusters(
    conn: Connection, partition: Partition, after_seq: int | None, limit: int
) -> list[ClusterRow]:
    """ACTIVE clusters in creation order."""
    account_id, region = partition
    c = ecs_clusters.c
    query = select(c.name, c.status, c.seq, c.document).where(
        c.account_id == account_id, c.region == region, c.status == "ACTIVE"
    )
    if after_seq is not None:
        query = query.where(c.seq > after_seq)
    rows = conn.execute(query.order_by(c.seq).limit(limit))
    return [ClusterRow(r.name, r.status, r.seq, orjson.loads(r.document)) for r in rows]


def clusters_using_provider(conn: Connection, partition: Partition, provider: str) -> list[str]:
    """Names of ACTIVE clusters that have ``provider`` among their capacity providers."""
    account_id, region = partition
    c = ecs_clusters.c
    rows = conn.execute(
        select(c.name, c.document).where(c.account_id == account_id, c.region == region, c.status == "ACTIVE")
    )
    return [r.name for r in rows if provider in orjson.loads(r.document).get("capacityProviders", [])]


# ---- capacity providers ------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityProviderRow:
    name: str
    status: str
    seq: int
    document: Document


def _provider_key(partition: Partition, name: str) -> Any:
    account_id, region = partition
    p = ecs_capacity_providers.c
    return and_(p.account_id == account_id, p.region == region, p.name == name)


def get_capacity_provider(conn: Connection, partition: Partition, name: str) -> CapacityProviderRow | None:
    p = ecs_capacity_providers.c
    found = conn.execute(
        select(p.name, p.status, p.seq, p.document).where(_provider_key(partition, name))
    ).first()
    if found is None:
        return None
    return CapacityProviderRow(found.name, found.status, found.seq, orjson.loads(found.document))


def put_capacity_provider(
    conn: Connection, partition: Partition, name: str, status: str, document: Document
) -> None:
    account_id, region = partition
    conn.execute(delete(ecs_capacity_providers).where(_provider_key(partition, name)))
    seq = (conn.execute(select(func.max(ecs_capacity_providers.c.seq))).scalar() or 0) + 1
    conn.execute(
        insert(ecs_capacity_providers).values(
            account_id=account_id,
            region=region,
            name=name,
            status=status,
            seq=seq,
            document=dumps(document),
        )
    )


def save_capacity_provider(
    conn: Connection, partition: Partition, name: str, status: str, document: Document
) -> None:
    conn.execute(
        update(ecs_capacity_providers)
        .where(_provider_key(partition, name))
        .values(status=status, document=dumps(document))
    )


def list_capacity_providers(conn: Connection, partition: Partition) -> list[CapacityProviderRow]:
    account_id, region = partition
    p = ecs_capacity_providers.c
    rows = conn.execute(
        select(p.name, p.status, p.seq, p.document)
        .where(p.account_id == account_id, p.region == region)
        .order_by(p.seq)
    )
    return [CapacityProviderRow(r.name, r.status, r.seq, orjson.loads(r.document)) for r in rows]


# ---- account settings --------------------------------------------------------------------------


def get_account_settings(
    conn: Connection, partition: Partition, principal_keys: Sequence[str]
) -> dict[tuple[str, str], str]:
    """{(principal_key, name): value} for the given principals ("" is the account default)."""
    account_id, region = partition
    s = ecs_account_settings.c
    rows = conn.execute(
        select(s.principal_arn, s.name, s.value).where(
            s.account_id == account_id, s.region == region, s.principal_arn.in_(list(principal_keys))
        )
    )
    return {(r.principal_arn, r.name): r.value for r in rows}


def put_account_setting(
    conn: Connection, partition: Partition, principal_key: str, name: str, value: str
) -> None:
    delete_account_setting(conn, partition, principal_key, name)
    account_id, region = partition
    conn.execute(
        insert(ecs_account_settings).values(
            account_id=account_id, region=region, principal_arn=principal_key, name=name, value=value
        )
    )


def delete_account_setting(conn: Connection, partition: Partition, principal_key: str, name: str) -> int:
    account_id, region = partition
    s = ecs_account_settings.c
    return conn.execute(
        delete(ecs_account_settings).where(
            s.account_id == account_id, s.region == region, s.principal_arn == principal_key, s.name == name
        )
    ).rowcount


# ---- tags --------------------------------------------------------------------------------------


_GET_TAGS = Prepared(
    select(tags.c.key, tags.c.value)
    .where(tags.c.resource_arn == bindparam("resource_arn"))
    .order_by(tags.c.seq, tags.c.key)
)


def get_tags(conn: Connection, resource_arn: str) -> list[dict[str, str]]:
    rows = _GET_TAGS.rows(conn, {"resource_arn": resource_arn})
    return [{"key": key, "value": value} for key, value in rows]


def put_tags(conn: Connection, resource_arn: str, new_tags: Sequence[dict[str, str]]) -> None:
    """Add tags; a key already present keeps its place and takes the new value."""
    if not new_tags:
        return
    t = tags.c
    seq = conn.execute(select(func.max(t.seq)).where(t.resource_arn == resource_arn)).scalar() or 0
    for tag in new_tags:
        changed = conn.execute(
            update(tags)
            .where(t.resource_arn == resource_arn, t.key == tag["key"])
            .values(value=tag.get("value", ""))
        ).rowcount
        if not changed:
            seq += 1
            conn.execute(
                insert(tags).values(
                    resource_arn=resource_arn, key=tag["key"], value=tag.get("value", ""), seq=seq
                )
            )


def remove_tags(conn: Connection, resource_arn: str, keys: Sequence[str]) -> None:
    conn.execute(delete(tags).where(tags.c.resource_arn == resource_arn, tags.c.key.in_(list(keys))))


def clear_tags(conn: Connection, resource_arn: str) -> None:
    conn.execute(delete(tags).where(tags.c.resource_arn == resource_arn))
