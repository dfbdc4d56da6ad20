"""Translation between the runtime port and the Docker Engine API's JSON, both ways.

Pure functions, no I/O: a :class:`ContainerSpec` becomes the body of ``POST /containers/create``;
the engine's inspect, stats and event documents become :class:`ContainerState`,
:class:`ContainerStats` and :class:`RuntimeEvent`. Kept apart from :mod:`ecsbox.runtime.docker`
so the mapping is tested by tables, without an engine.
"""

from __future__ import annotations

import calendar
import re
from typing import Any, cast

from ecsbox.runtime.port import (
    ContainerSpec,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    HealthStatus,
    PublishedPort,
    RuntimeEvent,
)

NANOS = 1_000_000_000

# Network modes that are not a network's name: no endpoint config, no aliases, no IP of their own.
SPECIAL_NETWORK_MODES = ("host", "none", "default")

# Event actions the runtime passes on. Docker also emits exec_create/exec_start/exec_die for every
# health-check probe, attach/resize/commit/... which nobody downstream wants; the daemon matches
# ``health_status`` against ``health_status: healthy`` by prefix.
EVENT_ACTIONS = (
    "create",
    "start",
    "die",
    "oom",
    "kill",
    "stop",
    "destroy",
    "health_status",
    "restart",
    "pause",
    "unpause",
)

# Event attributes that Docker mixes into the container's labels.
_EVENT_NON_LABEL_ATTRIBUTES = frozenset({"name", "image", "exitCode", "signal", "execDuration"})

_HEALTH: dict[str, HealthStatus] = {"starting": "starting", "healthy": "healthy", "unhealthy": "unhealthy"}
_STATUSES = frozenset({"created", "running", "paused", "restarting", "removing", "exited", "dead"})

_TIME_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def seconds_to_ns(seconds: float) -> int:
    """Docker's durations are integer nanoseconds: ``seconds_to_ns(1.5) == 1_500_000_000``."""
    return round(seconds * NANOS)


def parse_docker_time(value: str | None) -> float | None:
    """RFC 3339 with nanoseconds → epoch seconds; Docker's zero time (year 1) → None.

    ``parse_docker_time("2024-01-02T03:04:05.5Z") == 1704164645.5``;
    ``parse_docker_time("0001-01-01T00:00:00Z") is None``.
    """
    if not value:
        return None
    match = _TIME_RE.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if int(year) <= 1:
        return None
    epoch = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second)))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        epoch -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return epoch + (float("0." + fraction) if fraction else 0.0)


# ---- ContainerSpec → POST /containers/create -----------------------------------------------------


def is_user_network(network: str) -> bool:
    """A network given by name (not host/none/default, not ``container:<id>``)."""
    return network not in SPECIAL_NETWORK_MODES and not network.startswith("container:")


def create_body(spec: ContainerSpec) -> dict[str, Any]:
    """The JSON body of ``POST /containers/create?name=<spec.name>``."""
    body: dict[str, Any] = {
        "Image": spec.image,
        "Labels": dict(spec.labels),
        "Env": [f"{key}={value}" for key, value in spec.environment.items()],
        "HostConfig": host_config(spec),
    }
    if spec.command is not None:
        body["Cmd"] = list(spec.command)
    if spec.entrypoint is not None:
        # An empty list would mean "the image's entrypoint"; [""] is how the API clears it.
        body["Entrypoint"] = list(spec.entrypoint) or [""]
    if spec.working_dir:
        body["WorkingDir"] = spec.working_dir
    if spec.user:
        body["User"] = spec.user
    if spec.hostname:
        body["Hostname"] = spec.hostname
    if spec.ports:
        body["ExposedPorts"] = {f"{p.container_port}/{p.protocol}": {} for p in spec.ports}
    if spec.health_check is not None:
        check = spec.health_check
        body["Healthcheck"] = {
            "Test": list(check.command),
            "Interval": seconds_to_ns(check.interval_s),
            "Timeout": seconds_to_ns(check.timeout_s),
            "Retries": check.retries,
            "StartPeriod": seconds_to_ns(check.start_period_s),
        }
    if spec.stop_timeout_s is not None:
        body["StopTimeout"] = spec.stop_timeout_s
    if spec.stop_signal:
        body["StopSignal"] = spec.stop_signal
    if is_user_network(spec.network):
        endpoint: dict[str, Any] = {}
        # The default "bridge" network takes no aliases (the engine refuses them).
        if spec.network_aliases and spec.network != "bridge":
            endpoint["Aliases"] = list(spec.network_aliases)
        body["NetworkingConfig"] = {"EndpointsConfig": {spec.network: endpoint}}
    return body


