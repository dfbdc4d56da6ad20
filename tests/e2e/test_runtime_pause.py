"""The awsvpc pause image: built locally, tiny, starts, waits using no CPU, ignores SIGTERM, dies
on SIGKILL."""

from __future__ import annotations

import asyncio
from typing import Any

import docker
import pytest

from ecsbox.runtime.docker import DockerRuntime
from ecsbox.runtime.pause import PAUSE_REPOSITORY, ensure_pause_image, pause_elf
from ecsbox.runtime.port import ContainerSpec

pytestmark = pytest.mark.e2e


def test_pause_container(
    docker_runtime: DockerRuntime, docker_client: docker.APIClient, docker_resources: Any
) -> None:
    async def scenario() -> None:
        tag = await ensure_pause_image(docker_runtime)
        assert tag.startswith(PAUSE_REPOSITORY + ":")
        assert await ensure_pause_image(docker_runtime) == tag  # present: not built again
        info = await docker_runtime.info()
        image = docker_client.inspect_image(tag)
        assert image["Size"] == len(pause_elf(info.architecture)) < 200
        assert image["Config"]["Entrypoint"] == ["/pause"]

        spec = ContainerSpec(docker_resources.name("pause"), tag, docker_resources.labels, "bridge")
        container_id = await docker_runtime.create(spec)
        await docker_runtime.start(container_id)
        await asyncio.sleep(0.2)
        before = await docker_runtime.stats(container_id)
        await asyncio.sleep(1)
        after = await docker_runtime.stats(container_id)
        assert before is not None and after is not None
        assert after.cpu_total_ns - before.cpu_total_ns < 1_000_000  # under 1 ms of CPU in 1 s

        state = await docker_runtime.inspect(container_id)
        assert state is not None and state.status == "running" and state.ip_address

        await docker_runtime.kill(container_id, "SIGTERM")  # PID 1 without a handler: ignored
        await asyncio.sleep(0.3)
        state = await docker_runtime.inspect(container_id)
        assert state is not None and state.status == "running"

        await docker_runtime.kill(container_id, "SIGKILL")
        for _ in range(50):
            state = await docker_runtime.inspect(container_id)
            if state is not None and state.status == "exited":
                break
            await asyncio.sleep(0.05)
        assert state is not None and (state.status, state.exit_code) == ("exited", 137)

    asyncio.run(asyncio.wait_for(scenario(), 60))
