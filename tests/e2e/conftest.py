"""Fixtures for tests on a real Docker engine.

Everything a test creates carries ``ecsbox.test=1`` and a label unique to the test
(``ecsbox.test.run``), and is removed in teardown by that label, even when the test fails, without
touching what other tests (or a concurrent session) own.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import docker
import docker.errors
import pytest
from tests.conftest import LiveServer
from tests.e2e.ecs_helpers import Box, ecs_client, server_id
from tests.support.images import busybox_image as build_busybox_image
from tests.support.images import web_image as build_web_image

from ecsbox.runtime.docker import DockerRuntime

TEST_LABEL = "ecsbox.test"
RUN_LABEL = "ecsbox.test.run"


def _engine_client() -> docker.APIClient | None:
    """A client for the engine, when one answers within 10 s. Its calls may then take up to 120 s:
    a busy engine removing large images answers slowly, and that is no test failure."""
    try:
        docker.APIClient(version="auto", timeout=10).ping()
        return docker.APIClient(version="auto", timeout=120)
    except Exception:
        return None


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.APIClient]:
    """A low-level client for checks behind the runtime's back; skips when no engine answers."""
    client = _engine_client()
    if client is None:
        pytest.skip("no Docker engine answers on DOCKER_HOST / /var/run/docker.sock (start dockerd)")
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_runtime(docker_client: docker.APIClient) -> Iterator[DockerRuntime]:
    runtime = DockerRuntime()
    yield runtime
    asyncio.run(runtime.close())


@pytest.fixture(scope="session")
def busybox_image(docker_client: docker.APIClient) -> str:
    return build_busybox_image(client=docker_client)


@pytest.fixture(scope="session")
def web_image(docker_client: docker.APIClient) -> str:
    """A web server image (port 80 by default) standing in for the seed article's application."""
    return build_web_image(client=docker_client)


@dataclass
class Resources:
    """What one test owns on the engine: label its things with ``labels``; name them with
    :meth:`name`; record networks and volumes so teardown removes them."""

    run_id: str
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return {TEST_LABEL: "1", RUN_LABEL: self.run_id}

    def name(self, what: str) -> str:
        return f"ecsbox-test-{self.run_id}-{what}"

    def network(self, what: str) -> str:
        name = self.name(what)
        self.networks.append(name)
        return name

    def volume(self, what: str) -> str:
        name = self.name(what)
        self.volumes.append(name)
        return name


def remove_resources(client: docker.APIClient, resources: Resources) -> None:
    for container in client.containers(all=True, filters={"label": f"{RUN_LABEL}={resources.run_id}"}):
        with contextlib.suppress(docker.errors.APIError):
            client.remove_container(container["Id"], force=True, v=True)
    networks = client.networks(filters={"label": f"{RUN_LABEL}={resources.run_id}"})
    named = [n for n in client.networks() if n["Name"] in resources.networks]
    for network in {n["Id"]: n for n in [*networks, *named]}.values():
        with contextlib.suppress(docker.errors.APIError):
            client.remove_network(network["Id"])
    for volume in resources.volumes:
        with contextlib.suppress(docker.errors.APIError):
            client.remove_volume(volume, force=True)


@pytest.fixture()
def docker_resources(docker_client: docker.APIClient) -> Iterator[Resources]:
    resources = Resources(uuid.uuid4().hex[:10])
    try:
        yield resources
    finally:
        remove_resources(docker_client, resources)


@pytest.fixture()
def box(
    docker_client: docker.APIClient, busybox_image: str, ecsbox_server: LiveServer, ecsbox_endpoint: str
) -> Box:
    """boto3 ECS and the engine, pointed at the shared server whose state was just reset."""
    return Box(ecsbox_endpoint, server_id(ecsbox_server.data_dir), ecs_client(ecsbox_endpoint), docker_client)
