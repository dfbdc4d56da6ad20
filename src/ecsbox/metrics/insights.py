"""Container Insights metrics (``ECS/ContainerInsights``) of one period, for the clusters that have
it enabled (SEMANTICS §5.2; CloudWatch's Container-Insights-metrics-ECS). Pure.

Each measured task contributes one sample per resource metric and dimension set, as its performance
event's embedded metrics would on AWS, so Sum is the total and Average the per-task mean:

* ``CpuUtilized`` / ``CpuReserved`` (unit None: CPU units) for tasks reserving CPU (task size, or
  their containers' ``cpu``), ``MemoryUtilized`` / ``MemoryReserved`` (Megabytes) likewise for
  memory; ``StorageReadBytes`` / ``StorageWriteBytes`` and, for ``awsvpc`` and ``bridge`` tasks,
  ``NetworkRxBytes`` / ``NetworkTxBytes`` (Bytes/Second); ``EphemeralStorageReserved`` (Gigabytes)
  for Fargate tasks — each by {ClusterName}, {ClusterName, TaskDefinitionFamily} and, for a
  service's tasks, {ClusterName, ServiceName};
* per service, by {ServiceName, ClusterName}: ``DesiredTaskCount``, ``RunningTaskCount``,
  ``PendingTaskCount``, ``DeploymentCount``, ``TaskSetCount`` (Count);
* per cluster, by {ClusterName}: ``TaskCount`` (running tasks), ``ServiceCount``,
  ``ContainerInstanceCount`` (instances running tasks);
* the container instance's ``instance_*`` metrics (:mod:`ecsbox.metrics.instance_metrics`) where
  the cluster's tasks run on it.

With ``enhanced`` observability, also by task ({…, TaskId}), ``TaskCpuUtilization`` /
``TaskMemoryUtilization`` (Percent), and every container's ``Container*`` metrics.

>>> gigabytes(20)
21.47
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ecsbox.core.monitoring import ClusterInfo, ContainerInfo, MonitoringSnapshot, Partition, TaskInfo
from ecsbox.metrics.instance_metrics import (
    INSTANCE_DIMENSIONS,
    PER_INSTANCE,
    UNITS,
    HostUsage,
    instance_values,
    percent_of,
)
from ecsbox.metrics.model import Datum, MetricId
from ecsbox.metrics.usage import TaskUsage, Usage

NAMESPACE = "ECS/ContainerInsights"
NONE, MEGABYTES, BYTES_PER_SECOND, GIGABYTES, COUNT, PERCENT = (
    "None",
    "Megabytes",
    "Bytes/Second",
    "Gigabytes",
    "Count",
    "Percent",
)

# The task resource metrics, in the order AWS's Task events list them, with their units.
TASK_METRICS = {
    "CpuUtilized": NONE,
    "CpuReserved": NONE,
    "MemoryUtilized": MEGABYTES,
    "MemoryReserved": MEGABYTES,
    "StorageReadBytes": BYTES_PER_SECOND,
    "StorageWriteBytes": BYTES_PER_SECOND,
    "NetworkRxBytes": BYTES_PER_SECOND,
    "NetworkTxBytes": BYTES_PER_SECOND,
    "EphemeralStorageReserved": GIGABYTES,
}
ENHANCED_TASK_METRICS = {"TaskCpuUtilization": PERCENT, "TaskMemoryUtilization": PERCENT}
SERVICE_METRICS = (
    "DesiredTaskCount",
    "RunningTaskCount",
    "PendingTaskCount",
    "DeploymentCount",
    "TaskSetCount",
)
CLUSTER_METRICS = ("TaskCount", "ContainerInstanceCount", "ServiceCount")
CONTAINER_METRICS = {
    "ContainerCpuUtilized": NONE,
    "ContainerCpuReserved": NONE,
    "ContainerCpuUtilization": PERCENT,
    "ContainerMemoryUtilized": MEGABYTES,
    "ContainerMemoryReserved": MEGABYTES,
    "ContainerMemoryUtilization": PERCENT,
    "ContainerNetworkRxBytes": BYTES_PER_SECOND,
    "ContainerNetworkTxBytes": BYTES_PER_SECOND,
    "ContainerStorageReadBytes": BYTES_PER_SECOND,
    "ContainerStorageWriteBytes": BYTES_PER_SECOND,
}
# Which dimension sets a container metric has (Container-Insights-enhanced-observability-metrics-ECS).
_CONTAINER_RESOURCE_SETS: tuple[tuple[str, ...], ...] = (
    ("ClusterName",),
    ("ClusterName", "ContainerName", "ServiceName", "TaskId"),
    ("ClusterName", "ContainerName", "TaskDefinitionFamily", "TaskId"),
    ("ClusterName", "ContainerName", "TaskDefinitionFamily"),
    ("ClusterName", "ContainerName", "ServiceName"),
)
_CONTAINER_NETWORK_SETS: tuple[tuple[str, ...], ...] = (
    ("ClusterName",),
    ("ClusterName", "TaskDefinitionFamily"),
    ("ClusterName", "ServiceName"),
    ("ClusterName", "ServiceName", "TaskId"),
    ("ClusterName", "TaskDefinitionFamily", "TaskId"),
)
_CONTAINER_STORAGE_SETS: tuple[tuple[str, ...], ...] = (
    ("ClusterName",),
    ("ClusterName", "ContainerName", "ServiceName"),
    ("ClusterName", "ContainerName", "TaskDefinitionFamily"),
    ("ClusterName", "ContainerName", "ServiceName", "TaskId"),
    ("ClusterName", "ContainerName", "TaskDefinitionFamily", "TaskId"),
)


def gigabytes(gib: float) -> float:
    """GiB (how a task's ephemeral storage is sized) in GB, two decimals, as AWS reports it.

    >>> gigabytes(21), gigabytes(200)
    (22.55, 214.75)
    """
    return round(gib * 1.073741824, 2)


def task_values(used: TaskUsage) -> dict[str, float]:
    """The resource metrics one measured task contributes, in :data:`TASK_METRICS` order: CPU ones
    only when it reserves CPU, memory ones only when it reserves memory, network ones only when it
    has a network of its own (``awsvpc``, ``bridge``), ephemeral storage for Fargate tasks.

    >>> from ecsbox.core.monitoring import TaskInfo
    >>> task = TaskInfo(("a", "r"), "c", "arn", "t", None, "f", 1, "EC2", None, 512, "host", "RUNNING")
    >>> task_values(TaskUsage(task, Usage(60.0, 12.5, 100.0), {}))
    {'MemoryUtilized': 100.0, 'MemoryReserved': 512.0, 'StorageReadBytes': 0.0, 'StorageWriteBytes': 0.0}
    """
    task, usage = used.task, used.usage
    values: dict[str, float] = {}
    if task.cpu_reserved > 0:
        values["CpuUtilized"] = usage.cpu_units
        values["CpuReserved"] = float(task.cpu_reserved)
    if task.memory_reserved > 0:
        values["MemoryUtilized"] = usage.memory_mib
        values["MemoryReserved"] = float(task.memory_reserved)
    values["StorageReadBytes"] = usage.storage_read_bps
    values["StorageWriteBytes"] = usage.storage_write_bps
    if usage.network is not None:
        values["NetworkRxBytes"] = usage.network.rx_bps
        values["NetworkTxBytes"] = usage.network.tx_bps
    if task.ephemeral_storage_gib:
        values["EphemeralStorageReserved"] = gigabytes(task.ephemeral_storage_gib)
    return values


def container_values(container: ContainerInfo, usage: Usage) -> dict[str, float]:
    """One container's ``Container*`` values (enhanced observability); utilization only against
    what the container itself reserves.

    >>> from ecsbox.core.monitoring import ContainerInfo
    >>> v = container_values(ContainerInfo("app", "img", "id", "RUNNING", cpu=256), Usage(60.0, 128.0, 10.0))
    >>> (v["ContainerCpuUtilization"], "ContainerMemoryUtilization" in v)
    (50.0, False)
    """
    values: dict[str, float] = {
        "ContainerCpuUtilized": usage.cpu_units,
        "ContainerMemoryUtilized": usage.memory_mib,
    }
    if container.cpu:
        values["ContainerCpuReserved"] = float(container.cpu)
        values["ContainerCpuUtilization"] = percent_of(usage.cpu_units, container.cpu) or 0.0
    if container.memory_reserved:
        values["ContainerMemoryReserved"] = float(container.memory_reserved)
        values["ContainerMemoryUtilization"] = percent_of(usage.memory_mib, container.memory_reserved) or 0.0
    if usage.network is not None:
        values["ContainerNetworkRxBytes"] = usage.network.rx_bps
        values["ContainerNetworkTxBytes"] = usage.network.tx_bps
    values["ContainerStorageReadBytes"] = usage.storage_read_bps
    values["ContainerStorageWriteBytes"] = usage.storage_write_bps
    return values


def task_dimension_sets(task: TaskInfo, enhanced: bool = False) -> list[dict[str, str]]:
    """The dimension sets a task's resource metrics are counted under.

    >>> from ecsbox.core.monitoring import TaskInfo
    >>> task = TaskInfo(("a", "r"), "c", "arn", "t1", "web", "f", 1, "FARGATE", 256, 512, "awsvpc", "RUNNING")
    >>> [sorted(d) for d in task_dimension_sets(task)]
    [['ClusterName'], ['ClusterName', 'TaskDefinitionFamily'], ['ClusterName', 'ServiceName']]
    """
    known = _known(task)
    sets: list[tuple[str, ...]] = [
        ("ClusterName",),
        ("ClusterName", "TaskDefinitionFamily"),
        ("ClusterName", "ServiceName"),
    ]
    if enhanced:
        sets += [("ClusterName", "ServiceName", "TaskId"), ("ClusterName", "TaskDefinitionFamily", "TaskId")]
    return _resolve(sets, known)


def _known(task: TaskInfo, container: str | None = None) -> dict[str, str]:
    known = {"ClusterName": task.cluster, "TaskDefinitionFamily": task.family, "TaskId": task.task_id}
    if task.service_name:
        known["ServiceName"] = task.service_name
    if container is not None:
        known["ContainerName"] = container
    return known


def _resolve(sets: Iterable[tuple[str, ...]], known: Mapping[str, str]) -> list[dict[str, str]]:
    """The sets whose every dimension has a value (a task outside a service has no ServiceName)."""
    return [{name: known[name] for name in names} for names in sets if all(name in known for name in names)]


@dataclass
class _Samples:
    """Values gathered per metric of one partition, made into one datum per metric."""

    values: dict[MetricId, list[float]] = field(default_factory=lambda: defaultdict(list))
    units: dict[MetricId, str] = field(default_factory=dict)

    def add(self, name: str, unit: str, dimension_sets: Iterable[Mapping[str, str]], value: float) -> None:
        for dimensions in dimension_sets:
            metric = MetricId.of(NAMESPACE, name, dimensions)
            self.values[metric].append(value)
            self.units[metric] = unit

    def datums(self, timestamp: float, storage_resolution: int) -> list[Datum]:
        found = []
        for metric, values in self.values.items():
            counts = tuple(sorted((float(v), float(n)) for v, n in Counter(values).items()))
            total = float(sum(values))
            unit = self.units[metric]
            datum = Datum(
                metric,
                timestamp,
                float(len(values)),
                total,
                min(values),
                max(values),
                unit,
                storage_resolution,
                counts,
            )
            found.append(datum)
        return found


def insights_metrics(
    snapshot: MonitoringSnapshot,
    measured: Mapping[str, TaskUsage],
    timestamp: float,
    storage_resolution: int = 60,
    host: HostUsage | None = None,
) -> dict[Partition, list[Datum]]:
    """Every Container Insights datum of one period, by partition, for the clusters that have it
    enabled. ``measured``: the tasks' use over the period, by task ARN; ``host``: the machine's."""
    samples: dict[Partition, _Samples] = defaultdict(_Samples)
    enabled = {(c.partition, c.name): c for c in snapshot.clusters if c.insights_enabled}
    for used in measured.values():
        cluster = enabled.get((used.task.partition, used.task.cluster))
        if cluster is not None:
            _task(samples[cluster.partition], used, cluster.container_insights == "enhanced")
    for service in snapshot.services:
        if (service.partition, service.cluster) in enabled:
            dimensions = [{"ServiceName": service.service_name, "ClusterName": service.cluster}]
            counts = (
                service.desired_count,
                service.running_count,
                service.pending_count,
                service.deployment_count,
                service.task_set_count,
            )
            for name, count in zip(SERVICE_METRICS, counts, strict=True):
                samples[service.partition].add(name, COUNT, dimensions, float(count))
    for cluster in enabled.values():
        _cluster(samples[cluster.partition], cluster, snapshot, host)
    return {p: s.datums(timestamp, storage_resolution) for p, s in samples.items()}


def _task(samples: _Samples, used: TaskUsage, enhanced: bool) -> None:
    task = used.task
    dimension_sets = task_dimension_sets(task, enhanced)
    for name, value in task_values(used).items():
        samples.add(name, TASK_METRICS[name], dimension_sets, value)
    if not enhanced:
        return
    utilization = {
        "TaskCpuUtilization": percent_of(used.usage.cpu_units, task.cpu_reserved),
        "TaskMemoryUtilization": percent_of(used.usage.memory_mib, task.memory_reserved),
    }
    for name, percent in utilization.items():
        if percent is not None:
            samples.add(name, ENHANCED_TASK_METRICS[name], dimension_sets, percent)
    containers = {c.name: c for c in task.containers}
    for container_name, usage in used.containers.items():
        container = containers.get(container_name)
        if container is None:
            continue
        known = _known(task, container_name)
        for name, value in container_values(container, usage).items():
            sets: tuple[tuple[str, ...], ...]
            if "Network" in name:
                sets = _CONTAINER_NETWORK_SETS
            elif "Storage" in name:
                sets = _CONTAINER_STORAGE_SETS
            else:
                sets = _CONTAINER_RESOURCE_SETS
            samples.add(name, CONTAINER_METRICS[name], _resolve(sets, known), value)


def _cluster(
    samples: _Samples, cluster: ClusterInfo, snapshot: MonitoringSnapshot, host: HostUsage | None
) -> None:
    instances = [
        i
        for i in snapshot.instances
        if i.partition == cluster.partition and i.cluster == cluster.name and i.counts and i.running_tasks > 0
    ]
    by_cluster: list[dict[str, str]] = [{"ClusterName": cluster.name}]
    counts = (cluster.running_task_count, len(instances), cluster.service_count)
    for name, count in zip(CLUSTER_METRICS, counts, strict=True):
        samples.add(name, COUNT, by_cluster, float(count))
    for instance in instances:
        values = (instance.instance_id, instance.ec2_instance_id, cluster.name)
        per_instance: dict[str, str] = dict(zip(INSTANCE_DIMENSIONS, values, strict=True))
        for name, value in instance_values(instance, host).items():
            where = [per_instance, *by_cluster] if name in PER_INSTANCE else by_cluster
            samples.add(name, UNITS[name], where, value)
