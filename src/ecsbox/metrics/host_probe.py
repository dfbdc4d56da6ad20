"""The machine's own counters, for the container instance's ``instance_*`` metrics: CPU ticks from
``/proc/stat``, memory from ``/proc/meminfo``, the file system holding Docker's data from
``statvfs``, network bytes from ``/proc/net/dev``. Blocking (a few small reads): the collector calls
it in the same thread hop as the containers' reads.

:class:`FakeHostProbe` answers what a test tells it to.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ecsbox.metrics.cgroups import parse_net_dev
from ecsbox.metrics.instance_metrics import HostCounters

DOCKER_ROOT = "/var/lib/docker"


class HostProbe(Protocol):
    def sample(self) -> HostCounters | None:
        """The machine's counters now; None when they cannot be read here."""
        ...


def parse_proc_stat(text: str) -> tuple[int, int, int]:
    """(busy ticks, total ticks, CPUs) from ``/proc/stat``: the ``cpu`` line's fields summed, idle
    and iowait being the ticks that were not busy (guest time is already in user time).

    >>> parse_proc_stat("cpu  100 0 50 800 50 0 0 0 0 0\\ncpu0 50 0 25 400 25 0 0 0 0 0\\ncpu1 50 0 25 400 25 0 0 0\\n")
    (150, 1000, 2)
    """
    busy = total = cpus = 0
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:9] if v.isdigit()]
            total = sum(ticks)
            busy = total - sum(ticks[3:5])  # idle, iowait
        elif fields[0].startswith("cpu") and fields[0][3:].isdigit():
            cpus += 1
    return busy, total, cpus


def parse_meminfo(text: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes.

    >>> parse_meminfo("MemTotal:       8000 kB\\nMemFree:  1000 kB\\nMemAvailable:   6000 kB\\n")
    (8192000, 6144000)
    """
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            found[name.strip()] = int(parts[0]) * 1024
    return found.get("MemTotal", 0), found.get("MemAvailable", found.get("MemFree", 0))


class LinuxHostProbe:
    """Reads this machine's counters (Linux ``/proc``). ``filesystem``: Docker's root directory
    (``docker info``'s DockerRootDir), where the containers' layers and volumes live."""

    def __init__(
        self, proc: str | Path = "/proc", filesystem: str | None = None, wall: Callable[[], float] = time.time
    ) -> None:
        self.proc = Path(proc)
        self.filesystem = filesystem or (DOCKER_ROOT if os.path.isdir(DOCKER_ROOT) else "/")
        self.wall = wall

    def sample(self) -> HostCounters | None:
        try:
            read_at = self.wall()
            busy, total, cpus = parse_proc_stat((self.proc / "stat").read_text())
            memory_total, memory_available = parse_meminfo((self.proc / "meminfo").read_text())
            disk = os.statvfs(self.filesystem)
            network = parse_net_dev((self.proc / "net" / "dev").read_text())
        except (OSError, ValueError):
            return None
        return HostCounters(
            read_at=read_at,
            cpus=cpus or (os.cpu_count() or 1),
            cpu_busy_ticks=busy,
            cpu_total_ticks=total,
            memory_total_bytes=memory_total,
            memory_available_bytes=memory_available,
            filesystem_bytes=disk.f_blocks * disk.f_frsize,
            filesystem_free_bytes=disk.f_bfree * disk.f_frsize,
            network_bytes=network[0] + network[4],
        )


class FakeHostProbe:
    """A host probe for tests: answers the counters it was last given (None until then)."""

    def __init__(self, counters: HostCounters | None = None) -> None:
        self.counters = counters

    def sample(self) -> HostCounters | None:
        return self.counters
