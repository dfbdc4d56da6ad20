"""The container instance's own Container Insights metrics (``instance_*``, as the CloudWatch agent
reports them on ECS): how busy the machine is, from two samples of its counters, and what its tasks
reserve. Pure; :mod:`ecsbox.metrics.host_probe` reads the counters.

Dimension sets (the agent's ECS configuration): ``ContainerInstanceId, InstanceId, ClusterName``
for the seven per-instance metrics, and ``ClusterName`` for all eleven.

>>> before = HostCounters(0.0, cpus=2, cpu_busy_ticks=100, cpu_total_ticks=1000,
...                       memory_total_bytes=8 * GIB, memory_available_bytes=6 * GIB,
...                       filesystem_bytes=100 * GIB, filesystem_free_bytes=75 * GIB, network_bytes=0)
>>> after = HostCounters(10.0, cpus=2, cpu_busy_ticks=600, cpu_total_ticks=2000,
...                      memory_total_bytes=8 * GIB, memory_available_bytes=6 * GIB,
...                      filesystem_bytes=100 * GIB, filesystem_free_bytes=75 * GIB, network_bytes=50_000)
>>> host = host_usage_between(before, after)
>>> (host.cpu_utilization, host.cpu_units, host.memory_utilization, host.filesystem_utilization, host.network_bps)
(50.0, 1024.0, 25.0, 25.0, 5000.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from ecsbox.core.monitoring import ContainerInstanceInfo
from ecsbox.metrics.usage import CPU_UNITS_PER_CORE, MIB, counter_rate

GIB = 1024 * MIB

PERCENT, NONE, BYTES, BYTES_PER_SECOND, COUNT = "Percent", "None", "Bytes", "Bytes/Second", "Count"
INSTANCE_DIMENSIONS = ("ContainerInstanceId", "InstanceId", "ClusterName")
CLUSTER_DIMENSIONS = ("ClusterName",)
# name → unit; the first seven also per instance (INSTANCE_DIMENSIONS), all of them per cluster.
PER_INSTANCE = {
    "instance_cpu_reserved_capacity": PERCENT,
    "instance_cpu_utilization": PERCENT,
    "instance_filesystem_utilization": PERCENT,
    "instance_memory_reserved_capacity": PERCENT,
    "instance_memory_utilization": PERCENT,
    "instance_network_total_bytes": BYTES_PER_SECOND,
    "instance_number_of_running_tasks": COUNT,
}
CLUSTER_ONLY = {
    "instance_cpu_limit": NONE,
    "instance_cpu_usage_total": NONE,
    "instance_memory_limit": BYTES,
    "instance_memory_working_set": BYTES,
}
UNITS = {**PER_INSTANCE, **CLUSTER_ONLY}


@dataclass(frozen=True)
class HostCounters:
    """One sample of the machine: CPU time in clock ticks (all CPUs), memory, the file system that
    holds the containers, and the bytes its network interfaces moved (loopback excluded)."""

    read_at: float  # wall-clock seconds
    cpus: int
    cpu_busy_ticks: int  # cumulative, every tick not idle nor waiting for I/O
    cpu_total_ticks: int  # cumulative
    memory_total_bytes: int
    memory_available_bytes: int
    filesystem_bytes: int
    filesystem_free_bytes: int
    network_bytes: int  # cumulative, received + sent


@dataclass(frozen=True)
class HostUsage:
    cpus: int
    cpu_utilization: float  # percent of all the machine's CPUs
    memory_total_bytes: int
    memory_working_set_bytes: int
    filesystem_utilization: float
    network_bps: float

    @property
    def cpu_units(self) -> float:
        """CPU units in use: ``cpu_utilization`` of ``cpus`` * 1024."""
        return self.cpu_utilization / 100.0 * self.cpus * CPU_UNITS_PER_CORE

    @property
    def memory_utilization(self) -> float:
        return percent_of(self.memory_working_set_bytes, self.memory_total_bytes) or 0.0


def percent_of(part: float, whole: float) -> float | None:
    """``part`` * 100 / ``whole``; None when ``whole`` is 0.

    >>> percent_of(1, 4), percent_of(3, 0)
    (25.0, None)
    """
    return part * 100.0 / whole if whole > 0 else None


def busy_percent(busy_ticks: int, total_ticks: int) -> float:
    """Busy share of the CPU ticks that passed, in percent (0 when none passed).

    >>> busy_percent(500, 1000), busy_percent(5, 0), busy_percent(-5, 10)
    (50.0, 0.0, 0.0)
    """
    if total_ticks <= 0 or busy_ticks <= 0:
        return 0.0
    return min(100.0, busy_ticks * 100.0 / total_ticks)


def host_usage_between(before: HostCounters, after: HostCounters) -> HostUsage | None:
    """The machine's use between two samples; None when no wall time passed."""
    seconds = after.read_at - before.read_at
    if seconds <= 0:
        return None
    used_filesystem = after.filesystem_bytes - after.filesystem_free_bytes
    return HostUsage(
        cpus=after.cpus,
        cpu_utilization=busy_percent(
            after.cpu_busy_ticks - before.cpu_busy_ticks, after.cpu_total_ticks - before.cpu_total_ticks
        ),
        memory_total_bytes=after.memory_total_bytes,
        memory_working_set_bytes=max(0, after.memory_total_bytes - after.memory_available_bytes),
        filesystem_utilization=percent_of(used_filesystem, after.filesystem_bytes) or 0.0,
        network_bps=counter_rate(before.network_bytes, after.network_bytes, seconds),
    )


def instance_values(instance: ContainerInstanceInfo, host: HostUsage | None) -> dict[str, float]:
    """Every ``instance_*`` value of one container instance: what its tasks reserve and run (from
    ECS), and, when the machine was measured, how busy it is.

    >>> from ecsbox.core.monitoring import ContainerInstanceInfo
    >>> i = ContainerInstanceInfo(("a", "r"), "c", "arn", "id", "i-1", "ACTIVE", 2048, 4096, 1536, 3072, 2, 0)
    >>> v = instance_values(i, None)
    >>> (v["instance_cpu_reserved_capacity"], v["instance_memory_reserved_capacity"], v["instance_cpu_limit"])
    (25.0, 25.0, 2048.0)
    """
    values = {
        "instance_cpu_reserved_capacity": percent_of(
            instance.registered_cpu - instance.remaining_cpu, instance.registered_cpu
        )
        or 0.0,
        "instance_memory_reserved_capacity": percent_of(
            instance.registered_memory - instance.remaining_memory, instance.registered_memory
        )
        or 0.0,
        "instance_number_of_running_tasks": float(instance.running_tasks),
        "instance_cpu_limit": float(instance.registered_cpu),
        "instance_memory_limit": float(instance.registered_memory * MIB),
    }
    if host is not None:
        values.update(
            {
                "instance_cpu_utilization": host.cpu_utilization,
                "instance_cpu_usage_total": host.cpu_units,
                "instance_memory_utilization": host.memory_utilization,
                "instance_memory_working_set": float(host.memory_working_set_bytes),
                "instance_memory_limit": float(host.memory_total_bytes),
                "instance_filesystem_utilization": host.filesystem_utilization,
                "instance_network_total_bytes": host.network_bps,
            }
        )
    return values
