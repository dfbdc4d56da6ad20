"""The free ``AWS/ECS`` metrics from one sample of the tasks' use (SEMANTICS §5.1). Pure.

* ``CPUUtilization`` / ``MemoryUtilization`` per service (ClusterName + ServiceName): the CPU units
  (MiB) used by the service's running tasks * 100 / what they reserve (task size, else the sum of
  their containers' ``cpu``; memory: ``memoryReservation`` where set, else ``memory``). Average is
  that formula; Minimum and Maximum are the least and most busy task's own figure (AWS's meaning of
  the two statistics for these metrics).
* The same per cluster (ClusterName): over the units (MiB) registered by the ACTIVE and DRAINING
  container instances when the cluster's tasks run on instances (EC2); over the tasks' own
  reservations when they all run on Fargate (no instances to divide by).
* ``CPUReservation`` / ``MemoryReservation`` per cluster (EC2 only): what the tasks on the
  instances reserve * 100 / what the instances registered.

Utilization exceeds 100 % when no task-level limit caps a container: a task reserving 512 units
that keeps one core busy uses 1024 units, 200 %.

>>> utilization_percent(1024.0, 512)
200.0
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ecsbox.core.monitoring import ClusterInfo, MonitoringSnapshot, Partition, TaskInfo
from ecsbox.metrics.model import Datum, MetricId
from ecsbox.metrics.usage import TaskUsage

NAMESPACE = "AWS/ECS"
PERCENT = "Percent"
ON_INSTANCES = ("EC2", "EXTERNAL")
EC2, FARGATE = "EC2", "FARGATE"


def utilization_percent(used: float, reserved: float) -> float | None:
    """``used`` * 100 / ``reserved``; None when nothing is reserved (nothing to divide by).

    >>> utilization_percent(256.0, 512), utilization_percent(40.0, 0)
    (50.0, None)
    """
    if reserved <= 0:
        return None
    return used * 100.0 / reserved


@dataclass(frozen=True)
class Utilization:
    """A group of tasks' utilization: ``average`` is Σ used * 100 / Σ reserved; ``per_task`` each
    task's own used * 100 / reserved."""

    average: float
    per_task: tuple[float, ...]

    @property
    def minimum(self) -> float:
        return min(self.per_task)

    @property
    def maximum(self) -> float:
        return max(self.per_task)


def group_utilization(pairs: Sequence[tuple[float, float]]) -> Utilization | None:
    """The utilization of tasks given as (used, reserved) pairs; tasks reserving nothing are left
    out; None when no task is left.

    >>> u = group_utilization([(1024.0, 512), (0.0, 512)])
    >>> (u.average, u.minimum, u.maximum)
    (100.0, 0.0, 200.0)
    >>> group_utilization([(10.0, 0)]) is None
    True
    """
    kept = [(used, reserved) for used, reserved in pairs if reserved > 0]
    if not kept:
        return None
    average = sum(u for u, _ in kept) * 100.0 / sum(r for _, r in kept)
    return Utilization(average, tuple(u * 100.0 / r for u, r in kept))


def utilization_datum(
    metric: MetricId, timestamp: float, value: Utilization, storage_resolution: int
) -> Datum:
    """One sample of a group's utilization as a datum: one count per task, the Sum that makes the
    Average the group's formula, the least and most busy task as Minimum and Maximum. The per-task
    values go along (for percentiles) when they average to the formula (tasks reserving alike).

    >>> d = utilization_datum(MetricId.of(NAMESPACE, "CPUUtilization"), 0.0, Utilization(150.0, (100.0, 200.0)), 60)
    >>> (d.sample_count, d.sum, d.minimum, d.maximum, d.value_counts)
    (2.0, 300.0, 100.0, 200.0, ((100.0, 1.0), (200.0, 1.0)))
    """
    count = len(value.per_task)
    mean = sum(value.per_task) / count
    alike = math.isclose(mean, value.average, rel_tol=1e-9, abs_tol=1e-9)
    return Datum(
        metric,
        timestamp,
        float(count),
        value.average * count,
        value.minimum,
        value.maximum,
        PERCENT,
        storage_resolution,
        tuple((v, 1.0) for v in value.per_task) if alike else None,
    )


def cluster_basis(registered_cpu: int, tasks: Sequence[TaskInfo]) -> str | None:
    """What a cluster's utilization divides by: "EC2" (its instances' registered resources) when it
    has instances and tasks run on them or no task runs on Fargate; "FARGATE" (the tasks' own
    reservations) when its tasks all run on Fargate; None when there is neither.

    >>> fargate = TaskInfo(("a", "r"), "c", "t", "t", None, "f", 1, "FARGATE", 256, 512, "awsvpc", "RUNNING")
    >>> cluster_basis(2048, []), cluster_basis(2048, [fargate]), cluster_basis(0, [fargate]), cluster_basis(0, [])
    ('EC2', 'FARGATE', 'FARGATE', None)
    """
    on_instances = any(t.launch_type in ON_INSTANCES for t in tasks)
    on_fargate = any(t.launch_type == FARGATE for t in tasks)
    if registered_cpu > 0 and (on_instances or not on_fargate):
        return EC2
    if on_fargate:
        return FARGATE
    return None


