"""Container Insights: its metrics (SEMANTICS §5.2, CloudWatch's Container-Insights-metrics-ECS)
and its performance log events (the seed's sample Task event, the documented Container, Service and
Cluster events)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
from tests.unit.metrics.collector_world import (
    PARTITION,
    cluster,
    container,
    instance,
    service,
    snapshot,
    task,
    used,
)

from ecsbox.metrics import figures, insights, instance_metrics, performance_events
from ecsbox.metrics.insights import gigabytes, insights_metrics, task_dimension_sets, task_values
from ecsbox.metrics.instance_metrics import GIB, HostCounters, HostUsage, host_usage_between
from ecsbox.metrics.performance_events import (
    cluster_event,
    container_event,
    fargate_stream,
    log_group,
    service_event,
    task_event,
)
from ecsbox.metrics.usage import NetworkCounters

SEED = Path("/work/shared/seed/container-insights.performance-event.task.json")
HOST = HostUsage(cpus=2, cpu_utilization=25.0, memory_total_bytes=8 * GIB, memory_working_set_bytes=2 * GIB,
                 filesystem_utilization=40.0, network_bps=1500.0)  # fmt: skip


@pytest.mark.parametrize("module", [insights, instance_metrics, performance_events, figures])
def test_worked_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(("gib", "gb"), [(20, 21.47), (21, 22.55), (200, 214.75), (1, 1.07)])
def test_ephemeral_storage_in_gigabytes(gib: int, gb: float) -> None:
    assert gigabytes(gib) == gb


@pytest.mark.parametrize(
    ("kwargs", "rx", "names"),
    [
        (  # Fargate, awsvpc: everything, ephemeral storage included
            {"cpu": 256, "memory": 512, "ephemeral_storage_gib": 20},
            10.0,
            list(insights.TASK_METRICS),
        ),
        (  # EC2 in host mode, memory only: no CPU reserved, no network of its own
            {"launch_type": "EC2", "cpu": None, "memory": 512, "network_mode": "host"},
            None,
            ["MemoryUtilized", "MemoryReserved", "StorageReadBytes", "StorageWriteBytes"],
        ),
        (  # EC2 bridge, reservations in the container definitions only
            {"launch_type": "EC2", "cpu": None, "memory": None,
             "containers": [container("app", "x", cpu=10, memory=10)]},
            0.0,
            ["CpuUtilized", "CpuReserved", "MemoryUtilized", "MemoryReserved", "StorageReadBytes",
             "StorageWriteBytes", "NetworkRxBytes", "NetworkTxBytes"],
        ),
    ],
)  # fmt: skip
def test_what_a_task_contributes(kwargs: dict[str, object], rx: float | None, names: list[str]) -> None:
    of = task("t", **kwargs)  # type: ignore[arg-type]
    assert list(task_values(used(of, 12.0, 100.0, rx_bps=rx))) == names


@pytest.mark.parametrize(
    ("service_name", "enhanced", "sets"),
    [
        ("web", False, [("ClusterName",), ("ClusterName", "TaskDefinitionFamily"), ("ClusterName", "ServiceName")]),
        (None, False, [("ClusterName",), ("ClusterName", "TaskDefinitionFamily")]),
        ("web", True, [("ClusterName",), ("ClusterName", "TaskDefinitionFamily"), ("ClusterName", "ServiceName"),
                       ("ClusterName", "ServiceName", "TaskId"), ("ClusterName", "TaskDefinitionFamily", "TaskId")]),
    ],
)  # fmt: skip
def test_dimension_sets(service_name: str | None, enhanced: bool, sets: list[tuple[str, ...]]) -> None:
    found = task_dimension_sets(task("t1", service=service_name), enhanced)
    assert [tuple(d) for d in found] == sets
    assert all(d["ClusterName"] == "c" for d in found)


def _world(insights_setting: str = "enabled") -> tuple[object, dict[str, object]]:
    tasks = [
        task("t1", service="web", cpu=256, memory=512),
        task("t2", service="web", cpu=256, memory=512),
        task("t3", family="batch", cpu=1024, memory=2048),
    ]
    world = snapshot(
        [
            cluster(insights=insights_setting, service_count=1, running_task_count=3),
            cluster("quiet", "disabled"),
        ],
        [service("web", pending_count=1, desired_count=3), service("other", "quiet")],
        [*tasks, task("q1", cluster="quiet", service="other")],
    )
    measured = {
        tasks[0].task_arn: used(tasks[0], 100.0, 200.0, rx_bps=10.0),
        tasks[1].task_arn: used(tasks[1], 50.0, 100.0, rx_bps=30.0),
        tasks[2].task_arn: used(tasks[2], 512.0, 1024.0, rx_bps=0.0),
    }
    return world, measured


def _by(datums: list[object]) -> dict[tuple[str, tuple[tuple[str, str], ...]], object]:
    return {(d.metric.name, d.metric.dimensions): d for d in datums}  # type: ignore[attr-defined]


def test_each_task_is_one_sample_so_sum_is_the_total_and_average_the_mean() -> None:
    world, measured = _world()
    data = insights_metrics(world, measured, 120.0)  # type: ignore[arg-type]
    by = _by(data[PARTITION])
    web = by[("CpuUtilized", (("ClusterName", "c"), ("ServiceName", "web")))]
    assert (web.sample_count, web.sum, web.minimum, web.maximum) == (2.0, 150.0, 50.0, 100.0)  # type: ignore[attr-defined]
    everything = by[("CpuUtilized", (("ClusterName", "c"),))]
    assert (everything.sample_count, everything.sum) == (3.0, 662.0)  # type: ignore[attr-defined]
    batch = by[("CpuReserved", (("ClusterName", "c"), ("TaskDefinitionFamily", "batch")))]
    assert batch.sum == 1024.0  # type: ignore[attr-defined]
    units = {name: d.unit for (name, _), d in by.items()}  # type: ignore[attr-defined]
    assert units["CpuUtilized"] == "None" and units["MemoryUtilized"] == "Megabytes"
    assert units["NetworkRxBytes"] == "Bytes/Second" and units["RunningTaskCount"] == "Count"
    assert all(
        d.timestamp == 120.0 and d.metric.namespace == "ECS/ContainerInsights" for d in data[PARTITION]
    )  # type: ignore[attr-defined]


def test_service_and_cluster_counts() -> None:
    world, measured = _world()
    by = _by(insights_metrics(world, measured, 0.0)[PARTITION])  # type: ignore[arg-type]
    web = (("ClusterName", "c"), ("ServiceName", "web"))
    counts = {name: by[(name, web)].sum for name in insights.SERVICE_METRICS}  # type: ignore[attr-defined]
    assert counts == {"DesiredTaskCount": 3, "RunningTaskCount": 2, "PendingTaskCount": 1,
                      "DeploymentCount": 1, "TaskSetCount": 0}  # fmt: skip
    cluster_counts = {name: by[(name, (("ClusterName", "c"),))].sum for name in insights.CLUSTER_METRICS}  # type: ignore[attr-defined]
    assert cluster_counts == {"TaskCount": 3, "ContainerInstanceCount": 0, "ServiceCount": 1}


def test_nothing_for_a_cluster_without_container_insights() -> None:
    world, measured = _world("disabled")
    assert insights_metrics(world, measured, 0.0) == {}  # type: ignore[arg-type]


def test_enhanced_observability_adds_task_and_container_metrics() -> None:
    world, measured = _world("enhanced")
    by = _by(insights_metrics(world, measured, 0.0)[PARTITION])  # type: ignore[arg-type]
    per_task = (("ClusterName", "c"), ("ServiceName", "web"), ("TaskId", "t1"))
    assert by[("CpuUtilized", per_task)].sum == 100.0  # type: ignore[attr-defined]
    assert by[("TaskCpuUtilization", per_task)].sum == 100 * 100 / 256  # type: ignore[attr-defined]
    container_dims = (
        ("ClusterName", "c"),
        ("ContainerName", "app"),
        ("ServiceName", "web"),
        ("TaskId", "t1"),
    )
    assert by[("ContainerCpuUtilized", container_dims)].sum == 100.0  # type: ignore[attr-defined]
    assert ("ContainerCpuReserved", container_dims) not in by  # the container itself reserves no CPU


def test_the_instance_metrics_where_tasks_run_on_it() -> None:
    ec2 = task(
        "e1",
        launch_type="EC2",
        cpu=None,
        memory=None,
        containers=[container("app", "x", cpu=512, memory=1024)],
    )
    world = snapshot(
        [cluster(registered_cpu=2048, registered_memory=4096, running_task_count=1)],
        tasks=[ec2],
        instances=[instance(remaining_cpu=1536, remaining_memory=3072, running_tasks=1)],
    )
    by = _by(insights_metrics(world, {ec2.task_arn: used(ec2, 10.0, 10.0)}, 0.0, host=HOST)[PARTITION])
    per_instance = (("ClusterName", "c"), ("ContainerInstanceId", "0d7650e6dec34c1a9200f72098071e8f"),
                    ("InstanceId", "i-0c470579dbcdbd2f3"))  # fmt: skip
    assert by[("instance_cpu_reserved_capacity", per_instance)].sum == 25.0  # type: ignore[attr-defined]
    assert by[("instance_memory_reserved_capacity", (("ClusterName", "c"),))].sum == 25.0  # type: ignore[attr-defined]
    assert by[("instance_cpu_utilization", per_instance)].sum == 25.0  # type: ignore[attr-defined]
    assert by[("instance_cpu_usage_total", (("ClusterName", "c"),))].sum == 512.0  # type: ignore[attr-defined]
    assert ("instance_cpu_usage_total", per_instance) not in by  # per cluster only
    assert by[("instance_number_of_running_tasks", per_instance)].unit == "Count"  # type: ignore[attr-defined]
    assert by[("ContainerInstanceCount", (("ClusterName", "c"),))].sum == 1  # type: ignore[attr-defined]
    assert len([k for k in by if k[0].startswith("instance_")]) == 7 * 2 + 4


@pytest.mark.parametrize(
    ("before_busy", "after_busy", "utilization"),
    [(0, 500, 50.0), (100, 100, 0.0), (0, 1000, 100.0)],
)
def test_host_cpu_utilization(before_busy: int, after_busy: int, utilization: float) -> None:
    def counters(at: float, busy: int, total: int) -> HostCounters:
        return HostCounters(at, 4, busy, total, 8 * GIB, 4 * GIB, 100 * GIB, 60 * GIB, 0)

    host = host_usage_between(counters(0.0, before_busy, 0), counters(10.0, after_busy, 1000))
    assert host is not None and host.cpu_utilization == utilization
    assert host.cpu_units == utilization / 100 * 4 * 1024
    assert (host.memory_utilization, host.filesystem_utilization) == (50.0, 40.0)


# ---- performance events ----------------------------------------------------------------------------


def _seed_task() -> tuple[object, object]:
    """The seed's task: php-sample-fargate rev 4 on fargate-cluster, 256 units and 512 MiB, 20 GiB."""
    of = task(
        "xxxxxxxxxxxx",
        cluster="fargate-cluster",
        family="xxxxxx",
        revision=4,
        cpu=256,
        memory=512,
        availability_zone="ap-northeast-1d",
        created_at=1643190996.073,
        pull_started_at=1643191009.843,
        pull_stopped_at=1643191018.055,
        started_at=1643191019.944,
        ephemeral_storage_gib=20,
    )
    totals = NetworkCounters(rx_packets=129716, tx_packets=30343)
    return of, used(of, 0.032220646540323895, 15.0, rx_bps=0.0, tx_bps=4.0, totals=totals)


