"""Monitoring end to end, on a real engine with real clients: a service's task burns a CPU core and
CloudWatch shows it (AWS CLI ``get-metric-statistics``, agreeing with ``docker stats``); an alarm on
it goes to ALARM and back to OK and tells a local HTTP endpoint subscribed to its SNS topic; a
deployment whose alarm fires is rolled back; Container Insights on the seed's cluster fills
``ECS/ContainerInsights`` and the performance log group.

The server runs at time scale 20: a 60-second period passes in 3 wall seconds.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
from tests.conftest import LiveServer, start_server
from tests.e2e.ecs_helpers import (
    REGION,
    Box,
    aws_cli,
    aws_environment,
    container_definition,
    ecs_client,
    image_tag,
    register,
    require_seed,
    server_id,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
SEED_IMAGE = "xxxx.dkr.ecr.ap-northeast-1.amazonaws.com/test:latest"
TIME_SCALE = 20
PERIOD = 60  # ecsbox seconds: 3 wall seconds
PERIOD_WALL = PERIOD / TIME_SCALE
# Keeps one core busy until /stop exists, then idles; exits at once on SIGTERM.
BURN = ["sh", "-c", "trap 'exit 0' TERM; while [ ! -e /stop ]; do :; done; sleep 100000 & wait"]
IDLE = ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
CPU_UNITS = 512  # the container's reservation; no task-level limit, so one busy core shows 200 %


@pytest.fixture(scope="module")
def scaled_server(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.APIClient
) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("monitoring") / "data", "--time-scale", str(TIME_SCALE))
    try:
        yield server
    finally:
        server.stop()
        server.remove_docker_leftovers()


@pytest.fixture()
def mbox(scaled_server: LiveServer, docker_client: docker.APIClient, busybox_image: str) -> Iterator[Box]:
    box = Box(
        scaled_server.endpoint,
        server_id(scaled_server.data_dir),
        ecs_client(scaled_server.endpoint),
        docker_client,
    )
    yield box


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


class Endpoint:
    """A local HTTP endpoint that records what SNS posts to it."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sns"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, message_type: str) -> list[dict[str, Any]]:
        return [body for _, body in self.received if body.get("Type") == message_type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    listener = Endpoint()
    yield listener
    listener.close()


def subscribe_and_confirm(sns: Any, endpoint: Endpoint, topic_arn: str) -> str:
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url)
    (confirmation,) = wait_for(
        "the subscription confirmation", lambda: endpoint.of_type("SubscriptionConfirmation"), 20
    )
    assert confirmation["TopicArn"] == topic_arn
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as answer:
        assert answer.status == 200
        assert b"ConfirmSubscriptionResult" in answer.read()
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert subscription["SubscriptionArn"].startswith(topic_arn + ":")
    return str(subscription["SubscriptionArn"])


def cpu_statistics(
    env: dict[str, str], cluster: str, service: str, minutes: int = 10
) -> list[dict[str, Any]]:
    """CPUUtilization of the service, one Average per period, oldest first (the AWS CLI)."""
    now = datetime.fromtimestamp(server_now(env), UTC)
    answer = aws_cli(
        env,
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "CPUUtilization",
        "--dimensions",
        f"Name=ClusterName,Value={cluster}",
        f"Name=ServiceName,Value={service}",
        "--statistics",
        "Average",
        "SampleCount",
        "--period",
        str(PERIOD),
        "--start-time",
        (now - timedelta(minutes=minutes)).isoformat(),
        "--end-time",
        (now + timedelta(minutes=1)).isoformat(),
    )
    assert answer["Label"] == "CPUUtilization"
    return sorted(answer["Datapoints"], key=lambda point: point["Timestamp"])


def server_now(env: dict[str, str]) -> float:
    """ecsbox's (scaled) clock, read from the Date-independent ECS answer of a fresh resource."""
    with urllib.request.urlopen(f"{env['AWS_ENDPOINT_URL']}/_ecsbox/health", timeout=5) as answer:
        health = json.loads(answer.read())
    return float(health["clock"])


