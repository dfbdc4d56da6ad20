"""The task metadata endpoint's documents (version 4, also served as version 3), in AWS's shapes.

Pure: a task as the store keeps it (its Task document, its task definition) and what the runtime
observed of its containers go in; the JSON the endpoint answers comes out.

- ``${ECS_CONTAINER_METADATA_URI_V4}`` → :func:`container_document`
- ``…/task`` (and ``…/taskWithTags``) → :func:`task_document`
- ``…/stats`` and ``…/task/stats`` → :func:`docker_stats_document` (Docker's stats JSON, one
  container, or a map from Docker id to it)

Timestamps come from the Task document (ecsbox's clock, so they agree with DescribeTasks) as RFC
3339 with nanoseconds, as the ECS agent writes them. The awsvpc pause container is not listed, as
on ECS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ecsbox.runtime.port import ContainerState, ContainerStats

ECS_LABEL_PREFIX = "com.amazonaws.ecs."
ECSBOX_LABEL_PREFIX = "ecsbox."
CPU_UNITS_PER_VCPU = 1024
DOCKER_ZERO_TIME = "0001-01-01T00:00:00Z"


class TaskView(Protocol):
    """What the documents need of a task (a :class:`ecsbox.ecs.task_repo.TaskRecord` is one)."""

    task_arn: str
    task_id: str
    account_id: str
    region: str
    cluster: str
    desired_status: str
    last_status: str
    launch_type: str
    service_name: str | None
    document: dict[str, Any]
    runtime: dict[str, Any]


@dataclass(frozen=True)
class TaskNetwork:
    """ecsbox's bridge network, where awsvpc tasks get their address: ``172.18.0.0/16`` and
    ``172.18.0.1``."""

    subnet: str = ""
    gateway: str = ""


def rfc3339(epoch: float | None) -> str | None:
    """Epoch seconds → the agent's timestamp form; None stays None.

    ``rfc3339(1601597707.5)`` → ``"2020-10-02T00:15:07.500000000Z"``.
    """
    if epoch is None:
        return None
    whole = int(epoch // 1)
    nanos = round((epoch - whole) * 1_000_000_000)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _definition(task: TaskView) -> dict[str, Any]:
    return dict(task.runtime.get("taskDefinition") or {})


def _container_definition(task: TaskView, name: str) -> dict[str, Any]:
    for container in _definition(task).get("containerDefinitions") or []:
        if container.get("name") == name:
            return dict(container)
    return {}


def _container_override(task: TaskView, name: str) -> dict[str, Any]:
    for override in (task.document.get("overrides") or {}).get("containerOverrides") or []:
        if override.get("name") == name:
            return dict(override)
    return {}


def _task_container(task: TaskView, name: str) -> dict[str, Any]:
    for container in task.document.get("containers") or []:
        if container.get("name") == name:
            return dict(container)
    return {}


def network_mode(task: TaskView) -> str:
    """The task definition's network mode (Fargate tasks are always awsvpc; EC2 defaults to bridge)."""
    mode = _definition(task).get("networkMode")
    return str(mode or ("awsvpc" if task.launch_type == "FARGATE" else "bridge"))


def container_names(task: TaskView) -> list[str]:
    return [str(c["name"]) for c in _definition(task).get("containerDefinitions") or [] if c.get("name")]


def _eni_details(task: TaskView) -> dict[str, str]:
    for attachment in task.document.get("attachments") or []:
        if attachment.get("type") == "ElasticNetworkInterface":
            return {d["name"]: d["value"] for d in attachment.get("details") or [] if "name" in d}
    return {}


