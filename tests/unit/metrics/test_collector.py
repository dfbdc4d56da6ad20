"""The collector on a scripted engine and a FakeClock: what it samples, what it writes, when."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any, cast

import pytest
from tests.unit.metrics.collector_world import (
    ARN,
    PARTITION,
    FakeLogs,
    FakeWriter,
    cluster,
    container,
    instance,
    service,
    snapshot,
    task,
)

from ecsbox.config import from_env
from ecsbox.core.clock import FakeClock
from ecsbox.core.monitoring import MonitoringSnapshot
from ecsbox.metrics.collector import Collector
from ecsbox.metrics.host_probe import FakeHostProbe
from ecsbox.metrics.instance_metrics import GIB, HostCounters
from ecsbox.runtime.port import ContainerNotFound, ContainerStats, Runtime, RuntimeUnavailable

START = 28_333_333 * 60.0  # 1699999980: a period starts here
MIB = 1024 * 1024


class ScriptedEngine:
    """Containers whose CPU use the test sets; ``stats`` as Docker's one-shot stats answers."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.cpu_ns: dict[str, float] = {}
        self.cores: dict[str, float] = {}  # busy cores per container
        self.rx_rate: dict[str, float] = {}
        self.at: dict[str, float] = {}
        self.gone: set[str] = set()
        self.unavailable = False
        self.asked: list[str] = []

    def run(self, container_id: str, cores: float = 0.0, rx_rate: float = 0.0) -> None:
        self.cpu_ns.setdefault(container_id, 0.0)
        self.at.setdefault(container_id, self.clock.wall())
        self._accrue(container_id)
        self.cores[container_id], self.rx_rate[container_id] = cores, rx_rate

    def _accrue(self, container_id: str) -> None:
        elapsed = self.clock.wall() - self.at[container_id]
        self.cpu_ns[container_id] += elapsed * self.cores.get(container_id, 0.0) * 1e9
        self.at[container_id] = self.clock.wall()

    async def stats(self, container_id: str) -> ContainerStats | None:
        self.asked.append(container_id)
        if self.unavailable:
            raise RuntimeUnavailable("the engine went away")
        if container_id in self.gone or container_id not in self.cpu_ns:
            raise ContainerNotFound(container_id)
        self._accrue(container_id)
        rx = int((self.clock.wall() - START) * self.rx_rate.get(container_id, 0.0))
        return ContainerStats(
            self.clock.wall(), int(self.cpu_ns[container_id]), 0, 2, 64 * MIB, 1024 * MIB, rx, rx // 2
        )


class ScriptedProbe:
    """A usage probe that knows some of the containers (those ``local``)."""

    def __init__(self, engine: ScriptedEngine, local: Iterable[str]) -> None:
        self.engine, self.local = engine, set(local)

    def read_many(
        self, container_ids: Iterable[str], with_network: Iterable[str] = ()
    ) -> dict[str, ContainerStats]:
        found = {}
        for container_id in container_ids:
            if container_id in self.local and container_id in self.engine.cpu_ns:
                self.engine._accrue(container_id)
                found[container_id] = ContainerStats(
                    self.engine.clock.wall(),
                    int(self.engine.cpu_ns[container_id]),
                    0,
                    2,
                    32 * MIB,
                    1024 * MIB,
                )
        return found


def _ec2_world(insights: str = "enabled") -> MonitoringSnapshot:
    """Service "burn": two EC2 tasks of one container reserving 512 units; the instance registered 2048."""
    tasks = [
        task(f"t{i}", service="burn", launch_type="EC2", cpu=None, memory=None,
             containers=[container("burner", f"c{i}", cpu=512, memory=128)])
        for i in (1, 2)
    ]  # fmt: skip
    return snapshot(
        [
            cluster(
                insights=insights,
                registered_cpu=2048,
                registered_memory=4096,
                service_count=1,
                running_task_count=2,
            )
        ],
        [service("burn")],
        tasks,
        [instance(remaining_cpu=1024, remaining_memory=3840, running_tasks=2)],
    )