def docker_cpu_utilization(box: Box, container_id: str) -> float:
    """``docker stats`` CPU %, converted by AWS's formula: % of one core → units → % of 512 units."""
    output = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.CPUPerc}}", container_id],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    cores = float(output.rstrip("%")) / 100.0
    return cores * 1024 / CPU_UNITS * 100


def burn_service(box: Box, cluster: str, service: str, command: list[str], **service_extra: Any) -> str:
    box.ecs.create_cluster(clusterName=cluster)
    family = register(
        box,
        unique("burn"),
        [container_definition("burner", "ecsbox-test/busybox:latest", command=command, cpu=CPU_UNITS)],
    )
    box.ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition=family, desiredCount=1, **service_extra
    )
    return family


def running_container(box: Box, cluster: str, service: str) -> str:
    def probe() -> str | None:
        arns = box.list_tasks(cluster, serviceName=service)
        tasks = box.describe_tasks(cluster, arns) if arns else []
        running = [t for t in tasks if t["lastStatus"] == "RUNNING"]
        if len(running) != 1:
            return None
        return str(box.task_containers(running[0]["taskArn"])["burner"]["Id"])

    return wait_for("the service's task RUNNING", probe, 60)


def test_cpu_burn_shows_in_cloudwatch_and_drives_an_alarm_to_sns(mbox: Box, endpoint: Endpoint) -> None:
    env = aws_environment(mbox.endpoint)
    cloudwatch, sns = client("cloudwatch", mbox.endpoint), client("sns", mbox.endpoint)
    cluster, service = unique("mon"), "burner"
    topic_arn = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    subscribe_and_confirm(sns, endpoint, topic_arn)
    alarm = unique("cpu-high")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}],
        Statistic="Average",
        Period=PERIOD,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=70.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic_arn],
        OKActions=[topic_arn],
    )
    try:
        burn_service(mbox, cluster, service, BURN)
        container = running_container(mbox, cluster, service)
        started = time.monotonic()

        # Rising within two periods of the task running (a busy core is 200 %; the alarm is at 70).
        points: list[list[dict[str, Any]]] = [[]]

        def risen() -> list[dict[str, Any]] | None:
            points[0] = cpu_statistics(env, cluster, service)
            return [p for p in points[0] if p["Average"] > 100] or None

        try:
            rising = wait_for("CPUUtilization above 100 %", risen, 2 * PERIOD_WALL + 6)
        except AssertionError as error:
            raise AssertionError(f"{error}; datapoints: {points[0]}") from None
        rose_after = time.monotonic() - started
        assert rose_after <= 2 * PERIOD_WALL + 6
        assert rising[-1]["Unit"] == "Percent"

        # Agreeing with docker stats, converted by the formula, within 10 %.
        measured = docker_cpu_utilization(mbox, container)
        time.sleep(2 * PERIOD_WALL)
        recent = [p["Average"] for p in cpu_statistics(env, cluster, service)[-3:-1]]
        assert recent, "no complete periods yet"
        print(
            f"docker stats converted: {measured:.1f} %; CloudWatch averages: {recent}; rose after {rose_after:.1f} s"
        )
        for average in recent:
            assert abs(average - measured) <= 0.1 * measured, (average, measured)

        # `ecsbox top` shows the same service burning.
        port = mbox.endpoint.rsplit(":", 1)[1]
        view = subprocess.run(
            [sys.executable, "-m", "ecsbox", "top", "--once", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert f"CLUSTER {cluster} " in view, view
        (line,) = [row for row in view.splitlines() if row.split()[:1] == [service]]
        assert line.split()[1:4] == ["1", "1", "0"], line  # desired, running, pending
        assert float(line.split()[4].rstrip("%")) > 100, line

        wait_for(
            "the alarm in ALARM", lambda: alarm_state(cloudwatch, alarm) == "ALARM" or None, 8 * PERIOD_WALL
        )

        # The burn stops: the metric falls, the alarm returns to OK.
        mbox.docker.exec_start(mbox.docker.exec_create(container, ["touch", "/stop"]))
        wait_for(
            "CPUUtilization below 10 %",
            lambda: (cpu_statistics(env, cluster, service)[-1]["Average"] < 10) or None,
            3 * PERIOD_WALL + 6,
        )
        wait_for(
            "the alarm back in OK", lambda: alarm_state(cloudwatch, alarm) == "OK" or None, 8 * PERIOD_WALL
        )

        # Both notifications, in AWS's alarm message format.
        def notifications() -> list[dict[str, Any]] | None:
            found = [json.loads(n["Message"]) for n in endpoint.of_type("Notification")]
            states = [m["NewStateValue"] for m in found]
            if "ALARM" in states and "OK" in states[states.index("ALARM") :]:
                return found
            return None

        messages = wait_for("ALARM and OK notifications", notifications, 20)
        alarm_message = next(m for m in messages if m["NewStateValue"] == "ALARM")
        assert alarm_message["AlarmName"] == alarm
        assert alarm_message["Region"] == "Asia Pacific (Tokyo)"
        assert alarm_message["Trigger"]["MetricName"] == "CPUUtilization"
        assert alarm_message["Trigger"]["Threshold"] == 70.0
        assert alarm_message["Trigger"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm_message["NewStateReason"].startswith("Threshold Crossed")
        raw = next(
            n
            for n in endpoint.of_type("Notification")
            if json.loads(n["Message"])["NewStateValue"] == "ALARM"
        )
        assert raw["Subject"] == f'ALARM: "{alarm}" in Asia Pacific (Tokyo)'
        assert raw["TopicArn"] == topic_arn

        history = cloudwatch.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")[
            "AlarmHistoryItems"
        ]
        summaries = [item["HistorySummary"] for item in history]
        assert any("to ALARM" in s for s in summaries), summaries
        assert any("ALARM to OK" in s for s in summaries), summaries
    finally:
        mbox.cleanup(cluster)


def alarm_state(cloudwatch: Any, name: str) -> str:
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return str(alarm["StateValue"])


def test_a_deployment_whose_alarm_fires_is_rolled_back(mbox: Box) -> None:
    cloudwatch = client("cloudwatch", mbox.endpoint)
    cluster, service = unique("deploy"), "web"
    alarm = unique("deploy-cpu")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}],
        Statistic="Average",
        Period=PERIOD,
        EvaluationPeriods=2,
        DatapointsToAlarm=1,
        Threshold=100.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    try:
        first = burn_service(
            mbox,
            cluster,
            service,
            IDLE,
            deploymentConfiguration={"alarms": {"alarmNames": [alarm], "enable": True, "rollback": True}},
        )
        mbox.wait_deployment_completed(cluster, service, timeout=90)
        # The new revision burns a core: the alarm fires during its deployment, which fails and
        # rolls back to the idle revision.
        burning = register(
            mbox,
            first.split(":")[-2].split("/")[-1],
            [container_definition("burner", "ecsbox-test/busybox:latest", command=BURN, cpu=CPU_UNITS)],
        )
        mbox.ecs.update_service(cluster=cluster, service=service, taskDefinition=burning)

        seen: list[dict[str, Any]] = []

        def rolled_back() -> dict[str, Any] | None:
            described = mbox.describe_service(cluster, service)
            seen[:] = [described]
            messages = " ".join(event["message"] for event in described["events"])
            primary = described["deployments"][0]
            if (
                "deployment failed: alarm(s) detected" in messages
                and "rolling back to deployment" in messages
                and primary["taskDefinition"] == first
                and primary.get("rolloutState") == "COMPLETED"
            ):
                return described
            return None

        try:
            described = wait_for("the deployment rolled back", rolled_back, 30 * PERIOD_WALL)
        except AssertionError:
            last = seen[0] if seen else {}
            print(
                json.dumps(
                    {"deployments": last.get("deployments"), "events": last.get("events", [])[:8]},
                    default=str,
                    indent=1,
                )
            )
            raise
        messages = [event["message"] for event in described["events"]]
        failed = next(m for m in messages if "deployment failed: alarm(s) detected" in m)
        assert alarm in failed
        # The burning revision's task is gone; the idle revision runs again.
        running = mbox.describe_tasks(cluster, mbox.list_tasks(cluster, serviceName=service))
        assert [t["taskDefinitionArn"] for t in running if t["lastStatus"] == "RUNNING"] == [first]
    finally:
        mbox.cleanup(cluster)


