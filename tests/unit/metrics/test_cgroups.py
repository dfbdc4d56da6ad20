"""Reading containers' and the machine's counters from the kernel's files: cgroup v1 and v2 trees
and /proc, laid out in a temporary directory as the kernel lays them out."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from ecsbox.metrics import cgroups, host_probe
from ecsbox.metrics.cgroups import CgroupReader, parse_blkio_v1, parse_io_stat, parse_keyed, parse_net_dev
from ecsbox.metrics.host_probe import FakeHostProbe, LinuxHostProbe, parse_meminfo, parse_proc_stat

CONTAINER = "4f1c" + "0" * 60
NET_DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls ...\n"
    "    lo:    9000      90    0    0    0     0          0         0     9000      90    0    0    0     0   0   0\n"
    "  eth0:    1500      12    1    2    0     0          0         0      700       7    3    4    0     0   0   0\n"
)


@pytest.mark.parametrize("module", [cgroups, host_probe])
def test_worked_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cache 10\ntotal_inactive_file 4096\n", {"cache": 10, "total_inactive_file": 4096}),
        ("", {}),
        ("garbage\nkey notanumber\n", {}),
    ],
)
def test_parse_keyed(text: str, expected: dict[str, int]) -> None:
    assert parse_keyed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:0 Read 100\n8:0 Write 50\n8:0 Sync 150\n8:0 Total 150\nTotal 150\n", (100, 50)),
        ("Total 0\n", (0, 0)),
        ("", (0, 0)),
    ],
)
def test_parse_blkio_v1(text: str, expected: tuple[int, int]) -> None:
    assert parse_blkio_v1(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8:0 rbytes=100 wbytes=50 rios=1 wios=2\n", (100, 50)), ("8:0 rbytes=x\n", (0, 0)), ("", (0, 0))],
)
def test_parse_io_stat(text: str, expected: tuple[int, int]) -> None:
    assert parse_io_stat(text) == expected


def test_parse_net_dev_leaves_loopback_out() -> None:
    assert parse_net_dev(NET_DEV) == (1500, 12, 1, 2, 700, 7, 3, 4)
    assert parse_net_dev("") == (0,) * 8


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _proc(tmp_path: Path, pid: int = 4242) -> Path:
    proc = tmp_path / "proc"
    _write(proc / str(pid) / "net" / "dev", NET_DEV)
    _write(proc / "meminfo", "MemTotal: 8388608 kB\nMemAvailable: 4194304 kB\n")
    return proc


def _v1(tmp_path: Path, container_id: str = CONTAINER, relative: str = "docker/{id}") -> Path:
    root = tmp_path / "cgroup"
    where = relative.format(id=container_id)
    _write(root / "cpuacct" / where / "cpuacct.usage", "20000000000\n")
    _write(root / "memory" / where / "memory.usage_in_bytes", str(100 * 1024 * 1024) + "\n")
    _write(root / "memory" / where / "memory.stat", "cache 4096\ntotal_inactive_file 20971520\n")
    _write(root / "memory" / where / "memory.limit_in_bytes", "9223372036854771712\n")
    _write(root / "memory" / where / "cgroup.procs", "4242\n4243\n")
    _write(
        root / "blkio" / where / "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n",
    )
    return root


def _v2(tmp_path: Path, container_id: str = CONTAINER) -> Path:
    root = tmp_path / "cgroup2"
    _write(root / "cgroup.controllers", "cpu io memory pids\n")
    unified = root / "system.slice" / f"docker-{container_id}.scope"
    _write(unified / "cpu.stat", "usage_usec 20000000\nuser_usec 15000000\nsystem_usec 5000000\n")
    _write(unified / "memory.current", str(100 * 1024 * 1024) + "\n")
    _write(unified / "memory.stat", "anon 1000\ninactive_file 20971520\n")
    _write(unified / "memory.max", "268435456\n")
    _write(unified / "io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")
    _write(unified / "cgroup.procs", "4242\n")
    return root


@pytest.mark.parametrize("layout", ["v1", "v1-systemd", "v2"])
def test_a_containers_counters(tmp_path: Path, layout: str) -> None:
    if layout == "v2":
        root = _v2(tmp_path)
    else:
        root = _v1(tmp_path, relative="docker/{id}" if layout == "v1" else "system.slice/docker-{id}.scope")
    reader = CgroupReader.detect(root, _proc(tmp_path), wall=lambda: 1234.5)
    assert reader is not None and reader.version == (2 if layout == "v2" else 1)
    stats = reader.read(CONTAINER)
    assert stats is not None
    assert (stats.read_at, stats.cpu_total_ns) == (1234.5, 20_000_000_000)
    assert (
        stats.memory_usage_bytes == 80 * 1024 * 1024
    )  # the inactive page cache left out, as docker stats does
    assert stats.memory_limit_bytes == (
        256 * 1024 * 1024 if layout == "v2" else 8 * 1024**3
    )  # unlimited: the host's
    assert (stats.block_read_bytes, stats.block_write_bytes) == (4096, 8192)
    assert (stats.network_rx_bytes, stats.network_tx_bytes, stats.network_rx_packets) == (1500, 700, 12)
    assert (stats.network_rx_dropped, stats.network_tx_errors) == (2, 3)
    without = reader.read(CONTAINER, with_network=False)
    assert without is not None and without.network_rx_bytes == 0


def test_containers_it_cannot_find_are_left_to_the_runtime(tmp_path: Path) -> None:
    reader = CgroupReader.detect(_v1(tmp_path), _proc(tmp_path))
    assert reader is not None
    other = "9" * 64
    found = reader.read_many([CONTAINER, other], with_network=[CONTAINER])
    assert list(found) == [CONTAINER] and found[CONTAINER].network_rx_bytes == 1500


def test_a_container_whose_cgroup_went_away_reads_nothing(tmp_path: Path) -> None:
    root = _v1(tmp_path)
    reader = CgroupReader.detect(root, _proc(tmp_path))
    assert reader is not None and reader.read(CONTAINER) is not None
    (root / "cpuacct" / "docker" / CONTAINER / "cpuacct.usage").unlink()
    assert reader.read(CONTAINER) is None
    assert reader.read_many([CONTAINER]) == {}


def test_a_machine_without_cgroups_has_no_reader(tmp_path: Path) -> None:
    assert CgroupReader.detect(tmp_path / "nothing") is None


def test_host_counters(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    _write(
        proc / "stat",
        "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\n",
    )
    _write(proc / "net" / "dev", NET_DEV)
    probe = LinuxHostProbe(proc, filesystem=str(tmp_path), wall=lambda: 99.0)
    counters = probe.sample()
    assert counters is not None
    assert (counters.read_at, counters.cpus, counters.cpu_busy_ticks, counters.cpu_total_ticks) == (
        99.0,
        2,
        150,
        1000,
    )
    assert (counters.memory_total_bytes, counters.memory_available_bytes) == (8 * 1024**3, 4 * 1024**3)
    assert counters.network_bytes == 2200
    assert 0 < counters.filesystem_free_bytes <= counters.filesystem_bytes
    assert LinuxHostProbe(tmp_path / "missing").sample() is None
    assert FakeHostProbe().sample() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8\n",
            (27, 36, 1),
        ),  # busy: all but idle (4) and iowait (5)
        ("intr 5\n", (0, 0, 0)),
    ],
)
def test_parse_proc_stat(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_proc_stat(text) == expected


def test_parse_meminfo_without_memavailable_uses_memfree() -> None:
    assert parse_meminfo("MemTotal: 10 kB\nMemFree: 4 kB\n") == (10240, 4096)


@pytest.mark.skipif(CgroupReader.detect() is None, reason="no cgroup file system here")
def test_this_machines_layout_is_recognised() -> None:
    reader = CgroupReader.detect()
    assert reader is not None and reader.version in (1, 2)
    assert reader.read("0" * 64) is None  # no such container: left to the runtime
