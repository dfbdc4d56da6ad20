"""The machine ecsbox runs on, as a container instance of every cluster (the EC2 launch type).

Pure: the instance's identity, resources and attributes from the engine's size and the cluster's
tasks. CPU is 1024 units per core and memory the engine's, as the ECS agent registers them; what
RUNNING and PENDING EC2 tasks reserve (task size, or the sum of their containers' cpu and
memory / memoryReservation) is taken off the remaining resources.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ecsbox.core.ids import arn

MIB = 1024 * 1024
AGENT_VERSION = "1.90.0"
DOCKER_VERSION = "DockerVersion: 20.10"
BUILTIN_CAPABILITIES = (
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.syslog",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.docker-remote-api.1.18",
    "com.amazonaws.ecs.capability.docker-remote-api.1.24",
    "com.amazonaws.ecs.capability.docker-remote-api.1.29",
    "ecs.capability.task-eni",
    "ecs.capability.execution-role-awslogs",
    "ecs.capability.execution-role-ecr-pull",
    "ecs.capability.container-health-check",
    "ecs.capability.secrets.ssm.environment-variables",
    "ecs.capability.secrets.asm.environment-variables",
)


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory_bytes: int
    architecture: str  # x86_64 / aarch64


def instance_id(server_id: str, cluster: str) -> str:
    """The container instance id: stable for this server and cluster (32 hex)."""
    return hashlib.sha256(f"{server_id}/{cluster}".encode()).hexdigest()[:32]


def instance_arn(region: str, account_id: str, cluster: str, server_id: str) -> str:
    return arn("ecs", region, account_id, f"container-instance/{cluster}/{instance_id(server_id, cluster)}")


def ec2_instance_id(server_id: str) -> str:
    return "i-" + hashlib.sha256(server_id.encode()).hexdigest()[:17]


def registered_cpu(machine: Machine) -> int:
    """``registered_cpu(Machine(2, ...))`` → 2048."""
    return machine.cpus * 1024


def registered_memory_mib(machine: Machine) -> int:
    return machine.memory_bytes // MIB


def task_reservation(definition: dict[str, Any], overrides: dict[str, Any] | None = None) -> tuple[int, int]:
    """(cpu units, memory MiB) a task reserves on an instance: the task size when given, else the
    sum over its containers (memoryReservation counts where it is set, else memory).

    ``{"cpu": "256", "memory": "512"}`` → (256, 512);
    containers 10 cpu / 500 MiB and 10 cpu / reservation 128 → (20, 628).
    """
    overrides = overrides or {}
    containers = definition.get("containerDefinitions") or []
    cpu = _int(overrides.get("cpu") or definition.get("cpu"))
    if cpu is None:
        cpu = sum(_int(c.get("cpu")) or 0 for c in containers)
    memory = _int(overrides.get("memory") or definition.get("memory"))
    if memory is None:
        memory = sum(_int(c.get("memoryReservation")) or _int(c.get("memory")) or 0 for c in containers)
    return cpu, memory


def remaining(machine: Machine, reservations: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """(cpu, memory MiB) left after ``reservations``; never below 0."""
    used_cpu = used_memory = 0
    for cpu, memory in reservations:
        used_cpu += cpu
        used_memory += memory
    return max(0, registered_cpu(machine) - used_cpu), max(0, registered_memory_mib(machine) - used_memory)


def does_not_fit(
    machine: Machine, reservations: Iterable[tuple[int, int]], wanted: tuple[int, int]
) -> str | None:
    """ECS's placement failure reason when ``wanted`` does not fit: ``RESOURCE:CPU`` or
    ``RESOURCE:MEMORY``; None when it fits."""
    cpu_left, memory_left = remaining(machine, reservations)
    if wanted[0] > cpu_left:
        return "RESOURCE:CPU"
    if wanted[1] > memory_left:
        return "RESOURCE:MEMORY"
    return None


def _resources(cpu: int, memory: int) -> list[dict[str, Any]]:
    return [
        {"name": "CPU", "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": cpu},
        {"name": "MEMORY", "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": memory},
        {
            "name": "PORTS",
            "type": "STRINGSET",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 0,
            "stringSetValue": ["22", "2375", "2376", "51678", "51679"],
        },
        {
            "name": "PORTS_UDP",
            "type": "STRINGSET",
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 0,
            "stringSetValue": [],
        },
    ]


def instance_document(
    *,
    region: str,
    account_id: str,
    cluster: str,
    server_id: str,
    machine: Machine,
    reservations: list[tuple[int, int]],
    running: int,
    pending: int,
    custom_attributes: list[dict[str, str]],
    registered_at: float,
) -> dict[str, Any]:
    """The ContainerInstance document DescribeContainerInstances returns for this machine."""
    cpu_left, memory_left = remaining(machine, reservations)
    architecture = "arm64" if machine.architecture in ("aarch64", "arm64") else "x86_64"
    attributes = (
        [{"name": name} for name in BUILTIN_CAPABILITIES]
        + [
            {"name": "ecs.availability-zone", "value": f"{region}a"},
            {"name": "ecs.instance-type", "value": "ecsbox.local"},
            {"name": "ecs.os-type", "value": "linux"},
            {"name": "ecs.os-family", "value": "LINUX"},
            {"name": "ecs.cpu-architecture", "value": architecture},
            {"name": "ecs.ami-id", "value": "ami-ecsbox"},
        ]
        + [
            {"name": a["name"], **({"value": a["value"]} if a.get("value") is not None else {})}
            for a in custom_attributes
        ]
    )
    return {
        "containerInstanceArn": instance_arn(region, account_id, cluster, server_id),
        "ec2InstanceId": ec2_instance_id(server_id),
        "version": 1,
        "versionInfo": {
            "agentVersion": AGENT_VERSION,
            "agentHash": "ecsbox",
            "dockerVersion": DOCKER_VERSION,
        },
        "remainingResources": _resources(cpu_left, memory_left),
        "registeredResources": _resources(registered_cpu(machine), registered_memory_mib(machine)),
        "status": "ACTIVE",
        "agentConnected": True,
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "attributes": attributes,
        "registeredAt": registered_at,
        "attachments": [],
        "tags": [],
    }


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
