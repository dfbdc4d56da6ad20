"""RegisterTaskDefinition's rules, as a pure function from the request to the stored document.

:func:`build_task_definition` checks what ECS checks, in the order ECS reports it, converts task
cpu/memory to units/MiB, and adds the derived members (``compatibilities``,
``requiresAttributes``). Everything else stays exactly as sent, empty lists included.
"""

from __future__ import annotations

import re
from typing import Any

from ecsbox.ecs import compat, fargate
from ecsbox.ecs.model import (
    LAUNCH_TYPE_EXTERNAL,
    LAUNCH_TYPE_FARGATE,
    Document,
    client_error,
)

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_CONTAINERS = 10  # ECS' limit on containers per task definition

# Keys of the request that are not part of the TaskDefinition document.
REQUEST_ONLY = ("tags",)


def check_family(family: str) -> None:
    if not NAME_RE.match(family or ""):
        raise client_error(
            "Family name is invalid. Up to 255 letters (uppercase and lowercase), numbers, "
            "hyphens, and underscores are allowed."
        )


def _check_containers(containers: list[dict[str, Any]]) -> None:
    if not containers:
        raise client_error("Container list cannot be empty.")
    if len(containers) > MAX_CONTAINERS:
        raise client_error("Too many containers.")
    seen: set[str] = set()
    for container in containers:
        name = container.get("name")
        if not name:
            raise client_error("Container.name should not be null or empty.")
        if not NAME_RE.match(name):
            raise client_error(
                f"Container name '{name}' is invalid. Up to 255 letters (uppercase and lowercase), "
                "numbers, hyphens, and underscores are allowed."
            )
        if name in seen:
            raise client_error(f"Duplicate container name: '{name}'. Container names must be unique.")
        seen.add(name)
        if not container.get("image"):
            raise client_error("Container.image should not be null or empty.")
    if not any(container.get("essential", True) for container in containers):
        raise client_error("Task definition doesn't have any essential container.")


def _check_container_memory(containers: list[dict[str, Any]], task_memory: int | None) -> None:
    for container in containers:
        name = container["name"]
        memory, reservation = container.get("memory"), container.get("memoryReservation")
        if task_memory is None and not memory and not reservation:
            raise client_error(
                f"Invalid setting for container '{name}'. At least one of 'memory' or "
                "'memoryReservation' must be specified."
            )
        if memory is not None and reservation is not None and memory <= reservation:
            raise client_error(
                f"Invalid setting for container '{name}'. 'memory' must be greater than 'memoryReservation'."
            )


def _check_container_cpu(containers: list[dict[str, Any]], task_cpu: int | None) -> None:
    if task_cpu is None:
        return
    if sum(int(container.get("cpu") or 0) for container in containers) > task_cpu:
        raise client_error(
            "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."
        )


def _check_ports(containers: list[dict[str, Any]], network_mode: str | None) -> None:
    if network_mode not in ("awsvpc", "host"):
        return
    for container in containers:
        for mapping in container.get("portMappings") or []:
            host_port = mapping.get("hostPort")
            if host_port not in (None, 0) and host_port != mapping.get("containerPort"):
                raise client_error(
                    f"When networkMode={network_mode}, the host ports and container ports in port "
                    "mappings must match."
                )
        if network_mode == "awsvpc" and container.get("links"):
            raise client_error("Links are not supported when networkMode=awsvpc.")


def _check_log_configuration(containers: list[dict[str, Any]]) -> None:
    for container in containers:
        log = container.get("logConfiguration") or {}
        if log.get("logDriver") == "awslogs":
            options = log.get("options") or {}
            missing = [key for key in ("awslogs-region", "awslogs-group") if not options.get(key)]
            if missing:
                raise client_error(f"Log driver awslogs requires options: {', '.join(missing)}")


def build_task_definition(request: Document) -> Document:
    """The TaskDefinition document for a RegisterTaskDefinition request, without the members the
    store assigns (ARN, revision, status, registeredAt, registeredBy).

    Raises :class:`~ecsbox.ecs.model.EcsRuleError` with ECS' code and message when a rule is
    broken. Example: ``cpu="1 vCPU", memory="2GB"`` with FARGATE → stored as ``"1024"`` / ``"2048"``.
    """
    # A shallow copy: only top-level members are rewritten below, nested ones are read.
    definition = {k: v for k, v in request.items() if k not in REQUEST_ONLY and v is not None}
    check_family(definition.get("family", ""))
    containers: list[dict[str, Any]] = definition.get("containerDefinitions") or []
    _check_containers(containers)

    task_cpu = fargate.cpu_units(definition["cpu"]) if definition.get("cpu") is not None else None
    task_memory = fargate.memory_mib(definition["memory"]) if definition.get("memory") is not None else None
    if task_cpu is not None:
        definition["cpu"] = str(task_cpu)
    if task_memory is not None:
        definition["memory"] = str(task_memory)

    required = list(definition.get("requiresCompatibilities") or [])
    if LAUNCH_TYPE_FARGATE in required:
        obstacles = compat.fargate_obstacles(definition)
        if obstacles:
            raise client_error(obstacles[0])
    elif task_cpu is not None:
        fargate.check_ec2_task_cpu(task_cpu)
    if LAUNCH_TYPE_EXTERNAL in required:
        obstacles = compat.external_obstacles(definition)
        if obstacles:
            raise client_error(obstacles[0])

    _check_container_memory(containers, task_memory)
    _check_container_cpu(containers, task_cpu)
    _check_ports(containers, definition.get("networkMode"))
    _check_log_configuration(containers)

    definition["requiresAttributes"] = compat.requires_attributes(definition)
    definition["compatibilities"] = compat.compatibilities(definition)
    return definition


def host_reach(definition: Document) -> list[str]:
    """What in a task definition reaches past the container to the host: privileged containers,
    host paths, the host's network, PID or IPC namespace. ``[]`` for an ordinary definition.

    ``{"networkMode": "host", "containerDefinitions": [{"privileged": True}]}`` →
    ``["networkMode host", "privileged container"]``.
    """
    found = []
    for key in ("networkMode", "pidMode", "ipcMode"):
        if definition.get(key) == "host":
            found.append(f"{key} host")
    if any(c.get("privileged") for c in definition.get("containerDefinitions") or []):
        found.append("privileged container")
    if any((v.get("host") or {}).get("sourcePath") for v in definition.get("volumes") or []):
        found.append("host volume")
    return found
