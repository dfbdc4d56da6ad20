"""The runtime port's contract, asserted once and run on both backends.

``simulated`` always runs (in memory, fake time); ``docker`` runs on the local engine (marked
``e2e``, skipped when no engine answers). Assertions that only a real engine can make (a port
answers, a volume holds data) are guarded by ``backend.is_docker``.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from tests.support.backends import Backend, EventLog

from ecsbox.core.clock import FakeClock
from ecsbox.runtime.port import (
    ContainerNotFound,
    ContainerSpec,
    ImagePullFailed,
    PortBinding,
    RuntimeFailure,
)
from ecsbox.runtime.simulated import SimulatedRuntime

MiB = 1024 * 1024


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 60))


@pytest.fixture(params=["simulated", pytest.param("docker", marks=pytest.mark.e2e)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "simulated":
        run_id = uuid.uuid4().hex[:10]
        runtime = SimulatedRuntime(FakeClock())
        yield Backend(
            "simulated", runtime, {"ecsbox.test": "1", "ecsbox.test.run": run_id}, run_id, step_s=0.25
        )
        return
    resources = request.getfixturevalue("docker_resources")
    yield Backend(
        "docker",
        request.getfixturevalue("docker_runtime"),
        resources.labels,
        resources.run_id,
        busybox=request.getfixturevalue("busybox_image"),
        networks=resources.networks,
    )


def test_lifecycle_create_start_inspect_stop_remove(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        spec = await backend.spec("life", "sleeps", environment={"GREETING": "hi"})
        container_id = await rt.create(spec)
        created = await rt.inspect(container_id)
        assert created is not None
        assert (created.status, created.name, created.labels) == ("created", spec.name, spec.labels)
        assert created.started_at is None and created.exit_code is None and created.image == spec.image

        await rt.start(container_id)
        await rt.start(container_id)  # starting a running container is a no-op
        running = await rt.inspect(container_id)
        assert running is not None and running.status == "running"
        assert running.started_at is not None and running.finished_at is None and running.pid
        assert running.ip_address and running.image_id.startswith("sha256:")

        await rt.stop(container_id, 5)
        await backend.until(lambda: _status_is(backend, container_id, "exited"))
        stopped = await rt.inspect(container_id)
        assert stopped is not None and stopped.exit_code == 0 and stopped.finished_at is not None
        assert stopped.ip_address is None and stopped.ports == ()
        await rt.stop(container_id, 5)  # stopping a stopped container is no error

        await rt.remove(container_id)
        assert await rt.inspect(container_id) is None
        await rt.remove(container_id)  # removing a missing container is a no-op

    run(scenario())


async def _status_is(backend: Backend, container_id: str, status: str) -> bool:
    state = await backend.runtime.inspect(container_id)
    return state is not None and state.status == status


def test_exit_code_and_events(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        log = EventLog(rt.events(backend.labels))  # subscribed before anything happens
        try:
            container_id = await rt.create(await backend.spec("exits", "exits-3"))
            await rt.start(container_id)
            await backend.until(lambda: _status_is(backend, container_id, "exited"))
            state = await rt.inspect(container_id)
            assert state is not None and state.exit_code == 3 and not state.oom_killed
            await backend.until(_async(lambda: ("die", 3, None) in log.of(container_id)))
            await rt.remove(container_id)
            await backend.until(_async(lambda: ("destroy", None, None) in log.of(container_id)))
            assert [action for action, _, _ in log.of(container_id)] == ["create", "start", "die", "destroy"]
            assert all(e.labels["ecsbox.test.run"] == backend.run_id for e in log.seen)
        finally:
            await log.close()

    run(scenario())


def _async(predicate: Any) -> Any:
    async def check() -> bool:
        return bool(predicate())

    return check


def test_health_status_events(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        log = EventLog(rt.events(backend.labels))
        try:
            healthy = await rt.create(await backend.spec("healthy", "healthy"))
            unhealthy = await rt.create(await backend.spec("unhealthy", "unhealthy"))
            await asyncio.gather(rt.start(healthy), rt.start(unhealthy))
            state = await rt.inspect(healthy)
            assert state is not None and state.health in ("starting", "healthy")
            await backend.until(
                _async(
                    lambda: (
                        ("health_status", None, "healthy") in log.of(healthy)
                        and ("health_status", None, "unhealthy") in log.of(unhealthy)
                    )
                )
            )
            healthy_state, unhealthy_state = await rt.inspect(healthy), await rt.inspect(unhealthy)
            assert healthy_state is not None and healthy_state.health == "healthy"
            assert unhealthy_state is not None and unhealthy_state.health == "unhealthy"
            assert unhealthy_state.status == "running"  # unhealthy is not dead: ECS decides
        finally:
            await log.close()

    run(scenario())


def test_list_by_labels_only(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        web = await rt.create(await backend.spec("web", "sleeps", labels={"role": "web"}))
        worker = await rt.create(await backend.spec("worker", "sleeps", labels={"role": "worker"}))
        stranger_spec = await backend.spec("stranger", "sleeps")
        # Same test label, another run: must not show up in this run's listing.
        stranger = await rt.create(
            ContainerSpec(
                stranger_spec.name,
                stranger_spec.image,
                {"ecsbox.test": "1", "ecsbox.test.run": backend.run_id + "-other"},
                "bridge",
                command=stranger_spec.command,
            )
        )
        try:
            everything = {s.id for s in await rt.list(backend.labels)}
            assert everything == {web, worker}
            only_web = await rt.list({**backend.labels, "role": "web"})
            assert [s.id for s in only_web] == [web]
            assert only_web[0].labels["role"] == "web"
            assert await rt.list({**backend.labels, "role": "nobody"}) == []
        finally:
            await rt.remove(stranger)

    run(scenario())


def test_duplicate_name_is_a_failure(backend: Backend) -> None:
    async def scenario() -> None:
        spec = await backend.spec("twice", "sleeps")
        await backend.runtime.create(spec)
        with pytest.raises(RuntimeFailure, match="already in use"):
            await backend.runtime.create(spec)

    run(scenario())


def test_missing_container(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        missing = "0" * 64
        assert await rt.inspect(missing) is None
        assert await rt.stats(missing) is None
        await rt.remove(missing)
        with pytest.raises(ContainerNotFound):
            await rt.start(missing)
        with pytest.raises(ContainerNotFound):
            await rt.kill(missing)

    run(scenario())


def test_image_pull_failure_says_why(backend: Backend) -> None:
    async def scenario() -> None:
        image = f"ecsbox-test/absent-{backend.run_id}:1"
        if not backend.is_docker:
            simulated = backend.runtime
            assert isinstance(simulated, SimulatedRuntime)
            simulated.script_image(image, pull_error=f"pull access denied for {image}")
        with pytest.raises(ImagePullFailed) as failure:
            await backend.runtime.ensure_image(image)
        message = str(failure.value)
        # No registry answers here: Docker says it could not resolve or was denied.
        assert any(why in message for why in ("pull access denied", "no such host", "denied", "not found"))

    run(scenario())


def test_stop_kills_what_ignores_sigterm_after_the_timeout(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        container_id = await rt.create(await backend.spec("stubborn", "ignores-term"))
        await rt.start(container_id)
        await rt.stop(container_id, 1)
        await backend.until(lambda: _status_is(backend, container_id, "exited"), timeout_s=10)
        state = await rt.inspect(container_id)
        assert state is not None and state.exit_code == 137  # SIGKILL after the timeout
        assert state.started_at is not None and state.finished_at is not None
        assert state.finished_at - state.started_at >= 0.9

    run(scenario())


def test_kill_with_sigkill(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        container_id = await rt.create(await backend.spec("killed", "ignores-term"))
        await rt.start(container_id)
        await rt.kill(container_id, "SIGKILL")
        await backend.until(lambda: _status_is(backend, container_id, "exited"))
        state = await rt.inspect(container_id)
        assert state is not None and state.exit_code == 137
        await rt.kill(container_id)  # already dead: no error

    run(scenario())


def test_published_dynamic_port(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        spec = await backend.spec("server", "serves-8080", ports=(PortBinding(8080),))
        other = await backend.spec("server2", "serves-8080", ports=(PortBinding(8080),))
        first, second = await rt.create(spec), await rt.create(other)
        await rt.start(first)
        await rt.start(second)
        first_state, second_state = await rt.inspect(first), await rt.inspect(second)
        assert first_state is not None and second_state is not None
        (port,) = first_state.ports
        (port2,) = second_state.ports
        assert (port.container_port, port.protocol, port.host_ip) == (8080, "tcp", "127.0.0.1")
        assert port.host_port > 0 and port2.host_port > 0 and port.host_port != port2.host_port
        if backend.is_docker:
            body = await asyncio.to_thread(_http_get, port.host_port)
            assert body.strip().endswith("hi")

    run(scenario())


def _http_get(port: int, attempts: int = 50) -> str:
    for attempt in range(attempts):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
                connection.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                chunks = []
                while chunk := connection.recv(4096):
                    chunks.append(chunk)
                return b"".join(chunks).decode()
        except OSError:
            if attempt == attempts - 1:
                raise
            import time

            time.sleep(0.1)
    raise AssertionError("unreachable")


def test_join_another_containers_network_namespace(backend: Backend) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        network = backend.network("net")
        network_id = await rt.ensure_network(network, backend.labels)
        server = await rt.create(
            await backend.spec("ns-server", "serves-8080", network=network, network_aliases=("web",))
        )
        await rt.start(server)
        client = await rt.create(
            await backend.spec("ns-client", "fetches-8080", network=f"container:{server}")
        )
        await rt.start(client)
        server_state = await rt.inspect(server)
        assert server_state is not None and server_state.ip_address is not None
        client_state = await rt.inspect(client)
        assert client_state is not None and client_state.ip_address is None  # ask the one it joined
        # It reached the server over localhost: the namespace is shared.
        await backend.until(lambda: _status_is(backend, client, "exited"))
        client_state = await rt.inspect(client)
        assert client_state is not None and client_state.exit_code == 0
        assert await rt.ensure_network(network, {}) == network_id

    run(scenario())


def test_memory_limit_applied(backend: Backend, request: pytest.FixtureRequest) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        spec = await backend.spec(
            "limited", "sleeps", memory_bytes=64 * MiB, memory_reservation_bytes=32 * MiB
        )
        container_id = await rt.create(spec)
        await rt.start(container_id)
        stats = await rt.stats(container_id)
        assert stats is not None
        assert stats.memory_limit_bytes == 64 * MiB
        assert 0 < stats.memory_usage_bytes <= 64 * MiB and stats.online_cpus >= 1
        assert stats.cpu_total_ns >= 0 and stats.system_cpu_ns > 0
        if backend.is_docker:
            host = request.getfixturevalue("docker_client").inspect_container(container_id)["HostConfig"]
            assert (host["Memory"], host["MemoryReservation"]) == (64 * MiB, 32 * MiB)
        await rt.kill(container_id)
        await backend.until(lambda: _status_is(backend, container_id, "exited"))
        assert await rt.stats(container_id) is None  # no sample from a stopped container

    run(scenario())


def test_ensure_network_is_idempotent_and_concurrent_safe(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    async def scenario() -> None:
        rt = backend.runtime
        name = backend.network("shared")
        ids = await asyncio.gather(*(rt.ensure_network(name, backend.labels) for _ in range(6)))
        assert len(set(ids)) == 1
        if backend.is_docker:
            client = request.getfixturevalue("docker_client")
            assert [n["Id"] for n in client.networks(names=[name]) if n["Name"] == name] == [ids[0]]
        await rt.remove_network(name)
        await rt.remove_network(name)  # gone already: no error
        assert await rt.ensure_network(name, backend.labels) != ids[0]

    run(scenario())


def test_read_image_file_reads_one_file_without_running_the_image(backend: Backend) -> None:
    async def scenario() -> None:
        runtime = backend.runtime
        if isinstance(runtime, SimulatedRuntime):
            runtime.put_image_file(backend.busybox, "/etc/conf", b"[OUTPUT]\n    Name stdout\n")
            wanted, content = "/etc/conf", b"[OUTPUT]\n    Name stdout\n"
        else:
            wanted, content = "/bin/busybox", None
        await runtime.ensure_image(backend.busybox)
        if content is not None:
            assert await runtime.read_image_file(backend.busybox, wanted) == content
        else:
            assert (await runtime.read_image_file(backend.busybox, wanted, max_bytes=64 * MiB))[
                :4
            ] == b"\x7fELF"
            with pytest.raises(RuntimeFailure, match="larger than"):
                await runtime.read_image_file(backend.busybox, wanted, max_bytes=1024)
        with pytest.raises(RuntimeFailure):
            await runtime.read_image_file(backend.busybox, "/no/such/file")
        with pytest.raises(RuntimeFailure):
            await runtime.read_image_file("ecsbox-test/no-such-image:0", wanted)

    run(scenario())