def test_the_task_event_has_the_seeds_shape() -> None:
    sample = json.loads(SEED.read_text())
    _, measured = _seed_task()
    event = task_event(measured, 1643659440.0)  # type: ignore[arg-type]
    assert list(event) == list(sample)  # the same fields, in the same order
    assert event["CloudWatchMetrics"] == sample["CloudWatchMetrics"]
    for field in ("Version", "Type", "TaskId", "TaskDefinitionFamily", "TaskDefinitionRevision", "ClusterName",
                  "KnownStatus", "LaunchType", "PullStartedAt", "PullStoppedAt", "CreatedAt", "StartedAt",
                  "Timestamp", "CpuUtilized", "CpuReserved", "MemoryUtilized", "MemoryReserved",
                  "NetworkRxPackets", "NetworkTxBytes", "NetworkTxPackets", "EphemeralStorageReserved",
                  "AvailabilityZone", "Region"):  # fmt: skip
        assert event[field] == sample[field], field
    assert event["AccountID"] == PARTITION[0]
    assert json.loads(json.dumps(event)) == event


def test_an_ec2_tasks_events_name_the_instance() -> None:
    ec2 = task("7ac4dfba", service="sleep", family="sleep360", launch_type="EC2", cpu=None, memory=None,
               containers=[container("sleep", "x", cpu=10, memory=10)])  # fmt: skip
    measured = used(ec2, 0.0, 0.0, rx_bps=0.0, totals=NetworkCounters(rx_packets=14))
    on = instance(running_tasks=1)
    event = task_event(measured, 1623963900.0, on)
    assert (event["ContainerInstanceId"], event["EC2InstanceId"]) == (on.instance_id, on.ec2_instance_id)
    assert event["ServiceName"] == "sleep" and event["CpuReserved"] == 10 and event["MemoryReserved"] == 10
    names = [m["Name"] for m in event["CloudWatchMetrics"][0]["Metrics"]]
    assert "EphemeralStorageReserved" not in names and len(names) == 8
    documented = ["Version", "Type", "ContainerName", "TaskId", "TaskDefinitionFamily", "TaskDefinitionRevision",
                  "ContainerInstanceId", "EC2InstanceId", "ClusterName", "Image", "ContainerKnownStatus",
                  "Timestamp", "CpuUtilized", "CpuReserved", "MemoryUtilized", "MemoryReserved", "StorageReadBytes",
                  "StorageWriteBytes", "NetworkRxBytes", "NetworkRxDropped", "NetworkRxErrors", "NetworkRxPackets",
                  "NetworkTxBytes", "NetworkTxDropped", "NetworkTxErrors", "NetworkTxPackets"]  # fmt: skip
    document = container_event(ec2, ec2.containers[0], measured.containers["sleep"], 1623963900.0, on)
    assert list(document) == documented
    assert document["NetworkRxPackets"] == 14 and document["Timestamp"] == 1623963900000


