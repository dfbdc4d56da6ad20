"""The collector's latest figures per cluster, service and task, for ``ecsbox top`` and the
console. Pure.

:meth:`Latest.document` is the document ``ecsbox top`` draws (see :mod:`ecsbox.cli.top`).
Figures are None until a task was measured (two samples of its containers).

>>> Latest(None, 60, ()).document()
{'clock': None, 'resolution': 60, 'clusters': []}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsbox.core.monitoring import MonitoringSnapshot, Partition
from ecsbox.metrics.ecs_metrics import Utilization
from ecsbox.metrics.usage import TaskUsage


@dataclass(frozen=True)
class TaskFigures:
    task_arn: str
    task_id: str
    group: str
    family: str
    revision: int
    status: str
    cpu_used: float | None  # CPU units
    cpu_reserved: int | None  # None: the task reserves no CPU
    memory_used: float | None  # MiB
    memory_reserved: int | None

    def document(self) -> dict[str, Any]:
        return {
            "task": self.task_id,
            "group": self.group,
            "family": self.family,
            "revision": self.revision,
            "status": self.status,
            "cpu_used": self.cpu_used,
            "cpu_reserved": self.cpu_reserved,
            "memory_used": self.memory_used,
            "memory_reserved": self.memory_reserved,
        }


@dataclass(frozen=True)
class ServiceFigures:
    service: str
    desired: int
    running: int
    pending: int
    cpu_utilization: float | None  # percent, AWS/ECS's formula
    memory_utilization: float | None

    def document(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "desired": self.desired,
            "running": self.running,
            "pending": self.pending,
            "cpu_utilization": self.cpu_utilization,
            "memory_utilization": self.memory_utilization,
        }


@dataclass(frozen=True)
class ClusterFigures:
    partition: Partition
    cluster: str
    cpu_utilization: float | None
    memory_utilization: float | None
    services: tuple[ServiceFigures, ...]
    tasks: tuple[TaskFigures, ...]

    def document(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "account": self.partition[0],
            "region": self.partition[1],
            "cpu_utilization": self.cpu_utilization,
            "memory_utilization": self.memory_utilization,
            "services": [s.document() for s in self.services],
            "tasks": [t.document() for t in self.tasks],
        }


@dataclass(frozen=True)
class Latest:
    clock: float | None  # the ecsbox time of the sample
    resolution: int
    clusters: tuple[ClusterFigures, ...]

    def document(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "resolution": self.resolution,
            "clusters": [c.document() for c in self.clusters],
        }

    def task(self, task_arn: str) -> TaskFigures | None:
        for cluster in self.clusters:
            for task in cluster.tasks:
                if task.task_arn == task_arn:
                    return task
        return None


def latest_figures(
    snapshot: MonitoringSnapshot,
    tasks: Mapping[str, TaskUsage],
    services: Mapping[tuple[Partition, str, str], tuple[Utilization | None, Utilization | None]],
    clusters: Mapping[tuple[Partition, str], tuple[float | None, float | None]],
    clock: float | None,
    resolution: int,
) -> Latest:
    """Every cluster that has tasks or services, with them. ``tasks``: each task's latest measured
    use; ``services`` and ``clusters``: the latest AWS/ECS utilization figures."""
    found = []
    for cluster in snapshot.clusters:
        key = (cluster.partition, cluster.name)
        service_rows = [s for s in snapshot.services if (s.partition, s.cluster) == key]
        task_rows = [t for t in snapshot.tasks if (t.partition, t.cluster) == key]
        if not service_rows and not task_rows:
            continue
        service_figures = []
        for service in sorted(service_rows, key=lambda s: s.service_name):
            cpu, memory = services.get((cluster.partition, cluster.name, service.service_name), (None, None))
            service_figures.append(
                ServiceFigures(
                    service.service_name,
                    service.desired_count,
                    service.running_count,
                    service.pending_count,
                    cpu.average if cpu is not None else None,
                    memory.average if memory is not None else None,
                )
            )
        task_figures = []
        for task in sorted(task_rows, key=lambda t: (t.group, t.task_id)):
            used = tasks.get(task.task_arn)
            task_figures.append(
                TaskFigures(
                    task.task_arn,
                    task.task_id,
                    task.group,
                    task.family,
                    task.revision,
                    task.known_status,
                    used.usage.cpu_units if used is not None else None,
                    task.cpu_reserved or None,
                    used.usage.memory_mib if used is not None else None,
                    task.memory_reserved or None,
                )
            )
        cpu_percent, memory_percent = clusters.get(key, (None, None))
        found.append(
            ClusterFigures(
                cluster.partition,
                cluster.name,
                cpu_percent,
                memory_percent,
                tuple(service_figures),
                tuple(task_figures),
            )
        )
    return Latest(clock, resolution, tuple(found))
