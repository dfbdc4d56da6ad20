"""Containers' usage read straight from the kernel, when ecsbox runs beside the Docker engine: the
container's cgroup files (v1 or v2, found at start) for CPU, memory and block I/O, and
``/proc/<pid>/net/dev`` of one of its processes for the network. Far cheaper than Docker's stats
API (which answers at its collector's next one-second tick), and the same numbers: Docker reads the
same files.

A container this reader cannot find (a remote engine, the simulated runtime, a container that just
exited) is simply absent from the answer; the collector asks the runtime's ``stats`` for those.

Layouts found (``<id>`` the full container id):

* cgroup v1: ``<root>/{cpuacct,memory,blkio}/docker/<id>/`` (cgroupfs driver) or
  ``…/system.slice/docker-<id>.scope/`` (systemd driver): ``cpuacct.usage``,
  ``memory.usage_in_bytes`` less ``total_inactive_file`` of ``memory.stat``,
  ``blkio.throttle.io_service_bytes_recursive``;
* cgroup v2: ``<root>/system.slice/docker-<id>.scope/`` or ``<root>/docker/<id>/``:
  ``cpu.stat`` (``usage_usec``), ``memory.current`` less ``inactive_file`` of ``memory.stat``,
  ``io.stat`` (``rbytes``, ``wbytes``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ecsbox.runtime.port import ContainerStats

NETWORK_FIELDS = 8  # rx bytes, rx packets, rx errors, rx dropped, tx bytes, tx packets, tx errors, tx dropped


def parse_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (``memory.stat``, ``cpu.stat``) as a dict; lines that are not are skipped.

    >>> parse_keyed("usage_usec 1500\\nuser_usec 1000\\nbad\\nx y\\n")
    {'usage_usec': 1500, 'user_usec': 1000}
    """
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            found[parts[0]] = int(parts[1])
    return found


def parse_blkio_v1(text: str) -> tuple[int, int]:
    """(bytes read, bytes written) from cgroup v1's ``blkio.*io_service_bytes_recursive``, summed
    over devices.

    >>> parse_blkio_v1("8:0 Read 4096\\n8:0 Write 512\\n8:0 Total 4608\\n8:16 Read 10\\nTotal 4618\\n")
    (4106, 512)
    """
    read = written = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                read += int(parts[2])
            elif parts[1] == "Write":
                written += int(parts[2])
    return read, written


def parse_io_stat(text: str) -> tuple[int, int]:
    """(bytes read, bytes written) from cgroup v2's ``io.stat``, summed over devices.

    >>> parse_io_stat("8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\\n259:0 rbytes=10 wbytes=0\\n")
    (4106, 512)
    """
    read = written = 0
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, _, value = item.partition("=")
            if value.isdigit():
                if key == "rbytes":
                    read += int(value)
                elif key == "wbytes":
                    written += int(value)
    return read, written


def parse_net_dev(text: str) -> tuple[int, ...]:
    """The counters of ``/proc/<pid>/net/dev`` summed over interfaces, loopback left out: rx bytes,
    packets, errors, dropped, then the same four for tx.

    >>> header = "Inter-|   Receive |  Transmit\\n face |bytes packets errs drop fifo frame compressed multicast|...\\n"
    >>> lines = ("    lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\\n"
    ...          "  eth0: 1000 10 1 2 0 0 0 0 300 3 0 1 0 0 0 0\\n")
    >>> parse_net_dev(header + lines)
    (1000, 10, 1, 2, 300, 3, 0, 1)
    """
    totals = [0] * NETWORK_FIELDS
    for line in text.splitlines()[2:]:
        name, _, numbers = line.partition(":")
        fields = numbers.split()
        if name.strip() == "lo" or len(fields) < 12:
            continue
        try:
            values = [int(fields[i]) for i in (0, 1, 2, 3, 8, 9, 10, 11)]
        except ValueError:
            continue
        totals = [a + b for a, b in zip(totals, values, strict=True)]
    return tuple(totals)


@dataclass(frozen=True)
class _Paths:
    cpu: Path
    memory: Path
    io: Path