@dataclass
class EcsFigures:
    """The datums of one sample, by partition, and the figures they were made of."""

    data: dict[Partition, list[Datum]] = field(default_factory=lambda: defaultdict(list))
    services: dict[tuple[Partition, str, str], tuple[Utilization | None, Utilization | None]] = field(
        default_factory=dict
    )  # (partition, cluster, service) → (CPU, memory)
    clusters: dict[tuple[Partition, str], tuple[float | None, float | None]] = field(
        default_factory=dict
    )  # (partition, cluster) → (CPU %, memory %)


def ecs_metrics(
    snapshot: MonitoringSnapshot,
    measured: Mapping[str, TaskUsage],
    timestamp: float,
    storage_resolution: int = 60,
) -> EcsFigures:
    """Every ``AWS/ECS`` datum of one sample. ``measured`` holds the running tasks whose use was
    measured this time, by task ARN."""
    figures = EcsFigures()
    by_service: dict[tuple[Partition, str, str], list[TaskUsage]] = defaultdict(list)
    for used in measured.values():
        if used.task.service_name:
            by_service[(used.task.partition, used.task.cluster, used.task.service_name)].append(used)
    for (partition, cluster_name, service), tasks in sorted(by_service.items()):
        cpu = group_utilization([(t.usage.cpu_units, t.task.cpu_reserved) for t in tasks])
        memory = group_utilization([(t.usage.memory_mib, t.task.memory_reserved) for t in tasks])
        figures.services[(partition, cluster_name, service)] = (cpu, memory)
        dimensions = {"ClusterName": cluster_name, "ServiceName": service}
        for name, value in (("CPUUtilization", cpu), ("MemoryUtilization", memory)):
            if value is not None:
                metric = MetricId.of(NAMESPACE, name, dimensions)
                figures.data[partition].append(
                    utilization_datum(metric, timestamp, value, storage_resolution)
                )
    tasks_of: dict[tuple[Partition, str], list[TaskInfo]] = defaultdict(list)
    for task in snapshot.tasks:
        tasks_of[(task.partition, task.cluster)].append(task)
    for cluster in snapshot.clusters:
        _cluster(
            figures,
            cluster,
            tasks_of.get((cluster.partition, cluster.name), []),
            snapshot,
            measured,
            timestamp,
            storage_resolution,
        )
    return figures


def _cluster(
    figures: EcsFigures,
    cluster: ClusterInfo,
    tasks: list[TaskInfo],
    snapshot: MonitoringSnapshot,
    measured: Mapping[str, TaskUsage],
    timestamp: float,
    storage_resolution: int,
) -> None:
    basis = cluster_basis(cluster.registered_cpu, tasks)
    if basis is None:
        return
    counted = [
        t for t in tasks if t.known_status == "RUNNING" and (t.launch_type in ON_INSTANCES) == (basis == EC2)
    ]
    values: dict[str, float | None] = {}
    if all(t.task_arn in measured for t in counted):  # a task not measured yet would read as idle
        used = [measured[t.task_arn] for t in counted]
        cpu_used = sum(u.usage.cpu_units for u in used)
        memory_used = sum(u.usage.memory_mib for u in used)
        if basis == EC2:
            values["CPUUtilization"] = utilization_percent(cpu_used, cluster.registered_cpu)
            values["MemoryUtilization"] = utilization_percent(memory_used, cluster.registered_memory)
        else:
            values["CPUUtilization"] = utilization_percent(cpu_used, sum(t.cpu_reserved for t in counted))
            values["MemoryUtilization"] = utilization_percent(
                memory_used, sum(t.memory_reserved for t in counted)
            )
        figures.clusters[(cluster.partition, cluster.name)] = (
            values["CPUUtilization"],
            values["MemoryUtilization"],
        )
    if basis == EC2:
        instances = [
            i
            for i in snapshot.instances
            if i.partition == cluster.partition and i.cluster == cluster.name and i.counts
        ]
        values["CPUReservation"] = utilization_percent(
            sum(i.registered_cpu - i.remaining_cpu for i in instances),
            sum(i.registered_cpu for i in instances),
        )
        values["MemoryReservation"] = utilization_percent(
            sum(i.registered_memory - i.remaining_memory for i in instances),
            sum(i.registered_memory for i in instances),
        )
    for name, value in values.items():
        if value is not None:
            metric = MetricId.of(NAMESPACE, name, {"ClusterName": cluster.name})
            figures.data[cluster.partition].append(
                Datum.single(metric, timestamp, value, unit=PERCENT, storage_resolution=storage_resolution)
            )
