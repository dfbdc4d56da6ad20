"""What only the Docker backend has: the spec's translation as the engine applies it, the event
stream's thread, and errors from a real engine."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any

import docker
import pytest
from tests.support.backends import EventLog

from ecsbox.runtime.docker import DockerRuntime
from ecsbox.runtime.port import (
    ContainerSpec,
    ContainerStartFailed,
    HealthCheck,
    ImagePullFailed,
    LogConfig,
    Mount,
    RuntimeUnavailable,
    Ulimit,
)

pytestmark = pytest.mark.e2e

Resources = Any  # tests.e2e.conftest.Resources (conftest modules are not imported by name)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 60))


def _event_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "ecsbox-docker-events")


def test_spec_as_the_engine_applies_it(
    docker_runtime: DockerRuntime,
    docker_client: docker.APIClient,
    busybox_image: str,
    docker_resources: Resources,
    tmp_path: Any,
) -> None:
    (tmp_path / "hello.txt").write_text("from the host")
    network = docker_resources.network("net")
    volume = docker_resources.volume("data")
    checks = " && ".join(
        [
            'cat /host/hello.txt | grep -q "from the host"',
            "echo kept > /data/file && cat /data/file | grep -q kept",
            "! touch /rootfs-is-read-only 2>/dev/null",
            '[ "$(ulimit -n)" = 1024 ]',
            '[ "$GREETING" = hello ]',
            '[ "$(pwd)" = /tmp ]',
            '[ "$(id -u):$(id -g)" = 0:1234 ]',
            '[ "$(hostname)" = task-host ]',
            "grep -q '10.1.2.3[[:space:]]*db.internal' /etc/hosts",
            "ps | awk '$1 == 1' | grep -q init",  # --init: docker-init is PID 1
            "nslookup web-alias 127.0.0.11 >/dev/null",
        ]
    )
    spec = ContainerSpec(
        name=docker_resources.name("full"),
        image=busybox_image,
        labels=docker_resources.labels,
        network=network,
        command=("-c", checks),
        entrypoint=("sh",),
        environment={"GREETING": "hello"},
        working_dir="/tmp",
        user="0:1234",  # root, to write the root-owned volume
        hostname="task-host",
        cpu_shares=256,
        nano_cpus=500_000_000,
        memory_bytes=64 * 1024 * 1024,
        health_check=HealthCheck(
            ("CMD-SHELL", "true"), interval_s=1.5, timeout_s=2, retries=4, start_period_s=3
        ),
        stop_timeout_s=7,
        stop_signal="SIGINT",
        mounts=(
            Mount("/host", str(tmp_path), kind="bind", read_only=True),
            Mount("/data", volume, kind="volume"),
        ),
        ulimits=(Ulimit("nofile", 1024, 2048),),
        read_only_root=True,
        init=True,
        log_config=LogConfig("json-file", {"max-size": "1m"}),
        extra_hosts={"db.internal": "10.1.2.3"},
        network_aliases=("web-alias",),
    )

    async def scenario() -> None:
        await docker_runtime.ensure_network(network, docker_resources.labels)
        container_id = await docker_runtime.create(spec)
        document = docker_client.inspect_container(container_id)
        host, config = document["HostConfig"], document["Config"]
        assert (host["CpuShares"], host["NanoCpus"], host["Memory"]) == (256, 500_000_000, 64 * 1024 * 1024)
        assert host["ReadonlyRootfs"] and host["Init"] and not host["Privileged"]
        assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
        assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
        assert config["Healthcheck"] == {
            "Test": ["CMD-SHELL", "true"],
            "Interval": 1_500_000_000,
            "Timeout": 2_000_000_000,
            "StartPeriod": 3_000_000_000,
            "Retries": 4,
        }
        assert (config["StopTimeout"], config["StopSignal"]) == (7, "SIGINT")
        assert "web-alias" in document["NetworkSettings"]["Networks"][network]["Aliases"]
        await docker_runtime.start(container_id)
        for _ in range(100):
            state = await docker_runtime.inspect(container_id)
            assert state is not None
            if state.status == "exited":
                break
            await asyncio.sleep(0.05)
        logs = docker_client.logs(container_id).decode()
        assert state is not None and state.exit_code == 0, logs

    run(scenario())


def test_start_failure_is_reported(
    docker_runtime: DockerRuntime, busybox_image: str, docker_resources: Resources
) -> None:
    async def scenario() -> None:
        spec = ContainerSpec(
            docker_resources.name("bad"),
            busybox_image,
            docker_resources.labels,
            "bridge",
            entrypoint=("/no/such/program",),
        )
        container_id = await docker_runtime.create(spec)
        with pytest.raises(ContainerStartFailed, match="no such file"):
            await docker_runtime.start(container_id)
        state = await docker_runtime.inspect(container_id)
        assert state is not None and "no such file" in state.error and state.exit_code

    run(scenario())


def test_create_from_a_missing_image(docker_runtime: DockerRuntime, docker_resources: Resources) -> None:
    async def scenario() -> None:
        spec = ContainerSpec(
            docker_resources.name("noimage"), f"ecsbox-test/absent-{docker_resources.run_id}:1", {}, "bridge"
        )
        with pytest.raises(ImagePullFailed, match="No such image"):
            await docker_runtime.create(spec)

    run(scenario())


def test_engine_that_does_not_answer(tmp_path: Any) -> None:
    async def scenario() -> None:
        runtime = DockerRuntime(base_url=f"unix://{tmp_path}/absent.sock")
        with pytest.raises(RuntimeUnavailable):
            await runtime.info()
        with pytest.raises(RuntimeUnavailable):
            await runtime.inspect("x")
        # The event stream waits for the engine, quietly, and still stops when closed.
        events = runtime.events({"a": "b"})
        waiter = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        waiter.cancel()
        await runtime.close()

    before = _event_threads()
    run(scenario())
    _wait_for(lambda: _event_threads() <= before)


def _wait_for(condition: Any, timeout_s: float = 3) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_event_stream_thread_ends_when_the_iterator_is_closed(
    docker_runtime: DockerRuntime, docker_resources: Resources
) -> None:
    before = _event_threads()

    async def scenario() -> None:
        log = EventLog(docker_runtime.events(docker_resources.labels))
        await asyncio.sleep(0.2)
        assert _event_threads() == before + 1
        started = time.monotonic()
        await log.close()
        while _event_threads() > before:
            assert time.monotonic() - started < 1, "the event thread outlived its iterator"
            await asyncio.sleep(0.01)

    run(scenario())


def test_event_stream_reconnects_after_a_broken_stream(
    docker_runtime: DockerRuntime, busybox_image: str, docker_resources: Resources
) -> None:
    """A broken connection (what a dockerd restart looks like from here) is reconnected, and
    events of the gap are replayed from the last one seen. Restarting dockerd itself would kill
    every container on this engine (no live-restore), other tests' too: it is not done here."""

    async def scenario() -> None:
        log = EventLog(docker_runtime.events(docker_resources.labels))
        try:
            spec = ContainerSpec(
                docker_resources.name("first"),
                busybox_image,
                docker_resources.labels,
                "bridge",
                command=("true",),
            )
            first = await docker_runtime.create(spec)
            await _until(lambda: ("create", None, None) in log.of(first))
            (stream,) = [
                s
                for s in docker_runtime._event_streams
                if s._filters["label"][1].endswith(docker_resources.run_id)
            ]
            # Break the connection behind the stream's back, without asking it to stop.
            stream._response.close()
            second = await docker_runtime.create(
                ContainerSpec(
                    docker_resources.name("second"), busybox_image, docker_resources.labels, "bridge"
                )
            )
            await _until(lambda: ("create", None, None) in log.of(second))
            assert log.of(first) == [("create", None, None)]  # nothing delivered twice
        finally:
            await log.close()

    run(scenario())


async def _until(condition: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_concurrent_ensure_image_shares_one_call(docker_runtime: DockerRuntime, busybox_image: str) -> None:
    async def scenario() -> None:
        ids = await asyncio.gather(*(docker_runtime.ensure_image(busybox_image) for _ in range(8)))
        assert len(set(ids)) == 1 and ids[0].startswith("sha256:")
        info = await docker_runtime.info()
        assert info.name == "docker" and info.cpus >= 1 and info.memory_bytes > 0
        assert info.architecture in ("x86_64", "aarch64")

    run(scenario())