def _collector(
    world: MonitoringSnapshot, clock: FakeClock, engine: ScriptedEngine | None = None, **kwargs: Any
) -> tuple[Collector, FakeWriter, FakeLogs]:
    writer, logs = FakeWriter(), FakeLogs()

    async def current() -> MonitoringSnapshot:
        return world

    collector = Collector(clock, current, lambda: cast(Runtime, engine), writer, logs, **kwargs)
    return collector, writer, logs


def _average(writer: FakeWriter, namespace: str, name: str, **dimensions: str) -> list[float]:
    return [d.sum / d.sample_count for d in writer.of(namespace, name, **dimensions)]


def test_a_busy_core_on_a_512_unit_reservation_reads_200_percent() -> None:
    async def scenario() -> None:
        clock = FakeClock(START)
        engine = ScriptedEngine(clock)
        engine.run("c1", cores=1.0)
        engine.run("c2", cores=1.0)
        collector, writer, _ = _collector(_ec2_world("disabled"), clock, engine)
        first = await collector.collect_once()
        assert first.measured_tasks == 0  # one sample is no rate
        assert _average(writer, "AWS/ECS", "CPUUtilization", ClusterName="c", ServiceName="burn") == []
        clock.advance(20)
        second = await collector.collect_once()
        assert (second.containers, second.from_runtime, second.measured_tasks) == (2, 2, 2)
        assert _average(writer, "AWS/ECS", "CPUUtilization", ClusterName="c", ServiceName="burn") == [200.0]
        assert _average(writer, "AWS/ECS", "CPUUtilization", ClusterName="c") == [100.0]  # 2048 of 2048
        assert _average(writer, "AWS/ECS", "CPUReservation", ClusterName="c") == [50.0, 50.0]
        assert _average(writer, "AWS/ECS", "MemoryUtilization", ClusterName="c", ServiceName="burn") == [50.0]
        (datum,) = writer.of("AWS/ECS", "CPUUtilization", ClusterName="c", ServiceName="burn")
        assert (datum.timestamp, datum.sample_count, datum.storage_resolution) == (START + 20, 2.0, 60)
        assert writer.namespaces() == {"AWS/ECS"}  # Container Insights is off

    asyncio.run(scenario())


def test_the_cgroup_reader_first_and_the_runtime_for_what_it_cannot_read() -> None:
    async def scenario() -> None:
        clock = FakeClock(START)
        engine = ScriptedEngine(clock)
        engine.run("c1", cores=0.5)
        engine.run("c2", cores=0.25)
        collector, writer, _ = _collector(
            _ec2_world("disabled"), clock, engine, usage_probe=ScriptedProbe(engine, ["c1"])
        )
        await collector.collect_once()
        clock.advance(20)
        report = await collector.collect_once()
        assert (report.from_probe, report.from_runtime, report.skipped) == (1, 1, 0)
        assert engine.asked.count("c1") == 0 and engine.asked.count("c2") == 2
        (datum,) = writer.of("AWS/ECS", "CPUUtilization", ClusterName="c", ServiceName="burn")
        assert (datum.minimum, datum.maximum) == (50.0, 100.0)

    asyncio.run(scenario())


def test_a_container_that_vanished_is_skipped_and_a_gone_engine_stops_nothing() -> None:
    async def scenario() -> None:
        clock = FakeClock(START)
        engine = ScriptedEngine(clock)
        engine.run("c1", cores=1.0)
        engine.run("c2", cores=1.0)
        collector, writer, _ = _collector(_ec2_world("disabled"), clock, engine)
        await collector.collect_once()
        clock.advance(20)
        engine.gone.add("c2")
        report = await collector.collect_once()
        assert (report.skipped, report.measured_tasks) == (1, 1)
        assert _average(writer, "AWS/ECS", "CPUUtilization", ClusterName="c", ServiceName="burn") == [200.0]
        assert (
            _average(writer, "AWS/ECS", "CPUUtilization", ClusterName="c") == []
        )  # t2 unmeasured: no figure
        engine.unavailable = True
        clock.advance(20)
        report = await collector.collect_once()
        assert (report.skipped, report.measured_tasks) == (2, 0)

    asyncio.run(scenario())