def host_config(spec: ContainerSpec) -> dict[str, Any]:
    config: dict[str, Any] = {"NetworkMode": spec.network}
    if spec.cpu_shares is not None:
        config["CpuShares"] = spec.cpu_shares
    if spec.nano_cpus is not None:
        config["NanoCpus"] = spec.nano_cpus
    if spec.memory_bytes is not None:
        config["Memory"] = spec.memory_bytes
    if spec.memory_reservation_bytes is not None:
        config["MemoryReservation"] = spec.memory_reservation_bytes
    if spec.ports:
        bindings: dict[str, list[dict[str, str]]] = {}
        for port in spec.ports:
            bindings.setdefault(f"{port.container_port}/{port.protocol}", []).append(
                # An empty HostPort lets the engine pick a free ephemeral port.
                {"HostIp": port.host_ip, "HostPort": str(port.host_port) if port.host_port else ""}
            )
        config["PortBindings"] = bindings
    if spec.mounts:
        # Binds (not Mounts) as the ECS agent uses them: a missing host path is created, and a
        # named volume that does not exist yet is created with the local driver.
        config["Binds"] = [f"{m.source}:{m.target}{':ro' if m.read_only else ''}" for m in spec.mounts]
    if spec.ulimits:
        config["Ulimits"] = [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in spec.ulimits]
    if spec.read_only_root:
        config["ReadonlyRootfs"] = True
    if spec.init:
        config["Init"] = True
    if spec.privileged:
        config["Privileged"] = True
    if spec.log_config is not None:
        config["LogConfig"] = {"Type": spec.log_config.driver, "Config": dict(spec.log_config.options)}
    if spec.extra_hosts:
        config["ExtraHosts"] = [f"{host}:{address}" for host, address in spec.extra_hosts.items()]
    return config


# ---- GET /containers/<id>/json → ContainerState --------------------------------------------------


