"""SQL for services: the Service document and the scheduler's own state, changed only inside one
write function that reads, changes and writes back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, insert, select, update

from ecsbox.ecs.documents import dumps
from ecsbox.store import Prepared
from ecsbox.store.schema import ecs_services

Partition = tuple[str, str]


@dataclass
class ServiceRecord:
    service_arn: str
    account_id: str
    region: str
    cluster: str
    name: str
    status: str
    created_at: float
    document: dict[str, Any]
    scheduler: dict[str, Any] = field(default_factory=dict)

    @property
    def partition(self) -> Partition:
        return (self.account_id, self.region)


def _record(row: Any) -> ServiceRecord:
    return ServiceRecord(
        row.service_arn,
        row.account_id,
        row.region,
        row.cluster,
        row.name,
        row.status,
        row.created_at,
        orjson.loads(row.document),
        orjson.loads(row.scheduler),
    )


def insert_service(conn: Connection, record: ServiceRecord) -> None:
    conn.execute(
        insert(ecs_services).values(
            service_arn=record.service_arn,
            account_id=record.account_id,
            region=record.region,
            cluster=record.cluster,
            name=record.name,
            status=record.status,
            created_at=record.created_at,
            document=dumps(record.document),
            scheduler=dumps(record.scheduler),
        )
    )


def save_service(conn: Connection, record: ServiceRecord) -> None:
    conn.execute(
        update(ecs_services)
        .where(ecs_services.c.service_arn == record.service_arn)
        .values(status=record.status, document=dumps(record.document), scheduler=dumps(record.scheduler))
    )


def get_service(conn: Connection, service_arn: str) -> ServiceRecord | None:
    row = conn.execute(select(ecs_services).where(ecs_services.c.service_arn == service_arn)).first()
    return _record(row) if row is not None else None


def find_service(conn: Connection, partition: Partition, cluster: str, name: str) -> ServiceRecord | None:
    """The newest service of that name (an INACTIVE one stays describable until a new one replaces it)."""
    s = ecs_services.c
    row = conn.execute(
        select(ecs_services)
        .where(s.account_id == partition[0], s.region == partition[1], s.cluster == cluster, s.name == name)
        .order_by(s.created_at.desc())
    ).first()
    return _record(row) if row is not None else None


def list_services(conn: Connection, partition: Partition, cluster: str) -> list[ServiceRecord]:
    s = ecs_services.c
    rows = conn.execute(
        select(ecs_services)
        .where(
            s.account_id == partition[0], s.region == partition[1], s.cluster == cluster, s.status == "ACTIVE"
        )
        .order_by(s.service_arn)
    ).all()
    return [_record(row) for row in rows]


def live_service_arns(conn: Connection) -> list[str]:
    """Every service the scheduler still has work for (ACTIVE or DRAINING)."""
    rows = conn.execute(select(ecs_services.c.service_arn).where(ecs_services.c.status != "INACTIVE")).all()
    return [row[0] for row in rows]


def delete_inactive(conn: Connection, partition: Partition, cluster: str, name: str) -> None:
    s = ecs_services.c
    conn.execute(
        ecs_services.delete().where(
            s.account_id == partition[0],
            s.region == partition[1],
            s.cluster == cluster,
            s.name == name,
            s.status == "INACTIVE",
        )
    )


_CLUSTER_SERVICE_STATES = Prepared(
    select(ecs_services.c.status, ecs_services.c.document).where(
        ecs_services.c.account_id == bindparam("account_id"),
        ecs_services.c.region == bindparam("region"),
        ecs_services.c.cluster == bindparam("cluster"),
        ecs_services.c.status != "INACTIVE",
    )
)


def cluster_service_states(conn: Connection, partition: Partition, cluster: str) -> list[tuple[str, str]]:
    """(status, launchType) of a cluster's ACTIVE and DRAINING services, for its counts."""
    rows = _CLUSTER_SERVICE_STATES.rows(
        conn, {"account_id": partition[0], "region": partition[1], "cluster": cluster}
    )
    states = []
    for status, document in rows:
        parsed = orjson.loads(document)
        strategy = parsed.get("capacityProviderStrategy") or []
        fargate = any(str(item.get("capacityProvider", "")).startswith("FARGATE") for item in strategy)
        states.append((status, parsed.get("launchType") or ("FARGATE" if fargate else "EC2")))
    return states