def test_container_insights_once_per_period_stamped_with_its_start() -> None:
    async def scenario() -> None:
        clock = FakeClock(START)
        engine = ScriptedEngine(clock)
        engine.run("c1", cores=1.0)
        engine.run("c2", cores=0.5)
        host = FakeHostProbe(HostCounters(START, 2, 0, 0, 8 * GIB, 6 * GIB, 100 * GIB, 50 * GIB, 0))
        collector, writer, logs = _collector(_ec2_world(), clock, engine, host_probe=host)
        reports = []
        for _ in range(4):  # START, +20, +40: one period; +60 starts the next
            reports.append(await collector.collect_once())
            clock.advance(20)
            host.counters = HostCounters(clock.wall(), 2, 100, 200, 8 * GIB, 6 * GIB, 100 * GIB, 50 * GIB, 0)
        assert [r.insights_period for r in reports] == [False, False, False, True]
        (cpu,) = writer.of("ECS/ContainerInsights", "CpuUtilized", ClusterName="c", ServiceName="burn")
        assert (cpu.timestamp, cpu.sample_count, cpu.sum) == (START + 60, 2.0, 1024.0 + 512.0)
        (running,) = writer.of(
            "ECS/ContainerInsights", "RunningTaskCount", ClusterName="c", ServiceName="burn"
        )
        assert running.sum == 2.0
        (utilization,) = writer.of("ECS/ContainerInsights", "instance_cpu_utilization", ClusterName="c")
        assert utilization.sum == 50.0
        types = sorted(json.loads(m)["Type"] for batch in logs.events.values() for _, m in batch)
        assert types == ["Cluster", "Container", "Container", "Instance", "Service", "Task", "Task"]
        assert {group for _, group, _ in logs.events} == {"/aws/ecs/containerinsights/c/performance"}
        assert all(at == (START + 60) * 1000 for batch in logs.events.values() for at, _ in batch)
        assert reports[-1].events == 7

    asyncio.run(scenario())


def test_high_resolution() -> None:
    async def scenario() -> None:
        clock = FakeClock(START)
        engine = ScriptedEngine(clock)
        engine.run("c1", cores=1.0)
        engine.run("c2", cores=1.0)
        collector, writer, _ = _collector(_ec2_world(), clock, engine, resolution_s=10)
        assert (collector.sample_interval_s, collector.storage_resolution) == (5.0, 1)
        for _ in range(3):
            await collector.collect_once()
            clock.advance(5)
        assert all(d.storage_resolution == 1 for data in writer.data.values() for d in data)
        (cpu,) = writer.of("ECS/ContainerInsights", "CpuUtilized", ClusterName="c", ServiceName="burn")
        assert cpu.timestamp == START + 10

    asyncio.run(scenario())


@pytest.mark.parametrize("resolution", [0, 5, 30, 120])
def test_only_the_resolutions_cloudwatch_has(resolution: int) -> None:
    with pytest.raises(ValueError, match="resolution"):
        _collector(snapshot(), FakeClock(), resolution_s=resolution)


@pytest.mark.parametrize(("raw", "resolution"), [(None, 60), ("60", 60), ("10", 10), ("1", 1)])
def test_the_metrics_resolution_setting(raw: str | None, resolution: int) -> None:
    environment = {} if raw is None else {"ECSBOX_METRICS_RESOLUTION": raw}
    assert from_env(environment).metrics_resolution == resolution