def test_service_and_cluster_events_as_documented() -> None:
    assert insights.SERVICE_METRICS == (
        "DesiredTaskCount", "RunningTaskCount", "PendingTaskCount", "DeploymentCount", "TaskSetCount"
    )  # fmt: skip
    event = service_event(service("myCIService", "myCICluster", desired_count=2), 1561586460.0)
    assert event == {
        "Version": "0", "Type": "Service", "ServiceName": "myCIService", "ClusterName": "myCICluster",
        "Timestamp": 1561586460000, "DesiredTaskCount": 2, "RunningTaskCount": 2, "PendingTaskCount": 0,
        "DeploymentCount": 1, "TaskSetCount": 0,
        "CloudWatchMetrics": [{
            "Namespace": "ECS/ContainerInsights",
            "Metrics": [{"Name": n, "Unit": "Count"} for n in insights.SERVICE_METRICS],
            "Dimensions": [["ServiceName", "ClusterName"]],
        }],
    }  # fmt: skip
    counted = cluster_event(cluster("myCICluster", running_task_count=5, service_count=2), 5, 1561587300.0)
    assert [counted[k] for k in ("Type", "TaskCount", "ContainerInstanceCount", "ServiceCount")] == [
        "Cluster",
        5,
        5,
        2,
    ]
    assert counted["CloudWatchMetrics"][0]["Dimensions"] == [["ClusterName"]]