def _networks(
    task: TaskView, name: str, state: ContainerState | None, network: TaskNetwork
) -> list[dict[str, Any]]:
    mode = network_mode(task)
    if mode == "awsvpc":
        eni = _eni_details(task)
        interfaces = _task_container(task, name).get("networkInterfaces") or []
        address = (interfaces[0].get("privateIpv4Address") if interfaces else None) or eni.get(
            "privateIPv4Address"
        )
        entry: dict[str, Any] = {
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [address] if address else [],
            "AttachmentIndex": 0,
        }
        if eni.get("macAddress"):
            entry["MACAddress"] = eni["macAddress"]
        if network.subnet:
            entry["IPv4SubnetCIDRBlock"] = network.subnet
        if eni.get("privateDnsName"):
            entry["PrivateDNSName"] = eni["privateDnsName"]
        if network.gateway:
            prefix = network.subnet.partition("/")[2]
            entry["SubnetGatewayIpv4Address"] = f"{network.gateway}/{prefix}" if prefix else network.gateway
        return [entry]
    entry = {"NetworkMode": mode}
    if state is not None and state.ip_address:
        entry["IPv4Addresses"] = [state.ip_address]
    return [entry]


def _limits(task: TaskView, name: str) -> dict[str, Any]:
    definition = _container_definition(task, name)
    override = _container_override(task, name)
    cpu = _number(override.get("cpu") or definition.get("cpu")) or 0
    limits: dict[str, Any] = {"CPU": cpu}
    memory = _number(override.get("memory") or definition.get("memory"))
    if memory is None:  # a task-level limit applies to every container that sets none
        memory = _number((task.document.get("memory")) or _definition(task).get("memory"))
    if memory is not None:
        limits["Memory"] = int(memory)
    return limits


def _labels(definition: dict[str, Any], state: ContainerState | None) -> dict[str, str]:
    """The container's Docker labels without ecsbox's own bookkeeping."""
    if state is not None:
        return {k: v for k, v in state.labels.items() if not k.startswith(ECSBOX_LABEL_PREFIX)}
    return dict(definition.get("dockerLabels") or {})


def container_document(
    task: TaskView, name: str, state: ContainerState | None, network: TaskNetwork | None = None
) -> dict[str, Any]:
    """The container metadata response (``${ECS_CONTAINER_METADATA_URI_V4}``)."""
    definition = _container_definition(task, name)
    reported = _task_container(task, name)
    document: dict[str, Any] = {
        "DockerId": (state.id if state is not None else None) or reported.get("runtimeId", ""),
        "Name": name,
        "DockerName": state.name if state is not None else "",
        "Image": definition.get("image") or reported.get("image", ""),
        "ImageID": (state.image_id if state is not None else "") or reported.get("imageDigest", ""),
        "Labels": _labels(definition, state),
        "DesiredStatus": task.desired_status,
        "KnownStatus": reported.get("lastStatus") or task.last_status,
        "Limits": _limits(task, name),
    }
    created = rfc3339(_number(task.document.get("pullStoppedAt")))
    started = rfc3339(_number(task.document.get("startedAt")))
    if created and reported.get("runtimeId"):
        document["CreatedAt"] = created
    if started and reported.get("lastStatus") in ("RUNNING", "STOPPED"):
        document["StartedAt"] = started
    if reported.get("lastStatus") == "STOPPED":
        finished = rfc3339(
            _number(task.document.get("executionStoppedAt") or task.document.get("stoppingAt"))
        )
        if finished:
            document["FinishedAt"] = finished
        if reported.get("exitCode") is not None:
            document["ExitCode"] = reported["exitCode"]
    document["Type"] = "NORMAL"
    if reported.get("containerArn"):
        document["ContainerARN"] = reported["containerArn"]
    if reported.get("healthStatus") and definition.get("healthCheck"):
        document["Health"] = {"status": reported["healthStatus"]}
    log = definition.get("logConfiguration") or {}
    if log.get("logDriver"):
        document["LogDriver"] = log["logDriver"]
        document["LogOptions"] = dict(log.get("options") or {})
    bindings = reported.get("networkBindings") or []
    if bindings and network_mode(task) != "awsvpc":
        document["Ports"] = [
            {
                "ContainerPort": b.get("containerPort"),
                "Protocol": b.get("protocol", "tcp"),
                "HostPort": b.get("hostPort"),
                "HostIp": b.get("bindIP", ""),
            }
            for b in bindings
        ]
    document["Networks"] = _networks(task, name, state, network or TaskNetwork())
    return document


