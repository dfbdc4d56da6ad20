"""What Docker is asked to run for a task: its task definition, overrides and identity turned into
runtime container specs. Pure: no I/O.

How the ECS agent maps a container definition onto Docker (SEMANTICS §2.3, §2.4) is followed where
one machine allows it:

- ``cpu`` → CPU shares (0 or missing → 2, as the agent does; at most 262144); a task-level ``cpu``
  becomes a hard CPU limit on each container (exact for one-container tasks; Docker has no
  per-task cgroup to share one limit between containers).
- ``memory`` → the hard limit, ``memoryReservation`` → the soft limit; a task-level ``memory``
  is the hard limit of every container that sets none of its own.
- ``awsvpc``: a pause container holds the task's network namespace on ecsbox's bridge network and
  publishes the task's ports on loopback; every container joins it (``container:<pause>``).
  ``bridge``: Docker's default bridge, ports published on loopback (``hostPort`` 0 or missing →
  a free port). ``host`` and ``none`` as named.
- Log drivers Docker has (json-file, syslog, journald, gelf, fluentd, local, ...) pass through.
  ``awslogs`` becomes Docker's ``fluentd`` driver aimed at ecsbox's Forward receiver, with the
  destination (account, the ``awslogs-region``, group, ``prefix/container/task-id`` stream) in the
  tag and acknowledgements on, behind Docker's ring buffer (``blocking`` gets a large one: see
  :func:`forward_log_config`). Without a receiver, json-file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ecsbox.core.log_routes import LogRoute, encode_route
from ecsbox.runtime.port import ContainerSpec, HealthCheck, LogConfig, Mount, PortBinding, Ulimit

MIB = 1024 * 1024
DEFAULT_STOP_TIMEOUT_S = 30
FARGATE_MAX_STOP_TIMEOUT_S = 120
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262144
DOCKER_LOG_DRIVERS = frozenset(
    {"json-file", "syslog", "journald", "gelf", "fluentd", "local", "splunk", "none"}
)
PAUSE_CONTAINER_NAME = "~internal~ecs~pause"

# Labels on every container ecsbox starts: ecsbox's own (to find and adopt its containers) and the
# ECS agent's (so tools that read them keep working).
LABEL_SERVER = "ecsbox.server"
LABEL_TASK_ARN = "ecsbox.task-arn"
LABEL_ACCOUNT = "ecsbox.account"
LABEL_REGION = "ecsbox.region"
LABEL_CONTAINER = "ecsbox.container-name"
LABEL_ROLE = "ecsbox.role"  # "pause" | "container"


@dataclass(frozen=True)
class TaskIdentity:
    task_arn: str
    task_id: str
    cluster_name: str
    cluster_arn: str
    account_id: str
    region: str
    server_id: str
    launch_type: str  # FARGATE | EC2 | EXTERNAL
    network: str  # the bridge network awsvpc pause containers join


@dataclass(frozen=True)
class PlannedContainer:
    name: str
    spec: ContainerSpec
    essential: bool
    depends_on: tuple[tuple[str, str], ...]  # (container name, condition)
    start_timeout_s: float | None
    has_health_check: bool


@dataclass(frozen=True)
class TaskPlan:
    network_mode: str
    pause: ContainerSpec | None
    containers: tuple[PlannedContainer, ...]
    volumes: tuple[str, ...] = field(default=())  # Docker volumes the task owns (removed with it)


def cpu_shares(cpu: int | None) -> int:
    """CPU units → Docker CPU shares as the agent does: ``None``/0/1 → 2, capped at 262144.

    ``cpu_shares(256)`` → 256; ``cpu_shares(0)`` → 2; ``cpu_shares(10**6)`` → 262144.
    """
    if not cpu or cpu < MIN_CPU_SHARES:
        return MIN_CPU_SHARES
    return min(cpu, MAX_CPU_SHARES)


def nano_cpus(task_cpu_units: int | None) -> int | None:
    """Task CPU units as a hard limit in Docker's NanoCpus: 1024 units = one CPU.

    ``nano_cpus(256)`` → 250_000_000; ``nano_cpus(None)`` → None.
    """
    if not task_cpu_units:
        return None
    return task_cpu_units * 1_000_000_000 // 1024


def stop_timeout(container: dict[str, Any], launch_type: str) -> int:
    """Seconds between SIGTERM and SIGKILL: the container's ``stopTimeout`` or 30, at most 120 on
    Fargate. ``stop_timeout({"stopTimeout": 300}, "FARGATE")`` → 120."""
    value = container.get("stopTimeout")
    seconds = DEFAULT_STOP_TIMEOUT_S if value is None else int(value)
    if launch_type == "FARGATE":
        seconds = min(seconds, FARGATE_MAX_STOP_TIMEOUT_S)
    return max(0, seconds)


def health_check(container: dict[str, Any]) -> HealthCheck | None:
    """The container's ``healthCheck`` with ECS's defaults (30 s / 5 s / 3 / 0 s)."""
    check = container.get("healthCheck")
    if not check or not check.get("command"):
        return None
    command = tuple(check["command"])
    if command[0] not in ("CMD", "CMD-SHELL", "NONE"):
        command = ("CMD", *command)
    return HealthCheck(
        command=command,
        interval_s=float(check.get("interval") or 30),
        timeout_s=float(check.get("timeout") or 5),
        retries=int(check.get("retries") or 3),
        start_period_s=float(check.get("startPeriod") or 0),
    )


def docker_name(family: str, revision: int, container: str) -> str:
    """The agent's container name ``ecs-<family>-<revision>-<container>-<suffix>`` without the
    suffix, with characters Docker refuses replaced. ``docker_name("web", 3, "~internal~ecs~pause")``
    → ``ecs-web-3-internalecspause``."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]", "", container)
    return f"ecs-{family}-{revision}-{cleaned}"


