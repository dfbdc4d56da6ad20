"""The task metadata endpoint's documents (ecsbox.ecs.metadata), in the shapes AWS documents for
task metadata endpoint version 4: the container, the task, and Docker's stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ecsbox.ecs.metadata import (
    TaskNetwork,
    container_document,
    docker_stats_document,
    rfc3339,
    task_document,
)
from ecsbox.runtime.port import ContainerState, ContainerStats

ACCOUNT = "123456789012"
TASK_ID = "0123456789abcdef0123456789abcdef"
TASK_ARN = f"arn:aws:ecs:us-west-2:{ACCOUNT}:task/prod/{TASK_ID}"
CLUSTER_ARN = f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/prod"
CONTAINER_ARN = f"arn:aws:ecs:us-west-2:{ACCOUNT}:container/prod/{TASK_ID}/c-1"

# What AWS documents for a v4 container response (EC2) and which of them ecsbox always sends.
CONTAINER_KEYS = {
    "DockerId", "Name", "DockerName", "Image", "ImageID", "Labels", "DesiredStatus", "KnownStatus",
    "Limits", "CreatedAt", "StartedAt", "Type", "ContainerARN", "Networks",
}  # fmt: skip
TASK_KEYS = {
    "Cluster", "TaskARN", "Family", "Revision", "DesiredStatus", "KnownStatus", "PullStartedAt",
    "PullStoppedAt", "AvailabilityZone", "LaunchType", "Containers",
}  # fmt: skip


@dataclass
class Task:
    """A TaskRecord-like value."""

    document: dict[str, Any]
    runtime: dict[str, Any]
    task_arn: str = TASK_ARN
    task_id: str = TASK_ID
    account_id: str = ACCOUNT
    region: str = "us-west-2"
    cluster: str = "prod"
    desired_status: str = "RUNNING"
    last_status: str = "RUNNING"
    launch_type: str = "EC2"
    service_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def definition(network_mode: str | None = "bridge", **task_level: Any) -> dict[str, Any]:
    containers = [
        {
            "name": "web",
            "image": "nginx:1.25",
            "cpu": 256,
            "memory": 512,
            "dockerLabels": {"team": "a"},
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}},
            "healthCheck": {"command": ["CMD-SHELL", "true"]},
        },
        {"name": "sidecar", "image": "busybox", "memoryReservation": 32},
    ]
    document: dict[str, Any] = {"family": "shop", "revision": 7, "containerDefinitions": containers}
    if network_mode:
        document["networkMode"] = network_mode
    document.update(task_level)
    return document


def task(network_mode: str | None = "bridge", launch_type: str = "EC2", **task_level: Any) -> Task:
    containers = [
        {
            "name": "web",
            "containerArn": CONTAINER_ARN,
            "lastStatus": "RUNNING",
            "runtimeId": "d" * 64,
            "healthStatus": "HEALTHY",
            "networkBindings": [
                {"bindIP": "127.0.0.1", "containerPort": 80, "hostPort": 32768, "protocol": "tcp"}
            ],
        },
        {"name": "sidecar", "lastStatus": "STOPPED", "runtimeId": "e" * 64, "exitCode": 3},
    ]
    document = {
        "taskArn": TASK_ARN,
        "clusterArn": CLUSTER_ARN,
        "availabilityZone": "us-west-2a",
        "pullStartedAt": 1601597706.25,
        "pullStoppedAt": 1601597707.5,
        "startedAt": 1601597708.0,
        "executionStoppedAt": 1601597800.0,
        "containers": containers,
        "overrides": {"containerOverrides": [{"name": "web"}]},
        **{k: str(v) for k, v in task_level.items()},
    }
    return Task(document, {"taskDefinition": definition(network_mode, **task_level)}, launch_type=launch_type)


def state(name: str, docker_id: str, address: str | None = "172.17.0.5") -> ContainerState:
    return ContainerState(
        id=docker_id,
        name=f"ecs-shop-7-{name}-0123456789ab",
        image="nginx:1.25",
        labels={
            "ecsbox.server": "s1",
            "ecsbox.task-arn": TASK_ARN,
            "com.amazonaws.ecs.task-arn": TASK_ARN,
            "com.amazonaws.ecs.container-name": name,
            "team": "a",
        },
        status="running",
        ip_address=address,
        image_id="sha256:" + "a" * 64,
    )


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (1601597707.5, "2020-10-02T00:15:07.500000000Z"),
        (0, "1970-01-01T00:00:00.000000000Z"),
        (1.9999999999, "1970-01-01T00:00:02.000000000Z"),
        (None, None),
    ],
)
def test_timestamps_are_rfc3339_with_nanoseconds(epoch: float | None, text: str | None) -> None:
    assert rfc3339(epoch) == text


def test_a_bridge_container_document_has_every_field_aws_documents() -> None:
    document = container_document(task(), "web", state("web", "d" * 64))
    assert set(document) >= CONTAINER_KEYS
    assert document["DockerId"] == "d" * 64
    assert document["Name"] == "web"
    assert document["DockerName"] == "ecs-shop-7-web-0123456789ab"
    assert document["Image"] == "nginx:1.25"
    assert document["ImageID"] == "sha256:" + "a" * 64
    # Docker labels as the container has them, without ecsbox's own bookkeeping.
    assert document["Labels"] == {
        "com.amazonaws.ecs.task-arn": TASK_ARN,
        "com.amazonaws.ecs.container-name": "web",
        "team": "a",
    }
    assert (document["DesiredStatus"], document["KnownStatus"]) == ("RUNNING", "RUNNING")
    assert document["Limits"] == {"CPU": 256, "Memory": 512}
    assert document["CreatedAt"] == "2020-10-02T00:15:07.500000000Z"
    assert document["StartedAt"] == "2020-10-02T00:15:08.000000000Z"
    assert document["Type"] == "NORMAL"
    assert document["ContainerARN"] == CONTAINER_ARN
    assert document["Health"] == {"status": "HEALTHY"}
    assert document["LogDriver"] == "awslogs"
    assert document["LogOptions"] == {"awslogs-group": "/ecs/web"}
    assert document["Ports"] == [
        {"ContainerPort": 80, "Protocol": "tcp", "HostPort": 32768, "HostIp": "127.0.0.1"}
    ]
    assert document["Networks"] == [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.5"]}]
    assert "ExitCode" not in document and "FinishedAt" not in document


def test_a_stopped_container_reports_its_exit_code_and_when_it_finished() -> None:
    document = container_document(task(), "sidecar", None)
    assert document["KnownStatus"] == "STOPPED"
    assert document["ExitCode"] == 3
    assert document["FinishedAt"] == rfc3339(1601597800.0)
    assert document["DockerId"] == "e" * 64  # from the task when the engine no longer has it
    assert "Health" not in document and "LogDriver" not in document
    assert document["Limits"] == {"CPU": 0}  # only a soft limit: no hard Memory limit to report


def test_an_awsvpc_container_reports_the_task_eni() -> None:
    fargate = task("awsvpc", "FARGATE", cpu=512, memory=1024)
    fargate.document["attachments"] = [
        {
            "type": "ElasticNetworkInterface",
            "details": [
                {"name": "macAddress", "value": "02:42:ac:11:00:02"},
                {"name": "privateIPv4Address", "value": "172.18.0.3"},
                {"name": "privateDnsName", "value": "ip-172-18-0-3.ec2.internal"},
            ],
        }
    ]
    network = TaskNetwork("172.18.0.0/16", "172.18.0.1")
    document = container_document(fargate, "sidecar", state("sidecar", "e" * 64, address=None), network)
    assert document["Networks"] == [
        {
            "NetworkMode": "awsvpc",
            "IPv4Addresses": ["172.18.0.3"],
            "AttachmentIndex": 0,
            "MACAddress": "02:42:ac:11:00:02",
            "IPv4SubnetCIDRBlock": "172.18.0.0/16",
            "PrivateDNSName": "ip-172-18-0-3.ec2.internal",
            "SubnetGatewayIpv4Address": "172.18.0.1/16",
        }
    ]
    assert "Ports" not in document  # awsvpc ports are the task's, not a host's
    assert document["Limits"] == {"CPU": 0, "Memory": 1024}  # the task-level limit applies


def test_the_task_document_lists_the_containers_and_the_task_limits() -> None:
    states = {"web": state("web", "d" * 64), "sidecar": None}
    document = task_document(task(cpu=512, memory=1024), states)
    assert set(document) >= TASK_KEYS
    assert document["Cluster"] == "prod"  # the agent on EC2 gives the cluster's name
    assert document["TaskARN"] == TASK_ARN
    assert (document["Family"], document["Revision"]) == ("shop", "7")
    assert document["Limits"] == {"CPU": 0.5, "Memory": 1024}  # vCPU, MiB
    assert document["PullStartedAt"] == "2020-10-02T00:15:06.250000000Z"
    assert document["AvailabilityZone"] == "us-west-2a"
    assert document["LaunchType"] == "EC2"
    assert [c["Name"] for c in document["Containers"]] == ["web", "sidecar"]
    assert "TaskTags" not in document and "ServiceName" not in document


def test_a_fargate_task_names_its_cluster_by_arn_and_a_service_task_its_service() -> None:
    fargate = task("awsvpc", "FARGATE", cpu=256, memory=512)
    fargate.service_name = "checkout"
    document = task_document(fargate, {}, tags=[{"key": "env", "value": "prod"}])
    assert document["Cluster"] == CLUSTER_ARN
    assert document["ServiceName"] == "checkout"
    assert document["TaskTags"] == {"env": "prod"}
    assert document["LaunchType"] == "FARGATE"


def test_a_task_without_task_level_limits_reports_none() -> None:
    assert "Limits" not in task_document(task(), {})


def test_stats_are_dockers_stats_json_with_the_previous_sample_as_precpu() -> None:
    before = ContainerStats(1601597700.0, 1_000, 50_000, 2, 10, 100)
    now = ContainerStats(1601597701.0, 2_500, 60_000, 2, 4096, 536870912, 11, 22, 33, 44)
    document = docker_stats_document("d" * 64, "ecs-shop-7-web-x", now, before)
    assert document["id"] == "d" * 64
    assert document["name"] == "/ecs-shop-7-web-x"
    assert document["read"] == "2020-10-02T00:15:01.000000000Z"
    assert document["preread"] == "2020-10-02T00:15:00.000000000Z"
    assert document["cpu_stats"]["cpu_usage"]["total_usage"] == 2_500
    assert document["cpu_stats"]["system_cpu_usage"] == 60_000
    assert document["cpu_stats"]["online_cpus"] == 2
    assert document["precpu_stats"]["cpu_usage"]["total_usage"] == 1_000
    assert document["memory_stats"]["usage"] == 4096 and document["memory_stats"]["limit"] == 536870912
    assert document["networks"]["eth0"]["rx_bytes"] == 11 and document["networks"]["eth0"]["tx_bytes"] == 22
    assert [e["value"] for e in document["blkio_stats"]["io_service_bytes_recursive"]] == [33, 44]
    first = docker_stats_document("d" * 64, "x", now)
    assert first["preread"] == "0001-01-01T00:00:00Z"
    assert first["precpu_stats"]["cpu_usage"]["total_usage"] == 0
