"""The rolling-update (``ECS`` controller, REPLICA) reconciler: one pure function, :func:`plan`.

Given the service, its deployments, its tasks and ``now``, it says which tasks to start and stop,
how the deployments' state changes, and which service events to record (SEMANTICS §1.2-1.3,
§1.5). The controller does the I/O and calls it again on the next tick; a start or stop takes
effect on the next tick's view, so each tick reasons from one consistent snapshot:

* ``maxTasks = floor(desired * maximumPercent)``: starts never push the tasks in flight (desired
  RUNNING and not yet STOPPED, all deployments) above it;
* ``minHealthy = ceil(desired * minimumHealthyPercent)``: stops never take the healthy tasks
  below it (healthy = RUNNING and HEALTHY with an essential health check, or RUNNING ≥ 40 s
  without one).

Which task to stop first (a documented ecsbox choice where AWS only says "oldest, AZ-balanced"):
UNHEALTHY, then not yet RUNNING, then RUNNING but not yet healthy, then healthy; within that, from
the Availability Zone holding most of the service's tasks; then the oldest (old deployments) or
the newest (scale-in of the primary). Stopping a task that is not RUNNING or is UNHEALTHY never
costs health, so it is always allowed; stopping a RUNNING one must leave ``minHealthy`` healthy
(or, for one still warming up, ``minHealthy`` healthy-or-warming).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ecsbox.ecs import service_events
from ecsbox.ecs.rounding import max_tasks, min_healthy

HEALTHY_WITHOUT_CHECK_AFTER_S = 40.0

PRIMARY, ACTIVE, INACTIVE = "PRIMARY", "ACTIVE", "INACTIVE"
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"
RUNNING, STOPPED = "RUNNING", "STOPPED"
HEALTHY, UNHEALTHY, UNKNOWN = "HEALTHY", "UNHEALTHY", "UNKNOWN"
STOP_CODE_SCHEDULER = "ServiceSchedulerInitiated"
REASON_UNHEALTHY = "Task failed container health checks"


def scaling_reason(deployment_id: str) -> str:
    """``scaling_reason("ecs-svc/1")`` → ``Scaling activity initiated by (deployment ecs-svc/1)``."""
    return f"Scaling activity initiated by (deployment {deployment_id})"


def completed_reason(deployment_id: str) -> str:
    """``rolloutStateReason`` of a finished rollout: ``ECS deployment ecs-svc/1 completed.``"""
    return f"ECS deployment {deployment_id} completed."


@dataclass(frozen=True)
class ServiceView:
    service_name: str
    desired_count: int
    primary_deployment_id: str
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    health_check_grace_period_seconds: int = 0
    # The throttle (backoff.next_launch_allowed_at): no task is started before this time.
    launch_not_before: float = 0.0


@dataclass(frozen=True)
class DeploymentView:
    id: str
    status: str  # PRIMARY | ACTIVE (INACTIVE ones need not be passed)
    task_definition: str
    rollout_state: str = IN_PROGRESS
    created_at: float = 0.0


@dataclass(frozen=True)
class TaskView:
    task_id: str
    deployment_id: str
    last_status: str
    desired_status: str = RUNNING
    health_status: str = UNKNOWN
    has_health_check: bool = False  # some essential container defines a healthCheck
    started_at: float | None = None  # when the task reached RUNNING
    created_at: float = 0.0
    capacity_provider: str | None = None
    availability_zone: str | None = None


@dataclass(frozen=True)
class StartRequest:
    deployment_id: str
    task_definition: str
    count: int


@dataclass(frozen=True)
class StopRequest:
    task_id: str
    deployment_id: str
    reason: str
    stop_code: str = STOP_CODE_SCHEDULER


@dataclass(frozen=True)
class DeploymentUpdate:
    deployment_id: str
    status: str
    rollout_state: str
    rollout_state_reason: str | None = None


@dataclass(frozen=True)
class DeploymentCounts:
    """What DescribeServices shows per deployment; ``desired_count`` is the service's for the
    primary and, for an old deployment, the tasks it keeps after this tick's stops."""

    deployment_id: str
    desired_count: int
    pending_count: int
    running_count: int


@dataclass(frozen=True)
class Plan:
    to_start: tuple[StartRequest, ...] = ()
    to_stop: tuple[StopRequest, ...] = ()
    deployment_updates: tuple[DeploymentUpdate, ...] = ()
    counts: tuple[DeploymentCounts, ...] = ()
    events: tuple[str, ...] = ()
    steady: bool = False  # the service is in steady state (COMPLETED, desired healthy, nothing to do)
    stuck: bool = False  # neither bound allows progress (the deployment-configuration event)
    throttled: bool = False  # starts were due but the throttle holds them back
    start_count: int = 0  # total of to_start


# ---- what a task is ---------------------------------------------------------------------------


