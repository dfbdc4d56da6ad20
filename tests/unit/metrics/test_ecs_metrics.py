"""The AWS/ECS formulas (SEMANTICS §5.1) and the usage arithmetic they are fed with."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.metrics.collector_world import (
    PARTITION,
    cluster,
    container,
    instance,
    snapshot,
    task,
    used,
)

from ecsbox.core import monitoring
from ecsbox.metrics import ecs_metrics, usage
from ecsbox.metrics.ecs_metrics import (
    EC2,
    FARGATE,
    Utilization,
    cluster_basis,
    group_utilization,
    utilization_datum,
    utilization_percent,
)
from ecsbox.metrics.model import MetricId
from ecsbox.metrics.usage import (
    MIB,
    Counters,
    NetworkCounters,
    counter_rate,
    cpu_units_used,
    task_usage,
    usage_between,
)


@pytest.mark.parametrize("module", [ecs_metrics, usage, monitoring])
def test_worked_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("cpu_ns", "seconds", "units"),
    [
        (1_000_000_000, 1.0, 1024.0),  # one core busy
        (20_000_000_000, 20.0, 1024.0),
        (40_000_000_000, 20.0, 2048.0),  # two cores
        (250_000_000, 1.0, 256.0),
        (0, 20.0, 0.0),
        (5, 0.0, 0.0),  # no time passed: nothing to rate
    ],
)
def test_cpu_units_used(cpu_ns: int, seconds: float, units: float) -> None:
    assert cpu_units_used(cpu_ns, seconds) == units


@pytest.mark.parametrize(
    ("before", "after", "seconds", "rate"),
    [(0, 6000, 3.0, 2000.0), (100, 100, 3.0, 0.0), (6000, 10, 3.0, 0.0), (0, 10, 0.0, 0.0)],
)
def test_counter_rate(before: int, after: int, seconds: float, rate: float) -> None:
    assert counter_rate(before, after, seconds) == rate


def test_usage_between_two_samples() -> None:
    before = Counters(0.0, 0, 10 * MIB, 0, 0, NetworkCounters(0, 0, 0, 0))
    after = Counters(
        20.0, 10_000_000_000, 40 * MIB + 5, 2000, 4000, NetworkCounters(40_000, 2000, 30, 20, 1, 2, 3, 4)
    )
    got = usage_between(before, after)
    assert got is not None
    assert (got.seconds, got.cpu_units, got.memory_mib) == (20.0, 512.0, 40.0)
    assert (got.storage_read_bps, got.storage_write_bps) == (100.0, 200.0)
    assert got.network is not None and (got.network.rx_bps, got.network.tx_bps) == (2000.0, 100.0)
    assert got.network.totals.rx_packets == 30 and got.network.totals.tx_errors == 4
    assert usage_between(after, after) is None  # no time between them


@pytest.mark.parametrize(
    ("mode", "expected_rx"),
    [("awsvpc", 300.0), ("bridge", 30.0), ("host", None), ("none", None)],
)
def test_a_tasks_network_is_where_its_mode_puts_it(mode: str, expected_rx: float | None) -> None:
    app, sidecar = container("app", "a"), container("sidecar", "b")
    of = task("t", network_mode=mode, containers=[app, sidecar])
    rates = {"app": 10.0, "sidecar": 20.0}
    containers = {
        name: usage.Usage(20.0, 100.0, 10.0, network=usage.NetworkUsage(rate, 0.0))
        for name, rate in rates.items()
    }
    pause = usage.Usage(20.0, 1.0, 1.0, network=usage.NetworkUsage(300.0, 0.0))
    got = task_usage(of, containers, pause)
    assert got is not None
    assert (got.usage.network.rx_bps if got.usage.network else None) == expected_rx
    assert (
        got.usage.cpu_units == 200.0 and got.usage.memory_mib == 20.0
    )  # the pause container is not the task's
    if mode == "awsvpc":  # every container sees the task's namespace
        assert all(u.network is not None and u.network.rx_bps == 300.0 for u in got.containers.values())


@pytest.mark.parametrize(
    ("used_units", "reserved", "percent"),
    [
        (1024.0, 512, 200.0),  # a task reserving 512 units keeps one core busy, no hard limit
        (512.0, 512, 100.0),
        (256.0, 1024, 25.0),
        (0.0, 256, 0.0),
        (10.0, 0, None),  # nothing reserved: nothing to divide by
    ],
)
def test_utilization_percent(used_units: float, reserved: int, percent: float | None) -> None:
    assert utilization_percent(used_units, reserved) == percent


@pytest.mark.parametrize(
    ("pairs", "average", "minimum", "maximum"),
    [
        ([(1024.0, 512)], 200.0, 200.0, 200.0),
        ([(1024.0, 512), (0.0, 512)], 100.0, 0.0, 200.0),
        ([(512.0, 1024), (512.0, 512)], 1024 * 100 / 1536, 50.0, 100.0),
        ([(10.0, 0), (256.0, 256)], 100.0, 100.0, 100.0),  # a task reserving nothing is left out
    ],
)
def test_group_utilization(
    pairs: list[tuple[float, float]], average: float, minimum: float, maximum: float
) -> None:
    got = group_utilization(pairs)
    assert got is not None
    assert (got.average, got.minimum, got.maximum) == pytest.approx((average, minimum, maximum))


@given(st.lists(st.tuples(st.floats(0, 8192), st.integers(1, 4096)), min_size=1, max_size=20))
def test_the_average_lies_between_the_least_and_most_busy_task(pairs: list[tuple[float, int]]) -> None:
    got = group_utilization(pairs)
    assert got is not None
    assert got.minimum - 1e-6 <= got.average <= got.maximum + 1e-6


def test_a_datum_averages_to_the_formula_and_keeps_values_only_when_they_agree() -> None:
    metric = MetricId.of("AWS/ECS", "CPUUtilization", {"ClusterName": "c", "ServiceName": "s"})
    alike = utilization_datum(metric, 60.0, Utilization(100.0, (0.0, 200.0)), 60)
    assert (alike.sample_count, alike.sum / alike.sample_count, alike.unit) == (2.0, 100.0, "Percent")
    assert alike.value_counts == ((0.0, 1.0), (200.0, 1.0))
    unlike = group_utilization([(512.0, 1024), (512.0, 512)])
    assert unlike is not None
    datum = utilization_datum(metric, 60.0, unlike, 1)
    assert datum.sum / datum.sample_count == pytest.approx(unlike.average)
    assert datum.value_counts is None  # their mean (75 %) is not the formula's 66.7 %
    assert datum.storage_resolution == 1


@pytest.mark.parametrize(
    ("registered", "launch_types", "basis"),
    [
        (2048, [], EC2),  # instances and no task: 0 % of what they registered
        (2048, ["EC2"], EC2),
        (2048, ["EC2", "FARGATE"], EC2),
        (2048, ["FARGATE"], FARGATE),  # the tasks are not on the instances
        (0, ["FARGATE"], FARGATE),
        (0, ["EC2"], None),  # nothing registered to divide by
        (0, [], None),
    ],
)
def test_cluster_basis(registered: int, launch_types: list[str], basis: str | None) -> None:
    tasks = [task(f"t{i}", launch_type=kind) for i, kind in enumerate(launch_types)]
    assert cluster_basis(registered, tasks) == basis


@pytest.mark.parametrize(
    ("cpu", "containers", "reserved"),
    [
        (256, [container("a", cpu=128), container("b", cpu=512)], 256),  # the task size wins
        (None, [container("a", cpu=128), container("b", cpu=512)], 640),
        (None, [container("a"), container("b")], 0),
    ],
)
def test_a_tasks_cpu_reservation(
    cpu: int | None, containers: list[monitoring.ContainerInfo], reserved: int
) -> None:
    assert task("t", cpu=cpu, containers=containers).cpu_reserved == reserved


@pytest.mark.parametrize(
    ("memory", "containers", "reserved"),
    [
        (512, [container("a", memory=256)], 512),
        (None, [container("a", memory=500), container("b", memory=300, memory_reservation=128)], 628),
        (None, [container("a", memory_reservation=64)], 64),
    ],
)
def test_a_tasks_memory_reservation_prefers_the_soft_limit(
    memory: int | None, containers: list[monitoring.ContainerInfo], reserved: int
) -> None:
    assert task("t", memory=memory, containers=containers).memory_reserved == reserved


def _ec2_world() -> tuple[monitoring.MonitoringSnapshot, dict[str, usage.TaskUsage]]:
    """Two EC2 tasks of service "web", each reserving 512 units and 128 MiB in its container;
    one keeps a core busy, the other idles; the instance registered 2048 units, 4096 MiB."""
    tasks = [
        task(f"t{i}", service="web", launch_type="EC2", cpu=None, memory=None,
             containers=[container("app", f"c{i}", cpu=512, memory=256, memory_reservation=128)])
        for i in (1, 2)
    ]  # fmt: skip
    world = snapshot(
        [cluster(registered_cpu=2048, registered_memory=4096)],
        tasks=tasks,
        instances=[instance(remaining_cpu=1024, remaining_memory=3840, running_tasks=2)],
    )
    return world, {"busy": used(tasks[0], 1024.0, 64.0), "idle": used(tasks[1], 0.0, 32.0)}


def test_service_and_cluster_figures_on_ec2() -> None:
    world, measured = _ec2_world()
    figures = ecs_metrics.ecs_metrics(world, {u.task.task_arn: u for u in measured.values()}, 1000.0)
    data = {(d.metric.name, d.metric.dimensions): d for d in figures.data[PARTITION]}
    service_cpu = data[("CPUUtilization", (("ClusterName", "c"), ("ServiceName", "web")))]
    assert service_cpu.sum / service_cpu.sample_count == 100.0  # 1024 of 1024 reserved
    assert (service_cpu.minimum, service_cpu.maximum, service_cpu.timestamp) == (0.0, 200.0, 1000.0)
    service_memory = data[("MemoryUtilization", (("ClusterName", "c"), ("ServiceName", "web")))]
    assert service_memory.sum / service_memory.sample_count == 96 * 100 / 256  # soft limits: 2 x 128
    by_cluster = {name: d.sum for (name, dims), d in data.items() if dims == (("ClusterName", "c"),)}
    assert by_cluster == {
        "CPUUtilization": 50.0,  # 1024 of the 2048 units the instance registered
        "MemoryUtilization": 96 * 100 / 4096,
        "CPUReservation": 50.0,
        "MemoryReservation": 256 * 100 / 4096,
    }
    assert all(d.unit == "Percent" for d in figures.data[PARTITION])
    assert figures.clusters[(PARTITION, "c")] == (50.0, 96 * 100 / 4096)


def test_one_busy_core_on_a_512_unit_reservation_reads_200_percent() -> None:
    burner = task("b", service="burn", launch_type="EC2", cpu=None, memory=None,
                  containers=[container("burner", "x", cpu=512, memory=64)])  # fmt: skip
    world = snapshot([cluster(registered_cpu=2048, registered_memory=4096)], tasks=[burner],
                     instances=[instance(remaining_cpu=1536, running_tasks=1)])  # fmt: skip
    figures = ecs_metrics.ecs_metrics(world, {burner.task_arn: used(burner, 1024.0, 1.0)}, 0.0)
    cpu, _ = figures.services[(PARTITION, "c", "burn")]
    assert cpu is not None and cpu.average == 200.0


def test_a_fargate_cluster_divides_by_its_tasks_reservations() -> None:
    tasks = [task("t1", service="api", cpu=256, memory=512), task("t2", cpu=1024, memory=2048)]
    world = snapshot([cluster()], tasks=tasks)
    measured = {
        tasks[0].task_arn: used(tasks[0], 128.0, 256.0),
        tasks[1].task_arn: used(tasks[1], 512.0, 1024.0),
    }
    figures = ecs_metrics.ecs_metrics(world, measured, 0.0)
    names = {(d.metric.name, d.metric.dimensions): d.sum for d in figures.data[PARTITION]}
    assert names[("CPUUtilization", (("ClusterName", "c"),))] == 640 * 100 / 1280
    assert names[("MemoryUtilization", (("ClusterName", "c"),))] == 50.0
    assert ("CPUReservation", (("ClusterName", "c"),)) not in names  # EC2 only
    assert names[("CPUUtilization", (("ClusterName", "c"), ("ServiceName", "api")))] == 50.0
    assert not any(("ServiceName", "") in dict(d) for _, d in names)  # RunTask tasks belong to no service


def test_no_cluster_utilization_while_a_running_task_is_not_measured_yet() -> None:
    world, measured = _ec2_world()
    one = {measured["busy"].task.task_arn: measured["busy"]}
    names = {
        d.metric.name
        for d in ecs_metrics.ecs_metrics(world, one, 0.0).data[PARTITION]
        if len(d.metric.dimensions) == 1
    }
    assert names == {"CPUReservation", "MemoryReservation"}  # a task not measured would read as idle


def test_a_draining_instance_counts_and_an_inactive_one_does_not() -> None:
    world = snapshot(
        [cluster(registered_cpu=2048, registered_memory=4096)],
        instances=[
            instance(status="DRAINING", remaining_cpu=1024),
            instance(status="INACTIVE", remaining_cpu=0),
        ],
    )
    data = {d.metric.name: d.sum for d in ecs_metrics.ecs_metrics(world, {}, 0.0).data[PARTITION]}
    assert data["CPUReservation"] == 50.0
    assert data["CPUUtilization"] == 0.0  # no task on it