class CgroupReader:
    """Reads containers' usage from the cgroup file system. Blocking: call it off the event loop
    (the collector reads every container of a tick in one thread hop)."""

    def __init__(
        self, version: int, root: Path, proc: Path = Path("/proc"), wall: Callable[[], float] = time.time
    ) -> None:
        self.version = version
        self.root = root
        self.proc = proc
        self.wall = wall
        self.cpus = os.cpu_count() or 1
        self.host_memory = _host_memory(proc)
        self._paths: dict[str, _Paths] = {}

    @staticmethod
    def detect(
        root: str | Path = "/sys/fs/cgroup", proc: str | Path = "/proc", wall: Callable[[], float] = time.time
    ) -> CgroupReader | None:
        """A reader for this machine's cgroup layout; None where there is none to read (no
        ``/sys/fs/cgroup``: Docker Desktop, another OS)."""
        base = Path(root)
        if (base / "cgroup.controllers").is_file():
            return CgroupReader(2, base, Path(proc), wall)
        if (base / "cpuacct").is_dir() and (base / "memory").is_dir():
            return CgroupReader(1, base, Path(proc), wall)
        return None

    def _find(self, container_id: str) -> _Paths | None:
        known = self._paths.get(container_id)
        if known is None:
            known = self._locate(container_id)
            if known is not None:
                self._paths[container_id] = known
        return known

    def _locate(self, container_id: str) -> _Paths | None:
        for relative in (
            Path("docker") / container_id,
            Path("system.slice") / f"docker-{container_id}.scope",
        ):
            if self.version == 2:
                unified = self.root / relative
                if (unified / "cpu.stat").is_file():
                    return _Paths(unified, unified, unified)
            elif (self.root / "cpuacct" / relative / "cpuacct.usage").is_file():
                return _Paths(
                    self.root / "cpuacct" / relative,
                    self.root / "memory" / relative,
                    self.root / "blkio" / relative,
                )
        return None

    def read(self, container_id: str, with_network: bool = True) -> ContainerStats | None:
        """One container's counters now; None when it has no cgroup here (gone, or not local)."""
        paths = self._find(container_id)
        if paths is None:
            return None
        try:
            stats = self._read(paths, with_network)
        except (OSError, ValueError):
            self._paths.pop(container_id, None)  # exited (its cgroup went away) or never ours
            return None
        return stats

    def read_many(
        self, container_ids: Iterable[str], with_network: Iterable[str] = ()
    ) -> dict[str, ContainerStats]:
        """Every readable container of ``container_ids`` (the collector asks for every running
        container at once); the network namespace is read only for those in ``with_network`` (a
        namespace shared by a task is read once, from its owner)."""
        network = set(with_network)
        asked = list(container_ids)
        found = {}
        for container_id in asked:
            stats = self.read(container_id, container_id in network)
            if stats is not None:
                found[container_id] = stats
        self.forget(asked)  # containers no longer asked for (their tasks stopped) are forgotten
        return found

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the remembered paths of every container not in ``keep``."""
        wanted = set(keep)
        for container_id in [c for c in self._paths if c not in wanted]:
            del self._paths[container_id]

    def _read(self, paths: _Paths, with_network: bool) -> ContainerStats:
        read_at = self.wall()
        if self.version == 2:
            cpu_ns = parse_keyed(_text(paths.cpu / "cpu.stat"))["usage_usec"] * 1000
            used = int(_text(paths.memory / "memory.current"))
            inactive = parse_keyed(_text(paths.memory / "memory.stat")).get("inactive_file", 0)
            limit_text = _text(paths.memory / "memory.max").strip()
            limit = self.host_memory if limit_text == "max" else int(limit_text)
            block_read, block_write = parse_io_stat(_optional(paths.io / "io.stat"))
        else:
            cpu_ns = int(_text(paths.cpu / "cpuacct.usage"))
            used = int(_text(paths.memory / "memory.usage_in_bytes"))
            inactive = parse_keyed(_text(paths.memory / "memory.stat")).get("total_inactive_file", 0)
            limit = int(_text(paths.memory / "memory.limit_in_bytes"))
            blkio = _optional(paths.io / "blkio.throttle.io_service_bytes_recursive")
            block_read, block_write = parse_blkio_v1(
                blkio or _optional(paths.io / "blkio.io_service_bytes_recursive")
            )
        network = (0,) * NETWORK_FIELDS
        if with_network:
            pid = _first_pid(paths.memory / "cgroup.procs")
            if pid is not None:
                network = parse_net_dev(_optional(self.proc / str(pid) / "net" / "dev"))
        rx, rx_packets, rx_errors, rx_dropped, tx, tx_packets, tx_errors, tx_dropped = network
        return ContainerStats(
            read_at=read_at,
            cpu_total_ns=cpu_ns,
            system_cpu_ns=0,  # not read here: the collector rates CPU over wall time
            online_cpus=self.cpus,
            memory_usage_bytes=max(0, used - inactive),
            memory_limit_bytes=min(limit, self.host_memory) if self.host_memory else limit,
            network_rx_bytes=rx,
            network_tx_bytes=tx,
            block_read_bytes=block_read,
            block_write_bytes=block_write,
            network_rx_packets=rx_packets,
            network_tx_packets=tx_packets,
            network_rx_dropped=rx_dropped,
            network_tx_dropped=tx_dropped,
            network_rx_errors=rx_errors,
            network_tx_errors=tx_errors,
        )


def _text(path: Path) -> str:
    with open(path) as handle:
        return handle.read()


def _optional(path: Path) -> str:
    try:
        return _text(path)
    except OSError:
        return ""


def _first_pid(procs: Path) -> int | None:
    for line in _optional(procs).split():
        if line.isdigit():
            return int(line)
    return None


def _host_memory(proc: Path) -> int:
    for line in _optional(proc / "meminfo").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return 0