def is_in_flight(task: TaskView) -> bool:
    """Counts toward maxTasks: the scheduler wants it RUNNING and it has not STOPPED yet."""
    return task.desired_status == RUNNING and task.last_status != STOPPED


def is_healthy(task: TaskView, now: float) -> bool:
    """Counts toward minHealthy. With a health check: RUNNING and HEALTHY. Without one: RUNNING for
    at least 40 s (started 100, now 140 → healthy; now 139.9 → not yet). Never when UNHEALTHY."""
    if not is_in_flight(task) or task.last_status != RUNNING or task.health_status == UNHEALTHY:
        return False
    if task.has_health_check:
        return task.health_status == HEALTHY
    return task.started_at is not None and now - task.started_at >= HEALTHY_WITHOUT_CHECK_AFTER_S


def needs_replacement(task: TaskView, now: float, grace_period_s: float) -> bool:
    """RUNNING, UNHEALTHY and out of the service's health-check grace period (started 100, grace 60:
    at 159 it is still ignored, at 160 it is replaced)."""
    if not is_in_flight(task) or task.last_status != RUNNING or task.health_status != UNHEALTHY:
        return False
    return task.started_at is None or now - task.started_at >= grace_period_s


def stop_rank(task: TaskView, now: float) -> int:
    """Which tasks go first: 0 UNHEALTHY, 1 not yet RUNNING, 2 RUNNING but not yet healthy, 3 healthy."""
    if task.last_status != RUNNING:
        return 1
    if task.health_status == UNHEALTHY:
        return 0
    return 3 if is_healthy(task, now) else 2


def _age(task: TaskView) -> float:
    return task.started_at if task.started_at is not None else task.created_at


def order_victims(
    candidates: Sequence[TaskView], in_flight: Sequence[TaskView], now: float, *, newest_first: bool
) -> list[TaskView]:
    """``candidates`` in the order they should be stopped: by :func:`stop_rank`, then from the
    Availability Zone with most of ``in_flight`` (recounted after each pick), then by age."""
    load = Counter(task.availability_zone for task in in_flight)

    def key(task: TaskView) -> tuple[int, int, float, str]:
        age = _age(task)
        return (
            stop_rank(task, now),
            -load[task.availability_zone],
            -age if newest_first else age,
            task.task_id,
        )

    remaining = list(candidates)
    ordered: list[TaskView] = []
    while remaining:
        victim = min(remaining, key=key)
        remaining.remove(victim)
        load[victim.availability_zone] -= 1
        ordered.append(victim)
    return ordered


# ---- the plan ---------------------------------------------------------------------------------


class _StopBudget:
    """Stops may not take healthy tasks below minHealthy (nor healthy-or-warming, for warming ones)."""

    def __init__(self, in_flight: Sequence[TaskView], floor: int, now: float) -> None:
        self.now = now
        self.floor = floor
        self.healthy = sum(1 for task in in_flight if is_healthy(task, now))
        self.warming = sum(1 for task in in_flight if stop_rank(task, now) == 2)

    def take(self, task: TaskView) -> bool:
        rank = stop_rank(task, self.now)
        if rank == 3:
            if self.healthy - 1 < self.floor:
                return False
            self.healthy -= 1
        elif rank == 2:
            if self.healthy + self.warming - 1 < self.floor:
                return False
            self.warming -= 1
        return True

    @property
    def any_left(self) -> bool:
        return self.healthy > self.floor