def test_every_event_type_in_its_group_and_stream() -> None:
    fargate = task("f1", service="web", cpu=256, memory=512)
    ec2 = task(
        "e1", launch_type="EC2", cpu=None, memory=None, containers=[container("app", "x", cpu=128, memory=64)]
    )
    on = instance(running_tasks=1)
    world = snapshot(
        [cluster(service_count=1, running_task_count=2, registered_cpu=2048, registered_memory=4096),
         cluster("quiet", "disabled")],
        [service("web")],
        [fargate, ec2, task("q", cluster="quiet")],
        [on],
    )  # fmt: skip
    measured = {t.task_arn: used(t, 1.0, 1.0, rx_bps=0.0) for t in (fargate, ec2)}
    events = performance_events.performance_events(world, measured, 180.0, HOST)  # type: ignore[arg-type]
    assert {group for _, group, _ in events} == {log_group("c")}
    types: dict[str, set[str]] = {}
    for (partition, _, stream), batch in events.items():
        assert partition == PARTITION
        for at, message in batch:
            assert at == 180000
            types.setdefault(json.loads(message)["Type"], set()).add(stream)
    assert types == {
        "Task": {fargate_stream(fargate.task_arn), f"AgentTelemetry-{on.instance_id}"},
        "Container": {fargate_stream(fargate.task_arn), f"AgentTelemetry-{on.instance_id}"},
        "Service": {"ClusterTelemetry-c"},
        "Cluster": {"ClusterTelemetry-c"},
        "Instance": {f"NodeTelemetry-{on.instance_id}"},
    }
    (instance_batch,) = [b for (_, _, s), b in events.items() if s.startswith("NodeTelemetry")]
    document = json.loads(instance_batch[0][1])
    assert document["instance_cpu_utilization"] == 25.0 and document["InstanceId"] == on.ec2_instance_id
    assert document["CloudWatchMetrics"][0]["Dimensions"] == [
        ["ContainerInstanceId", "InstanceId", "ClusterName"]
    ]
