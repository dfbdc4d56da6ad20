"""Container output in CloudWatch Logs, end to end: the seed's awslogs task definition (its images
re-tagged to a local test image that prints a line every 0.2 s) writes each container's lines to
its own group and stream, and FilterLogEvents and ``ecsbox logs tail --follow`` show new lines
within 2 seconds."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
from tests.e2e.ecs_helpers import Box, image_tag, require_seed, unique, wait_for

from ecsbox.runtime.images import build_image_with_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
LOGS_REGION = "us-west-2"  # the seed's awslogs-region
CHATTY = "ecsbox-test/chatty:latest"
CHATTY_DOCKERFILE = (
    "FROM {base}\n"
    'CMD ["sh", "-c", "trap \'exit 0\' TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"]\n'
)


@pytest.fixture(scope="module")
def chatty_image(docker_client: docker.APIClient, busybox_image: str) -> str:
    build_image_with_client(
        docker_client, CHATTY, {}, CHATTY_DOCKERFILE.format(base=busybox_image), labels={"ecsbox.test": "1"}
    )
    return CHATTY


def logs_client(endpoint: str) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=LOGS_REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture()
def seed_task(box: Box, docker_client: docker.APIClient, chatty_image: str) -> Iterator[tuple[str, str, Any]]:
    """The seed's awslogs task running; (cluster, task id, logs client)."""
    definition = json.loads((require_seed(SEED) / "task-definition.awslogs-example.json").read_text())
    logs = logs_client(box.endpoint)
    for group in ("awslogs-wordpress", "awslogs-mysql"):
        logs.create_log_group(logGroupName=group)
    cluster = unique("logs")
    box.ecs.create_cluster(clusterName=cluster)
    with (
        image_tag(docker_client, chatty_image, "wordpress:latest"),
        image_tag(docker_client, chatty_image, "mysql:latest"),
    ):
        arn = box.ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        task = box.ecs.run_task(cluster=cluster, taskDefinition=arn, launchType="EC2")["tasks"][0]
        try:
            box.wait_task(cluster, task["taskArn"], "RUNNING", timeout=60)
            yield cluster, task["taskArn"].rsplit("/", 1)[1], logs
        finally:
            box.cleanup(cluster)


