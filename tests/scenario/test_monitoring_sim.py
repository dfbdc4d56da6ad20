"""Monitoring on the simulated runtime: services whose containers burn CPU show it in CloudWatch's
AWS/ECS metrics by the documented formulas, and clusters with Container Insights get its metrics and
performance events; clusters without it get none."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from tests.scenario.ecs_sim import AWSVPC, SERVER_ID, SimBox, simulated
from tests.unit.metrics.collector_world import FakeLogs, FakeWriter

from ecsbox.core.monitoring import MonitoringSnapshot
from ecsbox.ecs import monitoring_snapshot
from ecsbox.ecs.local_instance import Machine
from ecsbox.metrics.collector import Collector

MIB = 1024 * 1024


def _snapshot(box: SimBox) -> Callable[[], Awaitable[MonitoringSnapshot]]:
    machine = Machine(box.runtime.cpus, box.runtime.memory_bytes, box.runtime.architecture)
    return lambda: monitoring_snapshot(box.store, machine, SERVER_ID)


async def _world(box: SimBox) -> None:
    """Cluster "default" with Container Insights: service "burn" (two EC2 tasks, bridge, 512 CPU units
    and a 64 MiB soft limit in their container, each keeping one core busy) and service "api" (one
    Fargate task, 256 units / 512 MiB, a quarter core, traffic on its awsvpc namespace). Cluster
    "quiet" without it: service "idle", one Fargate task."""
    await box(
        "UpdateClusterSettings",
        cluster="default",
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )
    await box("CreateCluster", clusterName="quiet")
    await box.register("burn", {"name": "burner", "image": "busybox", "cpu": 512, "memoryReservation": 64})
    fargate = {"cpu": "256", "memory": "512", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"]}
    await box.register("api", {"name": "web", "image": "busybox"}, **fargate)
    await box("CreateService", cluster="default", serviceName="burn", taskDefinition="burn", desiredCount=2,
              launchType="EC2")  # fmt: skip
    await box("CreateService", cluster="default", serviceName="api", taskDefinition="api", desiredCount=1,
              launchType="FARGATE", networkConfiguration=AWSVPC)  # fmt: skip
    await box("CreateService", cluster="quiet", serviceName="idle", taskDefinition="api", desiredCount=1,
              launchType="FARGATE", networkConfiguration=AWSVPC)  # fmt: skip
    await box.settle()
    for record in await box.tasks():
        containers = record.runtime["containers"]
        if record.service_name == "burn":
            box.runtime.set_usage(containers["burner"], cpu_percent=100.0, memory_bytes=32 * MIB,
                                  io_rates=(200.0, 100.0, 4096.0, 0.0))  # fmt: skip
        elif record.service_name == "api":
            box.runtime.set_usage(containers["web"], cpu_percent=25.0, memory_bytes=128 * MIB)
            box.runtime.set_usage(record.runtime["pause"], io_rates=(1000.0, 500.0, 0.0, 0.0))
        else:
            box.runtime.set_usage(containers["web"], cpu_percent=50.0)


async def _collect(box: SimBox, collector: Collector, ticks: int) -> None:
    for _ in range(ticks):
        await collector.collect_once()
        box.clock.advance(collector.sample_interval_s)
        box.runtime.advance()


def _averages(writer: FakeWriter, namespace: str, name: str, **dimensions: str) -> list[float]:
    return [round(d.sum / d.sample_count, 6) for d in writer.of(namespace, name, **dimensions)]


@simulated
async def test_burning_services_in_aws_ecs_metrics(box: SimBox) -> None:
    await _world(box)
    writer, logs = FakeWriter(), FakeLogs()
    collector = Collector(box.clock, _snapshot(box), lambda: box.runtime, writer, logs)
    await _collect(box, collector, 3)

    # One busy core on a 512-unit reservation without a task-level limit: 200 %.
    assert _averages(writer, "AWS/ECS", "CPUUtilization", ClusterName="default", ServiceName="burn") == [
        200.0,
        200.0,
    ]
    (sample,) = writer.of("AWS/ECS", "CPUUtilization", ClusterName="default", ServiceName="burn")[:1]
    assert (sample.sample_count, sample.minimum, sample.maximum, sample.unit) == (
        2.0,
        200.0,
        200.0,
        "Percent",
    )
    assert _averages(writer, "AWS/ECS", "MemoryUtilization", ClusterName="default", ServiceName="burn") == [
        50.0,
        50.0,
    ]
    # A quarter core on a 256-unit Fargate task: 100 %; 128 of 512 MiB: 25 %.
    assert _averages(writer, "AWS/ECS", "CPUUtilization", ClusterName="default", ServiceName="api") == [
        100.0,
        100.0,
    ]
    assert _averages(writer, "AWS/ECS", "MemoryUtilization", ClusterName="default", ServiceName="api") == [
        25.0,
        25.0,
    ]
    # The cluster's EC2 tasks use 2048 of the 2048 units the machine (two cores) registered; they
    # reserve 1024 of them.
    assert _averages(writer, "AWS/ECS", "CPUUtilization", ClusterName="default") == [100.0, 100.0]
    assert _averages(writer, "AWS/ECS", "CPUReservation", ClusterName="default")[-1] == 50.0
    # A Fargate-only cluster divides by its tasks' reservations: half a core of 256 units.
    assert _averages(writer, "AWS/ECS", "CPUUtilization", ClusterName="quiet", ServiceName="idle") == [
        200.0,
        200.0,
    ]
    assert _averages(writer, "AWS/ECS", "CPUUtilization", ClusterName="quiet") == [200.0, 200.0]
    assert writer.of("AWS/ECS", "CPUReservation", ClusterName="quiet") == []

    latest = collector.latest().document()
    default = next(c for c in latest["clusters"] if c["cluster"] == "default")
    assert {s["service"]: s["cpu_utilization"] for s in default["services"]} == {"api": 100.0, "burn": 200.0}


@simulated
async def test_container_insights_only_where_enabled(box: SimBox) -> None:
    await _world(box)
    writer, logs = FakeWriter(), FakeLogs()
    collector = Collector(box.clock, _snapshot(box), lambda: box.runtime, writer, logs)
    await _collect(box, collector, 7)  # 140 s: at least one whole period

    insights = "ECS/ContainerInsights"
    assert writer.of(insights, "CpuUtilized", ClusterName="default", ServiceName="burn")
    assert set(_averages(writer, insights, "CpuUtilized", ClusterName="default", ServiceName="burn")) == {
        1024.0
    }
    assert set(
        _averages(writer, insights, "CpuReserved", ClusterName="default", TaskDefinitionFamily="api")
    ) == {256.0}
    assert set(_averages(writer, insights, "NetworkRxBytes", ClusterName="default", ServiceName="api")) == {
        1000.0
    }
    assert set(_averages(writer, insights, "NetworkRxBytes", ClusterName="default", ServiceName="burn")) == {
        200.0
    }
    assert set(
        _averages(writer, insights, "StorageReadBytes", ClusterName="default", ServiceName="burn")
    ) == {4096.0}
    assert set(
        _averages(writer, insights, "RunningTaskCount", ClusterName="default", ServiceName="burn")
    ) == {2.0}
    assert set(_averages(writer, insights, "TaskCount", ClusterName="default")) == {3.0}
    assert set(_averages(writer, insights, "ContainerInstanceCount", ClusterName="default")) == {1.0}
    assert set(_averages(writer, insights, "EphemeralStorageReserved", ClusterName="default")) == {21.47}
    quiet = [d for data in writer.data.values() for d in data
             if d.metric.namespace == insights and ("ClusterName", "quiet") in d.metric.dimensions]  # fmt: skip
    assert quiet == []

    groups = {group for _, group, _ in logs.events}
    assert groups == {"/aws/ecs/containerinsights/default/performance"}
    documents = [json.loads(message) for batch in logs.events.values() for _, message in batch]
    assert {d["Type"] for d in documents} == {"Task", "Container", "Service", "Cluster", "Instance"}
    api_task = next(d for d in documents if d["Type"] == "Task" and d["TaskDefinitionFamily"] == "api")
    assert (api_task["LaunchType"], api_task["CpuReserved"], api_task["MemoryReserved"]) == (
        "FARGATE",
        256,
        512,
    )
    assert api_task["NetworkRxBytes"] == 1000 and api_task["EphemeralStorageReserved"] == 21.47
    assert api_task["CloudWatchMetrics"][0]["Dimensions"] == [
        ["ClusterName"],
        ["ClusterName", "TaskDefinitionFamily"],
    ]
    burn_task = next(d for d in documents if d["Type"] == "Task" and d["TaskDefinitionFamily"] == "burn")
    assert burn_task["LaunchType"] == "EC2" and burn_task["CpuUtilized"] == 1024
    streams = {stream for _, _, stream in logs.events}
    assert any(s.startswith("FargateTelemetry-") for s in streams)
    assert any(s.startswith("AgentTelemetry-") for s in streams)
    assert "ClusterTelemetry-default" in streams