def container_state(document: dict[str, Any]) -> ContainerState:
    state: dict[str, Any] = document.get("State") or {}
    config: dict[str, Any] = document.get("Config") or {}
    host: dict[str, Any] = document.get("HostConfig") or {}
    settings: dict[str, Any] = document.get("NetworkSettings") or {}
    raw_status = str(state.get("Status") or "created")
    status = cast(ContainerStatus, raw_status if raw_status in _STATUSES else "dead")
    error = str(state.get("Error") or "")
    exit_code: int | None = None
    if status in ("exited", "dead") or (error and state.get("ExitCode")):
        exit_code = int(state.get("ExitCode") or 0)
    health_doc = state.get("Health") or {}
    pid = int(state.get("Pid") or 0)
    return ContainerState(
        id=str(document.get("Id", "")),
        name=str(document.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        labels=dict(config.get("Labels") or {}),
        status=status,
        exit_code=exit_code,
        error=error,
        oom_killed=bool(state.get("OOMKilled")),
        started_at=parse_docker_time(state.get("StartedAt")),
        finished_at=parse_docker_time(state.get("FinishedAt")),
        health=_HEALTH.get(str(health_doc.get("Status", ""))),
        ip_address=ip_address(str(host.get("NetworkMode") or ""), settings),
        ports=published_ports(settings.get("Ports") or {}),
        image_id=str(document.get("Image", "")),
        pid=pid or None,
    )


def ip_address(network_mode: str, settings: dict[str, Any]) -> str | None:
    """The container's address on its own network: the one its network mode names, else the
    first with an address. None for ``container:<id>`` (ask that container) and host/none."""
    if network_mode.startswith("container:") or network_mode in ("host", "none"):
        return None
    networks: dict[str, Any] = settings.get("Networks") or {}
    named = networks.get(network_mode) or {}
    if named.get("IPAddress"):
        return str(named["IPAddress"])
    for endpoint in networks.values():
        if endpoint and endpoint.get("IPAddress"):
            return str(endpoint["IPAddress"])
    return str(settings["IPAddress"]) if settings.get("IPAddress") else None


def published_ports(ports: dict[str, Any]) -> tuple[PublishedPort, ...]:
    """``{"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}], "9000/tcp": None}`` →
    one :class:`PublishedPort` per host binding (unpublished exposed ports are left out)."""
    published: list[PublishedPort] = []
    for key, bindings in ports.items():
        port, _, protocol = key.partition("/")
        for binding in bindings or ():
            host_port = binding.get("HostPort") or ""
            if host_port.isdigit():
                published.append(
                    PublishedPort(
                        int(port), protocol or "tcp", str(binding.get("HostIp") or ""), int(host_port)
                    )
                )
    return tuple(sorted(published, key=lambda p: (p.container_port, p.protocol, p.host_ip)))


# ---- GET /containers/<id>/stats?stream=false → ContainerStats ------------------------------------


# The per-interface counters Docker's stats carry under ``networks`` (summed over interfaces).
NETWORK_COUNTERS = (
    "rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_dropped", "tx_dropped", "rx_errors", "tx_errors",
)  # fmt: skip


def container_stats(document: dict[str, Any]) -> ContainerStats | None:
    """One stats sample, cgroup v1 or v2. None when the engine has no sample (container not
    running: ``read`` is the zero time and the CPU block is empty).

    Memory usage is reported as the docker CLI shows it: usage minus the inactive page cache
    (``total_inactive_file`` on cgroup v1, ``inactive_file`` on v2), since a page cache the kernel
    can drop at will is not memory the task is using.
    """
    read_at = parse_docker_time(document.get("read"))
    cpu: dict[str, Any] = document.get("cpu_stats") or {}
    usage: dict[str, Any] = cpu.get("cpu_usage") or {}
    if read_at is None or not usage:
        return None
    online = int(cpu.get("online_cpus") or 0) or len(usage.get("percpu_usage") or ()) or 1
    memory: dict[str, Any] = document.get("memory_stats") or {}
    memory_detail: dict[str, Any] = memory.get("stats") or {}
    used = int(memory.get("usage") or 0)
    inactive = memory_detail.get("total_inactive_file", memory_detail.get("inactive_file", 0))
    used = max(0, used - int(inactive or 0))
    network = dict.fromkeys(NETWORK_COUNTERS, 0)
    for interface in (document.get("networks") or {}).values():
        for key in NETWORK_COUNTERS:
            network[key] += int(interface.get(key) or 0)
    block_read = block_write = 0
    for entry in (document.get("blkio_stats") or {}).get("io_service_bytes_recursive") or ():
        op = str(entry.get("op", "")).lower()  # "Read" on cgroup v1, "read" on v2
        if op == "read":
            block_read += int(entry.get("value") or 0)
        elif op == "write":
            block_write += int(entry.get("value") or 0)
    return ContainerStats(
        read_at=read_at,
        cpu_total_ns=int(usage.get("total_usage") or 0),
        system_cpu_ns=int(cpu.get("system_cpu_usage") or 0),
        online_cpus=online,
        memory_usage_bytes=used,
        memory_limit_bytes=int(memory.get("limit") or 0),
        network_rx_bytes=network["rx_bytes"],
        network_tx_bytes=network["tx_bytes"],
        block_read_bytes=block_read,
        block_write_bytes=block_write,
        network_rx_packets=network["rx_packets"],
        network_tx_packets=network["tx_packets"],
        network_rx_dropped=network["rx_dropped"],
        network_tx_dropped=network["tx_dropped"],
        network_rx_errors=network["rx_errors"],
        network_tx_errors=network["tx_errors"],
    )


# ---- GET /events → RuntimeEvent ------------------------------------------------------------------


def runtime_event(message: dict[str, Any]) -> RuntimeEvent | None:
    """A container event from Docker's stream, or None for what the runtime does not pass on.

    ``{"Type": "container", "Action": "health_status: healthy", "Actor": {"ID": "c1",
    "Attributes": {"name": "x", "app": "web"}}, "timeNano": 1500000000}`` →
    ``RuntimeEvent("c1", "health_status", {"app": "web"}, 1.5, health="healthy")``.
    """
    if message.get("Type", "container") != "container":
        return None
    raw_action = str(message.get("Action") or message.get("status") or "")
    action, _, detail = raw_action.partition(":")
    action = action.strip()
    if action not in EVENT_ACTIONS:
        return None
    actor: dict[str, Any] = message.get("Actor") or {}
    attributes: dict[str, str] = dict(actor.get("Attributes") or {})
    container_id = str(actor.get("ID") or message.get("id") or "")
    time_nano = message.get("timeNano")
    at = int(time_nano) / NANOS if time_nano else float(message.get("time") or 0)
    exit_code: int | None = None
    if action == "die" and str(attributes.get("exitCode", "")).lstrip("-").isdigit():
        exit_code = int(attributes["exitCode"])
    health = _HEALTH.get(detail.strip()) if action == "health_status" else None
    labels = {k: v for k, v in attributes.items() if k not in _EVENT_NON_LABEL_ATTRIBUTES}
    return RuntimeEvent(container_id, action, labels, at, exit_code=exit_code, health=health)


def label_filters(labels: dict[str, str]) -> list[str]:
    """``{"a": "1", "b": "2"}`` → ``["a=1", "b=2"]``: the engine ANDs label filters."""
    return [f"{key}={value}" for key, value in sorted(labels.items())]
