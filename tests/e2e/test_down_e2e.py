"""``ecsbox down`` leaves tasks running and the next ``up`` adopts them; ``down --stop-tasks``
stops them first."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import docker
import pytest
from tests.conftest import start_server
from tests.e2e.ecs_helpers import KEEP_RUNNING, ecs_client, remove_server_containers, server_id, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _down(data_dir: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ecsbox", "down", "--data-dir", str(data_dir), *extra],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _state(client: docker.APIClient, container_id: str) -> str:
    return str(client.inspect_container(container_id)["State"]["Status"])


def test_down_keeps_tasks_and_up_adopts_them_unless_asked_to_stop_them(
    docker_client: docker.APIClient, busybox_image: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="ecsbox-e2e-down-") as tmp:
        data_dir = Path(tmp) / "data"
        server = start_server(data_dir)
        owner = server_id(data_dir)
        try:
            ecs = ecs_client(server.endpoint)
            ecs.create_cluster(clusterName="default")
            ecs.register_task_definition(
                family="keep",
                containerDefinitions=[
                    {"name": "app", "image": busybox_image, "memory": 32, "command": KEEP_RUNNING}
                ],
            )
            task_arn = ecs.run_task(taskDefinition="keep")["tasks"][0]["taskArn"]

            def running_id() -> str | None:
                task = ecs.describe_tasks(tasks=[task_arn])["tasks"][0]
                return task["containers"][0].get("runtimeId") if task["lastStatus"] == "RUNNING" else None

            container = wait_for("the task to run", running_id, 30)
            assert "stopped in" in _down(data_dir)
            assert _state(docker_client, container) == "running"  # down left the task running

            server = start_server(data_dir)
            ecs = ecs_client(server.endpoint)
            task = ecs.describe_tasks(tasks=[task_arn])["tasks"][0]
            assert (task["lastStatus"], task["containers"][0]["runtimeId"]) == ("RUNNING", container)

            assert "stopped 1 tasks" in _down(data_dir, "--stop-tasks")
            assert _state(docker_client, container) == "exited"
        finally:
            server.stop()
            remove_server_containers(docker_client, owner)
