"""What the metrics collector needs to know of ECS, read from the ECS tables in one read
transaction: :func:`monitoring_snapshot`. Read-only.

Every ACTIVE cluster of every partition, its live services, its tasks that are not STOPPED, and the
local container instance (this machine, registered to every cluster as DescribeContainerInstances
shows it, when the engine's size is known).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import Connection, select

from ecsbox.core.monitoring import (
    ClusterInfo,
    ContainerInfo,
    ContainerInstanceInfo,
    MonitoringSnapshot,
    Partition,
    ServiceInfo,
    TaskInfo,
)
from ecsbox.ecs import task_repo
from ecsbox.ecs.local_instance import (
    Machine,
    ec2_instance_id,
    instance_arn,
    instance_id,
    registered_cpu,
    registered_memory_mib,
    remaining,
    task_reservation,
)
from ecsbox.ecs.model import ACCOUNT_SETTING_DEFAULTS
from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.store import Store
from ecsbox.store.schema import ecs_account_settings, ecs_clusters, ecs_services

INSIGHTS = "containerInsights"
ON_INSTANCES = ("EC2", "EXTERNAL")  # launch types whose tasks run on container instances


async def monitoring_snapshot(
    store: Store, machine: Machine | None = None, server_id: str = ""
) -> MonitoringSnapshot:
    """The snapshot, read off the event loop. ``machine`` (the engine's size) and ``server_id`` name
    the local container instance; without a machine the clusters have no container instance."""
    return await store.read(lambda conn: read_snapshot(conn, machine, server_id))


def read_snapshot(conn: Connection, machine: Machine | None, server_id: str) -> MonitoringSnapshot:
    defaults = _insights_defaults(conn)
    records = task_repo.unfinished_tasks(conn)
    tasks = tuple(_task(record) for record in records)
    by_cluster: dict[tuple[Partition, str], list[TaskRecord]] = defaultdict(list)
    for record in records:
        by_cluster[(record.partition, record.cluster)].append(record)
    services = tuple(_services(conn))
    active_services: dict[tuple[Partition, str], int] = defaultdict(int)
    for service in services:
        if service.status == "ACTIVE":
            active_services[(service.partition, service.cluster)] += 1

    clusters, instances = [], []
    c = ecs_clusters.c
    rows = conn.execute(
        select(c.account_id, c.region, c.name, c.document).where(c.status == "ACTIVE").order_by(c.seq)
    ).all()
    for account_id, region, name, raw in rows:
        partition = (account_id, region)
        document = orjson.loads(raw)
        cluster_tasks = by_cluster.get((partition, name), [])
        instance = (
            _instance(partition, name, machine, server_id, cluster_tasks) if machine is not None else None
        )
        if instance is not None:
            instances.append(instance)
        clusters.append(
            ClusterInfo(
                partition=partition,
                name=name,
                arn=str(document.get("clusterArn", "")),
                container_insights=_insights(document, defaults.get(partition)),
                service_count=active_services.get((partition, name), 0),
                running_task_count=sum(1 for t in cluster_tasks if t.last_status == "RUNNING"),
                pending_task_count=sum(1 for t in cluster_tasks if t.last_status != "RUNNING"),
                container_instance_count=1 if instance is not None else 0,
                registered_cpu=instance.registered_cpu if instance is not None else 0,
                registered_memory=instance.registered_memory if instance is not None else 0,
            )
        )
    return MonitoringSnapshot(tuple(clusters), services, tasks, tuple(instances))


def _insights_defaults(conn: Connection) -> dict[Partition, str]:
    """Each partition's account default for containerInsights (PutAccountSettingDefault)."""
    s = ecs_account_settings.c
    rows = conn.execute(
        select(s.account_id, s.region, s.value).where(s.principal_arn == "", s.name == INSIGHTS)
    ).all()
    return {(account_id, region): value for account_id, region, value in rows}


def _insights(document: dict[str, Any], account_default: str | None) -> str:
    """The cluster's own setting (a new cluster gets the effective one when it is created), else the
    account default, else AWS's."""
    for setting in document.get("settings") or []:
        if setting.get("name") == INSIGHTS and setting.get("value"):
            return str(setting["value"])
    return account_default or ACCOUNT_SETTING_DEFAULTS[INSIGHTS]


def _services(conn: Connection) -> list[ServiceInfo]:
    s = ecs_services.c
    rows = conn.execute(
        select(s.account_id, s.region, s.cluster, s.name, s.service_arn, s.status, s.document).where(
            s.status != "INACTIVE"
        )
    ).all()
    found = []
    for account_id, region, cluster, name, arn, status, raw in rows:
        document = orjson.loads(raw)
        found.append(
            ServiceInfo(
                partition=(account_id, region),
                cluster=cluster,
                service_name=name,
                service_arn=arn,
                status=status,
                desired_count=_int(document.get("desiredCount")) or 0,
                running_count=_int(document.get("runningCount")) or 0,
                pending_count=_int(document.get("pendingCount")) or 0,
                deployment_count=len(document.get("deployments") or []),
                task_set_count=len(document.get("taskSets") or []),
            )
        )
    return found


def _task(record: TaskRecord) -> TaskInfo:
    document, definition = record.document, record.runtime.get("taskDefinition") or {}
    runtime_ids: dict[str, str] = record.runtime.get("containers") or {}
    containers = tuple(
        ContainerInfo(
            name=str(c.get("name", "")),
            image=str(c.get("image", "")),
            runtime_id=runtime_ids.get(str(c.get("name", ""))) or c.get("runtimeId"),
            known_status=str(c.get("lastStatus", "PENDING")),
            cpu=_int(c.get("cpu")),
            memory=_int(c.get("memory")),
            memory_reservation=_int(c.get("memoryReservation")),
        )
        for c in document.get("containers") or []
    )
    launch_type = record.launch_type
    network_mode = definition.get("networkMode") or ("awsvpc" if launch_type == "FARGATE" else "bridge")
    ephemeral = (document.get("ephemeralStorage") or {}).get("sizeInGiB")
    return TaskInfo(
        partition=record.partition,
        cluster=record.cluster,
        task_arn=record.task_arn,
        task_id=record.task_id,
        service_name=record.service_name,
        family=record.family,
        revision=_revision(document, definition),
        launch_type=launch_type,
        cpu=_int(document.get("cpu")),
        memory=_int(document.get("memory")),
        network_mode=str(network_mode),
        known_status=record.last_status,
        desired_status=record.desired_status,
        created_at=_float(document.get("createdAt")),
        pull_started_at=_float(document.get("pullStartedAt")),
        pull_stopped_at=_float(document.get("pullStoppedAt")),
        started_at=_float(document.get("startedAt")),
        availability_zone=document.get("availabilityZone"),
        containers=containers,
        pause_runtime_id=record.runtime.get("pause"),
        container_instance_arn=document.get("containerInstanceArn"),
        ephemeral_storage_gib=_int(ephemeral) if launch_type == "FARGATE" else None,
    )


def _instance(
    partition: Partition, cluster: str, machine: Machine, server_id: str, tasks: list[TaskRecord]
) -> ContainerInstanceInfo:
    """The local machine as this cluster's container instance: what its EC2 tasks that are meant to
    run reserve comes off its registered resources, as DescribeContainerInstances reports them."""
    on_it = [t for t in tasks if t.launch_type in ON_INSTANCES and t.desired_status == "RUNNING"]
    reservations = [
        task_reservation(t.runtime.get("taskDefinition") or {}, t.document.get("overrides")) for t in on_it
    ]
    cpu_left, memory_left = remaining(machine, reservations)
    account_id, region = partition
    return ContainerInstanceInfo(
        partition=partition,
        cluster=cluster,
        arn=instance_arn(region, account_id, cluster, server_id),
        instance_id=instance_id(server_id, cluster),
        ec2_instance_id=ec2_instance_id(server_id),
        status="ACTIVE",
        registered_cpu=registered_cpu(machine),
        registered_memory=registered_memory_mib(machine),
        remaining_cpu=cpu_left,
        remaining_memory=memory_left,
        running_tasks=sum(1 for t in on_it if t.last_status == "RUNNING"),
        pending_tasks=sum(1 for t in on_it if t.last_status != "RUNNING"),
    )


def _revision(document: dict[str, Any], definition: dict[str, Any]) -> int:
    revision = _int(definition.get("revision"))
    if revision is None:
        revision = _int(str(document.get("taskDefinitionArn", "")).rpartition(":")[2])
    return revision or 0


def _int(value: Any) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