def test_container_insights_on_the_seed_cluster(mbox: Box, web_image: str) -> None:
    seed = require_seed(SEED)
    env = aws_environment(mbox.endpoint)
    with image_tag(mbox.docker, web_image, SEED_IMAGE):
        aws_cli(
            env, "ecs", "create-cluster", "--cli-input-json", f"file://{seed}/cluster.fargate-cluster.json"
        )
        aws_cli(env, "logs", "create-log-group", "--log-group-name", "/ecs/php-sample-fargate")
        aws_cli(
            env,
            "ecs",
            "register-task-definition",
            "--cli-input-json",
            f"file://{seed}/task-definition.php-sample-fargate.json",
        )
        aws_cli(
            env, "ecs", "create-service", "--cli-input-json", f"file://{seed}/service.php-samplefargate.json"
        )
        try:
            resource = ("CpuUtilized", "CpuReserved", "MemoryUtilized", "MemoryReserved")
            resource += ("NetworkRxBytes", "NetworkTxBytes", "StorageReadBytes", "StorageWriteBytes")
            per_service = ("RunningTaskCount", "PendingTaskCount", "DesiredTaskCount", "DeploymentCount")
            per_service += ("TaskSetCount",)
            per_cluster = ("ServiceCount", "TaskCount", "ContainerInstanceCount")
            resource_sets = [
                ("ClusterName",),
                ("ClusterName", "ServiceName"),
                ("ClusterName", "TaskDefinitionFamily"),
            ]
            expected = {(name, dims) for name in resource for dims in resource_sets}
            expected |= {(name, ("ClusterName", "ServiceName")) for name in per_service}
            expected |= {(name, ("ClusterName",)) for name in per_cluster}

            def listed() -> set[tuple[str, tuple[str, ...]]] | None:
                metrics = aws_cli(env, "cloudwatch", "list-metrics", "--namespace", "ECS/ContainerInsights")[
                    "Metrics"
                ]
                found = {
                    (m["MetricName"], tuple(sorted(d["Name"] for d in m["Dimensions"]))) for m in metrics
                }
                return found if expected <= found else None

            found = wait_for("every Container Insights metric listed", listed, 6 * PERIOD_WALL + 30)
            assert ("CpuUtilized", ("ClusterName", "TaskDefinitionFamily")) in found

            group = "/aws/ecs/containerinsights/fargate-cluster/performance"
            sample = json.loads((seed / "container-insights.performance-event.task.json").read_text())

            def task_events() -> list[dict[str, Any]] | None:
                events = aws_cli(
                    env,
                    "logs",
                    "filter-log-events",
                    "--log-group-name",
                    group,
                    "--filter-pattern",
                    '{ $.Type = "Task" }',
                )["events"]
                return [json.loads(e["message"]) for e in events] or None

            event = wait_for("a Task performance event", task_events, 6 * PERIOD_WALL)[-1]
            assert set(sample) <= set(event), set(sample) - set(event)
            assert event["ClusterName"] == "fargate-cluster"
            assert event["TaskDefinitionFamily"] == "php-sample-fargate"
            assert event["LaunchType"] == "FARGATE"
            assert event["CpuReserved"] == 256 and event["MemoryReserved"] == 512
            assert event["CloudWatchMetrics"][0]["Namespace"] == "ECS/ContainerInsights"
            assert event["CloudWatchMetrics"][0]["Dimensions"] == sample["CloudWatchMetrics"][0]["Dimensions"]
            types = {
                json.loads(e["message"])["Type"]
                for e in aws_cli(env, "logs", "filter-log-events", "--log-group-name", group)["events"]
            }
            assert {"Task", "Container", "Service", "Cluster"} <= types, types
            # Created as ECS creates it: its events are kept one day.
            (performance,) = aws_cli(env, "logs", "describe-log-groups", "--log-group-name-prefix", group)[
                "logGroups"
            ]
            assert performance["retentionInDays"] == 1
        finally:
            aws_cli(
                env,
                "ecs",
                "delete-service",
                "--cluster",
                "fargate-cluster",
                "--service",
                "php-samplefargate",
                "--force",
            )
            mbox.cleanup("fargate-cluster")
