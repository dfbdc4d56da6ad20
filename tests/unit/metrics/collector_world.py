"""Small builders of the monitoring snapshot's pieces, for the collector's tests."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ecsbox.core.monitoring import (
    ClusterInfo,
    ContainerInfo,
    ContainerInstanceInfo,
    MonitoringSnapshot,
    ServiceInfo,
    TaskInfo,
)
from ecsbox.metrics.model import Datum, Partition
from ecsbox.metrics.usage import NetworkCounters, NetworkUsage, TaskUsage, Usage

PARTITION = ("123456789012", "ap-northeast-1")
ARN = "arn:aws:ecs:ap-northeast-1:123456789012"


def container(name: str = "app", runtime_id: str | None = None, **extra: Any) -> ContainerInfo:
    fields: dict[str, Any] = {"image": "busybox", "known_status": "RUNNING"} | extra
    return ContainerInfo(name, fields.pop("image"), runtime_id, fields.pop("known_status"), **fields)


def task(
    task_id: str,
    *,
    cluster: str = "c",
    service: str | None = None,
    family: str = "web",
    launch_type: str = "FARGATE",
    cpu: int | None = 256,
    memory: int | None = 512,
    network_mode: str | None = None,
    containers: Sequence[ContainerInfo] | None = None,
    status: str = "RUNNING",
    **extra: Any,
) -> TaskInfo:
    mode = network_mode or ("awsvpc" if launch_type == "FARGATE" else "bridge")
    return TaskInfo(
        PARTITION,
        cluster,
        f"{ARN}:task/{cluster}/{task_id}",
        task_id,
        service,
        family,
        extra.pop("revision", 1),
        launch_type,
        cpu,
        memory,
        mode,
        status,
        containers=tuple(containers if containers is not None else [container(runtime_id=f"{task_id}-app")]),
        **extra,
    )


def cluster(name: str = "c", insights: str = "enabled", **extra: Any) -> ClusterInfo:
    fields: dict[str, Any] = {
        "service_count": 0,
        "running_task_count": 0,
        "pending_task_count": 0,
        "container_instance_count": 0,
        "registered_cpu": 0,
        "registered_memory": 0,
    } | extra
    return ClusterInfo(PARTITION, name, f"{ARN}:cluster/{name}", insights, **fields)


def instance(cluster_name: str = "c", **extra: Any) -> ContainerInstanceInfo:
    fields: dict[str, Any] = {
        "status": "ACTIVE",
        "registered_cpu": 2048,
        "registered_memory": 4096,
        "remaining_cpu": 2048,
        "remaining_memory": 4096,
        "running_tasks": 0,
        "pending_tasks": 0,
    } | extra
    return ContainerInstanceInfo(
        PARTITION,
        cluster_name,
        f"{ARN}:container-instance/{cluster_name}/0d7650e6dec34c1a9200f72098071e8f",
        "0d7650e6dec34c1a9200f72098071e8f",
        "i-0c470579dbcdbd2f3",
        **fields,
    )


def service(name: str, cluster_name: str = "c", **extra: Any) -> ServiceInfo:
    fields: dict[str, Any] = {
        "status": "ACTIVE",
        "desired_count": 2,
        "running_count": 2,
        "pending_count": 0,
        "deployment_count": 1,
        "task_set_count": 0,
    } | extra
    return ServiceInfo(PARTITION, cluster_name, name, f"{ARN}:service/{cluster_name}/{name}", **fields)


def snapshot(
    clusters: Sequence[ClusterInfo] = (),
    services: Sequence[ServiceInfo] = (),
    tasks: Sequence[TaskInfo] = (),
    instances: Sequence[ContainerInstanceInfo] = (),
) -> MonitoringSnapshot:
    return MonitoringSnapshot(tuple(clusters), tuple(services), tuple(tasks), tuple(instances))


def used(
    of: TaskInfo,
    cpu_units: float,
    memory_mib: float,
    *,
    rx_bps: float | None = None,
    tx_bps: float = 0.0,
    read_bps: float = 0.0,
    write_bps: float = 0.0,
    totals: NetworkCounters | None = None,
) -> TaskUsage:
    network = NetworkUsage(rx_bps, tx_bps, totals or NetworkCounters()) if rx_bps is not None else None
    usage = Usage(60.0, cpu_units, memory_mib, read_bps, write_bps, network)
    return TaskUsage(of, usage, {c.name: usage for c in of.containers})


class FakeWriter:
    """A :class:`ecsbox.metrics.model.MetricWriter` that keeps what it was given."""

    def __init__(self) -> None:
        self.data: dict[Partition, list[Datum]] = defaultdict(list)

    async def put(self, partition: Partition, data: Sequence[Datum]) -> None:
        self.data[partition].extend(data)

    def of(self, namespace: str, name: str, **dimensions: str) -> list[Datum]:
        wanted = tuple(sorted(dimensions.items()))
        return [
            d
            for data in self.data.values()
            for d in data
            if d.metric.namespace == namespace and d.metric.name == name and d.metric.dimensions == wanted
        ]

    def namespaces(self) -> set[str]:
        return {d.metric.namespace for data in self.data.values() for d in data}


class FakeLogs:
    """The collector's ``write_logs``: keeps every batch by (partition, group, stream)."""

    def __init__(self) -> None:
        self.events: dict[tuple[Partition, str, str], list[tuple[int, str]]] = defaultdict(list)

    async def __call__(
        self, partition: Partition, group: str, stream: str, batch: list[tuple[int, str]]
    ) -> None:
        self.events[(partition, group, stream)].extend(batch)
