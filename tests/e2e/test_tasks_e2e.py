"""Tasks end to end: boto3 against a live ecsbox that runs them as real Docker containers.

RunTask → RUNNING with its timestamps and container ids; StopTask; an essential container that
exits; an image that cannot be pulled; ListTasks filters; awsvpc (containers share localhost, the
ENI address is the pause container's) and bridge networking (a dynamic host port that answers).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.ecs_helpers import (
    Box,
    container_definition,
    register,
    unique,
    wait_for,
)

pytestmark = pytest.mark.e2e

AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-aaaa1111"], "securityGroups": ["sg-0123456789abcdef0"]}}
# An HTTP server in busybox that serves "hello from A" and exits on SIGTERM.
HTTPD = [
    "sh",
    "-c",
    "mkdir -p /www && echo 'hello from A' > /www/index.html && "
    "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait",
]


@pytest.fixture()
def cluster(box: Box) -> Iterator[str]:
    name = unique("e2e-tasks")
    box.ecs.create_cluster(clusterName=name)
    yield name
    box.cleanup(name)


def run_one(box: Box, cluster: str, task_definition: str, **extra: Any) -> str:
    response = box.ecs.run_task(cluster=cluster, taskDefinition=task_definition, **extra)
    assert response["failures"] == [], response["failures"]
    assert len(response["tasks"]) == 1
    return str(response["tasks"][0]["taskArn"])


def test_run_task_reaches_running_and_stop_task_stops_it(box: Box, cluster: str, busybox_image: str) -> None:
    definition = register(box, unique("life"), [container_definition("app", busybox_image)])
    task_arn = run_one(box, cluster, definition, startedBy="e2e-runner")

    task = box.wait_task(cluster, task_arn, "RUNNING", timeout=30)
    assert task["desiredStatus"] == "RUNNING"
    assert task["createdAt"] <= task["pullStartedAt"] <= task["pullStoppedAt"] <= task["startedAt"]
    (container,) = task["containers"]
    assert container["lastStatus"] == "RUNNING"
    docker_container = box.task_containers(task_arn)["app"]
    assert container["runtimeId"] == docker_container["Id"]
    assert docker_container["State"] == "running"

    stopped = box.ecs.stop_task(cluster=cluster, task=task_arn, reason="e2e: enough of that")["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    task = box.wait_task(cluster, task_arn, "STOPPED", timeout=30)
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "e2e: enough of that"
    assert task["startedAt"] <= task["stoppingAt"] <= task["stoppedAt"]
    (container,) = task["containers"]
    assert container["lastStatus"] == "STOPPED"
    assert container["exitCode"] == 0  # the trap exits 0 on SIGTERM
    assert box.task_containers(task_arn)["app"]["State"] == "exited"


def test_essential_container_that_exits_stops_the_task(box: Box, cluster: str, busybox_image: str) -> None:
    definition = register(
        box,
        unique("exits"),
        [
            # Non-essential and gone at once: the task keeps running without it.
            container_definition("side", busybox_image, essential=False, command=["true"]),
            container_definition("main", busybox_image, command=["sh", "-c", "sleep 4; exit 3"]),
        ],
    )
    task_arn = run_one(box, cluster, definition)

    def side_exited_task_running() -> dict[str, Any] | None:
        task = box.describe_task(cluster, task_arn)
        side = next(c for c in task["containers"] if c["name"] == "side")
        return task if task["lastStatus"] == "RUNNING" and side["lastStatus"] == "STOPPED" else None

    task = wait_for("side container STOPPED, task RUNNING", side_exited_task_running, 20)
    assert next(c for c in task["containers"] if c["name"] == "side")["exitCode"] == 0

    task = box.wait_task(cluster, task_arn, "STOPPED", timeout=30)
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    exit_codes = {c["name"]: c.get("exitCode") for c in task["containers"]}
    assert exit_codes == {"side": 0, "main": 3}


def test_image_that_cannot_be_pulled_fails_to_start(box: Box, cluster: str, busybox_image: str) -> None:
    # Port 9 on loopback: nothing listens, so the pull fails at once without any network.
    image = "127.0.0.1:9/ecsbox-e2e/missing:latest"
    definition = register(box, unique("nopull"), [container_definition("app", image)])
    task_arn = run_one(box, cluster, definition)

    task = box.wait_task(cluster, task_arn, "STOPPED", timeout=60)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError"), task["stoppedReason"]
    assert "startedAt" not in task
    assert box.task_containers(task_arn) == {}  # nothing was created


def test_list_tasks_filters(box: Box, cluster: str, busybox_image: str) -> None:
    family_a, family_b = unique("list-a"), unique("list-b")
    definition_a = register(box, family_a, [container_definition("app", busybox_image)])
    definition_b = register(box, family_b, [container_definition("app", busybox_image)])
    a1 = run_one(box, cluster, definition_a, startedBy="robot-1")
    a2 = run_one(box, cluster, definition_a, startedBy="robot-2")
    b1 = run_one(box, cluster, definition_b, startedBy="robot-1")
    box.ecs.create_service(
        cluster=cluster, serviceName="listed", taskDefinition=definition_b, desiredCount=1, launchType="EC2"
    )
    service_task = wait_for("the service's task", lambda: box.list_tasks(cluster, serviceName="listed"), 20)
    for arn in (a1, a2, b1):
        box.wait_task(cluster, arn, "RUNNING", timeout=30)
    box.ecs.stop_task(cluster=cluster, task=a2, reason="e2e")
    box.wait_task(cluster, a2, "STOPPED", timeout=30)

    assert set(box.list_tasks(cluster)) == {a1, b1, *service_task}
    assert box.list_tasks(cluster, desiredStatus="STOPPED") == [a2]
    assert box.list_tasks(cluster, family=family_a) == [a1]
    assert box.list_tasks(cluster, family=family_a, desiredStatus="STOPPED") == [a2]
    assert set(box.list_tasks(cluster, family=family_b)) == {b1, *service_task}
    assert set(box.list_tasks(cluster, startedBy="robot-1")) == {a1, b1}
    assert box.list_tasks(cluster, startedBy="robot-2") == []  # a2 is stopped
    assert box.list_tasks(cluster, startedBy="robot-2", desiredStatus="STOPPED") == [a2]
    assert box.list_tasks(cluster, serviceName="listed") == service_task
    assert len(service_task) == 1


def test_awsvpc_containers_share_localhost(box: Box, cluster: str, busybox_image: str) -> None:
    definition = register(
        box,
        unique("vpc"),
        [
            container_definition("a", busybox_image, command=HTTPD, portMappings=[{"containerPort": 8080}]),
            container_definition(
                "b",
                busybox_image,
                command=[
                    "sh",
                    "-c",
                    "until wget -q -O - http://localhost:8080/; do sleep 0.2; done; "
                    "trap 'exit 0' TERM; sleep 100000 & wait",
                ],
                dependsOn=[{"containerName": "a", "condition": "START"}],
            ),
        ],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )
    task_arn = run_one(box, cluster, definition, launchType="FARGATE", networkConfiguration=AWSVPC)
    task = box.wait_task(cluster, task_arn, "RUNNING", timeout=30)

    containers = box.task_containers(task_arn)
    assert set(containers) == {"a", "b", "~internal~ecs~pause"}

    def b_output() -> str:
        return box.docker.logs(containers["b"]["Id"]).decode()

    assert "hello from A" in wait_for("b to fetch a's page over localhost", b_output, 20)

    (eni,) = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"]
    details = {d["name"]: d["value"] for d in eni["details"]}
    pause = box.docker.inspect_container(containers["~internal~ecs~pause"]["Id"])
    addresses = {n["IPAddress"] for n in pause["NetworkSettings"]["Networks"].values() if n["IPAddress"]}
    assert details["privateIPv4Address"] in addresses
    assert details["subnetId"] == "subnet-aaaa1111"
    for container in task["containers"]:
        assert container["networkInterfaces"][0]["privateIpv4Address"] == details["privateIPv4Address"]


def test_bridge_dynamic_host_port_answers(box: Box, cluster: str, busybox_image: str) -> None:
    definition = register(
        box,
        unique("bridge"),
        [
            container_definition(
                "web", busybox_image, command=HTTPD, portMappings=[{"containerPort": 8080, "hostPort": 0}]
            )
        ],
        networkMode="bridge",
    )
    task_arn = run_one(box, cluster, definition)
    task = box.wait_task(cluster, task_arn, "RUNNING", timeout=30)

    def bindings() -> list[dict[str, Any]]:
        container = box.describe_task(cluster, task_arn)["containers"][0]
        return list(container.get("networkBindings") or [])

    found = wait_for("networkBindings", bindings, 10)
    tcp = [b for b in found if b["containerPort"] == 8080 and b["protocol"] == "tcp"]
    assert tcp, found
    host_port = tcp[0]["hostPort"]
    assert host_port and host_port != 8080

    def fetch() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=2) as response:
            return response.read().decode()

    def fetched() -> str | None:
        try:
            return fetch()
        except OSError:
            return None

    assert "hello from A" in wait_for(f"HTTP on 127.0.0.1:{host_port}", fetched, 15)
    assert task["containers"][0]["runtimeId"] == box.task_containers(task_arn)["web"]["Id"]


def test_stop_task_while_it_is_starting_leaves_nothing_running(
    box: Box, cluster: str, busybox_image: str
) -> None:
    definition = register(
        box,
        unique("race"),
        [container_definition("a", busybox_image), container_definition("b", busybox_image)],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )
    arns = []
    for delay in (0, 0.05, 0.2):  # before, during and around the launch
        arns.append(run_one(box, cluster, definition, launchType="FARGATE", networkConfiguration=AWSVPC))
        time.sleep(delay)
        box.ecs.stop_task(cluster=cluster, task=arns[-1], reason="changed my mind")
    for arn in arns:
        task = box.wait_task(cluster, arn, "STOPPED", timeout=30)
        assert (task["stopCode"], task["stoppedReason"]) == ("UserInitiated", "changed my mind")
        assert {c["lastStatus"] for c in task["containers"]} == {"STOPPED"}
        running = {name for name, c in box.task_containers(arn).items() if c["State"] == "running"}
        assert running == set(), running  # the pause container too
