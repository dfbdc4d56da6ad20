"""A restart of the Docker engine under a running service converges back: the engine stops every
container when it goes down (no live-restore), ecsbox sees the task containers exit, stops those
tasks and the service starts new ones — with no duplicated container and none without its task.

Restarting the engine disturbs everything else on it, so this runs only where the test run started
the engine itself (``scripts/test`` sets ``ECSBOX_TEST_RESTART_DOCKER=1`` then; CI does) and it
runs after every other test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import pytest
from tests.conftest import start_server
from tests.e2e.ecs_helpers import (
    Box,
    container_definition,
    ecs_client,
    register,
    remove_server_containers,
    server_id,
    unique,
    wait_for,
)
from tests.e2e.test_services_e2e import _assert_no_strays

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.engine_restart,
    pytest.mark.skipif(
        os.environ.get("ECSBOX_TEST_RESTART_DOCKER") != "1",
        reason="restarts the Docker engine: only where the test run started it (ECSBOX_TEST_RESTART_DOCKER=1)",
    ),
]

DOCKERD_LOG = Path("/var/log/ecsbox-dockerd.log")


def _dockerd_pid() -> int:
    return int(Path("/var/run/docker.pid").read_text().strip())


def _engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode == 0


def restart_dockerd() -> None:
    """Stop dockerd (SIGTERM: it stops its containers and exits) and start it again, as
    ``scripts/test`` does."""
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        subprocess.run(["systemctl", "restart", "docker"], check=True, timeout=120)
    else:
        pid = _dockerd_pid()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("dockerd did not stop within 60 s")
        with DOCKERD_LOG.open("ab") as log:
            subprocess.Popen(["setsid", "dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    wait_for("the engine to answer again", _engine_answers, timeout=90, interval=0.5)


def test_service_converges_after_the_engine_restarts(
    docker_client: docker.APIClient, busybox_image: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="ecsbox-e2e-engine-") as tmp:
        data_dir = Path(tmp) / "data"
        server = start_server(data_dir, "--time-scale", "10")
        identity = server_id(data_dir)
        client = docker_client
        try:
            box = Box(server.endpoint, identity, ecs_client(server.endpoint), client)
            box.ecs.create_cluster(clusterName="engine")
            definition = register(box, unique("engine"), [container_definition("app", busybox_image)])
            box.ecs.create_service(
                cluster="engine",
                serviceName="svc",
                taskDefinition=definition,
                desiredCount=3,
                launchType="EC2",
            )
            box.wait_deployment_completed("engine", "svc", timeout=45)
            before = set(box.list_tasks("engine"))
            assert len(before) == 3

            restart_dockerd()
            client = docker.APIClient(version="auto")  # the old connection pool points at the old engine
            box = Box(server.endpoint, identity, ecs_client(server.endpoint), client)

            def replaced() -> bool:
                running = set(box.list_tasks("engine"))
                tasks = box.describe_tasks("engine", sorted(running)) if running else []
                return (
                    len(running) == 3
                    and not running & before
                    and all(t["lastStatus"] == "RUNNING" for t in tasks)
                    and box.describe_service("engine", "svc")["runningCount"] == 3
                )

            wait_for("three new tasks after the engine restart", replaced, timeout=90, interval=0.5)
            _assert_no_strays(box, "engine", "svc", definition)
            for task in box.describe_tasks("engine", sorted(before)):
                assert task["lastStatus"] == "STOPPED"
                assert task["stopCode"] == "EssentialContainerExited", task
            time.sleep(6)  # another reconcile pass changes nothing
            _assert_no_strays(box, "engine", "svc", definition)
        finally:
            if server.process.poll() is None:
                server.stop()
            for line in server.output[-8:]:
                print(line, end="")
            remove_server_containers(client, identity)
            server.remove_docker_leftovers()
