"""The container-runtime port: what ecsbox asks of a container engine, and what it observes.

Two backends implement it: :mod:`ecsbox.runtime.docker` (a real Docker Engine) and
:mod:`ecsbox.runtime.simulated` (in memory, for scenario tests and scale). Controllers speak only
this interface, so the same reconcile logic runs on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ecsbox.core.errors import EcsboxError

# ---- errors: every backend translates its own failures into these at the boundary -------------


class RuntimeFailure(EcsboxError):
    """The runtime could not do what was asked."""


class RuntimeUnavailable(RuntimeFailure):
    """The engine does not answer (not running, socket gone, timed out)."""


class ImagePullFailed(RuntimeFailure):
    """The image is not present and could not be pulled (no such image, no registry, auth)."""


class ContainerNotFound(RuntimeFailure):
    pass


class ContainerStartFailed(RuntimeFailure):
    """Created, but the engine refused to start it (bad entrypoint, port in use, ...)."""


# ---- what to run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    host_port: int = 0  # 0: the engine picks a free port
    host_ip: str = "127.0.0.1"


@dataclass(frozen=True)
class HealthCheck:
    command: tuple[str, ...]  # ("CMD", ...) or ("CMD-SHELL", "...")
    interval_s: float = 30
    timeout_s: float = 5
    retries: int = 3
    start_period_s: float = 0


@dataclass(frozen=True)
class Mount:
    target: str
    source: str  # a host path (kind "bind") or a volume name (kind "volume")
    kind: Literal["bind", "volume"] = "volume"
    read_only: bool = False


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class LogConfig:
    driver: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerSpec:
    """One container to create. ``network`` is a network name, ``"host"``, ``"none"`` or
    ``"container:<id>"`` (join another container's network namespace)."""

    name: str
    image: str
    labels: dict[str, str]
    network: str
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    cpu_shares: int | None = None
    nano_cpus: int | None = None  # a hard CPU limit (1e9 = one CPU)
    memory_bytes: int | None = None  # hard limit
    memory_reservation_bytes: int | None = None  # soft limit
    ports: tuple[PortBinding, ...] = ()
    health_check: HealthCheck | None = None
    stop_timeout_s: int | None = None
    stop_signal: str | None = None
    mounts: tuple[Mount, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    read_only_root: bool = False
    init: bool = False
    privileged: bool = False
    log_config: LogConfig | None = None
    extra_hosts: dict[str, str] = field(default_factory=dict)  # hostname -> address
    network_aliases: tuple[str, ...] = ()


# ---- what is observed --------------------------------------------------------------------------

ContainerStatus = Literal["created", "running", "paused", "restarting", "removing", "exited", "dead"]
HealthStatus = Literal["starting", "healthy", "unhealthy"]


@dataclass(frozen=True)
class PublishedPort:
    container_port: int
    protocol: str
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    image: str
    labels: dict[str, str]
    status: ContainerStatus
    exit_code: int | None = None
    error: str = ""  # the engine's own reason when it could not start or run it
    oom_killed: bool = False
    started_at: float | None = None  # epoch seconds, wall clock
    finished_at: float | None = None
    health: HealthStatus | None = None  # None: no health check
    ip_address: str | None = None  # on its (first) network
    ports: tuple[PublishedPort, ...] = ()
    image_id: str = ""
    pid: int | None = None


@dataclass(frozen=True)
class ContainerStats:
    """One sample of a container's usage (the engine's one-shot stats). Every counter is cumulative
    since the container started; a container sharing another's network namespace (``awsvpc``
    containers join their task's pause container) reports no network of its own (zeros)."""

    read_at: float
    cpu_total_ns: int  # cumulative CPU time used by the container
    system_cpu_ns: int  # cumulative CPU time of the host, for percentages
    online_cpus: int
    memory_usage_bytes: int
    memory_limit_bytes: int
    network_rx_bytes: int = 0  # cumulative, over the container's own network interfaces
    network_tx_bytes: int = 0
    block_read_bytes: int = 0  # cumulative
    block_write_bytes: int = 0
    network_rx_packets: int = 0
    network_tx_packets: int = 0
    network_rx_dropped: int = 0
    network_tx_dropped: int = 0
    network_rx_errors: int = 0
    network_tx_errors: int = 0


@dataclass(frozen=True)
class RuntimeEvent:
    """Something happened to a container: ``action`` is the engine's own word (``start``, ``die``,
    ``health_status``, ``destroy``, ``oom``, ``kill``, ``stop``)."""

    container_id: str
    action: str
    labels: dict[str, str]
    at: float
    exit_code: int | None = None
    health: HealthStatus | None = None


@dataclass(frozen=True)
class EngineInfo:
    name: str  # "docker" or "simulated"
    version: str
    cpus: int
    memory_bytes: int
    architecture: str  # "x86_64" / "aarch64"
    os: str = "linux"


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for pulling from a registry (ecsbox's own ECR registry hands these out)."""

    username: str
    password: str = field(repr=False)


class Runtime(Protocol):
    """A container engine. Every method is safe to call again (idempotent where it can be)."""

    async def info(self) -> EngineInfo: ...

    async def ensure_image(self, image: str, auth: RegistryAuth | None = None) -> str:
        """Make ``image`` present (pull it when missing); returns its image id. Raises
        :class:`ImagePullFailed` with the engine's reason. With ``auth`` (a registry image) it is
        pulled every time, as the ECS agent does, and the copy already present is used only when
        that pull fails."""
        ...

    async def read_image_file(self, image: str, path: str, max_bytes: int = 1024 * 1024) -> bytes:
        """The content of one file inside ``image`` (present locally), without running it: a
        FireLens router image's own configuration. Raises :class:`RuntimeFailure` when the image
        or the file is missing, or the file is larger than ``max_bytes``."""
        ...

    async def ensure_network(self, name: str, labels: dict[str, str]) -> str:
        """A bridge network by that name, created when missing; returns its id."""
        ...

    async def remove_network(self, name: str) -> None: ...

    async def create(self, spec: ContainerSpec) -> str:
        """Create (not start) a container; returns its id. A container of that name that
        already exists is an error (:class:`RuntimeFailure`) — callers name containers uniquely."""
        ...

    async def start(self, container_id: str) -> None: ...

    async def stop(self, container_id: str, timeout_s: float) -> None:
        """Send the stop signal, wait ``timeout_s``, then SIGKILL. No error when already stopped."""
        ...

    async def kill(self, container_id: str, signal: str = "SIGKILL") -> None: ...

    async def remove(self, container_id: str) -> None:
        """Remove (forcefully) with its anonymous volumes. No error when already gone."""
        ...

    async def inspect(self, container_id: str) -> ContainerState | None: ...

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        """Every container (running or not) carrying all of ``labels``."""
        ...

    async def stats(self, container_id: str) -> ContainerStats | None: ...

    def events(self, labels: dict[str, str]) -> AsyncIterator[RuntimeEvent]:
        """Container events for containers carrying ``labels``, until cancelled. Reconnects on
        its own after an engine restart (and yields nothing while the engine is away)."""
        ...

    async def close(self) -> None: ...
