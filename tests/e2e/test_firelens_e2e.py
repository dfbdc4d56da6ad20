"""FireLens end to end: a task whose log router image carries its own configuration (the seed's
firelens.extra.conf with its Firehose output swapped for the outputs ecsbox has) delivers the app's
records enriched with ECS metadata and filtered as configured, to CloudWatch Logs and to a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
from tests.conftest import LiveServer
from tests.e2e.ecs_helpers import Box, unique, wait_for

from ecsbox.runtime.images import build_image_with_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
ROUTER = "ecsbox-test/log-router:latest"
APP = "ecsbox-test/keep-drop:latest"
REGION = "ap-northeast-1"


def extra_conf() -> str:
    """The seed's extra.conf, its Firehose output replaced by a file output, plus a grep filter."""
    seed = (SEED / "firelens.extra.conf").read_text()
    head = seed[: seed.index("[OUTPUT]")]
    return (
        head
        + "[FILTER]\n    Name grep\n    Match app-firelens*\n    Exclude log drop\n\n"
        + "[OUTPUT]\n    Name file\n    Match app-firelens*\n    Path /fluent-bit/out\n"
        + "    File app.log\n    Mkdir true\n"
    )


@pytest.fixture(scope="module")
def images(docker_client: docker.APIClient, busybox_image: str) -> tuple[str, str]:
    build_image_with_client(
        docker_client,
        ROUTER,
        {"extra.conf": (extra_conf().encode(), 0o644)},
        f"FROM {busybox_image}\nCOPY extra.conf /fluent-bit/etc/extra.conf\n"
        'CMD ["sh", "-c", "trap \'exit 0\' TERM; sleep 100000 & wait"]\n',
        labels={"ecsbox.test": "1"},
    )
    build_image_with_client(
        docker_client,
        APP,
        {},
        f"FROM {busybox_image}\n"
        'CMD ["sh", "-c", "trap \'exit 0\' TERM; i=0; while true; do echo keep $i; echo drop $i; '
        'i=$((i+1)); sleep 0.2; done"]\n',
        labels={"ecsbox.test": "1"},
    )
    return ROUTER, APP


def definition(family: str, app_options: dict[str, str]) -> dict[str, Any]:
    return {
        "family": family,
        "networkMode": "bridge",
        "containerDefinitions": [
            {
                "name": "log_router",
                "image": ROUTER,
                "memory": 64,
                "essential": True,
                "firelensConfiguration": {
                    "type": "fluentbit",
                    "options": {
                        "config-file-type": "file",
                        "config-file-value": "/fluent-bit/etc/extra.conf",
                    },
                },
            },
            {
                "name": "app",
                "image": APP,
                "memory": 64,
                "essential": True,
                "dependsOn": [{"containerName": "log_router", "condition": "START"}],
                "logConfiguration": {"logDriver": "awsfirelens", "options": app_options},
            },
        ],
    }


def test_firelens_delivers_enriched_filtered_records_to_cloudwatch_logs_and_a_file(
    box: Box, ecsbox_server: LiveServer, images: tuple[str, str]
) -> None:
    cluster = unique("firelens")
    box.ecs.create_cluster(clusterName=cluster)
    logs = boto3.client(
        "logs",
        endpoint_url=box.endpoint,
        region_name=REGION,
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )
    options = {
        "Name": "cloudwatch_logs",
        "region": REGION,
        "log_group_name": "/firelens/app",
        "log_stream_prefix": "from-",
        "auto_create_group": "true",
    }
    try:
        arn = box.ecs.register_task_definition(**definition("firelens-app", options))["taskDefinition"]
        task = box.ecs.run_task(cluster=cluster, taskDefinition=arn["taskDefinitionArn"], launchType="EC2")[
            "tasks"
        ][0]
        task_arn = task["taskArn"]
        task_id = task_arn.rsplit("/", 1)[1]
        box.wait_task(cluster, task_arn, "RUNNING", timeout=60)

        def events() -> list[dict[str, Any]]:
            try:
                found = logs.filter_log_events(logGroupName="/firelens/app")["events"]
            except logs.exceptions.ResourceNotFoundException:
                return []
            return found if len(found) >= 5 else []

        got = wait_for("FireLens records in CloudWatch Logs", events, timeout=20)
        records = [json.loads(event["message"]) for event in got]
        assert all(record["log"].startswith("keep ") for record in records)  # grep dropped "drop"
        first = records[0]
        assert first["ecs_cluster"] == cluster
        assert first["ecs_task_arn"] == task_arn
        assert first["ecs_task_definition"] == "firelens-app:1"
        assert first["environment"] == "production"  # the extra.conf's record_modifier
        assert first["source"] == "stdout" and len(first["container_id"]) == 64
        assert "app" in first["container_name"]
        streams = {event["logStreamName"] for event in got}
        assert streams == {f"from-app-firelens-{task_id}"}

        out = ecsbox_server.data_dir / "firelens" / task_id / "fluent-bit" / "out" / "app.log"
        assert wait_for(
            "the file output", lambda: out.exists() and out.read_text().count("keep") >= 3, timeout=20
        )
        lines = out.read_text().splitlines()
        assert all(line.startswith(f"app-firelens-{task_id}: [") for line in lines)
        assert "drop" not in out.read_text()
        record = json.loads(lines[0].split(", ", 1)[1].rstrip("]"))
        assert record["environment"] == "production" and record["ecs_cluster"] == cluster
    finally:
        box.cleanup(cluster)


