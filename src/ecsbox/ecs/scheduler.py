"""The service scheduler: keeps each service's tasks as its deployments want them.

Level-triggered and atomic: one tick of one service reads the service and its tasks, asks the pure
rolling-update reconciler (:func:`ecsbox.ecs.deployment.plan`) what to do, and records the new
tasks, the stop requests, the deployments' progress and the service events in ONE transaction. The
task agent then makes the containers follow. A crash between ticks loses nothing and a tick that
runs twice starts nothing twice, because every decision is made from what is stored.

A tick runs when a service changes, when one of its tasks changes, and every second as the safety
net. Task outcomes feed the deployment circuit breaker and the start throttle exactly once each.

Deployment alarms (:mod:`ecsbox.ecs.deployment_alarms`): while a service's deployment is watched by
CloudWatch alarms, each tick first reads the alarms' states through the injected ``alarm_states``
reader (outside the transaction), then decides in the transaction. Without a reader, alarms are
ignored.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.core.bus import Bus
from ecsbox.core.clock import Clock
from ecsbox.ecs import backoff, circuit_breaker, repo, service_events, service_repo, task_repo
from ecsbox.ecs.capacity import ProviderShare, next_providers, scale_in_providers, shares
from ecsbox.ecs.circuit_breaker import CircuitBreakerConfig, CircuitBreakerState, TaskOutcome
from ecsbox.ecs.deployment import (
    REASON_UNHEALTHY,
    Plan,
    ServiceView,
    StopRequest,
    TaskView,
    is_healthy,
    is_in_flight,
    plan,
    scaling_reason,
    stop_rank,
)
from ecsbox.ecs.deployment_alarms import AlarmReading
from ecsbox.ecs.local_instance import Machine, does_not_fit, instance_arn, task_reservation
from ecsbox.ecs.service_alarms import alarm_need, bake, handle_alarms
from ecsbox.ecs.service_events import ServiceEvent
from ecsbox.ecs.service_repo import ServiceRecord
from ecsbox.ecs.services import apply_trip, deployment_views, service_arn
from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.ecs.task_state import STOPPED
from ecsbox.ecs.tasks import mark_stopping, new_task_document, new_task_record
from ecsbox.store import Store

log = logging.getLogger("ecsbox.ecs.scheduler")

TICK_EVERY_S = 1.0
COALESCE_S = 0.05
MAX_STARTS_PER_TICK = 100  # a huge scale-out goes in steps, so one tick never holds the loop for long
ON_PURPOSE = {"UserInitiated", "ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice"}
_NEEDS_LIMIT = 10_000

Partition = tuple[str, str]
# alarm_states(partition, alarm names) → {name: AlarmReading (or just its state)} for the alarms that
# exist; state OK | ALARM | INSUFFICIENT_DATA.
AlarmStates = Callable[[Partition, tuple[str, ...]], Awaitable[Mapping[str, AlarmReading | str]]]
AlarmNeed = tuple[Partition, tuple[str, ...]]  # whose alarms a service's next tick reads


class ServiceScheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        bus: Bus,
        wake_task: Callable[[str], None],
        machine: Callable[[], Awaitable[Machine | None]] | None = None,
        server_id: str = "",
        alarm_states: AlarmStates | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.wake_task = wake_task
        self.machine = machine  # None: no placement (scenario tests of the scheduler alone)
        self.server_id = server_id
        self.alarm_states = alarm_states  # None: deployment alarms are ignored
        self._alarm_needs: dict[str, AlarmNeed | None] = {}
        self._pending: set[str] = set()
        self._signal = asyncio.Event()
        self._urgent = False
        self.paused = False  # set while ecsbox stops every task before going down
        bus.subscribe("ecs.task.changed", self._on_task_changed)

    def wake(self, service_arn_: str) -> None:
        """A user changed the service (Create / Update / Delete): tick at once."""
        self._urgent = True
        self._pending.add(service_arn_)
        self._alarm_needs.pop(service_arn_, None)  # its alarms may have changed
        self._signal.set()

    def _on_task_changed(self, _topic: str, event: dict[str, Any]) -> None:
        if event.get("service_name"):
            self._pending.add(
                service_arn(event["region"], event["account_id"], event["cluster"], event["service_name"])
            )
            self._signal.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._signal.wait(), TICK_EVERY_S)
                # A burst of task changes (20 tasks starting) wakes us many times: let it gather,
                # so one tick sees many changes instead of one tick per change.
                if not self._urgent:
                    await asyncio.sleep(COALESCE_S)
            except TimeoutError:
                self._pending.update(await self.store.read(service_repo.live_service_arns))
            self._signal.clear()
            self._urgent = False
            pending, self._pending = self._pending, set()
            for arn in sorted(pending):
                try:
                    await self.tick(arn)
                except Exception:
                    log.exception("event=service_tick_failed service=%s", arn)

    def pause(self) -> None:
        self.paused = True

    async def tick(self, arn: str) -> None:
        if self.paused:
            return
        placement = Placement(await self.machine(), self.server_id) if self.machine is not None else None
        alarms = await self._alarm_readings(arn) if self.alarm_states is not None else None
        now = self.clock.now()
        touched, need = await self.store.write(
            lambda conn: tick_service_watching(conn, arn, now, placement, alarms)
        )
        if self.alarm_states is not None:
            if len(self._alarm_needs) >= _NEEDS_LIMIT:
                self._alarm_needs.clear()
            self._alarm_needs[arn] = need
        for task_arn in touched:
            self.wake_task(task_arn)

    async def _alarm_readings(self, arn: str) -> AlarmInput:
        """The states of the alarms watching the service's deployment, read for this tick."""
        assert self.alarm_states is not None
        if arn not in self._alarm_needs:
            self._alarm_needs[arn] = await self.store.read(
                lambda conn: alarm_need(service_repo.get_service(conn, arn))
            )
        need = self._alarm_needs[arn]
        if need is None:
            return AlarmInput(None)
        partition, names = need
        try:
            answer = await self.alarm_states(partition, names)
        except Exception:
            # As on AWS when DescribeAlarms is throttled: this reading is missed, nothing else.
            log.warning("event=deployment_alarms_unreadable service=%s", arn, exc_info=True)
            answer = {}
        return AlarmInput({name: _reading(value) for name, value in answer.items()})


