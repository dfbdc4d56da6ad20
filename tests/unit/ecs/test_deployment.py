"""The rolling-update reconciler: task predicates, single plans, and scenarios driven tick by tick.

:class:`Sim` is a fake service: it applies a plan's starts and stops to a task list and moves
tasks through their lifecycle as time passes (also used by the hypothesis properties).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Self

import pytest

from ecsbox.ecs import deployment as dep
from ecsbox.ecs.deployment import (
    ACTIVE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    INACTIVE,
    PRIMARY,
    DeploymentUpdate,
    DeploymentView,
    Plan,
    ServiceView,
    StartRequest,
    StopRequest,
    TaskView,
    is_healthy,
    is_in_flight,
    needs_replacement,
    order_victims,
    plan,
    stop_rank,
)
from ecsbox.ecs.rounding import max_tasks, min_healthy

AZS = ("us-east-1a", "us-east-1b", "us-east-1c")


@dataclass
class Sim:
    """A service on a fake cluster. Each :meth:`tick` plans, applies the plan, then advances time:
    PENDING tasks become RUNNING after ``start_delay`` s, tasks told to stop are STOPPED at the next
    tick, tasks with a health check turn HEALTHY ``healthy_after`` s after RUNNING."""

    service: ServiceView
    deployments: list[DeploymentView]
    tasks: dict[str, TaskView] = field(default_factory=dict)
    now: float = 1000.0
    step: float = 10.0
    start_delay: float = 10.0
    has_health_check: bool = False
    healthy_after: float = 10.0
    sequence: int = 0
    history: list[Plan] = field(default_factory=list)

    @classmethod
    def create(
        cls, desired: int, minimum: int = 100, maximum: int = 200, *, has_health_check: bool = False
    ) -> Self:
        service = ServiceView("web", desired, "ecs-svc/1", minimum, maximum)
        first = DeploymentView("ecs-svc/1", PRIMARY, "web:1", IN_PROGRESS, 0.0)
        return cls(service, [first], has_health_check=has_health_check)

    def add_tasks(self, deployment_id: str, count: int, *, healthy: bool = True) -> None:
        for _ in range(count):
            self.sequence += 1
            task_id = f"t{self.sequence:03d}"
            self.tasks[task_id] = TaskView(
                task_id,
                deployment_id,
                dep.RUNNING if healthy else "PENDING",
                health_status=dep.HEALTHY if healthy and self.has_health_check else dep.UNKNOWN,
                has_health_check=self.has_health_check,
                started_at=self.now - 3600 if healthy else None,
                created_at=self.now - 3600 + self.sequence,
                availability_zone=AZS[self.sequence % len(AZS)],
            )

    def deploy(self, task_definition: str) -> str:
        new_id = f"ecs-svc/{len(self.deployments) + 1}"
        self.deployments = [replace(d, status=ACTIVE) for d in self.deployments if d.status != INACTIVE]
        self.deployments.append(DeploymentView(new_id, PRIMARY, task_definition, IN_PROGRESS, self.now))
        self.service = replace(self.service, primary_deployment_id=new_id)
        return new_id

    @property
    def primary(self) -> DeploymentView:
        return next(d for d in self.deployments if d.id == self.service.primary_deployment_id)

    def in_flight(self) -> list[TaskView]:
        return [t for t in self.tasks.values() if is_in_flight(t)]

    def healthy(self) -> int:
        return sum(1 for t in self.tasks.values() if is_healthy(t, self.now))

    def apply(self, result: Plan) -> None:
        for stop in result.to_stop:
            self.tasks[stop.task_id] = replace(self.tasks[stop.task_id], desired_status=dep.STOPPED)
        for start in result.to_start:
            for _ in range(start.count):
                self.sequence += 1
                task_id = f"t{self.sequence:03d}"
                self.tasks[task_id] = TaskView(
                    task_id,
                    start.deployment_id,
                    "PROVISIONING",
                    has_health_check=self.has_health_check,
                    created_at=self.now,
                    availability_zone=AZS[self.sequence % len(AZS)],
                )
        updates = {update.deployment_id: update for update in result.deployment_updates}
        self.deployments = [
            replace(d, status=updates[d.id].status, rollout_state=updates[d.id].rollout_state)
            if d.id in updates
            else d
            for d in self.deployments
        ]
        self.deployments = [d for d in self.deployments if d.status != INACTIVE]

    def advance(self) -> None:
        self.now += self.step
        for task_id, task in list(self.tasks.items()):
            if task.desired_status == dep.STOPPED:
                self.tasks[task_id] = replace(task, last_status=dep.STOPPED)
            elif task.last_status != dep.RUNNING and task.last_status != dep.STOPPED:
                if self.now - task.created_at >= self.start_delay:
                    self.tasks[task_id] = replace(task, last_status=dep.RUNNING, started_at=self.now)
            elif (
                task.has_health_check
                and task.health_status == dep.UNKNOWN
                and task.started_at is not None
                and self.now - task.started_at >= self.healthy_after
            ):
                self.tasks[task_id] = replace(task, health_status=dep.HEALTHY)

    def tick(self) -> Plan:
        result = plan(self.service, self.deployments, list(self.tasks.values()), self.now)
        self.history.append(result)
        self.apply(result)
        self.advance()
        return result

    def run_until_completed(self, limit: int = 200) -> int:
        for ticks in range(1, limit + 1):
            self.tick()
            if self.primary.rollout_state == COMPLETED and self.history[-1].steady:
                return ticks
        raise AssertionError(f"not COMPLETED after {limit} ticks: {self.history[-1]}")


# ---- task predicates ---------------------------------------------------------------------------


def task(**fields: object) -> TaskView:
    base: dict[str, object] = {
        "task_id": "t1",
        "deployment_id": "d1",
        "last_status": "RUNNING",
        "started_at": 100.0,
    }
    base.update(fields)
    return TaskView(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "now", "healthy"),
    [
        ({}, 140.0, True),  # 40 s RUNNING without a health check
        ({}, 139.9, False),
        ({"has_health_check": True, "health_status": "HEALTHY"}, 101.0, True),
        ({"has_health_check": True, "health_status": "UNKNOWN"}, 1000.0, False),
        ({"has_health_check": True, "health_status": "UNHEALTHY"}, 1000.0, False),
        ({"last_status": "PENDING", "started_at": None}, 1000.0, False),
        ({"desired_status": "STOPPED"}, 1000.0, False),  # being stopped: not counted
        ({"started_at": None}, 1000.0, False),
        ({"health_status": "UNHEALTHY"}, 1000.0, False),  # e.g. a failing load balancer check
    ],
)
def test_is_healthy(fields: dict[str, object], now: float, healthy: bool) -> None:
    assert is_healthy(task(**fields), now) is healthy


@pytest.mark.parametrize(
    ("fields", "in_flight"),
    [
        ({}, True),
        ({"last_status": "PROVISIONING"}, True),
        ({"last_status": "DEACTIVATING"}, True),
        ({"desired_status": "STOPPED"}, False),
        ({"last_status": "STOPPED", "desired_status": "STOPPED"}, False),
        ({"last_status": "STOPPED"}, False),
    ],
)
def test_is_in_flight(fields: dict[str, object], in_flight: bool) -> None:
    assert is_in_flight(task(**fields)) is in_flight


@pytest.mark.parametrize(
    ("fields", "now", "grace", "replace_it"),
    [
        ({"health_status": "UNHEALTHY"}, 159.0, 60.0, False),  # in the grace period
        ({"health_status": "UNHEALTHY"}, 160.0, 60.0, True),
        ({"health_status": "UNHEALTHY"}, 100.0, 0.0, True),
        ({"health_status": "HEALTHY"}, 1000.0, 0.0, False),
        ({"health_status": "UNHEALTHY", "desired_status": "STOPPED"}, 1000.0, 0.0, False),
    ],
)
def test_needs_replacement(fields: dict[str, object], now: float, grace: float, replace_it: bool) -> None:
    assert needs_replacement(task(**fields), now, grace) is replace_it


@pytest.mark.parametrize(
    ("fields", "rank"),
    [
        ({"health_status": "UNHEALTHY", "has_health_check": True}, 0),
        ({"last_status": "PENDING", "started_at": None}, 1),
        ({"started_at": 990.0}, 2),  # RUNNING 10 s: warming up
        ({}, 3),
    ],
)
def test_stop_rank(fields: dict[str, object], rank: int) -> None:
    assert stop_rank(task(**fields), 1000.0) == rank


def test_order_victims_rank_then_az_then_age() -> None:
    tasks = [
        task(task_id="old-a", availability_zone="a", started_at=10.0),
        task(task_id="new-a", availability_zone="a", started_at=20.0),
        task(task_id="mid-b", availability_zone="b", started_at=15.0),
        task(
            task_id="pending-b",
            availability_zone="b",
            last_status="PENDING",
            started_at=None,
            created_at=30.0,
        ),
    ]
    oldest = [t.task_id for t in order_victims(tasks, tasks, 1000.0, newest_first=False)]
    newest = [t.task_id for t in order_victims(tasks, tasks, 1000.0, newest_first=True)]
    assert oldest == ["pending-b", "old-a", "mid-b", "new-a"]  # a has 2, b has 1 left after pending-b
    assert newest == ["pending-b", "new-a", "mid-b", "old-a"]


# ---- single plans ------------------------------------------------------------------------------


def test_a_new_service_starts_its_desired_count() -> None:
    sim = Sim.create(3)
    result = sim.tick()
    assert result.to_start == (StartRequest("ecs-svc/1", "web:1", 3),)
    assert result.to_stop == () and not result.steady


def test_steady_service_does_nothing_and_says_so() -> None:
    sim = Sim.create(2)
    sim.add_tasks("ecs-svc/1", 2)
    result = sim.tick()
    assert result.to_start == () and result.to_stop == ()
    assert result.steady
    assert result.deployment_updates == (
        DeploymentUpdate("ecs-svc/1", PRIMARY, COMPLETED, "ECS deployment ecs-svc/1 completed."),
    )
    assert result.events == (
        "(service web) (deployment ecs-svc/1) deployment completed.",
        "(service web) has reached a steady state.",
    )
    again = sim.tick()
    assert again.steady and again.deployment_updates == ()
    assert again.events == ("(service web) has reached a steady state.",)


def test_desired_zero_completes_at_once() -> None:
    sim = Sim.create(0)
    result = sim.tick()
    assert result.to_start == () and result.steady


@pytest.mark.parametrize(
    ("desired", "minimum", "maximum", "starts", "stops"),
    [
        (4, 100, 200, 4, 0),  # start 4 new before stopping old
        (4, 50, 200, 4, 2),  # and may stop 2 first
        (4, 50, 100, 0, 2),  # stop 2 first, start next tick
        (2, 0, 100, 0, 2),  # stop everything first
        (2, 75, 200, 2, 0),  # ceil(1.5) = 2: cannot stop first
        (3, 100, 125, 0, 0),  # floor(3.75) = 3, ceil(3) = 3: stuck
        (3, 50, 100, 0, 1),
        (0, 100, 200, 0, 3),  # desired 0: old tasks all go
    ],
)
def test_first_tick_of_a_deployment(
    desired: int, minimum: int, maximum: int, starts: int, stops: int
) -> None:
    sim = Sim.create(desired, minimum, maximum)
    sim.add_tasks("ecs-svc/1", desired or 3)  # desired 0: a scale-in to zero during the deployment
    sim.deploy("web:2")
    result = plan(sim.service, sim.deployments, list(sim.tasks.values()), sim.now)
    assert sum(s.count for s in result.to_start) == starts
    assert len(result.to_stop) == stops
    assert all(s.deployment_id == "ecs-svc/1" for s in result.to_stop)
    assert all(s.reason == "Scaling activity initiated by (deployment ecs-svc/1)" for s in result.to_stop)
    assert all(s.stop_code == "ServiceSchedulerInitiated" for s in result.to_stop)


def test_stuck_deployment_says_why() -> None:
    sim = Sim.create(3, 100, 125)
    sim.add_tasks("ecs-svc/1", 3)
    sim.deploy("web:2")
    result = sim.tick()
    assert result.stuck
    assert result.events == (
        "(service web) was unable to stop or start tasks during a deployment because of the service deployment "
        "configuration. Update the minimumHealthyPercent or maximumPercent value and try again.",
    )


def test_not_stuck_while_tasks_are_still_warming_up() -> None:
    sim = Sim.create(2, 100, 100)
    sim.add_tasks("ecs-svc/1", 2)
    sim.tasks = {k: replace(t, started_at=sim.now - 5) for k, t in sim.tasks.items()}
    sim.deploy("web:2")
    assert not sim.tick().stuck


def test_scale_in_stops_pending_first_then_newest_from_the_busiest_az() -> None:
    service = ServiceView("web", 2, "d1", 100, 200)
    deployments = [DeploymentView("d1", PRIMARY, "web:1", COMPLETED)]
    tasks = [
        task(task_id="a-old", deployment_id="d1", availability_zone="a", started_at=10.0),
        task(task_id="a-new", deployment_id="d1", availability_zone="a", started_at=30.0),
        task(task_id="b-new", deployment_id="d1", availability_zone="b", started_at=40.0),
        task(
            task_id="c-pend",
            deployment_id="d1",
            availability_zone="c",
            last_status="PENDING",
            started_at=None,
        ),
    ]
    result = plan(service, deployments, tasks, 1000.0)
    assert [s.task_id for s in result.to_stop] == ["c-pend", "a-new"]
    assert result.events == ("(service web) has stopped 2 running tasks: (task c-pend) (task a-new).",)


def test_unhealthy_task_is_replaced_first_when_maximum_allows() -> None:
    sim = Sim.create(2, 100, 200, has_health_check=True)
    sim.add_tasks("ecs-svc/1", 2)
    sim.deployments = [replace(sim.deployments[0], rollout_state=COMPLETED)]
    sick = next(iter(sim.tasks))
    sim.tasks[sick] = replace(sim.tasks[sick], health_status=dep.UNHEALTHY)
    first = sim.tick()
    assert first.to_start == (StartRequest("ecs-svc/1", "web:1", 1),) and first.to_stop == ()
    stops: list[StopRequest] = []
    for _ in range(5):
        stops.extend(sim.tick().to_stop)
    assert stops == [StopRequest(sick, "ecs-svc/1", "Task failed container health checks")]
    assert sim.run_until_completed() >= 1
    assert len(sim.in_flight()) == 2


def test_unhealthy_task_is_stopped_first_when_maximum_is_100() -> None:
    sim = Sim.create(2, 50, 100, has_health_check=True)
    sim.add_tasks("ecs-svc/1", 2)
    sick = next(iter(sim.tasks))
    sim.tasks[sick] = replace(sim.tasks[sick], health_status=dep.UNHEALTHY)
    first = sim.tick()
    assert first.to_start == () and [s.task_id for s in first.to_stop] == [sick]
    assert first.events == ("(service web) (task t001) failed container health checks.",)
    assert sim.tick().to_start == (StartRequest("ecs-svc/1", "web:1", 1),)


def test_unhealthy_task_in_grace_period_is_left_alone() -> None:
    sim = Sim.create(1, 100, 200, has_health_check=True)
    sim.service = replace(sim.service, health_check_grace_period_seconds=600)
    sim.add_tasks("ecs-svc/1", 1)
    only = next(iter(sim.tasks))
    sim.tasks[only] = replace(sim.tasks[only], health_status=dep.UNHEALTHY, started_at=sim.now - 60)
    result = sim.tick()
    assert result.to_start == () and result.to_stop == () and not result.steady


def test_failed_deployment_launches_nothing() -> None:
    sim = Sim.create(2)
    sim.add_tasks("ecs-svc/1", 2)
    sim.deploy("web:2")
    sim.deployments = [
        replace(d, rollout_state=FAILED) if d.status == PRIMARY else d for d in sim.deployments
    ]
    result = sim.tick()
    assert result.to_start == () and result.to_stop == () and not result.stuck and not result.steady


def test_throttle_holds_starts_back() -> None:
    sim = Sim.create(2)
    sim.service = replace(sim.service, launch_not_before=sim.now + 30)
    result = sim.tick()
    assert result.to_start == () and result.throttled
    assert result.events == ("(service web) is unable to consistently start tasks successfully.",)
    sim.tick()
    sim.tick()
    assert sim.tick().to_start == (StartRequest("ecs-svc/1", "web:1", 2),)


def test_old_deployment_becomes_inactive_once_its_tasks_stopped() -> None:
    sim = Sim.create(1, 0, 100)
    sim.add_tasks("ecs-svc/1", 1)
    sim.deploy("web:2")
    first = sim.tick()
    assert len(first.to_stop) == 1
    second = sim.tick()
    assert DeploymentUpdate("ecs-svc/1", INACTIVE, IN_PROGRESS) in second.deployment_updates
    assert second.to_start == (StartRequest("ecs-svc/2", "web:2", 1),)


def test_counts_per_deployment() -> None:
    sim = Sim.create(2, 50, 200)
    sim.add_tasks("ecs-svc/1", 2)
    sim.deploy("web:2")
    result = sim.tick()
    by_id = {c.deployment_id: c for c in result.counts}
    assert by_id["ecs-svc/1"] == dep.DeploymentCounts(
        "ecs-svc/1", desired_count=1, pending_count=0, running_count=2
    )
    assert by_id["ecs-svc/2"] == dep.DeploymentCounts(
        "ecs-svc/2", desired_count=2, pending_count=0, running_count=0
    )


# ---- scenarios ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "minimum", "maximum", "health_check"),
    [
        (4, 100, 200, False),
        (4, 50, 200, False),
        (4, 50, 100, True),
        (2, 0, 100, False),  # stop first, then start
        (2, 100, 200, True),  # start first
        (3, 100, 200, False),  # never more than 6 in flight, never fewer than 3 healthy
        (3, 50, 100, True),  # never more than 3 in flight
        (3, 50, 125, False),
        (10, 90, 110, True),
        (1, 100, 200, False),
        (0, 100, 200, False),
    ],
)
def test_rolling_deployment_keeps_both_bounds_and_completes(
    desired: int, minimum: int, maximum: int, health_check: bool
) -> None:
    sim = Sim.create(desired, minimum, maximum, has_health_check=health_check)
    sim.add_tasks("ecs-svc/1", desired)
    sim.run_until_completed()
    sim.deploy("web:2")
    ceiling, floor = max_tasks(desired, maximum), min_healthy(desired, minimum)
    peak, trough = 0, desired
    ticks = 0
    while not (sim.primary.rollout_state == COMPLETED and sim.history and sim.history[-1].steady):
        sim.tick()
        ticks += 1
        assert ticks < 100
        peak = max(peak, len(sim.in_flight()))
        trough = min(trough, sim.healthy())
    assert peak <= ceiling
    assert trough >= floor
    assert [d.id for d in sim.deployments] == ["ecs-svc/2"]
    assert {t.deployment_id for t in sim.in_flight()} <= {"ecs-svc/2"}
    assert len(sim.in_flight()) == desired == sim.healthy()
    assert not any(p.stuck for p in sim.history)


def test_scale_out_and_in_through_the_same_plan() -> None:
    sim = Sim.create(2)
    sim.run_until_completed()
    sim.service = replace(sim.service, desired_count=5)
    sim.run_until_completed()
    assert len(sim.in_flight()) == 5
    sim.service = replace(sim.service, desired_count=1)
    result = sim.tick()
    assert len(result.to_stop) == 4
    sim.run_until_completed()
    assert len(sim.in_flight()) == 1