def test_an_output_ecsbox_does_not_have_is_refused_with_the_reason(box: Box, images: tuple[str, str]) -> None:
    """The seed's own FireLens log configuration sends to Kinesis Data Firehose, which ecsbox does
    not have yet: the task does not start, and says why."""
    seed = json.loads((SEED / "firelens.log-configuration.json").read_text())["logConfiguration"]
    cluster = unique("firelens-no")
    box.ecs.create_cluster(clusterName=cluster)
    try:
        arn = box.ecs.register_task_definition(**definition("firelens-firehose", seed["options"]))[
            "taskDefinition"
        ]
        task = box.ecs.run_task(cluster=cluster, taskDefinition=arn["taskDefinitionArn"], launchType="EC2")[
            "tasks"
        ][0]
        stopped = box.wait_task(cluster, task["taskArn"], "STOPPED", timeout=60)
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert "output plugin 'kinesis_firehose' is not available in ecsbox yet" in stopped["stoppedReason"]
        reasons = {c["name"]: c.get("reason", "") for c in stopped["containers"]}
        assert "kinesis_firehose" in reasons["app"]
    finally:
        box.cleanup(cluster)


def test_a_router_image_that_cannot_be_had_is_stood_in_for_and_records_still_flow(
    box: Box, images: tuple[str, str]
) -> None:
    """AWS's own router image cannot be pulled here; ecsbox routes the records itself, so the
    task runs with a container that only waits in the router's place."""
    cluster = unique("firelens-absent")
    box.ecs.create_cluster(clusterName=cluster)
    logs = boto3.client(
        "logs",
        endpoint_url=box.endpoint,
        region_name=REGION,
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )
    task_definition = definition(
        "firelens-absent",
        {
            "Name": "cloudwatch_logs",
            "region": REGION,
            "log_group_name": "/firelens/absent",
            "auto_create_group": "true",
            "log_stream_name": "app",
        },
    )
    router = task_definition["containerDefinitions"][0]
    router["image"] = "ecsbox-test/no-such-router:stable"
    router["firelensConfiguration"] = {"type": "fluentbit"}
    try:
        arn = box.ecs.register_task_definition(**task_definition)["taskDefinition"]["taskDefinitionArn"]
        task = box.ecs.run_task(cluster=cluster, taskDefinition=arn, launchType="EC2")["tasks"][0]
        running = box.wait_task(cluster, task["taskArn"], "RUNNING", timeout=90)
        assert {c["name"]: c["lastStatus"] for c in running["containers"]} == {
            "log_router": "RUNNING",
            "app": "RUNNING",
        }

        def events() -> list[dict[str, Any]]:
            try:
                return logs.get_log_events(logGroupName="/firelens/absent", logStreamName="app")["events"]
            except logs.exceptions.ResourceNotFoundException:
                return []

        got = wait_for("records routed without the router image", lambda: len(events()) >= 3, timeout=20)
        assert got
        record = json.loads(events()[0]["message"])
        assert record["ecs_task_arn"] == task["taskArn"] and record["log"].startswith(("keep", "drop"))
    finally:
        box.cleanup(cluster)