def test_each_container_writes_to_its_own_group_and_stream_and_filter_sees_new_lines_fast(
    seed_task: tuple[str, str, Any],
) -> None:
    _, task_id, logs = seed_task
    for container, group in (("wordpress", "awslogs-wordpress"), ("mysql", "awslogs-mysql")):
        stream = f"awslogs-example/{container}/{task_id}"

        def streams(group: str = group) -> list[str]:
            return [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]

        assert wait_for(f"the {container} stream", lambda s=streams, n=stream: n in s(), timeout=10)  # type: ignore[misc]
        assert streams() == [stream]

    # A line is visible to FilterLogEvents within 2 s of the container writing it (Docker stamps
    # each record with the moment it read the line).
    lags = []
    seen: set[str] = set()
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        now = time.time()
        events = logs.filter_log_events(
            logGroupName="awslogs-wordpress", startTime=int((now - 30) * 1000), filterPattern="line"
        )["events"]
        for event in events:
            if event["eventId"] not in seen:
                seen.add(event["eventId"])
                lags.append(now - event["timestamp"] / 1000)
        time.sleep(0.2)
    fresh = lags[len(lags) // 2 :]  # those first seen by a poll after the start (not the backlog)
    assert len(fresh) >= 10, lags
    assert max(fresh) < 2.0, sorted(fresh)[-5:]
    lines = [
        e["message"]
        for e in logs.get_log_events(
            logGroupName="awslogs-mysql", logStreamName=f"awslogs-example/mysql/{task_id}", startFromHead=True
        )["events"]
    ]
    assert lines[:3] == ["line 0", "line 1", "line 2"]


def test_ecsbox_logs_tail_follow_shows_new_lines_within_two_seconds(
    box: Box, seed_task: tuple[str, str, Any]
) -> None:
    port = box.endpoint.rsplit(":", 1)[1]
    tail = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecsbox",
            "logs",
            "tail",
            "awslogs-mysql",
            "--follow",
            "--since",
            "1m",
            "--region",
            LOGS_REGION,
            "--port",
            port,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lags: list[float] = []
    lines: list[str] = []

    def read() -> None:
        assert tail.stdout is not None
        for line in tail.stdout:
            lines.append(line)
            stamp = line.split(" ", 1)[0]
            try:
                written = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
            lags.append(time.time() - written)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(8)
    finally:
        tail.terminate()
        tail.wait(timeout=10)
    assert len(lags) >= 20, lines[:5]
    fresh = lags[len(lags) // 2 :]  # printed while following, not the first page
    assert max(fresh) < 2.0, sorted(fresh)[-5:]
    assert all(f"awslogs-example/mysql/{seed_task[1]}" in line for line in lines[-5:])


def test_a_missing_group_stops_the_task_with_the_error_ecs_reports(box: Box, chatty_image: str) -> None:
    cluster = unique("nogroup")
    box.ecs.create_cluster(clusterName=cluster)
    try:
        arn = box.ecs.register_task_definition(
            family="nogroup",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": chatty_image,
                    "memory": 64,
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {"awslogs-group": "/no/such/group", "awslogs-region": LOGS_REGION},
                    },
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        task = box.ecs.run_task(cluster=cluster, taskDefinition=arn, launchType="EC2")["tasks"][0]
        stopped = box.wait_task(cluster, task["taskArn"], "STOPPED", timeout=60)
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert "The specified log group does not exist." in stopped["stoppedReason"]

        # With awslogs-create-group the group is made, and the stream without a prefix is the
        # container's id, as Docker's awslogs driver names it.
        created = box.ecs.register_task_definition(
            family="creategroup",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": chatty_image,
                    "memory": 64,
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/made/for/me",
                            "awslogs-region": LOGS_REGION,
                            "awslogs-create-group": "true",
                        },
                    },
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        task = box.ecs.run_task(cluster=cluster, taskDefinition=created, launchType="EC2")["tasks"][0]
        running = box.wait_task(cluster, task["taskArn"], "RUNNING", timeout=60)
        logs = logs_client(box.endpoint)
        runtime_id = running["containers"][0]["runtimeId"]

        def streams() -> list[str]:
            return [
                s["logStreamName"]
                for s in logs.describe_log_streams(logGroupName="/made/for/me")["logStreams"]
            ]

        assert wait_for("the container's stream", lambda: streams() == [runtime_id], timeout=10)
    finally:
        box.cleanup(cluster)


def test_blocking_mode_loses_no_line_when_ecsbox_is_killed_and_restarted(
    docker_client: docker.APIClient, busybox_image: str, tmp_path: Path
) -> None:
    """10,000 lines on stdout and stderr at once, ecsbox killed with SIGKILL while they flow and
    started again: every line is stored (at least once: a line stored whose acknowledgement was
    lost comes again)."""
    from tests.conftest import start_server
    from tests.e2e.ecs_helpers import ecs_client, server_id

    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    identity = server_id(data_dir)
    box = Box(server.endpoint, identity, ecs_client(server.endpoint), docker_client)
    logs = logs_client(server.endpoint)
    logs.create_log_group(logGroupName="/durable")
    box.ecs.create_cluster(clusterName="durable")
    arn = box.ecs.register_task_definition(
        family="durable",
        containerDefinitions=[
            {
                "name": "writer",
                "image": busybox_image,
                "memory": 64,
                # Both streams at once: Docker's blocking fluentd driver would stall on this.
                "command": [
                    "sh",
                    "-c",
                    "(seq 1 5000 | sed s/^/out-/) & (seq 1 5000 | sed s/^/err-/ >&2) & wait; "
                    "trap 'exit 0' TERM; sleep 100000 & wait",
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/durable",
                        "awslogs-region": LOGS_REGION,
                        "awslogs-stream-prefix": "app",
                        "mode": "blocking",
                    },
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    task = box.ecs.run_task(cluster="durable", taskDefinition=arn, launchType="EC2")["tasks"][0]
    stream = f"app/writer/{task['taskArn'].rsplit('/', 1)[1]}"
    restarted = None
    try:

        def stored() -> list[str]:
            messages: list[str] = []
            params: dict[str, Any] = {"logGroupName": "/durable", "logStreamNames": [stream]}
            while True:
                page = logs.filter_log_events(**params)
                messages += [e["message"] for e in page["events"]]
                if not page.get("nextToken"):
                    return messages
                params["nextToken"] = page["nextToken"]

        wait_for("the first lines", lambda: len(stored()) >= 200, timeout=60, interval=0.05)
        before = len(stored())
        server.process.kill()  # SIGKILL while lines flow
        server.process.wait(timeout=10)
        time.sleep(1.0)
        restarted = start_server(data_dir)
        logs = logs_client(restarted.endpoint)
        assert before < 10_000, "the lines were all stored before the kill: nothing was tested"
        wait_for("all 10,000 lines", lambda: len(set(stored())) >= 10_000, timeout=120, interval=0.5)
        messages = stored()
        assert set(messages) == {f"{stream}-{n}" for stream in ("out", "err") for n in range(1, 5_001)}
        print(f"stored before the kill: {before}; duplicates: {len(messages) - 10_000}")
    finally:
        for live in (restarted, server):
            if live is not None and live.process.poll() is None:
                ecs_client(live.endpoint).stop_task(cluster="durable", task=task["taskArn"])
                live.stop()
        from tests.e2e.ecs_helpers import remove_server_containers

        remove_server_containers(docker_client, identity)
