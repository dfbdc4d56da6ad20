"""A whole ecsbox ECS data plane in one process, on the simulated runtime and a FakeClock.

:class:`SimBox` wires what ``ecsbox.app.build`` wires (store, bus, task agent, service scheduler,
the ECS operations) onto a :class:`SimulatedRuntime`, and drives it deterministically: nothing runs
in the background. :meth:`SimBox.settle` runs the agent and the scheduler until nothing more happens
at the current instant, then moves the clock a step, fires what fell due in the runtime, and again,
until the whole picture (tasks, services, containers) has stayed the same for a while.

A test states what a user would see: API answers, service events, containers on the engine.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.core.bus import Bus
from ecsbox.core.clock import FakeClock
from ecsbox.ecs import AlarmReading, ServiceScheduler, TaskAgent, operations, service_repo, task_repo
from ecsbox.ecs.local_instance import Machine
from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.ecs.taskspec import LABEL_CONTAINER, LABEL_ROLE, LABEL_SERVER, LABEL_TASK_ARN
from ecsbox.runtime.port import ContainerState
from ecsbox.runtime.simulated import SimulatedRuntime
from ecsbox.secrets import resolve_secret_reference, ssm_operations
from ecsbox.store import Store

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/alice"
SERVER_ID = "5e7e12a0c0ffee0000000000000000aa"
PAUSE_IMAGE = "ecsbox/pause:sim"
HEALTHY_WITHOUT_CHECK_S = 40.0  # SEMANTICS §1.2
AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d"], "assignPublicIp": "ENABLED"}}

Check = Callable[["SimBox"], Awaitable[None]]


@dataclass
class Ecsbox:
    """One ecsbox "process": an agent, a scheduler and the handlers, on a shared store and engine."""

    agent: TaskAgent
    scheduler: ServiceScheduler
    handlers: dict[str, Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]]
    runtime: _Mortal
    bus: Bus = field(default_factory=Bus)

    @property
    def dead(self) -> bool:
        return self.runtime.dead


class _Mortal:
    """The engine as one ecsbox process sees it: the shared simulated runtime, until the process
    dies (then every call of that process fails, as its connection would)."""

    def __init__(self, runtime: SimulatedRuntime) -> None:
        self.runtime = runtime
        self.agent: TaskAgent | None = None
        self.dies_in: int | None = None
        self.dead = False

    def __getattr__(self, name: str) -> Any:
        if self.dead:
            raise asyncio.CancelledError()
        return getattr(self.runtime, name)

    async def create(self, spec: Any) -> str:
        if self.dead:
            raise asyncio.CancelledError()
        if self.dies_in is not None:
            self.dies_in -= 1
            if self.dies_in <= 0:
                self.dead = True
                assert self.agent is not None
                for driver in list(self.agent._drivers.values()):
                    driver.cancel()
                raise asyncio.CancelledError()
        return await self.runtime.create(spec)


class FakeAlarms:
    """The CloudWatch alarms the scheduler's deployment-alarm reader sees (what ``app.build`` wires to
    the alarm table): a test sets ``states[name] = AlarmReading(...)``."""

    def __init__(self) -> None:
        self.states: dict[str, AlarmReading] = {}
        self.reads = 0

    async def read(self, partition: tuple[str, str], names: tuple[str, ...]) -> dict[str, AlarmReading]:
        self.reads += 1
        return {name: self.states[name] for name in names if name in self.states}


class SimBox:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock()
        self.store = Store(f"sqlite:///{tmp_path / 'ecsbox.db'}")
        self.store.open()
        self.runtime = SimulatedRuntime(self.clock)
        self.alarms = FakeAlarms()
        self.checks: list[Check] = []
        self.process = self.start_process()

    # ---- the process --------------------------------------------------------------------------

    def start_process(self) -> Ecsbox:
        """What ``ecsbox up`` builds; called again, it is a restarted ecsbox adopting the state."""
        bus = Bus()
        runtime = _Mortal(self.runtime)

        async def pause_image() -> str:  # as app.build's provider answers off Docker: a name only
            return PAUSE_IMAGE

        async def resolve(account_id: str, region: str, value_from: str) -> str:
            return await resolve_secret_reference(
                self.store, account_id, region, value_from, now=self.clock.now()
            )

        agent = TaskAgent(
            self.store, runtime, self.clock, bus, SERVER_ID, pause_image, secret_resolver=resolve
        )
        runtime.agent = agent

        async def machine() -> Machine:  # the simulated engine's size: the local container instance
            info = await runtime.info()
            return Machine(info.cpus, info.memory_bytes, info.architecture)

        scheduler = ServiceScheduler(
            self.store, self.clock, bus, agent.wake, machine, SERVER_ID, alarm_states=self.alarms.read
        )
        handlers = {
            **operations(self.store, self.clock, agent.wake, scheduler.wake, machine, SERVER_ID),
            **ssm_operations(self.store, self.clock),
        }
        return Ecsbox(agent, scheduler, handlers, runtime, bus)

    def die_at_create(self, creates: int) -> None:
        """The process dies while the agent creates its ``creates``-th container from now on: every
        driver stops where it is (mid-launch), the engine keeps whatever exists."""
        self.process.runtime.dies_in = creates

    async def restart(self) -> None:
        """The ecsbox process dies (its drivers stop wherever they are, containers keep running)
        and a new one starts on the same data directory and engine."""
        self.process.runtime.dead = True
        drivers = list(self.process.agent._drivers.values())
        for driver in drivers:
            driver.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        self.process = self.start_process()

    def close(self) -> None:
        self.store.close()

    # ---- the API ------------------------------------------------------------------------------

    async def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(ACCOUNT, REGION, "ecs", operation, "req-1", "test", PRINCIPAL)
        return await self.process.handlers[operation](ctx, copy.deepcopy(params))

    async def register(self, family: str, *containers: dict[str, Any], **extra: Any) -> str:
        answer = await self(
            "RegisterTaskDefinition", family=family, containerDefinitions=list(containers), **extra
        )
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    async def task(self, arn: str) -> dict[str, Any]:
        answer = await self("DescribeTasks", cluster="default", tasks=[arn])
        assert not answer["failures"], answer["failures"]
        return dict(answer["tasks"][0])

    async def service(self, name: str) -> dict[str, Any]:
        answer = await self("DescribeServices", cluster="default", services=[name])
        assert not answer["failures"], answer["failures"]
        return dict(answer["services"][0])

    async def event_messages(self, name: str) -> list[str]:
        """Service events, oldest first."""
        return [e["message"] for e in reversed((await self.service(name))["events"])]

    # ---- what is stored and what runs ---------------------------------------------------------

    async def tasks(self, service_name: str | None = None) -> list[TaskRecord]:
        records: list[TaskRecord] = await self.store.read(_all_tasks)
        if service_name is not None:
            records = [r for r in records if r.service_name == service_name]
        return sorted(records, key=lambda r: (r.created_at, r.task_arn))

    async def containers(self, **labels: str) -> list[ContainerState]:
        return await self.runtime.list({LABEL_SERVER: SERVER_ID, **labels})

    async def running_containers(self, task_arn: str | None = None) -> list[ContainerState]:
        wanted = {LABEL_TASK_ARN: task_arn} if task_arn else {}
        return [
            c for c in await self.runtime.list({LABEL_SERVER: SERVER_ID, **wanted}) if c.status == "running"
        ]

    async def fingerprint(self) -> tuple[Any, ...]:
        tasks = tuple(
            (t.task_arn, t.last_status, t.desired_status, t.document.get("healthStatus"))
            for t in await self.tasks()
        )
        services = []
        for arn in sorted(await self.store.read(service_repo.live_service_arns)):
            record = await self.store.read(lambda conn, arn=arn: service_repo.get_service(conn, arn))
            assert record is not None
            services.append(
                (
                    arn,
                    record.status,
                    record.document["desiredCount"],
                    tuple(
                        (d["id"], d["status"], d["rolloutState"], d["runningCount"], d["pendingCount"])
                        for d in record.document["deployments"]
                    ),
                )
            )
        containers = tuple((c.id, c.status, c.health) for c in await self.containers())
        return tasks, tuple(services), containers

    # ---- driving --------------------------------------------------------------------------------

    async def _round(self) -> None:
        """Agent and scheduler work at this instant, until none is left."""
        agent, scheduler = self.process.agent, self.process.scheduler
        for _ in range(50):
            before = await self.fingerprint()
            await agent.reconcile()
            await agent.idle()
            for arn in sorted(await self.store.read(service_repo.live_service_arns)):
                await scheduler.tick(arn)
            await agent.idle()
            for check in self.checks:
                await check(self)
            if await self.fingerprint() == before:
                return
        raise AssertionError("the agent and the scheduler never came to rest at one instant")

    async def step(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.runtime.advance()
        await self._round()

    async def run_for(self, seconds: float, step_s: float = 5.0) -> None:
        """Let ``seconds`` of ecsbox time pass in steps of ``step_s``."""
        await self._round()
        elapsed = 0.0
        while elapsed < seconds:
            await self.step(step_s)
            elapsed += step_s

    async def settle(self, step_s: float = 5.0, quiet_s: float = 60.0, limit_s: float = 3600.0) -> float:
        """Run until tasks, services and containers stayed the same for ``quiet_s``; returns how
        much ecsbox time that took (to the last change)."""
        await self._round()
        elapsed = quiet = last_change = 0.0
        before = await self.fingerprint()
        while quiet < quiet_s:
            if elapsed >= limit_s:
                raise AssertionError(f"ecsbox did not settle within {limit_s} s")
            await self.step(step_s)
            elapsed += step_s
            now = await self.fingerprint()
            if now == before:
                quiet += step_s
            else:
                quiet, last_change, before = 0.0, elapsed, now
        return last_change

    async def until(
        self, predicate: Callable[[], Awaitable[bool]], limit_s: float = 600.0, step_s: float = 1.0
    ) -> float:
        """Step until ``predicate`` holds; returns the ecsbox time it took."""
        await self._round()
        elapsed = 0.0
        while not await predicate():
            if elapsed >= limit_s:
                raise AssertionError(f"condition not reached within {limit_s} s")
            await self.step(step_s)
            elapsed += step_s
        return elapsed


def _all_tasks(conn: Any) -> list[TaskRecord]:
    found = (task_repo.get_task(conn, arn) for arn in task_repo.all_task_arns(conn))
    return [record for record in found if record is not None]


def simulated(scenario: Callable[[SimBox], Awaitable[None]]) -> Callable[[Path], None]:
    """Turn ``async def test_x(box)`` into a pytest test on a fresh :class:`SimBox` with a
    ``default`` cluster."""

    def test(tmp_path: Path) -> None:
        box = SimBox(tmp_path)
        try:
            with asyncio.Runner() as runner:
                runner.run(box("CreateCluster", clusterName="default"))
                runner.run(scenario(box))
        finally:
            box.close()

    test.__name__ = scenario.__name__
    test.__qualname__ = scenario.__qualname__
    test.__doc__ = scenario.__doc__
    test.__module__ = scenario.__module__
    return test


# ---- what a user counts ------------------------------------------------------------------------


def is_healthy(task: TaskRecord, now: float) -> bool:
    """SEMANTICS §1.2: RUNNING and HEALTHY when an essential container has a health check, else
    RUNNING for 40 s; and still wanted (desired RUNNING)."""
    if task.last_status != "RUNNING" or task.desired_status != "RUNNING":
        return False
    checked = any(
        c.get("healthCheck") and c.get("essential", True) is not False
        for c in task.runtime["taskDefinition"]["containerDefinitions"]
    )
    if checked:
        return task.document.get("healthStatus") == "HEALTHY"
    started = task.document.get("startedAt")
    return started is not None and now - float(started) >= HEALTHY_WITHOUT_CHECK_S


def in_flight(task: TaskRecord) -> bool:
    return task.desired_status == "RUNNING" and task.last_status != "STOPPED"


def max_tasks(desired: int, maximum_percent: int) -> int:
    return desired * maximum_percent // 100


def min_healthy(desired: int, minimum_healthy_percent: int) -> int:
    return math.ceil(desired * minimum_healthy_percent / 100)


def app_containers(states: list[ContainerState]) -> list[ContainerState]:
    return [s for s in states if s.labels.get(LABEL_ROLE) == "container"]


__all__ = [
    "AWSVPC",
    "LABEL_CONTAINER",
    "LABEL_TASK_ARN",
    "SimBox",
    "app_containers",
    "in_flight",
    "is_healthy",
    "max_tasks",
    "min_healthy",
    "simulated",
]