@pytest.mark.parametrize("raw", ["30", "0", "sixty", "-60"])
def test_a_bad_metrics_resolution_setting_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        from_env({"ECSBOX_METRICS_RESOLUTION": raw})


def test_latest_figures_for_top() -> None:
    async def scenario() -> None:
        clock = FakeClock(START)
        engine = ScriptedEngine(clock)
        engine.run("c1", cores=1.0)
        engine.run("c2", cores=0.0)
        collector, _, _ = _collector(_ec2_world("disabled"), clock, engine)
        await collector.collect_once()
        t1 = collector.latest().task(f"{ARN}:task/c/t1")
        assert t1 is not None and t1.cpu_used is None and t1.cpu_reserved == 512  # one sample: unknown yet
        clock.advance(20)
        await collector.collect_once()
        document = collector.latest().document()
        assert (document["clock"], document["resolution"]) == (START + 20, 60)
        (figures,) = document["clusters"]
        assert (figures["cluster"], figures["account"], figures["region"]) == ("c", *PARTITION)
        assert (figures["cpu_utilization"], figures["services"][0]["cpu_utilization"]) == (50.0, 100.0)
        assert figures["services"][0] == {
            "service": "burn", "desired": 2, "running": 2, "pending": 0,
            "cpu_utilization": 100.0, "memory_utilization": 50.0,
        }  # fmt: skip
        assert [(t["task"], t["cpu_used"], t["memory_used"], t["group"]) for t in figures["tasks"]] == [
            ("t1", 1024.0, 64.0, "service:burn"),
            ("t2", 0.0, 64.0, "service:burn"),
        ]

    asyncio.run(scenario())


def test_a_failing_write_does_not_stop_the_tick() -> None:
    class Broken(FakeWriter):
        async def put(self, partition: Any, data: Any) -> None:
            raise OSError("disk full")

    async def scenario() -> None:
        clock = FakeClock(START)
        engine = ScriptedEngine(clock)
        engine.run("c1")
        engine.run("c2")

        async def current() -> MonitoringSnapshot:
            return _ec2_world()

        collector = Collector(clock, current, lambda: cast(Runtime, engine), Broken(), FakeLogs())
        await collector.collect_once()
        clock.advance(20)
        report = await collector.collect_once()
        assert report.measured_tasks == 2 and report.datums == 0

    asyncio.run(scenario())


def test_run_collects_until_cancelled_and_survives_a_failed_tick() -> None:
    async def scenario() -> None:
        calls = 0

        async def flaky() -> MonitoringSnapshot:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("the store is busy")
            return snapshot()

        clock = FakeClock(START)
        collector = Collector(clock, flaky, lambda: None, FakeWriter(), FakeLogs())
        running = asyncio.create_task(collector.run())
        await asyncio.sleep(0.3)
        assert calls == 1  # the next sample is 20 s of ecsbox time away
        clock.advance(20)
        for _ in range(50):
            await asyncio.sleep(0.05)
            if calls >= 2:
                break
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert calls >= 2

    asyncio.run(scenario())


def test_docker_stats_carry_every_network_counter_the_events_need() -> None:
    from ecsbox.runtime.docker_specs import container_stats

    interface = {"rx_bytes": 100, "tx_bytes": 50, "rx_packets": 3, "tx_packets": 2, "rx_dropped": 1,
                 "tx_dropped": 0, "rx_errors": 4, "tx_errors": 5}  # fmt: skip
    document = {
        "read": "2024-01-02T03:04:05Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 10}, "online_cpus": 2, "system_cpu_usage": 100},
        "memory_stats": {"usage": 10},
        "networks": {"eth0": interface, "eth1": interface},
    }
    stats = container_stats(document)
    assert stats is not None
    assert (stats.network_rx_bytes, stats.network_tx_packets, stats.network_rx_dropped) == (200, 4, 2)
    assert (stats.network_rx_errors, stats.network_tx_errors, stats.network_tx_dropped) == (8, 10, 0)