def _task_limits(task: TaskView) -> dict[str, Any] | None:
    definition = _definition(task)
    cpu = _number(task.document.get("cpu") or definition.get("cpu"))
    memory = _number(task.document.get("memory") or definition.get("memory"))
    if cpu is None and memory is None:
        return None
    limits: dict[str, Any] = {}
    if cpu is not None:
        limits["CPU"] = cpu / CPU_UNITS_PER_VCPU
    if memory is not None:
        limits["Memory"] = int(memory)
    return limits


def task_document(
    task: TaskView,
    states: dict[str, ContainerState | None],
    network: TaskNetwork | None = None,
    tags: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The task metadata response (``…/task``; with ``tags``, ``…/taskWithTags``)."""
    definition = _definition(task)
    fargate = task.launch_type == "FARGATE"
    document: dict[str, Any] = {
        # The agent on EC2 reports the cluster's name; Fargate reports its ARN.
        "Cluster": task.document.get("clusterArn", task.cluster) if fargate else task.cluster,
        "TaskARN": task.task_arn,
        "Family": definition.get("family", ""),
        "Revision": str(definition.get("revision", "")),
        "DesiredStatus": task.desired_status,
        "KnownStatus": task.last_status,
    }
    if task.service_name:
        document["ServiceName"] = task.service_name
    limits = _task_limits(task)
    if limits is not None:
        document["Limits"] = limits
    for key, field in (
        ("PullStartedAt", "pullStartedAt"),
        ("PullStoppedAt", "pullStoppedAt"),
        ("ExecutionStoppedAt", "executionStoppedAt"),
    ):
        value = rfc3339(_number(task.document.get(field)))
        if value:
            document[key] = value
    if task.document.get("availabilityZone"):
        document["AvailabilityZone"] = task.document["availabilityZone"]
    document["LaunchType"] = task.launch_type
    document["Containers"] = [
        container_document(task, name, states.get(name), network) for name in container_names(task)
    ]
    if tags is not None:
        document["TaskTags"] = {t["key"]: t["value"] for t in tags}
    return document


# ---- stats ---------------------------------------------------------------------------------------


def _rfc3339_or_zero(epoch: float | None) -> str:
    return rfc3339(epoch) or DOCKER_ZERO_TIME


def _cpu_stats(stats: ContainerStats | None) -> dict[str, Any]:
    if stats is None:
        return {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}
    return {
        "cpu_usage": {"total_usage": stats.cpu_total_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "system_cpu_usage": stats.system_cpu_ns,
        "online_cpus": stats.online_cpus,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def docker_stats_document(
    docker_id: str, docker_name: str, stats: ContainerStats, previous: ContainerStats | None = None
) -> dict[str, Any]:
    """One sample as Docker's ``GET /containers/<id>/stats`` writes it; ``previous`` (the sample
    before, if any) fills ``precpu_stats`` and ``preread`` as a streaming stats call does."""
    return {
        "read": _rfc3339_or_zero(stats.read_at),
        "preread": _rfc3339_or_zero(previous.read_at if previous else None),
        "pids_stats": {},
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 0, "minor": 0, "op": "Read", "value": stats.block_read_bytes},
                {"major": 0, "minor": 0, "op": "Write", "value": stats.block_write_bytes},
            ]
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu_stats(stats),
        "precpu_stats": _cpu_stats(previous),
        "memory_stats": {"usage": stats.memory_usage_bytes, "limit": stats.memory_limit_bytes, "stats": {}},
        "name": "/" + docker_name.lstrip("/"),
        "id": docker_id,
        "networks": {
            "eth0": {
                "rx_bytes": stats.network_rx_bytes,
                "rx_packets": 0,
                "rx_errors": 0,
                "rx_dropped": 0,
                "tx_bytes": stats.network_tx_bytes,
                "tx_packets": 0,
                "tx_errors": 0,
                "tx_dropped": 0,
            }
        },
    }


__all__ = [
    "TaskNetwork",
    "TaskView",
    "container_document",
    "container_names",
    "docker_stats_document",
    "network_mode",
    "rfc3339",
    "task_document",
]