# ---- one tick, inside one transaction ----------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where EC2 tasks go: this machine, as every cluster's container instance (None: no engine)."""

    machine: Machine | None
    server_id: str


@dataclass(frozen=True)
class AlarmInput:
    """A tick's view of the deployment alarms: ``readings`` None when they were not read this tick
    (no alarm watched the service when the tick began)."""

    readings: Mapping[str, AlarmReading] | None


def _reading(value: AlarmReading | str) -> AlarmReading:
    return value if isinstance(value, AlarmReading) else AlarmReading(str(value))


def tick_service(conn: Connection, arn: str, now: float, placement: Placement | None = None) -> list[str]:
    """Reconcile one service (deployment alarms ignored); returns the task ARNs the agent must look at."""
    return tick_service_watching(conn, arn, now, placement, None)[0]


def tick_service_watching(
    conn: Connection, arn: str, now: float, placement: Placement | None, alarms: AlarmInput | None
) -> tuple[list[str], AlarmNeed | None]:
    """Reconcile one service; ``alarms`` None: deployment alarms are ignored (no reader wired).
    Returns the task ARNs the agent must look at and which alarms the next tick must read."""
    record = service_repo.get_service(conn, arn)
    if record is None or record.status == "INACTIVE":
        return [], None
    tasks = task_repo.service_tasks(conn, record.partition, record.cluster, record.name)
    unchanged = repr((record.status, record.document, record.scheduler))
    document = record.document
    state = record.scheduler
    messages: list[str] = []

    _account_outcomes(record, tasks, now, messages)
    _handle_trips(record, now, messages)
    if alarms is not None:
        handle_alarms(record, alarms.readings, now, messages)

    deployments = [d for d in document["deployments"] if d["status"] != "INACTIVE"]
    primary = next((d for d in deployments if d["status"] == "PRIMARY"), None)
    config = document.get("deploymentConfiguration") or {}
    back = _backoff(state)
    service = ServiceView(
        service_name=record.name,
        desired_count=int(document["desiredCount"]),
        primary_deployment_id=primary["id"] if primary else "",
        minimum_healthy_percent=int(config.get("minimumHealthyPercent", 100)),
        maximum_percent=int(config.get("maximumPercent", 200)),
        health_check_grace_period_seconds=int(document.get("healthCheckGracePeriodSeconds") or 0),
        launch_not_before=back.launch_not_before,
    )
    views = deployment_views(deployments)
    task_views = [_task_view(t) for t in tasks]
    decision = plan(service, views, task_views, now)
    strategy = shares(document.get("capacityProviderStrategy") or [])
    if strategy and service.primary_deployment_id:
        decision = _keep_provider_split(record.name, strategy, decision, task_views, service, now)
    if alarms is not None:
        decision = bake(record, decision, alarms.readings, now)

    touched: list[str] = []
    by_id = {t.task_id: t for t in tasks}
    for stop in decision.to_stop:
        task = by_id.get(stop.task_id)
        if task is not None and task.desired_status != STOPPED:
            mark_stopping(task, stop.stop_code, stop.reason)
            task_repo.save_task(conn, task)
            touched.append(task.task_arn)
    started: list[str] = []
    for start in decision.to_start:
        created = _start_tasks(
            conn,
            record,
            start.deployment_id,
            start.task_definition,
            min(start.count, MAX_STARTS_PER_TICK),
            tasks,
            now,
            placement,
            messages,
        )
        started.extend(t.task_id for t in created)
        touched.extend(t.task_arn for t in created)
    if started:
        messages.append(service_events.started_tasks(record.name, started))
    messages.extend(decision.events)

    _apply_deployments(record, decision, now)
    if record.status == "DRAINING" and not any(is_in_flight(v) for v in task_views) and not decision.to_start:
        record.status = "INACTIVE"
        document["status"] = "INACTIVE"
    _append_events(record, messages, now)
    if touched or repr((record.status, record.document, record.scheduler)) != unchanged:
        service_repo.save_service(conn, record)  # a tick that changed nothing writes nothing
    return touched, alarm_need(record)


