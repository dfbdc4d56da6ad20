"""A container's use of CPU, memory, network and storage between two samples of its cumulative
counters, and a task's as the sum of its containers'. Pure: the samples come in, rates go out.

Rates are taken over the samples' own read times (the wall clock: a CPU second is a real second),
whatever the ecsbox clock's scale. CPU is counted in ECS's CPU units: 1024 units keep one core busy.

>>> before = Counters(100.0, cpu_ns=0, memory_bytes=64 * MIB, block_read_bytes=0, block_write_bytes=0,
...                   network=NetworkCounters(rx_bytes=0, tx_bytes=0))
>>> after = Counters(110.0, cpu_ns=10_000_000_000, memory_bytes=96 * MIB, block_read_bytes=5000,
...                  block_write_bytes=0, network=NetworkCounters(rx_bytes=20_000, tx_bytes=1000))
>>> used = usage_between(before, after)
>>> (used.cpu_units, used.memory_mib, used.storage_read_bps, used.network.rx_bps)
(1024.0, 96.0, 500.0, 2000.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ecsbox.core.monitoring import TaskInfo

MIB = 1024 * 1024
CPU_UNITS_PER_CORE = 1024
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class NetworkCounters:
    """Cumulative counters of one network namespace's interfaces (loopback excluded)."""

    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0


@dataclass(frozen=True)
class Counters:
    """One sample of one container: cumulative counters and the memory in use at ``read_at``."""

    read_at: float  # wall-clock seconds
    cpu_ns: int
    memory_bytes: int  # in use, page cache the kernel may drop excluded
    block_read_bytes: int = 0
    block_write_bytes: int = 0
    network: NetworkCounters | None = None  # None: no network namespace of its own to count


@dataclass(frozen=True)
class NetworkUsage:
    """Bytes per second over the interval, and the counters (packets, drops, errors) at its end."""

    rx_bps: float
    tx_bps: float
    totals: NetworkCounters = field(default_factory=NetworkCounters)


@dataclass(frozen=True)
class Usage:
    """What a container (or a task) used over an interval of ``seconds``."""

    seconds: float
    cpu_units: float  # CPU units in use on average: CPU-seconds per second * 1024
    memory_mib: float  # at the interval's end
    storage_read_bps: float = 0.0
    storage_write_bps: float = 0.0
    network: NetworkUsage | None = None


def cpu_units_used(cpu_ns: int, seconds: float) -> float:
    """CPU units kept busy: CPU time used per second of wall time, * 1024 per core.

    >>> cpu_units_used(1_000_000_000, 1.0), cpu_units_used(500_000_000, 2.0), cpu_units_used(5, 0.0)
    (1024.0, 256.0, 0.0)
    """
    if seconds <= 0:
        return 0.0
    return cpu_ns / NS_PER_S / seconds * CPU_UNITS_PER_CORE


def counter_rate(before: int, after: int, seconds: float) -> float:
    """Per-second rate of a cumulative counter; a counter that went back (a restarted container,
    a wrapped counter) counts as 0 over this interval.

    >>> counter_rate(1000, 4000, 3.0), counter_rate(4000, 10, 3.0), counter_rate(0, 10, 0.0)
    (1000.0, 0.0, 0.0)
    """
    if seconds <= 0 or after < before:
        return 0.0
    return (after - before) / seconds


def mib(memory_bytes: int) -> float:
    """Bytes in MiB, whole (as the ECS agent reports memory): ``mib(16 * MIB + 1)`` → 16.0."""
    return float(memory_bytes // MIB)


def network_between(before: NetworkCounters, after: NetworkCounters, seconds: float) -> NetworkUsage:
    return NetworkUsage(
        counter_rate(before.rx_bytes, after.rx_bytes, seconds),
        counter_rate(before.tx_bytes, after.tx_bytes, seconds),
        after,
    )


def usage_between(before: Counters, after: Counters) -> Usage | None:
    """The usage between two samples of one container; None when no wall time passed between them."""
    seconds = after.read_at - before.read_at
    if seconds <= 0:
        return None
    network = None
    if after.network is not None:
        network = network_between(before.network or NetworkCounters(), after.network, seconds)
    return Usage(
        seconds=seconds,
        cpu_units=cpu_units_used(max(0, after.cpu_ns - before.cpu_ns), seconds),
        memory_mib=mib(after.memory_bytes),
        storage_read_bps=counter_rate(before.block_read_bytes, after.block_read_bytes, seconds),
        storage_write_bps=counter_rate(before.block_write_bytes, after.block_write_bytes, seconds),
        network=network,
    )


def add_networks(networks: Iterable[NetworkUsage | None]) -> NetworkUsage | None:
    """The sum of several namespaces' network use (bridge containers each have their own);
    None when none has a network."""
    present = [n for n in networks if n is not None]
    if not present:
        return None
    totals = NetworkCounters(
        *(sum(getattr(n.totals, name) for n in present) for name in NetworkCounters.__dataclass_fields__)
    )
    return NetworkUsage(sum(n.rx_bps for n in present), sum(n.tx_bps for n in present), totals)


@dataclass(frozen=True)
class TaskUsage:
    """A task's use: the sum of its containers', and each container's. ``network`` is the task's:
    its pause container's namespace (``awsvpc``), the sum of its containers' (``bridge``), or
    None (``host``, ``none``: no network of the task's own to count)."""

    task: TaskInfo
    usage: Usage
    containers: Mapping[str, Usage]  # container name → its usage (an awsvpc container: the task's network)


def task_usage(
    task: TaskInfo, containers: Mapping[str, Usage], pause: Usage | None = None
) -> TaskUsage | None:
    """Sum a task's containers; None when none of them was measured.

    ``pause`` is the measured pause container of an ``awsvpc`` task: its network is the task's (and
    every container's, since they share it); its own CPU and memory (a program that only waits)
    are not the task's.
    """
    if not containers:
        return None
    measured = list(containers.values())
    if task.network_mode == "awsvpc":
        network = pause.network if pause is not None else None
    elif task.network_mode == "bridge":
        network = add_networks(u.network for u in measured)
    else:
        network = None
    total = Usage(
        seconds=max(u.seconds for u in measured),
        cpu_units=sum(u.cpu_units for u in measured),
        memory_mib=sum(u.memory_mib for u in measured),
        storage_read_bps=sum(u.storage_read_bps for u in measured),
        storage_write_bps=sum(u.storage_write_bps for u in measured),
        network=network,
    )
    if task.network_mode == "awsvpc":
        containers = {name: _with_network(u, network) for name, u in containers.items()}
    elif task.network_mode != "bridge":
        containers = {name: _with_network(u, None) for name, u in containers.items()}
    return TaskUsage(task, total, dict(containers))


def _with_network(usage: Usage, network: NetworkUsage | None) -> Usage:
    return Usage(
        usage.seconds,
        usage.cpu_units,
        usage.memory_mib,
        usage.storage_read_bps,
        usage.storage_write_bps,
        network,
    )
