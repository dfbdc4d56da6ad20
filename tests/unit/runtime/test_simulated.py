"""What the simulated runtime adds to the shared contract (tests/e2e/test_runtime_contract.py):
scripting, fake time, and scale."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any

import pytest

from ecsbox.core.clock import FakeClock
from ecsbox.runtime.port import (
    ContainerSpec,
    ContainerStartFailed,
    HealthCheck,
    ImagePullFailed,
    PortBinding,
    RuntimeEvent,
    RuntimeFailure,
)
from ecsbox.runtime.simulated import FIRST_DYNAMIC_PORT, SimulatedRuntime

LABELS = {"owner": "test"}
CHECK = HealthCheck(("CMD-SHELL", "true"), interval_s=10, retries=3)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def spec(name: str, image: str = "app:1", **changes: Any) -> ContainerSpec:
    labels = {**LABELS, **changes.pop("labels", {})}
    return ContainerSpec(name, image, labels, changes.pop("network", "bridge"), **changes)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(1000.0)
        self.runtime = SimulatedRuntime(self.clock)
        self.events: list[RuntimeEvent] = []
        self._iterator = self.runtime.events(LABELS)

    async def drain(self) -> list[tuple[str, int | None, str | None]]:
        """Events delivered so far (the queue is filled synchronously)."""
        queue = next(iter(self.runtime._subscribers)).queue
        while not queue.empty():
            self.events.append(queue.get_nowait())
        return [(e.action, e.exit_code, e.health) for e in self.events]

    def tick(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return self.runtime.advance()

    async def started(self, container: ContainerSpec) -> str:
        await self.runtime.ensure_image(container.image)
        container_id = await self.runtime.create(container)
        await self.runtime.start(container_id)
        return container_id

    async def state(self, container_id: str) -> Any:
        return await self.runtime.inspect(container_id)


def test_health_becomes_healthy_after_one_interval() -> None:
    async def scenario() -> None:
        world = World()
        container_id = await world.started(spec("web", health_check=CHECK))
        assert (await world.state(container_id)).health == "starting"
        world.tick(9.9)
        assert (await world.state(container_id)).health == "starting"
        world.tick(0.1)
        assert (await world.state(container_id)).health == "healthy"
        world.runtime.set_health(container_id, "healthy")  # no change: no event
        world.runtime.set_health(container_id, "unhealthy")
        assert await world.drain() == [
            ("create", None, None),
            ("start", None, None),
            ("health_status", None, "healthy"),
            ("health_status", None, "unhealthy"),
        ]

    run(scenario())


@pytest.mark.parametrize(
    ("check", "unhealthy_at"),
    [
        (HealthCheck(("CMD", "x"), interval_s=10, retries=3), 30),
        (HealthCheck(("CMD", "x"), interval_s=10, retries=1, start_period_s=60), 70),  # grace first
    ],
)
def test_scripted_unhealthy(check: HealthCheck, unhealthy_at: float) -> None:
    async def scenario() -> None:
        world = World()
        world.runtime.script_image("sick:1", health="unhealthy")
        container_id = await world.started(spec("sick", "sick:1", health_check=check))
        world.tick(unhealthy_at - 0.5)
        assert (await world.state(container_id)).health == "starting"
        world.tick(0.5)
        state = await world.state(container_id)
        assert (state.health, state.status) == ("unhealthy", "running")

    run(scenario())


def test_health_never_resolves_when_scripted_none() -> None:
    async def scenario() -> None:
        world = World()
        world.runtime.script_image("slow:1", health=None)
        container_id = await world.started(spec("slow", "slow:1", health_check=CHECK))
        world.tick(3600)
        assert (await world.state(container_id)).health == "starting"
        no_check = await world.started(spec("plain", "slow:1"))
        assert (await world.state(no_check)).health is None

    run(scenario())


def test_scripted_exit_and_a_restart_ignores_the_old_timer() -> None:
    async def scenario() -> None:
        world = World()
        world.runtime.script_image("batch:1", exit_after_s=30, exit_code=2)
        container_id = await world.started(spec("batch", "batch:1"))
        world.tick(20)
        await world.runtime.stop(container_id, 10)
        await world.runtime.start(container_id)  # a new run: its own 30 s
        world.tick(15)  # the first run's timer (t=30) is due, and stale
        assert (await world.state(container_id)).status == "running"
        world.tick(15)
        state = await world.state(container_id)
        assert (state.status, state.exit_code, state.finished_at) == ("exited", 2, 1050.0)

    run(scenario())


def test_crash_with_oom() -> None:
    async def scenario() -> None:
        world = World()
        container_id = await world.started(spec("hog"))
        world.runtime.crash(container_id, 137, oom=True)
        state = await world.state(container_id)
        assert (state.status, state.exit_code, state.oom_killed) == ("exited", 137, True)
        assert (await world.drain())[-2:] == [("oom", None, None), ("die", 137, None)]
        world.runtime.crash(container_id, 1)  # already dead: nothing
        assert (await world.state(container_id)).exit_code == 137

    run(scenario())


def test_stop_and_kill_events_and_exit_codes() -> None:
    async def scenario() -> None:
        world = World()
        rt = world.runtime
        graceful = await world.started(spec("graceful"))
        await rt.stop(graceful, 30)
        assert (await world.state(graceful)).exit_code == 0
        assert (await world.drain())[-3:] == [("kill", None, None), ("die", 0, None), ("stop", None, None)]

        rt.script_image("stubborn:1", ignore_stop_signal=True)
        stubborn = await world.started(spec("stubborn", "stubborn:1"))
        await rt.stop(stubborn, 30)
        world.tick(29)
        assert (await world.state(stubborn)).status == "running"
        world.tick(1)
        assert (await world.state(stubborn)).exit_code == 137
        assert (await world.drain())[-4:] == [
            ("kill", None, None),
            ("kill", None, None),
            ("die", 137, None),
            ("stop", None, None),
        ]

        interrupted = await world.started(spec("interrupted"))
        await rt.kill(interrupted, "INT")  # not its stop signal: the default action
        assert (await world.state(interrupted)).exit_code == 130
        custom = await world.started(spec("custom", stop_signal="SIGINT"))
        await rt.kill(custom, "SIGINT")
        assert (await world.state(custom)).exit_code == 0
        with pytest.raises(RuntimeFailure, match="invalid signal"):
            await rt.kill(await world.started(spec("x")), "SIGNOPE")

    run(scenario())


def test_remove_a_running_container_by_name() -> None:
    async def scenario() -> None:
        world = World()
        container_id = await world.started(spec("gone"))
        await world.runtime.remove("gone")
        assert await world.runtime.inspect(container_id) is None
        assert (await world.drain())[-3:] == [
            ("kill", None, None),
            ("die", 137, None),
            ("destroy", None, None),
        ]
        await world.runtime.create(spec("gone"))  # the name is free again

    run(scenario())


def test_failures_as_docker_reports_them() -> None:
    async def scenario() -> None:
        world = World()
        rt = world.runtime
        with pytest.raises(ImagePullFailed, match="No such image"):
            await rt.create(spec("x", "never-pulled:1"))
        await rt.ensure_image("app:1")
        with pytest.raises(RuntimeFailure, match="network missing not found"):
            await rt.create(spec("x", network="missing"))
        rt.script_image("broken:1", start_error="exec: /app: no such file or directory")
        await rt.ensure_image("broken:1")
        broken = await rt.create(spec("broken", "broken:1"))
        with pytest.raises(ContainerStartFailed, match="no such file"):
            await rt.start(broken)
        state = await world.state(broken)
        assert (state.status, state.error) == ("created", "exec: /app: no such file or directory")
        rt.script_image("private:1", pull_error="pull access denied for private")
        with pytest.raises(ImagePullFailed, match="denied"):
            await rt.ensure_image("private:1")

    run(scenario())


def test_ports_conflict_and_are_released() -> None:
    async def scenario() -> None:
        world = World()
        rt = world.runtime
        fixed = await world.started(spec("fixed", ports=(PortBinding(80, host_port=8080),)))
        clash = await rt.create(spec("clash", ports=(PortBinding(80, host_port=8080), PortBinding(81))))
        with pytest.raises(ContainerStartFailed, match="port is already allocated"):
            await rt.start(clash)
        dynamic = await world.started(spec("dynamic", ports=(PortBinding(80), PortBinding(81, "udp"))))
        ports = (await world.state(dynamic)).ports
        assert [(p.container_port, p.protocol, p.host_port) for p in ports] == [
            (80, "tcp", FIRST_DYNAMIC_PORT),  # the failed start gave its dynamic port back
            (81, "udp", FIRST_DYNAMIC_PORT + 1),
        ]
        await rt.kill(fixed)
        await rt.start(clash)  # 8080 is free again
        assert (await world.state(clash)).status == "running"

    run(scenario())


def test_joining_a_network_namespace() -> None:
    async def scenario() -> None:
        world = World()
        rt = world.runtime
        await rt.ensure_network("task-net", {})
        await rt.ensure_image("app:1")
        pause = await rt.create(spec("pause", network="task-net"))
        app = await rt.create(spec("app", network=f"container:{pause}"))
        with pytest.raises(ContainerStartFailed, match="non running container"):
            await rt.start(app)
        await rt.start(pause)
        await rt.start(app)
        pause_state, app_state = await world.state(pause), await world.state(app)
        assert pause_state.ip_address and pause_state.ip_address.startswith("10.")
        assert app_state.ip_address is None
        with pytest.raises(RuntimeFailure, match="port publishing"):
            await rt.create(spec("web", network=f"container:{pause}", ports=(PortBinding(80),)))
        with pytest.raises(RuntimeFailure, match="active endpoints"):
            await rt.remove_network("task-net")
        await rt.remove(pause)
        await rt.remove(app)
        await rt.remove_network("task-net")

    run(scenario())


def test_ip_addresses_are_unique_and_reused() -> None:
    async def scenario() -> None:
        world = World()
        ids = [await world.started(spec(f"c{i}")) for i in range(300)]
        addresses = [(await world.state(i)).ip_address for i in ids]
        assert len(set(addresses)) == 300
        assert not any(a.endswith((".0", ".255")) for a in addresses)
        await world.runtime.kill(ids[5])
        again = await world.started(spec("again"))
        assert (await world.state(again)).ip_address == addresses[5]

    run(scenario())


def test_stats_are_consistent_with_the_clock() -> None:
    async def scenario() -> None:
        world = World()
        rt = world.runtime
        container_id = await world.started(spec("busy", memory_bytes=256 << 20))
        rt.set_usage(container_id, cpu_percent=50, memory_bytes=100 << 20)
        first = await rt.stats(container_id)
        world.tick(10)
        second = await rt.stats(container_id)
        assert first is not None and second is not None
        cpu_delta = second.cpu_total_ns - first.cpu_total_ns
        system_delta = second.system_cpu_ns - first.system_cpu_ns
        assert (cpu_delta, system_delta) == (5_000_000_000, 10 * rt.cpus * 1_000_000_000)
        # `docker stats` percent: Δcpu / Δsystem * CPUs * 100
        assert cpu_delta / system_delta * second.online_cpus * 100 == 50
        assert (second.memory_usage_bytes, second.memory_limit_bytes) == (100 << 20, 256 << 20)
        assert second.read_at == 1010.0

    run(scenario())


def test_events_filter_by_labels_and_unsubscribe() -> None:
    async def scenario() -> None:
        rt = SimulatedRuntime(FakeClock())
        mine = rt.events({"service": "a"})
        dropped = rt.events({"service": "a"})
        assert len(rt._subscribers) == 2
        del dropped
        gc.collect()
        assert len(rt._subscribers) == 1  # never iterated, dropped: unsubscribed

        async def first() -> RuntimeEvent:
            return await anext(mine)

        waiter = asyncio.ensure_future(first())
        await rt.ensure_image("app:1")
        await rt.create(spec("b", labels={"service": "b"}))
        await rt.create(spec("a", labels={"service": "a"}))
        event = await asyncio.wait_for(waiter, 1)
        assert (event.action, event.labels["service"]) == ("create", "a")
        await mine.aclose()  # type: ignore[attr-defined]
        assert rt._subscribers == set()

    run(scenario())


def test_ten_thousand_containers() -> None:
    """1,000 services x 10 tasks: created, started, listed by label through the index."""

    async def scenario() -> None:
        rt = SimulatedRuntime(FakeClock())
        await rt.ensure_image("app:1")
        for number in range(1000):
            for task in range(10):
                container = ContainerSpec(
                    f"s{number}-t{task}",
                    "app:1",
                    {"cluster": "c", "service": f"s{number}", "task": f"t{number}-{task}"},
                    "bridge",
                    health_check=CHECK,
                    ports=(PortBinding(80),),
                )
                await rt.start(await rt.create(container))
        assert rt.container_count == 10_000
        rt.clock.advance(10)  # type: ignore[attr-defined]
        assert rt.advance() == 10_000  # every health check resolved
        service = await rt.list({"cluster": "c", "service": "s500"})
        assert [s.name for s in service] == [f"s500-t{i}" for i in range(10)]
        assert all(s.health == "healthy" and s.ports[0].host_port >= FIRST_DYNAMIC_PORT for s in service)
        assert len(await rt.list({"cluster": "c"})) == 10_000
        assert await rt.list({"cluster": "c", "service": "nope"}) == []

    run(scenario())