def _environment(container: dict[str, Any], override: dict[str, Any], base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    for item in container.get("environment") or []:
        env[item["name"]] = item.get("value", "")
    for item in override.get("environment") or []:
        env[item["name"]] = item.get("value", "")
    return env


AWSLOGS_ROUTE_OPTIONS = ("awslogs-create-group", "awslogs-multiline-pattern", "awslogs-datetime-format")
DEFAULT_LOG_MODE = "non-blocking"  # ECS's default since 2025-06-25
DEFAULT_MAX_BUFFER_SIZE = "10m"  # the ECS agent's, for non-blocking mode
BLOCKING_BUFFER_SIZE = "256m"  # what "blocking" holds while ecsbox is away (see forward_log_config)


def awslogs_route(identity: TaskIdentity, container: str, options: dict[str, str]) -> LogRoute:
    """Where an ``awslogs`` container's lines go: the task's account, the ``awslogs-region`` (the
    task's own region when absent), and the stream ``<prefix>/<container>/<task id>`` — or, with no
    prefix, the container's id (left empty here: only Docker knows it).

    ``awslogs_route(identity, "web", {"awslogs-group": "/ecs/app", "awslogs-stream-prefix": "ecs"})``
    → group ``/ecs/app``, stream ``ecs/web/<task id>``.
    """
    prefix = options.get("awslogs-stream-prefix", "")
    return LogRoute(
        kind="awslogs",
        account_id=identity.account_id,
        region=options.get("awslogs-region") or identity.region,
        group=options.get("awslogs-group", ""),
        stream=f"{prefix}/{container}/{identity.task_id}" if prefix else "",
        container=container,
        task_id=identity.task_id,
        options={key: options[key] for key in AWSLOGS_ROUTE_OPTIONS if key in options},
    )


def forward_log_config(route: LogRoute, log_forward: str, options: dict[str, str]) -> LogConfig:
    """Docker's fluentd driver sending to ecsbox's receiver at ``log_forward`` (host:port), each
    line acknowledged only once stored, synchronous (``fluentd-async`` discards what is queued when
    a container stops) and retrying every ``fluentd-retry-wait`` times 1.5 to the n-th while
    ecsbox is down.

    Always behind Docker's non-blocking ring buffer: the driver's blocking mode stalls a container
    that writes to stdout and stderr at once (its two copiers race for one connection's
    acknowledgements, fluent-logger-golang#103; measured in :mod:`ecsbox.logs.forward`). So
    ``non-blocking`` keeps ECS's meaning (``max-buffer-size``, default 10m, bounds the loss), and
    ``blocking`` becomes a ring of :data:`BLOCKING_BUFFER_SIZE`: the container never waits, and
    nothing is lost unless that much output piles up while ecsbox is away."""
    mode = options.get("mode") or DEFAULT_LOG_MODE
    size = (
        BLOCKING_BUFFER_SIZE
        if mode == "blocking"
        else options.get("max-buffer-size") or DEFAULT_MAX_BUFFER_SIZE
    )
    return LogConfig(
        "fluentd",
        {
            "fluentd-address": log_forward,
            "tag": encode_route(route),
            "fluentd-request-ack": "true",
            "fluentd-sub-second-precision": "true",
            "fluentd-retry-wait": "100ms",
            "mode": "non-blocking",
            "max-buffer-size": size,
        },
    )


def firelens_route(identity: TaskIdentity, container: str) -> LogRoute:
    """An ``awsfirelens`` container's records go to the task's FireLens router (ecsbox's own),
    whose outputs say where; the records' Fluent tag is ``<container>-firelens-<task id>``."""
    return LogRoute("firelens", identity.account_id, identity.region, "", "", container, identity.task_id)


def firelens_setup(identity: TaskIdentity, definition: dict[str, Any]) -> dict[str, Any] | None:
    """What the task's FireLens router needs, as ECS would generate its configuration from the
    task definition: the router container's ``firelensConfiguration``, each ``awsfirelens``
    container's options (one output each) and the ECS metadata fields. None without a router.
    The router image's own configuration file (``config-file-type: file``) is read separately."""
    containers = definition.get("containerDefinitions") or []
    router = next((c for c in containers if c.get("firelensConfiguration")), None)
    if router is None:
        return None
    configuration = router["firelensConfiguration"]
    return {
        "account_id": identity.account_id,
        "region": identity.region,
        "task_id": identity.task_id,
        "router": {
            "name": router["name"],
            "image": router.get("image", ""),
            "type": configuration.get("type", "fluentbit"),
            "options": {str(k): str(v) for k, v in (configuration.get("options") or {}).items()},
        },
        "containers": {
            c["name"]: {
                str(k): str(v) for k, v in ((c.get("logConfiguration") or {}).get("options") or {}).items()
            }
            for c in containers
            if (c.get("logConfiguration") or {}).get("logDriver") == "awsfirelens"
        },
        "metadata": {
            "ecs_cluster": identity.cluster_name,
            "ecs_task_arn": identity.task_arn,
            "ecs_task_definition": f"{definition['family']}:{definition['revision']}",
        },
    }


def _log_config(
    container: dict[str, Any], identity: TaskIdentity, log_forward: str | None
) -> LogConfig | None:
    log = container.get("logConfiguration") or {}
    driver = log.get("logDriver")
    options = {str(k): str(v) for k, v in (log.get("options") or {}).items()}
    if driver in DOCKER_LOG_DRIVERS:
        return LogConfig(driver, options)
    if driver == "awslogs" and log_forward and options.get("awslogs-group"):
        return forward_log_config(awslogs_route(identity, container["name"], options), log_forward, options)
    if driver == "awsfirelens" and log_forward:
        # The options are the router's outputs, not Docker's: only the delivery mode is Docker's.
        mode_options = {k: v for k, v in options.items() if k in ("mode", "max-buffer-size")}
        return forward_log_config(firelens_route(identity, container["name"]), log_forward, mode_options)
    return None  # the engine's default (json-file)


def _mounts(container: dict[str, Any], volumes: dict[str, dict[str, Any]], task_id: str) -> tuple[Mount, ...]:
    mounts = []
    for point in container.get("mountPoints") or []:
        volume = volumes.get(point.get("sourceVolume", ""))
        if volume is None or not point.get("containerPath"):
            continue
        host = (volume.get("host") or {}).get("sourcePath")
        if host:
            mounts.append(Mount(point["containerPath"], host, "bind", bool(point.get("readOnly"))))
        else:
            mounts.append(
                Mount(
                    point["containerPath"],
                    task_volume_name(task_id, volume, point["sourceVolume"]),
                    "volume",
                    bool(point.get("readOnly")),
                )
            )
    return tuple(mounts)


def task_volume_name(task_id: str, volume: dict[str, Any], name: str) -> str:
    """A task-scoped volume is ``ecsbox-<task id>-<volume>``; a ``shared`` Docker volume keeps its
    own name (autoprovisioned, outliving the task)."""
    docker_volume = volume.get("dockerVolumeConfiguration") or {}
    if docker_volume.get("scope") == "shared":
        return name
    return f"ecsbox-{task_id}-{name}"


def _ports(container: dict[str, Any], network_mode: str) -> tuple[PortBinding, ...]:
    if network_mode in ("host", "none", "awsvpc"):
        return ()
    bindings = []
    for mapping in container.get("portMappings") or []:
        if mapping.get("containerPort") is None:
            continue
        protocol: Literal["tcp", "udp"] = "udp" if mapping.get("protocol") == "udp" else "tcp"
        bindings.append(
            PortBinding(int(mapping["containerPort"]), protocol, int(mapping.get("hostPort") or 0))
        )
    return tuple(bindings)


def awsvpc_ports(containers: list[dict[str, Any]]) -> tuple[PortBinding, ...]:
    """Every container port of an awsvpc task, published on a free loopback port of the pause
    container (the task's own address is reachable too where the host routes to the bridge)."""
    bindings = []
    for container in containers:
        for mapping in container.get("portMappings") or []:
            if mapping.get("containerPort") is None:
                continue
            protocol: Literal["tcp", "udp"] = "udp" if mapping.get("protocol") == "udp" else "tcp"
            bindings.append(PortBinding(int(mapping["containerPort"]), protocol, 0))
    return tuple(bindings)


def labels(
    identity: TaskIdentity, definition: dict[str, Any], container_name: str, role: str
) -> dict[str, str]:
    return {
        LABEL_SERVER: identity.server_id,
        LABEL_TASK_ARN: identity.task_arn,
        LABEL_ACCOUNT: identity.account_id,
        LABEL_REGION: identity.region,
        LABEL_CONTAINER: container_name,
        LABEL_ROLE: role,
        "com.amazonaws.ecs.task-arn": identity.task_arn,
        "com.amazonaws.ecs.container-name": container_name,
        "com.amazonaws.ecs.task-definition-family": definition["family"],
        "com.amazonaws.ecs.task-definition-version": str(definition["revision"]),
        "com.amazonaws.ecs.cluster": identity.cluster_name,
    }


def plan_task(
    identity: TaskIdentity,
    definition: dict[str, Any],
    overrides: dict[str, Any],
    pause_image: str,
    base_environment: dict[str, str] | Callable[[str], dict[str, str]],
    secrets: dict[str, dict[str, str]] | None = None,
    log_forward: str | None = None,
) -> TaskPlan:
    """The containers to create for one task, in task-definition order.

    ``secrets`` holds each container's resolved ``secrets`` (name → value), which go into its
    environment and nowhere else. ``log_forward`` is ecsbox's Forward receiver (host:port), where
    ``awslogs`` containers send their lines; None: they log to json-file.
    """
    network_mode = definition.get("networkMode") or (
        "awsvpc" if identity.launch_type == "FARGATE" else "bridge"
    )
    family, revision = definition["family"], int(definition["revision"])
    suffix = identity.task_id[:12]
    container_overrides = {o.get("name"): o for o in overrides.get("containerOverrides") or []}
    task_cpu = _int(overrides.get("cpu") or definition.get("cpu"))
    task_memory = _int(overrides.get("memory") or definition.get("memory"))
    volumes = {v["name"]: v for v in definition.get("volumes") or [] if v.get("name")}
    containers = list(definition.get("containerDefinitions") or [])

    pause: ContainerSpec | None = None
    network = {"awsvpc": "", "bridge": "bridge", "host": "host", "none": "none"}.get(network_mode, "bridge")
    if network_mode == "awsvpc":
        pause = ContainerSpec(
            name=f"{docker_name(family, revision, PAUSE_CONTAINER_NAME)}-{suffix}",
            image=pause_image,
            labels=labels(identity, definition, PAUSE_CONTAINER_NAME, "pause"),
            network=identity.network,
            ports=awsvpc_ports(containers),
            stop_timeout_s=0,
        )
        network = "container:{pause}"  # the agent substitutes the pause container's id

    planned = []
    for container in containers:
        name = container["name"]
        override = container_overrides.get(name) or {}
        base = base_environment(name) if callable(base_environment) else base_environment
        env = _environment(container, override, base)
        env.update((secrets or {}).get(name, {}))
        memory = _int(override.get("memory") or container.get("memory"))
        reservation = _int(override.get("memoryReservation") or container.get("memoryReservation"))
        hard_memory = memory or (None if reservation and not task_memory else task_memory)
        check = health_check(container)
        spec = ContainerSpec(
            name=f"{docker_name(family, revision, name)}-{suffix}",
            image=container["image"],
            labels={
                **(container.get("dockerLabels") or {}),
                **labels(identity, definition, name, "container"),
            },
            network=network,
            command=_strings(override.get("command") or container.get("command")),
            entrypoint=_strings(container.get("entryPoint")),
            environment=env,
            working_dir=container.get("workingDirectory"),
            user=container.get("user"),
            hostname=container.get("hostname") if network_mode not in ("awsvpc", "host") else None,
            cpu_shares=cpu_shares(_int(override.get("cpu") or container.get("cpu"))),
            nano_cpus=nano_cpus(task_cpu),
            memory_bytes=hard_memory * MIB if hard_memory else None,
            memory_reservation_bytes=reservation * MIB if reservation else None,
            ports=_ports(container, network_mode),
            health_check=check,
            stop_timeout_s=stop_timeout(container, identity.launch_type),
            mounts=_mounts(container, volumes, identity.task_id),
            ulimits=tuple(
                Ulimit(u["name"], int(u["softLimit"]), int(u["hardLimit"]))
                for u in container.get("ulimits") or []
            ),
            read_only_root=bool(container.get("readonlyRootFilesystem")),
            init=bool((container.get("linuxParameters") or {}).get("initProcessEnabled")),
            privileged=bool(container.get("privileged")),
            log_config=_log_config(container, identity, log_forward),
            extra_hosts={h["hostname"]: h["ipAddress"] for h in container.get("extraHosts") or []},
        )
        planned.append(
            PlannedContainer(
                name=name,
                spec=spec,
                essential=container.get("essential", True) is not False,
                depends_on=tuple(
                    (d["containerName"], d["condition"]) for d in container.get("dependsOn") or []
                ),
                start_timeout_s=float(container["startTimeout"]) if container.get("startTimeout") else None,
                has_health_check=check is not None,
            )
        )
    owned = sorted(
        {
            m.source
            for p in planned
            for m in p.spec.mounts
            if m.kind == "volume" and m.source.startswith("ecsbox-")
        }
    )
    return TaskPlan(network_mode, pause, tuple(planned), tuple(owned))


def start_order(containers: tuple[PlannedContainer, ...]) -> list[list[PlannedContainer]]:
    """Containers in waves: each wave's dependencies are all in earlier waves (dependsOn).
    A cycle or an unknown dependency puts the rest in one last wave, in definition order.

    ``a``; ``b`` dependsOn ``a`` → [[a], [b]].
    """
    remaining = list(containers)
    placed: set[str] = set()
    names = {c.name for c in containers}
    waves: list[list[PlannedContainer]] = []
    while remaining:
        wave = [c for c in remaining if all(dep in placed or dep not in names for dep, _ in c.depends_on)]
        if not wave:
            waves.append(remaining)
            break
        waves.append(wave)
        placed.update(c.name for c in wave)
        remaining = [c for c in remaining if c.name not in placed]
    return waves


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _strings(value: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if value else None