def _keep_provider_split(
    service_name: str,
    strategy: tuple[ProviderShare, ...],
    decision: Plan,
    task_views: list[TaskView],
    service: ServiceView,
    now: float,
) -> Plan:
    """Scale-in takes tasks from the providers furthest above their share of the smaller total, so a
    service keeps its base / weight split (SEMANTICS §3.1; :func:`capacity.scale_in_providers`).

    The plan picks how many primary tasks to stop and which it may afford to; this swaps its victims
    for ones of the right providers, never for a task that costs more health (a lower
    :func:`deployment.stop_rank`), so the min-healthy bound it kept still holds.
    Example: FARGATE base 2 weight 1 + FARGATE_SPOT weight 1 running 6 / 4, scale in to 4 → stop
    3 FARGATE and 3 FARGATE_SPOT, leaving 3 / 1.
    """
    primary_id = service.primary_deployment_id
    reason = scaling_reason(primary_id)
    scale_in = [s for s in decision.to_stop if s.deployment_id == primary_id and s.reason == reason]
    if not scale_in:
        return decision
    planned = {s.task_id for s in scale_in}
    stopped_otherwise = {s.task_id for s in decision.to_stop} - planned
    pool = [
        v
        for v in task_views
        if is_in_flight(v) and v.deployment_id == primary_id and v.task_id not in stopped_otherwise
    ]
    counts = Counter(v.capacity_provider or "" for v in pool)
    remaining = [v for v in pool if v.task_id in planned or stop_rank(v, now) > 0]
    picked: list[TaskView] = []
    for provider in scale_in_providers(strategy, counts, len(scale_in)):
        candidates = [v for v in remaining if (v.capacity_provider or "") == provider]
        if not candidates:
            return decision
        victim = min(
            candidates,
            key=lambda v: (v.task_id not in planned, stop_rank(v, now), -(v.started_at or v.created_at)),
        )
        remaining.remove(victim)
        picked.append(victim)
    by_id = {v.task_id: v for v in pool}
    before = sorted(stop_rank(by_id[task_id], now) for task_id in planned)
    after = sorted(stop_rank(v, now) for v in picked)
    if any(new > old for new, old in zip(after, before, strict=True)):
        return decision  # the balanced choice would cost health the plan could not afford
    stops = [s for s in decision.to_stop if s.task_id not in planned] + [
        StopRequest(v.task_id, primary_id, reason) for v in picked
    ]
    old_message = service_events.stopped_tasks(
        service_name, [s.task_id for s in decision.to_stop if s.reason != REASON_UNHEALTHY]
    )
    new_message = service_events.stopped_tasks(
        service_name, [s.task_id for s in stops if s.reason != REASON_UNHEALTHY]
    )
    events = tuple(new_message if e == old_message else e for e in decision.events)
    return replace(decision, to_stop=tuple(stops), events=events)


