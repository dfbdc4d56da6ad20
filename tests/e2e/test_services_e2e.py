"""Services end to end: the AWS CLI and boto3 against a live ecsbox whose tasks are real Docker
containers.

The seed documents as a user feeds them to the CLI; rolling deployments sampled every ~0.25 s on
both sides (``docker ps`` and DescribeServices / DescribeTasks) to hold ecsbox to the
minimumHealthyPercent / maximumPercent bounds; the deployment circuit breaker rolling back; a
``kill -9`` of ecsbox mid-deployment and a restart on the same data directory.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from tests.conftest import LiveServer, start_server
from tests.e2e.ecs_helpers import (
    FAST_HEALTH_CHECK,
    Box,
    aws_cli,
    aws_environment,
    container_definition,
    docker_healthy,
    ecs_client,
    image_tag,
    register,
    remove_server_containers,
    require_seed,
    server_id,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
SEED_IMAGE = "xxxx.dkr.ecr.ap-northeast-1.amazonaws.com/test:latest"
ACTIVE_STATUSES = {"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING"}


@pytest.fixture()
def cluster(box: Box) -> Iterator[str]:
    name = unique("e2e-svc")
    box.ecs.create_cluster(clusterName=name)
    yield name
    box.cleanup(name)


def messages(service: dict[str, Any]) -> list[str]:
    return [event["message"] for event in service["events"]]


# ---- 1. the seed, with the AWS CLI -----------------------------------------------------------


def test_seed_service_runs_with_the_aws_cli(box: Box, web_image: str, tmp_path: Path) -> None:
    seed = require_seed(SEED)
    env = aws_environment(box.endpoint)
    # The seed's image, re-tagged locally: a web server on port 80, as the article's PHP app is.
    with image_tag(box.docker, web_image, SEED_IMAGE):
        try:
            _seed_scenario(box, env, seed, tmp_path)
        finally:
            box.cleanup("fargate-cluster")


def _seed_scenario(box: Box, env: dict[str, str], seed: Path, tmp_path: Path) -> None:
    cluster = aws_cli(
        env, "ecs", "create-cluster", "--cli-input-json", f"file://{seed}/cluster.fargate-cluster.json"
    )
    assert cluster["cluster"]["clusterName"] == "fargate-cluster"
    assert cluster["cluster"]["status"] == "ACTIVE"
    assert set(cluster["cluster"]["capacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}

    # The task definition's awslogs group, as the ECS console creates it beside the definition
    # (awslogs does not create groups unless asked to).
    aws_cli(env, "logs", "create-log-group", "--log-group-name", "/ecs/php-sample-fargate")
    seed_definition = seed / "task-definition.php-sample-fargate.json"
    registered = aws_cli(
        env, "ecs", "register-task-definition", "--cli-input-json", f"file://{seed_definition}"
    )
    definition = registered["taskDefinition"]
    assert definition["family"] == "php-sample-fargate"
    assert definition["revision"] == 1
    assert definition["containerDefinitions"][0]["image"] == SEED_IMAGE
    assert definition["networkMode"] == "awsvpc"

    service_file = seed / "service.php-samplefargate.json"
    service_input = json.loads(service_file.read_text())
    created = aws_cli(env, "ecs", "create-service", "--cli-input-json", f"file://{service_file}")["service"]
    assert created["serviceName"] == service_input["serviceName"] == "php-samplefargate"
    assert created["desiredCount"] == service_input["desiredCount"] == 1
    assert created["launchType"] == "FARGATE"
    assert created["deploymentConfiguration"]["maximumPercent"] == 200
    assert created["deploymentConfiguration"]["minimumHealthyPercent"] == 100

    # The seed's task definition runs as it is: one task, RUNNING, its app answering on the
    # loopback port ecsbox published for it.
    def one_running() -> list[dict[str, Any]] | None:
        arns = box.list_tasks("fargate-cluster", serviceName="php-samplefargate")
        tasks = [t for t in box.describe_tasks("fargate-cluster", arns) if t["lastStatus"] == "RUNNING"]
        return tasks if len(tasks) == 1 else None

    (first,) = wait_for("the seed task RUNNING", one_running, 90)
    (binding,) = first["containers"][0]["networkBindings"]
    assert binding["containerPort"] == 80
    with urllib.request.urlopen(f"http://127.0.0.1:{binding['hostPort']}/", timeout=10) as page:
        assert b"php-sample-fargate" in page.read()

    aws_cli(
        env,
        "ecs",
        "update-service",
        "--cluster",
        "fargate-cluster",
        "--service",
        "php-samplefargate",
        "--desired-count",
        "3",
    )

    def three_running() -> list[dict[str, Any]] | None:
        containers = [c for c in box.containers("fargate-cluster") if c["State"] == "running"]
        return containers if len(containers) == 3 else None

    wait_for("3 running task containers", three_running, 90)
    running = box.describe_tasks(
        "fargate-cluster", box.list_tasks("fargate-cluster", serviceName="php-samplefargate")
    )
    assert len(running) == 3
    assert {t["lastStatus"] for t in running} == {"RUNNING"}
    assert {t["taskDefinitionArn"].rsplit(":", 1)[-1] for t in running} == {"1"}
    # awsvpc: each task has its pause container holding its network and reports its address.
    for task in running:
        containers = box.task_containers(task["taskArn"], include_stopped=False)
        assert set(containers) == {"php-sample-fargate", "~internal~ecs~pause"}
        (eni,) = task["attachments"]
        assert any(d["name"] == "privateIPv4Address" and d["value"] for d in eni["details"])

    # docker rm -f one of them: ECS sees its essential container gone and replaces the task.
    victim = running[0]
    victim_id = victim["taskArn"].rsplit("/", 1)[-1]
    box.docker.remove_container(
        box.task_containers(victim["taskArn"])["php-sample-fargate"]["Id"], force=True
    )

    stopped_victim = box.wait_task("fargate-cluster", victim["taskArn"], "STOPPED", timeout=30)
    assert stopped_victim["stopCode"] == "EssentialContainerExited"

    def replaced() -> list[str] | None:
        arns = box.list_tasks("fargate-cluster", serviceName="php-samplefargate")
        tasks = box.describe_tasks("fargate-cluster", arns)
        fresh = [t for t in tasks if t["lastStatus"] == "RUNNING" and t["taskArn"] != victim["taskArn"]]
        return [t["taskArn"] for t in fresh] if len(fresh) == 3 else None

    now_running = wait_for("the replacement task RUNNING", replaced, 30)
    (replacement,) = set(now_running) - {t["taskArn"] for t in running}
    replacement_id = replacement.rsplit("/", 1)[-1]
    wait_for("3 running task containers again", three_running, 15)
    assert victim_id not in {c["Labels"]["ecsbox.task-arn"].rsplit("/", 1)[-1] for c in three_running() or []}

    described = aws_cli(
        env, "ecs", "describe-services", "--cluster", "fargate-cluster", "--services", "php-samplefargate"
    )["services"][0]
    assert described["runningCount"] == 3
    assert described["desiredCount"] == 3
    assert f"(service php-samplefargate) has started 1 tasks: (task {replacement_id})." in messages(described)

    deleted = aws_cli(
        env,
        "ecs",
        "delete-service",
        "--cluster",
        "fargate-cluster",
        "--service",
        "php-samplefargate",
        "--force",
    )
    assert deleted["service"]["status"] == "DRAINING"
    wait_for("the seed service's containers gone", lambda: not box.containers("fargate-cluster"), 30)


# ---- 2. rolling deployments within their bounds ----------------------------------------------


@dataclass
class Sample:
    at: float
    running_containers: int
    healthy_containers: int
    tasks_in_flight: int  # desired RUNNING, lastStatus PROVISIONING..RUNNING
    healthy_tasks: int  # desired RUNNING, lastStatus RUNNING, healthStatus HEALTHY
    service_running: int
    service_pending: int
    deployments: list[tuple[str, str, str]]  # (status, rolloutState, task definition revision)


def sample(box: Box, cluster: str, service: str) -> Sample:
    containers = box.containers(cluster)
    described = box.describe_service(cluster, service)
    tasks = box.describe_tasks(cluster, box.list_tasks(cluster, serviceName=service))
    in_flight = [t for t in tasks if t["desiredStatus"] == "RUNNING" and t["lastStatus"] in ACTIVE_STATUSES]
    return Sample(
        at=time.monotonic(),
        running_containers=sum(1 for c in containers if c["State"] == "running"),
        healthy_containers=sum(1 for c in containers if docker_healthy(c)),
        tasks_in_flight=len(in_flight),
        healthy_tasks=sum(
            1 for t in in_flight if t["lastStatus"] == "RUNNING" and t.get("healthStatus") == "HEALTHY"
        ),
        service_running=described["runningCount"],
        service_pending=described["pendingCount"],
        deployments=[
            (d["status"], d["rolloutState"], d["taskDefinition"].rsplit(":", 1)[-1])
            for d in described["deployments"]
        ],
    )


def sample_until_completed(
    box: Box, cluster: str, service: str, revision: str, timeout: float
) -> list[Sample]:
    """Samples every ~0.25 s until the deployment of ``revision`` is the only one, COMPLETED, and
    only its 3 containers run."""
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout
    while True:
        current = sample(box, cluster, service)
        samples.append(current)
        if current.deployments == [("PRIMARY", "COMPLETED", revision)] and current.running_containers == 3:
            return samples
        assert time.monotonic() < deadline, f"deployment of :{revision} did not complete: {samples[-3:]}"
        time.sleep(0.25)


def test_rolling_update_stays_within_min_healthy_and_max_percent(
    box: Box, cluster: str, busybox_image: str
) -> None:
    family = unique("roll")

    def revision(version: str) -> str:
        app = container_definition(
            "app",
            busybox_image,
            healthCheck=FAST_HEALTH_CHECK,
            environment=[{"name": "VERSION", "value": version}],
        )
        return register(box, family, [app])

    box.ecs.create_service(
        cluster=cluster,
        serviceName="web",
        taskDefinition=revision("1"),
        desiredCount=3,
        launchType="EC2",
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
    )
    box.wait_deployment_completed(cluster, "web", timeout=45)
    wait_for("3 healthy containers", lambda: sum(map(docker_healthy, box.containers(cluster))) == 3, 20)

    # max 200 / min 100: 3 new may start before any old one stops; 3 stay healthy throughout.
    box.ecs.update_service(cluster=cluster, service="web", taskDefinition=revision("2"))
    samples = sample_until_completed(box, cluster, "web", "2", timeout=60)
    for s in samples:
        assert s.healthy_containers >= 3, s
        assert s.healthy_tasks >= 3, s
        assert s.running_containers <= 6, s
        assert s.tasks_in_flight <= 6, s
        assert s.service_running + s.service_pending <= 6, s
    assert max(s.running_containers for s in samples) == 6  # it did use the headroom
    assert any(len(s.deployments) == 2 for s in samples)

    # max 100 / min 50: never above 3 tasks; at least ceil(1.5) = 2 healthy.
    box.ecs.update_service(
        cluster=cluster,
        service="web",
        taskDefinition=revision("3"),
        deploymentConfiguration={"maximumPercent": 100, "minimumHealthyPercent": 50},
    )
    samples = sample_until_completed(box, cluster, "web", "3", timeout=90)
    for s in samples:
        assert s.running_containers <= 3, s
        assert s.tasks_in_flight <= 3, s
        assert s.service_running + s.service_pending <= 3, s
        assert s.healthy_containers >= 2, s
        assert s.healthy_tasks >= 2, s
    assert min(s.healthy_tasks for s in samples) == 2  # it did use the room min 50 % gives

    described = box.describe_service(cluster, "web")
    assert described["taskDefinition"].endswith(":3")
    assert any("deployment completed" in m for m in messages(described))
    assert "(service web) has reached a steady state." in messages(described)


# ---- 3. the circuit breaker rolls back -------------------------------------------------------


def test_circuit_breaker_rolls_back_a_deployment_whose_tasks_exit(
    box: Box, cluster: str, busybox_image: str
) -> None:
    family = unique("breaker")
    good = register(box, family, [container_definition("app", busybox_image, healthCheck=FAST_HEALTH_CHECK)])
    box.ecs.create_service(
        cluster=cluster,
        serviceName="api",
        taskDefinition=good,
        desiredCount=3,
        launchType="EC2",
        deploymentConfiguration={
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )
    first = box.wait_deployment_completed(cluster, "api", timeout=45)["deployments"][0]

    bad = register(box, family, [container_definition("app", busybox_image, command=["sh", "-c", "exit 1"])])
    updated = box.ecs.update_service(cluster=cluster, service="api", taskDefinition=bad)["service"]
    failing = next(d for d in updated["deployments"] if d["status"] == "PRIMARY")
    assert failing["taskDefinition"] == bad

    seen: dict[str, set[tuple[str, str, str]]] = {}  # deployment id → (status, rolloutState, task def)
    healthy_tasks: list[int] = []
    deadline = time.monotonic() + 90
    while True:
        described = box.describe_service(cluster, "api")
        for d in described["deployments"]:
            seen.setdefault(d["id"], set()).add((d["status"], d["rolloutState"], d["taskDefinition"]))
        tasks = box.describe_tasks(cluster, box.list_tasks(cluster, serviceName="api"))
        healthy_tasks.append(
            sum(1 for t in tasks if t["lastStatus"] == "RUNNING" and t.get("healthStatus") == "HEALTHY")
        )
        deployments = described["deployments"]
        if (
            len(deployments) == 1
            and deployments[0]["id"] not in (first["id"], failing["id"])
            and deployments[0]["rolloutState"] == "COMPLETED"
        ):
            break
        assert time.monotonic() < deadline, f"no completed rollback: {described['deployments']}"
        time.sleep(0.25)

    rollback = deployments[0]
    assert rollback["status"] == "PRIMARY"
    assert rollback["taskDefinition"] == good
    assert described["taskDefinition"] == good
    assert described["runningCount"] == 3
    assert ("PRIMARY", "FAILED", bad) in seen[failing["id"]] or ("ACTIVE", "FAILED", bad) in seen[
        failing["id"]
    ]
    assert min(healthy_tasks) >= 3  # the old tasks kept serving throughout (min 100 %)

    events = messages(described)
    assert any(failing["id"] in m and "deployment failed" in m for m in events), events
    assert any("rolling back" in m and first["id"] in m for m in events), events
    running = box.describe_tasks(cluster, box.list_tasks(cluster, serviceName="api"))
    assert {t["taskDefinitionArn"] for t in running} == {good}
    stopped = box.describe_tasks(cluster, box.list_tasks(cluster, serviceName="api", desiredStatus="STOPPED"))
    failed_tasks = [t for t in stopped if t["taskDefinitionArn"] == bad]
    exited = [t for t in failed_tasks if t["stopCode"] == "EssentialContainerExited"]
    assert len(exited) >= 3  # the threshold: clamp(ceil(0.5 x 3), 3, 200)
    # Any that were still starting when the breaker tripped were stopped by the rollback.
    assert {t["stopCode"] for t in failed_tasks} <= {"EssentialContainerExited", "ServiceSchedulerInitiated"}


# ---- 6. kill -9 mid-deployment, restart on the same data directory ---------------------------


def test_restart_after_kill_converges_without_strays(
    docker_client: docker.APIClient, busybox_image: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="ecsbox-e2e-restart-") as tmp:
        data_dir = Path(tmp) / "data"
        # --time-scale 10: a task without a health check counts as healthy after 40 s of ecsbox
        # time, 4 s of ours.
        server = start_server(data_dir, "--time-scale", "10")
        identity = server_id(data_dir)
        try:
            _restart_scenario(server, data_dir, identity, docker_client, busybox_image)
        finally:
            if server.process.poll() is None:
                server.stop()
            for line in server.output[-5:]:
                print(line, end="")
            remove_server_containers(docker_client, identity)


def _restart_scenario(
    server: LiveServer, data_dir: Path, identity: str, client: docker.APIClient, image: str
) -> None:
    box = Box(server.endpoint, identity, ecs_client(server.endpoint), client)
    box.ecs.create_cluster(clusterName="crash")
    family = unique("crash")
    first = register(box, family, [container_definition("app", image)])
    box.ecs.create_service(
        cluster="crash", serviceName="svc", taskDefinition=first, desiredCount=3, launchType="EC2"
    )
    box.wait_deployment_completed("crash", "svc", timeout=45)

    second = register(
        box, family, [container_definition("app", image, environment=[{"name": "V", "value": "2"}])]
    )
    updated = box.ecs.update_service(cluster="crash", service="svc", taskDefinition=second)["service"]
    new_deployment = next(d["id"] for d in updated["deployments"] if d["status"] == "PRIMARY")
    # Mid-deployment: the new deployment's tasks exist (not all running yet, maybe none).
    wait_for(
        "the new deployment's tasks", lambda: box.list_tasks("crash", startedBy=new_deployment), 15, 0.05
    )
    server.process.kill()
    server.process.wait(timeout=10)
    # What ecsbox left behind: the old tasks' containers still run (tasks outlive a dead agent).
    old_containers = {
        c["Labels"]["ecsbox.task-arn"]: c["Id"] for c in box.containers("crash") if c["State"] == "running"
    }

    restarted = start_server(data_dir, "--time-scale", "10")
    try:
        box = Box(restarted.endpoint, identity, ecs_client(restarted.endpoint), client)
        described = box.wait_deployment_completed("crash", "svc", timeout=60)
        assert described["taskDefinition"] == second
        _assert_no_strays(box, "crash", "svc", second)
        # The old tasks were adopted and then stopped by the deployment, not lost nor relaunched.
        old_tasks = box.describe_tasks("crash", sorted(old_containers))
        first_tasks = [t for t in old_tasks if t["taskDefinitionArn"] == first]
        assert len(first_tasks) == 3, old_tasks
        for task in first_tasks:
            assert task["lastStatus"] == "STOPPED"
            assert task["stopCode"] == "ServiceSchedulerInitiated", task
            (container,) = task["containers"]
            assert container["runtimeId"] == old_containers[task["taskArn"]]
            assert container["exitCode"] == 0  # SIGTERM, trapped: a clean stop
        time.sleep(6)  # one more pass of the agent's reconciliation (every 5 s) changes nothing
        _assert_no_strays(box, "crash", "svc", second)
    finally:
        restarted.stop()


def _assert_no_strays(box: Box, cluster: str, service: str, task_definition: str) -> None:
    running_arns = set(box.list_tasks(cluster))
    running = box.describe_tasks(cluster, sorted(running_arns))
    assert len(running) == 3, running
    assert {t["lastStatus"] for t in running} == {"RUNNING"}
    assert {t["taskDefinitionArn"] for t in running} == {task_definition}
    assert box.describe_service(cluster, service)["runningCount"] == 3

    every = box.containers(include_stopped=True, role=None)
    live = [c for c in every if c["State"] == "running"]
    # Every running container belongs to a RUNNING task, and each RUNNING task has its container.
    assert {c["Labels"]["ecsbox.task-arn"] for c in live} == running_arns
    for task in running:
        (container,) = task["containers"]
        matching = [c for c in live if c["Id"] == container["runtimeId"]]
        assert len(matching) == 1, (task["taskArn"], container)
    # No container of a task ecsbox does not know (stopped tasks' containers stay, exited).
    known = set(running_arns) | set(box.list_tasks(cluster, desiredStatus="STOPPED"))
    strays = [c["Names"] for c in every if c["Labels"]["ecsbox.task-arn"] not in known]
    assert strays == []
    assert all(c["State"] != "running" for c in every if c["Labels"]["ecsbox.task-arn"] not in running_arns)


def test_scaled_clock_does_not_run_backwards_after_kill(docker_client: docker.APIClient) -> None:
    definition = {"family": "clock", "containerDefinitions": [{"name": "x", "image": "x", "memory": 16}]}
    with tempfile.TemporaryDirectory(prefix="ecsbox-e2e-clock-") as tmp:
        data_dir = Path(tmp) / "data"
        server = start_server(data_dir, "--time-scale", "10")
        try:
            time.sleep(3)  # 30 s of ecsbox time
            before = ecs_client(server.endpoint).register_task_definition(**definition)["taskDefinition"]
        finally:
            server.process.kill()
            server.process.wait(timeout=10)
        restarted = start_server(data_dir, "--time-scale", "10")
        try:
            after = ecs_client(restarted.endpoint).register_task_definition(**definition)["taskDefinition"]
        finally:
            restarted.stop()
            remove_server_containers(docker_client, server_id(data_dir))
    assert after["revision"] == 2
    assert after["registeredAt"] >= before["registeredAt"], (before["registeredAt"], after["registeredAt"])
