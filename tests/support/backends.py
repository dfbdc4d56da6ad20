"""One face for both runtime backends, so a contract test states its assertions once.

What a container *does* is a command on Docker and a script on the simulated runtime:
:meth:`Backend.image` gives the image and command for a named behaviour. Waiting is wall time on
Docker and fake time on the simulated runtime: :meth:`Backend.until` polls a condition while
letting time pass the backend's way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from ecsbox.core.clock import FakeClock
from ecsbox.runtime.port import ContainerSpec, HealthCheck, Runtime, RuntimeEvent
from ecsbox.runtime.simulated import SimulatedRuntime

Behaviour = Literal[
    "sleeps", "exits-3", "ignores-term", "healthy", "unhealthy", "serves-8080", "fetches-8080"
]

# Docker commands for each behaviour (busybox). `sleep` as PID 1 would ignore SIGTERM: trap it.
DOCKER_COMMANDS: dict[Behaviour, tuple[str, ...]] = {
    "sleeps": ("sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"),
    "exits-3": ("sh", "-c", "exit 3"),
    "ignores-term": ("sh", "-c", "trap '' TERM; sleep 100"),
    "healthy": ("sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"),
    "unhealthy": ("sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"),
    "serves-8080": (
        "sh",
        "-c",
        "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www",
    ),
    # Exits 0 when it reads "hi" from localhost:8080 (retrying while the server comes up).
    "fetches-8080": (
        "sh",
        "-c",
        'for i in $(seq 50); do [ "$(wget -qO- http://127.0.0.1:8080/)" = hi ] && exit 0; sleep 0.1; done;'
        " exit 1",
    ),
}

HEALTH_COMMANDS: dict[Behaviour, tuple[str, ...]] = {
    "healthy": ("CMD-SHELL", "true"),
    "unhealthy": ("CMD-SHELL", "exit 1"),
}


@dataclass
class Backend:
    kind: Literal["simulated", "docker"]
    runtime: Runtime
    labels: dict[str, str]
    run_id: str
    busybox: str = ""
    step_s: float = 0.1
    networks: list[str] | None = None

    @property
    def is_docker(self) -> bool:
        return self.kind == "docker"

    def name(self, what: str) -> str:
        return f"ecsbox-test-{self.run_id}-{what}"

    def network(self, what: str) -> str:
        name = self.name(what)
        if self.networks is not None:
            self.networks.append(name)  # for teardown
        return name

    async def image(self, behaviour: Behaviour) -> tuple[str, tuple[str, ...] | None]:
        if self.is_docker:
            await self.runtime.ensure_image(self.busybox)
            return self.busybox, DOCKER_COMMANDS[behaviour]
        simulated = self.runtime
        assert isinstance(simulated, SimulatedRuntime)
        image = f"sim/{behaviour}:1"
        scripts: dict[str, dict[str, Any]] = {
            "exits-3": {"exit_after_s": 0.05, "exit_code": 3},
            "ignores-term": {"ignore_stop_signal": True},
            "unhealthy": {"health": "unhealthy"},
            "fetches-8080": {"exit_after_s": 0.05, "exit_code": 0},
        }
        simulated.script_image(image, **scripts.get(behaviour, {}))
        await simulated.ensure_image(image)
        return image, None

    async def spec(
        self, what: str, behaviour: Behaviour, network: str = "bridge", **extra: Any
    ) -> ContainerSpec:
        image, command = await self.image(behaviour)
        check = HEALTH_COMMANDS.get(behaviour)
        if check is not None:
            extra.setdefault("health_check", HealthCheck(check, interval_s=1, timeout_s=1, retries=1))
        labels = {**self.labels, **extra.pop("labels", {})}
        return ContainerSpec(self.name(what), image, labels, network, command=command, **extra)

    async def pass_time(self, seconds: float) -> None:
        if self.is_docker:
            await asyncio.sleep(seconds)
            return
        simulated = self.runtime
        assert isinstance(simulated, SimulatedRuntime)
        clock = simulated.clock
        assert isinstance(clock, FakeClock)
        clock.advance(seconds)
        simulated.advance()
        await asyncio.sleep(0)

    async def until(self, condition: Callable[[], Awaitable[bool]], timeout_s: float = 15) -> None:
        """Poll ``condition`` while time passes (wall or fake), failing after ``timeout_s`` of it."""
        waited = 0.0
        while not await condition():
            if waited >= timeout_s:
                raise AssertionError(f"condition not met within {timeout_s} s ({self.kind})")
            await self.pass_time(self.step_s)
            waited += self.step_s


class EventLog:
    """Collects a runtime's events on a task, so a test can wait for one without cancelling the
    runtime's iterator (cancelling ``anext`` on an async generator would close it)."""

    def __init__(self, events: AsyncIterator[RuntimeEvent]) -> None:
        self.events = events
        self.seen: list[RuntimeEvent] = []
        self.task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        async for event in self.events:
            self.seen.append(event)

    def of(self, container_id: str) -> list[tuple[str, int | None, str | None]]:
        return [(e.action, e.exit_code, e.health) for e in self.seen if e.container_id == container_id]

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        aclose = getattr(self.events, "aclose", None)
        if aclose is not None:
            await aclose()