def _task_view(task: TaskRecord) -> TaskView:
    document = task.document
    checked = any(
        c.get("healthCheck") and c.get("essential", True) is not False
        for c in task.runtime["taskDefinition"].get("containerDefinitions") or []
    )
    return TaskView(
        task_id=task.task_id,
        deployment_id=task.runtime.get("deploymentId", ""),
        last_status=task.last_status,
        desired_status=task.desired_status,
        health_status=document.get("healthStatus", "UNKNOWN"),
        has_health_check=checked,
        started_at=document.get("startedAt"),
        created_at=task.created_at,
        capacity_provider=document.get("capacityProviderName"),
        availability_zone=document.get("availabilityZone"),
    )


def _backoff(state: dict[str, Any]) -> backoff.BackoffState:
    saved = state.get("backoff") or {}
    return backoff.BackoffState(int(saved.get("consecutive_start_failures", 0)), saved.get("last_failure_at"))


def _breaker(state: dict[str, Any], deployment_id: str, config: CircuitBreakerConfig) -> CircuitBreakerState:
    saved = state.setdefault("deployments", {}).setdefault(deployment_id, {}).get("breaker")
    return CircuitBreakerState(**saved) if saved else circuit_breaker.initial_state(config)


def _account_outcomes(
    record: ServiceRecord, tasks: list[TaskRecord], now: float, messages: list[str]
) -> None:
    """Feed each task's news (became healthy, stopped) to the breaker and the throttle, once."""
    state = record.scheduler
    accounted: dict[str, str] = state.setdefault("accounted", {})
    config = CircuitBreakerConfig.from_api(
        (record.document.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")
    )
    desired = int(record.document["desiredCount"])
    back = _backoff(state)
    before = back
    for task in tasks:
        seen = accounted.get(task.task_id, "")
        view = _task_view(task)
        deployment_id = view.deployment_id
        outcome: TaskOutcome | None = None
        if "H" not in seen and task.last_status != STOPPED and is_healthy(view, now):
            seen += "H"
            outcome = TaskOutcome.HEALTHY
            back = backoff.record_task_running(back)
        elif "S" not in seen and task.last_status == STOPPED:
            seen += "S"
            stop_code = task.document.get("stopCode")
            reached_running = task.document.get("startedAt") is not None
            back = backoff.record_task_stopped(
                back, reached_running=reached_running, stop_code=stop_code, now=now
            )
            if stop_code not in ON_PURPOSE:
                outcome = TaskOutcome.FAILED_HEALTH_CHECKS if "H" in seen else TaskOutcome.FAILED_TO_START
        accounted[task.task_id] = seen
        if outcome is not None and deployment_id:
            breaker = _breaker(state, deployment_id, config)
            state["deployments"][deployment_id]["breaker"] = asdict(
                circuit_breaker.observe(breaker, config, outcome, desired)
            )
    live = {t.task_id for t in tasks}
    for task_id in [k for k in accounted if k not in live]:
        del accounted[task_id]
    state["backoff"] = {
        "consecutive_start_failures": back.consecutive_start_failures,
        "last_failure_at": back.last_failure_at,
    }
    if backoff.became_throttled(before, back):
        messages.append(service_events.start_impaired(record.name))


def _handle_trips(record: ServiceRecord, now: float, messages: list[str]) -> None:
    """A tripped breaker fails its deployment and, with rollback, starts one back to the last
    COMPLETED deployment."""
    document = record.document
    config = CircuitBreakerConfig.from_api(
        (document.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")
    )
    if not config.enable:
        return
    for deployment in list(document["deployments"]):
        if deployment["status"] != "PRIMARY" or deployment["rolloutState"] != "IN_PROGRESS":
            continue
        breaker = _breaker(record.scheduler, deployment["id"], config)
        deployment["failedTasks"] = breaker.failure_count
        if breaker.status != circuit_breaker.TRIGGERED:
            continue
        on_trip = partial(circuit_breaker.on_trip, record.name, config, breaker)
        apply_trip(record, deployment, on_trip, now, messages)


def _start_tasks(
    conn: Connection,
    record: ServiceRecord,
    deployment_id: str,
    task_definition_arn: str,
    count: int,
    tasks: list[TaskRecord],
    now: float,
    placement: Placement | None = None,
    messages: list[str] | None = None,
) -> list[TaskRecord]:
    document = record.document
    ctx = RequestContext(
        record.account_id,
        record.region,
        "ecs",
        "CreateService",
        "ecs-service-scheduler",
        principal_arn=document.get("createdBy", ""),
    )
    cluster = repo.get_cluster(conn, record.partition, record.cluster)
    family, _, revision = task_definition_arn.rsplit("/", 1)[-1].partition(":")
    definition = repo.get_task_definition(conn, record.partition, family, int(revision))
    if cluster is None or definition is None:
        return []
    strategy = shares(document.get("capacityProviderStrategy") or [])
    if strategy:
        in_flight: dict[str, int] = {}
        for task in tasks:
            if task.last_status != STOPPED and task.desired_status != STOPPED:
                provider = task.document.get("capacityProviderName") or ""
                in_flight[provider] = in_flight.get(provider, 0) + 1
        providers: list[str | None] = list(next_providers(strategy, in_flight, count))
    else:
        providers = [None] * count
    created = []
    wanted = task_reservation(definition.document)
    reservations: list[tuple[int, int]] | None = None
    for provider in providers:
        launch_type = document.get("launchType") or (
            "FARGATE" if (provider or "").startswith("FARGATE") else "EC2"
        )
        instance = None
        if launch_type == "EC2" and placement is not None:
            if placement.machine is None:
                if messages is not None:
                    messages.append(service_events.unable_to_place(record.name))
                continue
            if reservations is None:
                reservations = task_repo.ec2_reservations(conn, record.partition, record.cluster)[0]
            instance = instance_arn(record.region, record.account_id, record.cluster, placement.server_id)
            reason = does_not_fit(placement.machine, reservations, wanted)
            if reason is not None:
                if messages is not None:
                    what = "CPU units" if reason == "RESOURCE:CPU" else "memory"
                    detail = (
                        f"The closest matching container-instance {instance.rsplit('/', 1)[-1]} has "
                        f"insufficient {what} available."
                    )
                    messages.append(service_events.unable_to_place(record.name, detail))
                continue
            reservations.append(wanted)
        params = {
            "startedBy": deployment_id,
            "group": f"service:{record.name}",
            "networkConfiguration": document.get("networkConfiguration"),
            "platformVersion": document.get("platformVersion")
            if document.get("platformVersion") != "LATEST"
            else None,
        }
        task_id = uuid.uuid4().hex
        task_document = new_task_document(
            ctx, cluster, definition.document, task_id, params, launch_type, provider, now
        )
        if instance:
            task_document["containerInstanceArn"] = instance
        task = new_task_record(
            record.account_id,
            record.region,
            record.cluster,
            task_id,
            definition.family,
            definition.document,
            task_document,
            launch_type,
            now,
            document.get("networkConfiguration"),
            record.name,
            deployment_id,
            deployment_id,
        )
        task_repo.insert_task(conn, task)
        created.append(task)
    return created


def _apply_deployments(record: ServiceRecord, decision: Any, now: float) -> None:
    document = record.document
    by_id = {d["id"]: d for d in document["deployments"]}
    for update in decision.deployment_updates:
        deployment = by_id.get(update.deployment_id)
        if deployment is None:
            continue
        deployment["status"] = update.status
        deployment["rolloutState"] = update.rollout_state
        if update.rollout_state_reason:
            deployment["rolloutStateReason"] = update.rollout_state_reason
        deployment["updatedAt"] = now
        if update.rollout_state == "COMPLETED":
            state = record.scheduler.setdefault("deployments", {}).setdefault(update.deployment_id, {})
            if state.get("breaker"):
                state["breaker"] = asdict(circuit_breaker.complete(CircuitBreakerState(**state["breaker"])))
    running = pending = 0
    for counts in decision.counts:
        deployment = by_id.get(counts.deployment_id)
        if deployment is None:
            continue
        deployment["desiredCount"] = counts.desired_count
        deployment["runningCount"] = counts.running_count
        deployment["pendingCount"] = counts.pending_count
        running += counts.running_count
        pending += counts.pending_count
    document["deployments"] = [d for d in document["deployments"] if d["status"] != "INACTIVE"]
    document["runningCount"] = running
    document["pendingCount"] = pending


def _append_events(record: ServiceRecord, messages: list[str], now: float) -> None:
    if not messages:
        return
    existing = [
        ServiceEvent(e["id"], float(e["createdAt"]), e["message"]) for e in record.document.get("events", [])
    ]
    events = service_events.append_events(existing, messages, now, lambda: str(uuid.uuid4()))
    record.document["events"] = [
        {"id": e.id, "createdAt": e.created_at, "message": e.message} for e in events
    ]
