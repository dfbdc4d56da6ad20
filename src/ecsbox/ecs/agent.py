"""The task agent: makes each task's containers match what the store says, as the ECS agent does.

Level-triggered. Each task that is not yet STOPPED gets one driver at a time, which compares the
task (desired and last status) with its containers as the runtime reports them and takes the next
step: provision the network, pull, create and start the containers, watch them, stop them. A
driver runs when a task changes (RunTask, StopTask), when the runtime reports an event for one of
its containers, and on a periodic pass that is the safety net. After a restart of ecsbox the same
pass adopts running tasks and finishes or restarts the ones it left half-way.

Every container carries labels naming this server and the task, so containers of another ecsbox on
the same engine are never touched, and a container whose task ecsbox no longer knows is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ecsbox.core.bus import Bus
from ecsbox.core.clock import Clock
from ecsbox.ecs import task_repo
from ecsbox.ecs.task_launch import (
    FireLensCheck,
    ImageResolver,
    LaunchSteps,
    LogPreparer,
    SecretResolver,
    TaskFailed,
)
from ecsbox.ecs.task_observations import (
    apply_container_states,
    default_environment,
    set_status,
    settled,
)
from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.ecs.task_state import (
    DEACTIVATING,
    DEPROVISIONING,
    ESSENTIAL_CONTAINER_EXITED,
    ESSENTIAL_EXITED_REASON,
    PROVISIONING,
    RUNNING,
    STOPPED,
    STOPPING,
    TASK_FAILED_TO_START,
    observe,
)
from ecsbox.ecs.tasks import mark_stopping
from ecsbox.ecs.taskspec import (
    LABEL_SERVER,
    LABEL_TASK_ARN,
    TaskIdentity,
    TaskPlan,
    plan_task,
    start_order,
)
from ecsbox.runtime.port import (
    ContainerState,
    Runtime,
    RuntimeFailure,
)
from ecsbox.store import Store

log = logging.getLogger("ecsbox.ecs.agent")

RECONCILE_EVERY_S = 5.0
STOPPED_TASK_KEPT_S = 3600.0  # stopped tasks stay describable for about an hour (wall clock)
DEFAULT_STOP_TIMEOUT_S = 30.0
STOP_GRACE_S = 30.0  # past a stop timeout by this much, a stop the engine did not finish is asked again

TASK_CHANGED = "ecs.task.changed"  # bus topic: {"task_arn", "last_status", "desired_status", ...}

PauseImage = Callable[[], Awaitable[str]]


class TaskAgent(LaunchSteps):
    def __init__(
        self,
        store: Store,
        runtime: Runtime | None,
        clock: Clock,
        bus: Bus,
        server_id: str,
        pause_image: PauseImage,
        # (task, container name) → the environment ecsbox gives that container
        base_environment: Callable[[TaskRecord, str], dict[str, str]] | None = None,
        secret_resolver: SecretResolver | None = None,
        image_resolver: ImageResolver | None = None,
        log_forward: Callable[[], str | None] | None = None,
        log_preparer: LogPreparer | None = None,
        firelens_check: FireLensCheck | None = None,
    ) -> None:
        self.store = store
        self.secret_resolver = secret_resolver
        self.image_resolver = image_resolver
        # ecsbox's Forward receiver (host:port) once it listens: where awslogs containers log
        self.log_forward = log_forward or (lambda: None)
        self.log_preparer = log_preparer
        self.firelens_check = firelens_check
        self.runtime = runtime
        self.clock = clock
        self.bus = bus
        self.server_id = server_id
        self.network = f"ecsbox-{server_id[:12]}"
        self.pause_image = pause_image
        self.base_environment = base_environment or (lambda record, _name: default_environment(record))
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._background: set[asyncio.Task[Any]] = set()
        # Drivers parked until a container dependency holds (only time or the engine can change
        # that), and the event that makes them look again before their poll interval is up.
        self._waiting: set[str] = set()
        self._recheck = asyncio.Event()
        self._parked = asyncio.Event()

    # ---- entry points ------------------------------------------------------------------------

    def wake(self, task_arn: str, *, started: bool = False) -> None:
        """Something about this task changed: drive it now (or again, once its driver is done).
        ``started``: only that one of its containers started, which the driver that is launching
        the task sees itself (it inspects after every start); a driver parked on a dependency
        looks again at once."""
        if task_arn in self._drivers:
            if started:
                if task_arn in self._waiting:
                    self._wake_parked()
                return
            self._again.add(task_arn)
            if task_arn in self._waiting:  # a container it waits on may have changed: look now
                self._wake_parked()
            return
        try:
            driver = asyncio.get_running_loop().create_task(self._drive(task_arn))
        except RuntimeError:  # no loop (a handler called from a test without one): the pass will do
            return
        self._drivers[task_arn] = driver

    async def idle(self) -> None:
        """Return once every driver has finished or is parked on a container dependency that only
        time can satisfy. Parked drivers look again first, so a caller that moved the clock (a
        scenario on the simulated runtime) sees them take every step the new time allows."""
        self._wake_parked()
        while True:
            busy = [task for arn, task in self._drivers.items() if arn not in self._waiting]
            if not busy:
                return
            self._parked.clear()
            parked = asyncio.ensure_future(self._parked.wait())
            try:
                await asyncio.wait([*busy, parked], return_when=asyncio.FIRST_COMPLETED)
            finally:
                parked.cancel()

    def _wake_parked(self) -> None:
        recheck, self._recheck = self._recheck, asyncio.Event()
        self._waiting.clear()
        recheck.set()

    async def run(self) -> None:
        """Reconcile now and every few seconds; follow the runtime's events meanwhile."""
        if self.runtime is not None:
            events = asyncio.create_task(self._follow_events())
            self._background.add(events)
        try:
            while True:
                try:
                    await self.reconcile()
                except Exception:  # the safety net must keep running
                    log.exception("event=reconcile_failed")
                await asyncio.sleep(RECONCILE_EVERY_S)
        finally:
            for task in list(self._background) + list(self._drivers.values()):
                task.cancel()

    async def reconcile(self) -> None:
        """One level-triggered pass: drive every task whose containers do not match what it
        should be (a RUNNING task whose containers all run is left to the runtime's events),
        remove orphans and expired tasks."""
        unfinished = await self.store.read(task_repo.unfinished_tasks)
        if self.runtime is None:
            for record in unfinished:
                self.wake(record.task_arn)
            return
        states = await self.runtime.list({LABEL_SERVER: self.server_id})
        by_id = {state.id: state for state in states}
        for record in unfinished:
            if not settled(record, by_id):
                self.wake(record.task_arn)
        known = await self.store.read(task_repo.all_task_arns)
        for state in states:
            if state.labels.get(LABEL_TASK_ARN) not in known:
                log.info("event=orphan_removed container=%s", state.name)
                await self._remove_quietly(state.id)
        cutoff = self.clock.wall() - STOPPED_TASK_KEPT_S
        expired: list[TaskRecord] = await self.store.read(lambda conn: task_repo.expired_tasks(conn, cutoff))
        for record in expired:
            await self._remove_containers(record)
            await self.store.write(functools.partial(task_repo.delete_task, task_arn=record.task_arn))

    async def remove_all_containers(self) -> None:
        """Remove every container of this server (state reset)."""
        if self.runtime is None:
            return
        for state in await self.runtime.list({LABEL_SERVER: self.server_id}):
            await self._remove_quietly(state.id)

    # ---- one task ----------------------------------------------------------------------------

    async def _drive(self, task_arn: str) -> None:
        try:
            while True:
                self._again.discard(task_arn)
                try:
                    await self._step(task_arn)
                except Exception:
                    log.exception("event=task_step_failed task=%s", task_arn)
                if task_arn not in self._again:
                    return
        finally:
            self._drivers.pop(task_arn, None)

    async def _step(self, task_arn: str) -> None:
        record = await self.store.read(lambda conn: task_repo.get_task(conn, task_arn))
        if record is None or record.last_status == STOPPED:
            return
        if self.runtime is None:
            await self._fail(
                record,
                TASK_FAILED_TO_START,
                "ResourceInitializationError: no container engine answers this ecsbox",
            )
            record = await self._load(task_arn)
            if record is not None:
                await self._finish_stop(record, {})
            return
        if record.desired_status == STOPPED:
            await self._stop(record)
        elif record.last_status == RUNNING:
            await self._watch(record)
        else:
            await self._launch(record)

    async def _load(self, task_arn: str) -> TaskRecord | None:
        return await self.store.read(lambda conn: task_repo.get_task(conn, task_arn))

    async def _update(self, task_arn: str, change: Callable[[TaskRecord], bool | None]) -> TaskRecord | None:
        """Change the task in one write; a change that returns False writes nothing and tells no one."""
        wrote: list[bool] = []

        def changed(record: TaskRecord) -> bool | None:
            before = (record.last_status, record.desired_status)
            result = change(record)
            if result is not False:
                wrote.append(True)
                record.document["version"] = int(record.document.get("version", 1)) + 1
                if (record.last_status, record.desired_status) != before:
                    record.document["lastStatus"] = record.last_status
                    record.document["desiredStatus"] = record.desired_status
            return result

        record = await self.store.write(lambda conn: task_repo.mutate_task(conn, task_arn, changed))
        if record is not None and wrote:
            await self.bus.publish(
                TASK_CHANGED,
                {
                    "task_arn": task_arn,
                    "last_status": record.last_status,
                    "desired_status": record.desired_status,
                    "service_name": record.service_name,
                    "cluster": record.cluster,
                    "account_id": record.account_id,
                    "region": record.region,
                },
            )
        return record

    def _identity(self, record: TaskRecord) -> TaskIdentity:
        return TaskIdentity(
            task_arn=record.task_arn,
            task_id=record.task_id,
            cluster_name=record.cluster,
            cluster_arn=record.document["clusterArn"],
            account_id=record.account_id,
            region=record.region,
            server_id=self.server_id,
            launch_type=record.launch_type,
            network=self.network,
        )

    async def _plan(
        self, record: TaskRecord, secrets: dict[str, dict[str, str]] | None = None, for_launch: bool = False
    ) -> TaskPlan:
        """The task's container specs. Watching and stopping need only their shape: the containers'
        environment (metadata tokens, credentials, secrets) is made only for a launch."""
        definition = record.runtime["taskDefinition"]
        return plan_task(
            self._identity(record),
            definition,
            record.document.get("overrides") or {},
            await self.pause_image()
            if definition.get("networkMode") == "awsvpc" or record.launch_type == "FARGATE"
            else "",
            (lambda name: self.base_environment(record, name)) if for_launch else {},
            secrets,
            self.log_forward(),
        )

    # ---- watching ----------------------------------------------------------------------------

    async def _watch(self, record: TaskRecord) -> None:
        """A RUNNING task: refresh its containers; an essential container that stopped (or is
        gone, or the pause container holding the network) stops the task."""
        assert self.runtime is not None
        ids: dict[str, str] = record.runtime.get("containers", {})
        states = {name: await self.runtime.inspect(cid) for name, cid in ids.items()}
        pause_id = record.runtime.get("pause")
        pause_state = await self.runtime.inspect(pause_id) if pause_id else None
        plan = await self._plan(record)
        essential = {c.name for c in plan.containers if c.essential}

        def watched(r: TaskRecord) -> bool:
            before = repr((r.document.get("containers"), r.document.get("healthStatus")))
            apply_container_states(r, plan, ids, states, pause_state)
            exited = [n for n in essential if observe(states.get(n)).last_status == STOPPED]
            network_lost = pause_id is not None and observe(pause_state).last_status == STOPPED
            if (exited or network_lost) and r.desired_status != STOPPED:
                mark_stopping(r, ESSENTIAL_CONTAINER_EXITED, ESSENTIAL_EXITED_REASON)
                return True
            return before != repr((r.document.get("containers"), r.document.get("healthStatus")))

        updated = await self._update(record.task_arn, watched)
        if updated is not None and updated.desired_status == STOPPED:
            self.wake(record.task_arn)

    # ---- stopping ----------------------------------------------------------------------------

    async def _stop(self, record: TaskRecord) -> None:
        """DEACTIVATING → STOPPING (stop signal, then SIGKILL after each container's stopTimeout)
        → DEPROVISIONING (the network) → STOPPED. The task stays STOPPING until every container
        has really exited: a runtime whose stop returns early (or an engine that lost the request)
        is waited for, and asked again only when the stop timeout is long past."""
        assert self.runtime is not None
        now = self.clock.now()
        if record.last_status == RUNNING:
            await self._update(record.task_arn, lambda r: set_status(r, DEACTIVATING))
        ids: dict[str, str] = record.runtime.get("containers", {})
        plan: TaskPlan | None
        try:
            plan = await self._plan(record)
        except Exception:  # a definition that cannot be planned must still be stoppable
            log.exception("event=task_plan_failed task=%s", record.task_arn)
            plan = None
        timeouts: dict[str, float]
        if plan is not None:
            timeouts = {c.name: float(c.spec.stop_timeout_s or 0) for c in plan.containers}
            waves = [[c.name for c in wave] for wave in reversed(start_order(plan.containers))]
        else:
            timeouts = dict.fromkeys(ids, DEFAULT_STOP_TIMEOUT_S)
            waves = [list(ids)]
        issued = record.runtime.get("stopIssuedAt")
        overdue = (
            issued is not None
            and self.clock.wall() - issued > max(timeouts.values(), default=0) + STOP_GRACE_S
        )
        if issued is None or overdue:
            issued_at = self.clock.wall()

            def stopping(r: TaskRecord) -> None:
                set_status(r, STOPPING, stoppingAt=r.document.get("stoppingAt", now))
                r.runtime["stopIssuedAt"] = issued_at

            await self._update(record.task_arn, stopping)
            # Reverse of the start order: dependents stop before what they depend on.
            for wave in waves:
                await asyncio.gather(
                    *(self._stop_quietly(ids[name], timeouts.get(name, 0)) for name in wave if name in ids)
                )
        states = {name: await self.runtime.inspect(cid) for name, cid in ids.items()}
        if any(observe(state).last_status == RUNNING for state in states.values()):
            return  # the container's exit (a runtime event) or the periodic pass brings us back
        await self._update(
            record.task_arn,
            lambda r: set_status(
                r, DEPROVISIONING, executionStoppedAt=r.document.get("executionStoppedAt", now)
            ),
        )
        pause_id = record.runtime.get("pause")
        if pause_id:
            await self._remove_quietly(pause_id)  # the pause container ignores SIGTERM: remove it outright
        await self._finish_stop(record, states, plan)

    async def _finish_stop(
        self, record: TaskRecord, states: dict[str, ContainerState | None], plan: TaskPlan | None = None
    ) -> None:
        now = self.clock.now()
        ids: dict[str, str] = record.runtime.get("containers", {})

        def stopped(r: TaskRecord) -> None:
            if plan is not None:
                apply_container_states(r, plan, ids, states, None)
            for container in r.document.get("containers", []):
                if container.get("lastStatus") != STOPPED:
                    container["lastStatus"] = STOPPED
            set_status(r, STOPPED, stoppedAt=r.document.get("stoppedAt", now))
            r.document.setdefault("executionStoppedAt", now)
            r.stopped_wall = self.clock.wall()

        await self._update(record.task_arn, stopped)

    async def _fail(self, record: TaskRecord, stop_code: str, reason: str) -> None:
        def failed(r: TaskRecord) -> None:
            mark_stopping(r, stop_code, reason)
            for container in r.document.get("containers", []):
                container.setdefault("reason", reason)

        await self._update(record.task_arn, failed)

    # ---- runtime plumbing --------------------------------------------------------------------

    async def _remember(self, task_arn: str, name: str, container_id: str) -> None:
        """Record a container id as soon as it exists, so a crash right after leaves no stranger."""

        def remember(r: TaskRecord) -> None:
            if name == "pause":
                r.runtime["pause"] = container_id
            else:
                r.runtime.setdefault("containers", {})[name] = container_id

        await self.store.write(lambda conn: task_repo.mutate_task(conn, task_arn, remember))

    async def _remove_containers(self, record: TaskRecord) -> None:
        assert self.runtime is not None
        for state in await self.runtime.list({LABEL_SERVER: self.server_id, LABEL_TASK_ARN: record.task_arn}):
            await self._remove_quietly(state.id)

    async def _stop_quietly(self, container_id: str, timeout_s: float) -> None:
        assert self.runtime is not None
        with contextlib.suppress(RuntimeFailure):
            await self.runtime.stop(container_id, timeout_s)

    async def _remove_quietly(self, container_id: str) -> None:
        assert self.runtime is not None
        with contextlib.suppress(RuntimeFailure):
            await self.runtime.remove(container_id)

    async def firelens_setup_of(self, partition: tuple[str, str], task_id: str) -> dict[str, Any] | None:
        """The FireLens router setup of a task, by id (the log receiver asks when a task's
        records arrive and it has no router for it yet, as after a restart)."""
        record = await self.store.read(lambda conn: task_repo.task_with_id(conn, partition, task_id))
        return await self.firelens_setup(record) if record is not None else None

    async def _follow_events(self) -> None:
        assert self.runtime is not None
        while True:
            try:
                async for event in self.runtime.events({LABEL_SERVER: self.server_id}):
                    task_arn = event.labels.get(LABEL_TASK_ARN)
                    if task_arn and event.action in ("die", "destroy", "health_status", "oom", "start"):
                        self.wake(task_arn, started=event.action == "start")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=runtime_events_failed")
            await asyncio.sleep(1)


__all__ = ["PROVISIONING", "TASK_CHANGED", "TaskAgent", "TaskFailed"]