def plan(
    service: ServiceView,
    deployments: Sequence[DeploymentView],
    tasks: Sequence[TaskView],
    now: float,
) -> Plan:
    """One reconciliation tick of a REPLICA service under the ECS (rolling) controller.

    Worked example (desired 2, min 100 %, max 200 %, two healthy tasks of old deployment ``d1``,
    new primary ``d2`` with none): maxTasks 4, minHealthy 2 → start 2 for ``d2``, stop nothing.
    Once both new tasks are healthy → stop both ``d1`` tasks; when those are STOPPED, ``d1`` becomes
    INACTIVE and ``d2`` COMPLETED.
    """
    desired = service.desired_count
    primary_id = service.primary_deployment_id
    primary = next((d for d in deployments if d.id == primary_id), None)
    failed = primary is None or primary.rollout_state == FAILED
    name = service.service_name
    grace = float(service.health_check_grace_period_seconds)

    in_flight = [task for task in tasks if is_in_flight(task)]
    primary_tasks = [task for task in in_flight if task.deployment_id == primary_id]
    old_tasks = [task for task in in_flight if task.deployment_id != primary_id]
    ceiling = max_tasks(desired, service.maximum_percent)
    can_start = ceiling - len(in_flight)
    budget = _StopBudget(in_flight, min_healthy(desired, service.minimum_healthy_percent), now)

    stops: list[StopRequest] = []
    events: list[str] = []

    # Unhealthy primary tasks: replace them (start first when maxTasks allows); stop them once the
    # primary has enough healthy tasks without them, or one by one when no replacement can start.
    unhealthy = [] if failed else [t for t in primary_tasks if needs_replacement(t, now, grace)]
    keep = len(primary_tasks) - len(unhealthy)
    needed = 0 if failed else max(0, desired - keep)
    primary_healthy = sum(1 for task in primary_tasks if is_healthy(task, now))
    if unhealthy:
        if primary_healthy >= desired:
            victims = unhealthy
        elif can_start <= 0:
            victims = sorted(unhealthy, key=lambda t: (_age(t), t.task_id))[:1]
        else:
            victims = []
        for task in victims:
            stops.append(StopRequest(task.task_id, task.deployment_id, REASON_UNHEALTHY))
            events.append(service_events.task_failed_health_checks(name, task.task_id))

    # Old deployments' tasks: all of them go, as fast as minHealthy allows (a FAILED primary halts it).
    if not failed:
        for task in order_victims(old_tasks, in_flight, now, newest_first=False):
            if budget.take(task):
                stops.append(
                    StopRequest(task.task_id, task.deployment_id, scaling_reason(task.deployment_id))
                )

    # Scale-in: the primary's surplus over desired.
    # Unhealthy tasks still waiting for their replacement are not surplus: the replacement is.
    set_aside = {stop.task_id for stop in stops} | {task.task_id for task in unhealthy}
    remaining = [task for task in primary_tasks if task.task_id not in set_aside]
    surplus = len(remaining) - desired
    if surplus > 0:
        for task in order_victims(remaining, in_flight, now, newest_first=True):
            if surplus == 0:
                break
            if budget.take(task):
                stops.append(
                    StopRequest(task.task_id, task.deployment_id, scaling_reason(task.deployment_id))
                )
                surplus -= 1

    # Starts for the primary.
    start_count = max(0, min(can_start, needed))
    throttled = start_count > 0 and now < service.launch_not_before
    if throttled:
        start_count = 0
        events.append(service_events.start_impaired(name))
    to_start: tuple[StartRequest, ...] = ()
    if start_count and primary is not None:
        to_start = (StartRequest(primary_id, primary.task_definition, start_count),)

    if stops:
        stopped_running = [stop.task_id for stop in stops if stop.reason != REASON_UNHEALTHY]
        if stopped_running:
            events.append(service_events.stopped_tasks(name, stopped_running))

    # Deployment state.
    left = Counter(task.deployment_id for task in tasks if task.last_status != STOPPED)
    old_left = any(count for dep_id, count in left.items() if dep_id != primary_id)
    updates: list[DeploymentUpdate] = [
        DeploymentUpdate(d.id, INACTIVE, d.rollout_state)
        for d in deployments
        if d.id != primary_id and d.status != INACTIVE and not left[d.id]
    ]
    settled = (
        not stops
        and not start_count
        and not old_left
        and len(primary_tasks) == desired
        and primary_healthy >= desired
    )
    rollout_state = primary.rollout_state if primary is not None else FAILED
    if settled and primary is not None and rollout_state == IN_PROGRESS:
        rollout_state = COMPLETED
        updates.append(DeploymentUpdate(primary_id, PRIMARY, COMPLETED, completed_reason(primary_id)))
        events.append(service_events.deployment_completed(name, primary_id))
    steady = settled and rollout_state == COMPLETED and not throttled
    if steady:
        events.append(service_events.steady_state(name))

    # Stuck: work is left, nothing is settling, and neither bound allows a start or a stop.
    work_left = bool(old_tasks) or needed > 0
    all_healthy = all(is_healthy(task, now) for task in in_flight)
    stuck = (
        work_left
        and not failed
        and not stops
        and not start_count
        and not throttled
        and all_healthy
        and can_start <= 0
        and not budget.any_left
    )
    if stuck:
        events.append(service_events.deployment_stuck(name))

    return Plan(
        to_start=to_start,
        to_stop=tuple(stops),
        deployment_updates=tuple(updates),
        counts=_counts(service, deployments, tasks, stops),
        events=tuple(events),
        steady=steady,
        stuck=stuck,
        throttled=throttled,
        start_count=start_count,
    )


def _counts(
    service: ServiceView,
    deployments: Sequence[DeploymentView],
    tasks: Sequence[TaskView],
    stops: Sequence[StopRequest],
) -> tuple[DeploymentCounts, ...]:
    stopping = {stop.task_id for stop in stops}
    result = []
    for deployment in deployments:
        own = [task for task in tasks if task.deployment_id == deployment.id]
        kept = sum(1 for task in own if is_in_flight(task) and task.task_id not in stopping)
        result.append(
            DeploymentCounts(
                deployment_id=deployment.id,
                desired_count=service.desired_count
                if deployment.id == service.primary_deployment_id
                else kept,
                pending_count=sum(1 for task in own if is_in_flight(task) and task.last_status != RUNNING),
                running_count=sum(1 for task in own if task.last_status == RUNNING),
            )
        )
    return tuple(result)
