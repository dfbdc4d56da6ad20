"""Invariants of the rolling-update reconciler, over random configurations, task states and events:
a plan never starts past maxTasks nor stops below minHealthy, and a deployment whose tasks come up
healthy always completes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.unit.ecs.test_deployment import Sim

from ecsbox.ecs import deployment as dep
from ecsbox.ecs.deployment import (
    ACTIVE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    DeploymentView,
    Plan,
    ServiceView,
    TaskView,
    is_healthy,
    is_in_flight,
    plan,
)
from ecsbox.ecs.rounding import max_tasks, min_healthy

NOW = 10_000.0
STATUSES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "STOPPED")

configs = st.tuples(st.integers(0, 8), st.integers(0, 100), st.integers(100, 200))


@st.composite
def task_views(draw: st.DrawFn, index: int) -> TaskView:
    last_status = draw(st.sampled_from(STATUSES))
    running = last_status == "RUNNING"
    return TaskView(
        task_id=f"t{index:03d}",
        deployment_id=draw(st.sampled_from(["d1", "d2", "d0"])),
        last_status=last_status,
        desired_status="STOPPED"
        if last_status == "STOPPED"
        else draw(st.sampled_from(["RUNNING", "STOPPED"])),
        health_status=draw(st.sampled_from(["HEALTHY", "UNHEALTHY", "UNKNOWN"])),
        has_health_check=draw(st.booleans()),
        started_at=NOW - draw(st.integers(0, 120)) if running else None,
        created_at=NOW - draw(st.integers(0, 300)),
        availability_zone=draw(st.sampled_from(["a", "b", "c"])),
    )


@st.composite
def snapshots(draw: st.DrawFn) -> tuple[ServiceView, list[DeploymentView], list[TaskView]]:
    desired, minimum, maximum = draw(configs)
    service = ServiceView("web", desired, "d2", minimum, maximum, draw(st.sampled_from([0, 30, 600])))
    deployments = [
        DeploymentView("d1", ACTIVE, "web:1", COMPLETED, 1.0),
        DeploymentView("d2", PRIMARY, "web:2", draw(st.sampled_from([IN_PROGRESS, COMPLETED, FAILED])), 2.0),
    ]
    count = draw(st.integers(0, 20))
    tasks = [draw(task_views(index)) for index in range(count)]
    return service, deployments, tasks


def stopped(tasks: list[TaskView], result: Plan) -> list[TaskView]:
    ids = {stop.task_id for stop in result.to_stop}
    return [replace(t, desired_status="STOPPED") if t.task_id in ids else t for t in tasks]


@settings(max_examples=300, deadline=None)
@given(snapshots())
def test_one_plan_respects_both_bounds(
    snapshot: tuple[ServiceView, list[DeploymentView], list[TaskView]],
) -> None:
    service, deployments, tasks = snapshot
    result = plan(service, deployments, tasks, NOW)
    ceiling = max_tasks(service.desired_count, service.maximum_percent)
    floor = min_healthy(service.desired_count, service.minimum_healthy_percent)
    in_flight = sum(1 for t in tasks if is_in_flight(t))
    starts = sum(start.count for start in result.to_start)
    if starts:
        assert in_flight + starts <= ceiling
        assert all(start.deployment_id == "d2" for start in result.to_start)
        assert deployments[1].rollout_state != FAILED
    healthy_before = sum(1 for t in tasks if is_healthy(t, NOW))
    healthy_after = sum(1 for t in stopped(tasks, result) if is_healthy(t, NOW))
    assert healthy_after >= min(floor, healthy_before)
    stop_ids = [stop.task_id for stop in result.to_stop]
    assert len(stop_ids) == len(set(stop_ids))
    by_id = {t.task_id: t for t in tasks}
    assert all(is_in_flight(by_id[task_id]) for task_id in stop_ids)
    assert not (result.steady and result.stuck)


@dataclass
class ChaosSim(Sim):
    """A Sim whose tasks take random time to start and become healthy, and, while ``chaos`` is on,
    sometimes fail to start, crash after RUNNING or turn UNHEALTHY."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    chaos: bool = False

    def advance(self) -> None:
        self.now += self.step
        for task_id, task in list(self.tasks.items()):
            roll = self.rng.random()
            if task.desired_status == dep.STOPPED or task.last_status == dep.STOPPED:
                if task.last_status != dep.STOPPED and roll < 0.7:
                    self.tasks[task_id] = replace(task, last_status=dep.STOPPED)
            elif self.chaos and roll < 0.08:
                self.tasks[task_id] = replace(task, last_status=dep.STOPPED, desired_status=dep.STOPPED)
            elif self.chaos and roll < 0.12 and task.last_status == dep.RUNNING and task.has_health_check:
                self.tasks[task_id] = replace(task, health_status=dep.UNHEALTHY)
            elif task.last_status != dep.RUNNING:
                if roll < 0.5:
                    self.tasks[task_id] = replace(task, last_status=dep.RUNNING, started_at=self.now)
            elif task.has_health_check and task.health_status == dep.UNKNOWN and roll < 0.5:
                self.tasks[task_id] = replace(task, health_status=dep.HEALTHY)


def progress_possible(desired: int, minimum: int, maximum: int) -> bool:
    return desired == 0 or max_tasks(desired, maximum) > desired or min_healthy(desired, minimum) < desired


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs, st.booleans(), st.randoms(use_true_random=False), st.integers(0, 15))
def test_rolling_deployment_keeps_bounds_through_chaos_and_converges(
    config: tuple[int, int, int], health_check: bool, rng: random.Random, chaos_ticks: int
) -> None:
    desired, minimum, maximum = config
    assume(progress_possible(desired, minimum, maximum))
    sim = ChaosSim.create(desired, minimum, maximum, has_health_check=health_check)
    sim.rng = rng
    sim.add_tasks("ecs-svc/1", desired)
    sim.deploy("web:2")
    ceiling, floor = max_tasks(desired, maximum), min_healthy(desired, minimum)

    sim.chaos = True
    reached_floor = False
    for tick in range(400):
        if tick == chaos_ticks:
            sim.chaos = False
            reached_floor = sim.healthy() >= floor  # failures may have taken it below; count from here
        in_flight_before, healthy_before = len(sim.in_flight()), sim.healthy()
        result = plan(sim.service, sim.deployments, list(sim.tasks.values()), sim.now)
        sim.history.append(result)
        sim.apply(result)
        # the plan itself: starts within maxTasks, stops keep minHealthy
        if result.to_start:
            assert len(sim.in_flight()) <= ceiling
        assert len(sim.in_flight()) <= max(ceiling, in_flight_before)
        assert sim.healthy() >= min(floor, healthy_before)
        if not sim.chaos:  # with no failures, the service never dips below minHealthy once there
            if reached_floor:
                assert sim.healthy() >= floor
            reached_floor = reached_floor or sim.healthy() >= floor
        sim.advance()
        if not sim.chaos and sim.primary.rollout_state == COMPLETED and result.steady:
            break
    else:
        raise AssertionError(f"no COMPLETED steady state: {sim.history[-1]}")
    assert len(sim.in_flight()) == desired == sim.healthy()
    assert {t.deployment_id for t in sim.in_flight()} <= {"ecs-svc/2"}
