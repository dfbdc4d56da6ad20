"""The runtime port in memory: deterministic, driven by an injected clock, cheap at scale.

Scenario tests and the scale benchmark run controllers on this backend with a ``FakeClock``.
It behaves as the Docker backend does where a controller can tell the difference: ids and unique
names, the same status transitions and exit codes (137 for SIGKILL, 128 + n for signal n), the same
events in the same order (``create``, ``start``, ``kill``, ``die``, ``stop``, ``destroy``,
``health_status`` on a change, ``oom``), published ports with host ports picked from a counter, IP
addresses on bridge networks (``10.x`` addresses that exist only inside the simulation).

What cannot be real is scripted: :meth:`SimulatedRuntime.script_image` says how containers of an
image behave (pull failure, exit after a while, health, start failure, usage), and
:meth:`crash`, :meth:`set_health`, :meth:`set_usage` act on one container. Time only moves when
the clock does: :meth:`advance` fires what fell due at ``clock.now()`` (scripted exits, health
transitions, stop timeouts).

Unlike Docker's, :meth:`stop` does not block for the stop timeout (a ``FakeClock`` would never get
there): a container that ignores its stop signal keeps running until :meth:`advance` runs at or
after ``now + timeout``, then dies with 137 as Docker's SIGKILL leaves it. Controllers learn of it
from the ``die`` event, as they do on Docker.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import signal as signals
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Literal

from ecsbox.core.clock import Clock
from ecsbox.runtime.port import (
    ContainerNotFound,
    ContainerSpec,
    ContainerStartFailed,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    EngineInfo,
    HealthStatus,
    ImagePullFailed,
    PublishedPort,
    RegistryAuth,
    RuntimeEvent,
    RuntimeFailure,
)
from ecsbox.runtime.simulated_usage import UsageMeter

SIMULATED_VERSION = "1"
FIRST_DYNAMIC_PORT = 49153  # Docker's ephemeral range on Linux starts here
LAST_DYNAMIC_PORT = 65535
BUILTIN_NETWORKS = ("bridge", "host", "none")
KILLED_EXIT_CODE = 137  # 128 + SIGKILL
HOST_UPTIME_S = 3600.0  # the simulated host was up for an hour when the runtime was made


@dataclass
class ImageScript:
    """How containers of one image behave. The defaults: run until stopped, healthy after one
    health-check interval, exit 0 on the stop signal, 1 % of a CPU and 16 MiB."""

    pull_error: str | None = None
    exit_after_s: float | None = None
    exit_code: int = 0
    health: Literal["healthy", "unhealthy"] | None = "healthy"
    start_error: str | None = None
    ignore_stop_signal: bool = False
    stop_exit_code: int = 0
    cpu_percent: float = 1.0  # of one CPU, as `docker stats` shows it
    memory_bytes: int = 16 * 1024 * 1024


@dataclass
class _Network:
    id: str
    name: str
    labels: dict[str, str]


@dataclass
class _Container:
    id: str
    seq: int  # creation order, for stable listing
    spec: ContainerSpec
    script: ImageScript
    image_id: str
    created_at: float
    status: ContainerStatus = "created"
    generation: int = 0  # bumped on every start and death: timers of an older run are stale
    exit_code: int | None = None
    error: str = ""
    oom_killed: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    health: HealthStatus | None = None
    address: int | None = None  # index into 10.0.0.0/8 while running
    ports: tuple[PublishedPort, ...] = ()
    pid: int | None = None
    usage: UsageMeter = field(default_factory=UsageMeter)


@dataclass(eq=False)  # hashed by identity: a set member
class _Subscriber:
    labels: dict[str, str]
    queue: asyncio.Queue[RuntimeEvent]


TimerKind = Literal["exit", "health", "stop_timeout"]


class SimulatedRuntime:
    """:class:`ecsbox.runtime.port.Runtime` in memory. Every image pulls unless scripted not to."""

    def __init__(
        self, clock: Clock, cpus: int = 2, memory_bytes: int = 8 * 1024**3, architecture: str = "x86_64"
    ) -> None:
        self.clock = clock
        self.cpus = cpus
        self.memory_bytes = memory_bytes
        self.architecture = architecture
        self._booted_at = clock.now() - HOST_UPTIME_S
        self._ids = itertools.count(1)
        self._pids = itertools.count(100)
        self._scripts: dict[str, ImageScript] = {}
        self._image_files: dict[tuple[str, str], bytes] = {}
        self._images: dict[str, str] = {}  # present image → id
        self._containers: dict[str, _Container] = {}
        self._names: dict[str, str] = {}  # name → id
        self._by_label: dict[tuple[str, str], set[str]] = {}
        self._networks: dict[str, _Network] = {}  # name → network
        self._network_count = 0
        # Addresses in 10.0.0.0/8, one pool for every network (they are never contacted).
        self._next_address = 2
        self._free_addresses: list[int] = []
        self._host_ports_in_use: set[tuple[str, str, int]] = set()  # (ip, protocol, port)
        self._next_dynamic_port = FIRST_DYNAMIC_PORT
        self._timers: list[tuple[float, int, TimerKind, str, int]] = []
        self._timer_seq = itertools.count()
        self._subscribers: set[_Subscriber] = set()
        for name in BUILTIN_NETWORKS:
            self._add_network(name, {})

    # ---- scripting (tests) -------------------------------------------------------------------

    def script_image(
        self,
        image: str,
        pull_error: str | None = None,
        exit_after_s: float | None = None,
        exit_code: int = 0,
        health: Literal["healthy", "unhealthy"] | None = "healthy",
        start_error: str | None = None,
        *,
        ignore_stop_signal: bool = False,
        stop_exit_code: int = 0,
        cpu_percent: float = 1.0,
        memory_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        """How containers of ``image`` created from now on behave.

        ``health``: what a health check reaches ("healthy" after one interval; "unhealthy" after
        ``retries`` failed probes; None: stays "starting"). ``pull_error``: :meth:`ensure_image`
        fails with this message (and a present copy is forgotten).
        """
        self._scripts[image] = ImageScript(
            pull_error, exit_after_s, exit_code, health, start_error,
            ignore_stop_signal, stop_exit_code, cpu_percent, memory_bytes,
        )  # fmt: skip
        if pull_error is not None:
            self._images.pop(image, None)

    def crash(self, container_id: str, exit_code: int, oom: bool = False) -> None:
        """The container's process exits now with ``exit_code`` (an ``oom`` event first if ``oom``)."""
        container = self._get(container_id)
        if container.status != "running":
            return
        if oom:
            container.oom_killed = True
            self._emit(container, "oom")
        self._die(container, exit_code)

    def set_health(self, container_id: str, status: HealthStatus) -> None:
        container = self._get(container_id)
        if container.status == "running" and container.spec.health_check is not None:
            self._set_health(container, status)

    def set_usage(
        self,
        container_id: str,
        cpu_percent: float | None = None,
        memory_bytes: int | None = None,
        io_rates: tuple[float, float, float, float] | None = None,
    ) -> None:
        """What :meth:`stats` reports from now on (CPU in percent of one CPU; ``io_rates`` in bytes
        per second: network received, sent; block read, written)."""
        container = self._get(container_id)
        running = container.status == "running"
        container.usage.set(self.clock.now(), running, cpu_percent, memory_bytes, io_rates)

    def advance(self) -> int:
        """Fire every timer due at ``clock.now()``; returns how many fired."""
        now = self.clock.now()
        fired = 0
        while self._timers and self._timers[0][0] <= now:
            _, _, kind, container_id, generation = heapq.heappop(self._timers)
            container = self._containers.get(container_id)
            if container is None or container.generation != generation or container.status != "running":
                continue
            fired += 1
            if kind == "exit":
                self._die(container, container.script.exit_code)
            elif kind == "health":
                assert container.script.health is not None
                self._set_health(container, container.script.health)
            else:
                self._kill_after_timeout(container)
        return fired

    @property
    def container_count(self) -> int:
        return len(self._containers)

    # ---- engine and images ---------------------------------------------------------------------

    async def info(self) -> EngineInfo:
        return EngineInfo("simulated", SIMULATED_VERSION, self.cpus, self.memory_bytes, self.architecture)

    async def ensure_image(self, image: str, auth: RegistryAuth | None = None) -> str:
        script = self._scripts.get(image)
        if script is not None and script.pull_error is not None:
            raise ImagePullFailed(script.pull_error)
        if image not in self._images:
            self._images[image] = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
        return self._images[image]

    def put_image_file(self, image: str, path: str, content: bytes) -> None:
        """A file inside ``image`` that :meth:`read_image_file` finds (tests)."""
        self._image_files[(image, path)] = content

    async def read_image_file(self, image: str, path: str, max_bytes: int = 1024 * 1024) -> bytes:
        if image not in self._images and image not in self._scripts:
            raise RuntimeFailure(f"No such image: {image}")
        content = self._image_files.get((image, path))
        if content is None:
            raise RuntimeFailure(f"Could not find the file {path} in container of image {image}")
        if len(content) > max_bytes:
            raise RuntimeFailure(f"{path} in {image} is larger than {max_bytes} bytes")
        return content

    # ---- networks ----------------------------------------------------------------------------------

    def _add_network(self, name: str, labels: dict[str, str]) -> _Network:
        self._network_count += 1
        index = self._network_count
        network = _Network(
            id=hashlib.sha256(f"network-{name}-{index}".encode()).hexdigest(), name=name, labels=dict(labels)
        )
        self._networks[name] = network
        return network

    async def ensure_network(self, name: str, labels: dict[str, str]) -> str:
        network = self._networks.get(name) or self._add_network(name, labels)
        return network.id

    async def remove_network(self, name: str) -> None:
        if name in BUILTIN_NETWORKS or name not in self._networks:
            return
        attached = [c for c in self._containers.values() if c.spec.network == name and c.status == "running"]
        if attached:
            raise RuntimeFailure(f"error while removing network: network {name} has active endpoints")
        del self._networks[name]

    # ---- containers ----------------------------------------------------------------------------------

    async def create(self, spec: ContainerSpec) -> str:
        if spec.name in self._names:
            other = self._names[spec.name]
            raise RuntimeFailure(
                f'Conflict. The container name "/{spec.name}" is already in use by container "{other}".'
                " You have to remove (or rename) that container to be able to reuse that name."
            )
        if spec.image not in self._images:
            raise ImagePullFailed(f"No such image: {spec.image}")
        if spec.network.startswith("container:"):
            if self._resolve(spec.network.partition(":")[2]) is None:
                raise RuntimeFailure(f"No such container: {spec.network.partition(':')[2]}")
            if spec.ports:
                raise RuntimeFailure(
                    "conflicting options: port publishing and the container type network mode"
                )
        elif spec.network not in self._networks:
            raise RuntimeFailure(f"network {spec.network} not found")
        seq = next(self._ids)
        container_id = hashlib.sha256(f"container-{seq}".encode()).hexdigest()
        container = _Container(
            id=container_id,
            seq=seq,
            spec=spec,
            script=self._scripts.get(spec.image, ImageScript()),
            image_id=self._images[spec.image],
            created_at=self.clock.now(),
        )
        self._containers[container_id] = container
        self._names[spec.name] = container_id
        for pair in spec.labels.items():
            self._by_label.setdefault(pair, set()).add(container_id)
        self._emit(container, "create")
        return container_id

    async def start(self, container_id: str) -> None:
        container = self._get(container_id)
        if container.status == "running":
            return
        script = container.script
        if script.start_error is not None:
            container.error = script.start_error
            container.exit_code = 128
            raise ContainerStartFailed(script.start_error)
        network = container.spec.network
        if network.startswith("container:"):
            joined = self._resolve(network.partition(":")[2])
            if joined is None or joined.status != "running":
                raise ContainerStartFailed(
                    f"cannot join network of a non running container: {network.partition(':')[2]}"
                )
        ports = self._bind_ports(container)
        now = self.clock.now()
        container.status = "running"
        container.generation += 1
        container.exit_code = None
        container.error = ""
        container.oom_killed = False
        container.started_at = now
        container.finished_at = None
        container.ports = ports
        container.pid = next(self._pids)
        container.usage.set(now, False, script.cpu_percent, script.memory_bytes)  # the run's rates, from now
        if network in self._networks and network not in ("host", "none"):
            container.address = self._allocate_address()
        self._emit(container, "start")
        check = container.spec.health_check
        if check is not None:
            container.health = "starting"
            if script.health == "healthy":
                self._schedule(now + check.interval_s, "health", container)
            elif script.health == "unhealthy":
                # Failures in the start period do not count; then `retries` failures in a row.
                due = max(check.interval_s * check.retries, check.start_period_s + check.interval_s)
                self._schedule(now + due, "health", container)
        if script.exit_after_s is not None:
            self._schedule(now + script.exit_after_s, "exit", container)

    async def stop(self, container_id: str, timeout_s: float) -> None:
        container = self._get(container_id)
        if container.status != "running":
            return
        self._emit(container, "kill")
        if not container.script.ignore_stop_signal:
            self._die(container, container.script.stop_exit_code)
            self._emit(container, "stop")
        elif timeout_s <= 0:
            self._kill_after_timeout(container)
        else:
            self._schedule(self.clock.now() + timeout_s, "stop_timeout", container)

    async def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        container = self._get(container_id)
        if container.status != "running":
            return
        number = _signal_number(signal)
        self._emit(container, "kill")
        if number == signals.SIGKILL:
            self._die(container, KILLED_EXIT_CODE)
        elif number != _signal_number(container.spec.stop_signal or "SIGTERM"):
            self._die(container, 128 + number)  # no handler: the signal's default action
        elif not container.script.ignore_stop_signal:
            self._die(container, container.script.stop_exit_code)

    async def remove(self, container_id: str) -> None:
        container = self._resolve(container_id)
        if container is None:
            return
        if container.status == "running":
            self._emit(container, "kill")
            self._die(container, KILLED_EXIT_CODE)
        del self._containers[container.id]
        self._names.pop(container.spec.name, None)
        for pair in container.spec.labels.items():
            ids = self._by_label.get(pair)
            if ids is not None:
                ids.discard(container.id)
                if not ids:
                    del self._by_label[pair]
        self._emit(container, "destroy")

    async def inspect(self, container_id: str) -> ContainerState | None:
        container = self._resolve(container_id)
        return None if container is None else self._state(container)

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        return [self._state(self._containers[i]) for i in self._ids_with(labels)]

    async def stats(self, container_id: str) -> ContainerStats | None:
        container = self._resolve(container_id)
        if container is None or container.status != "running":
            return None
        now = self.clock.now()
        usage = container.usage
        usage.accrue(now, container.status == "running")
        limit = container.spec.memory_bytes or self.memory_bytes
        rx, tx, read, written = (int(value) for value in usage.io_bytes)
        network = container.spec.network
        if network.startswith("container:") or network in ("host", "none"):
            rx = tx = 0  # as on Docker: no network of its own to count
        return ContainerStats(
            read_at=now,
            cpu_total_ns=int(usage.cpu_ns),
            system_cpu_ns=int((now - self._booted_at) * self.cpus * 1e9),
            online_cpus=self.cpus,
            memory_usage_bytes=min(usage.memory_bytes, limit),
            memory_limit_bytes=limit,
            network_rx_bytes=rx,
            network_tx_bytes=tx,
            block_read_bytes=read,
            block_write_bytes=written,
        )

    # ---- events --------------------------------------------------------------------------------------

    def events(self, labels: dict[str, str]) -> AsyncIterator[RuntimeEvent]:
        """Events from the moment of this call (the subscription exists before the first ``await``)."""
        subscriber = _Subscriber(dict(labels), asyncio.Queue())
        self._subscribers.add(subscriber)
        iterator = self._drain(subscriber)
        # An iterator dropped without being iterated or closed never runs its `finally`.
        weakref.finalize(iterator, self._subscribers.discard, subscriber)
        return iterator

    async def _drain(self, subscriber: _Subscriber) -> AsyncIterator[RuntimeEvent]:
        try:
            while True:
                yield await subscriber.queue.get()
        finally:
            self._subscribers.discard(subscriber)

    async def close(self) -> None:
        self._subscribers.clear()

    # ---- internals ------------------------------------------------------------------------------------

    def _resolve(self, key: str) -> _Container | None:
        container = self._containers.get(key)
        if container is None and key in self._names:
            container = self._containers.get(self._names[key])
        return container

    def _get(self, key: str) -> _Container:
        container = self._resolve(key)
        if container is None:
            raise ContainerNotFound(f"No such container: {key}")
        return container

    def _ids_with(self, labels: dict[str, str]) -> Iterable[str]:
        if not labels:
            return list(self._containers)
        sets = sorted((self._by_label.get(pair, set()) for pair in labels.items()), key=len)
        first, *rest = sets
        return sorted(first.intersection(*rest), key=lambda i: self._containers[i].seq)

    def _schedule(self, due: float, kind: TimerKind, container: _Container) -> None:
        heapq.heappush(self._timers, (due, next(self._timer_seq), kind, container.id, container.generation))

    def _emit(
        self,
        container: _Container,
        action: str,
        exit_code: int | None = None,
        health: HealthStatus | None = None,
    ) -> None:
        if not self._subscribers:
            return
        labels = container.spec.labels
        event = RuntimeEvent(container.id, action, dict(labels), self.clock.now(), exit_code, health)
        for subscriber in self._subscribers:
            if all(labels.get(k) == v for k, v in subscriber.labels.items()):
                subscriber.queue.put_nowait(event)

    def _kill_after_timeout(self, container: _Container) -> None:
        self._emit(container, "kill")
        self._die(container, KILLED_EXIT_CODE)
        self._emit(container, "stop")

    def _die(self, container: _Container, exit_code: int) -> None:
        container.usage.accrue(self.clock.now(), container.status == "running")
        container.status = "exited"
        container.generation += 1
        container.exit_code = exit_code
        container.finished_at = self.clock.now()
        container.pid = None
        self._release(container)
        self._emit(container, "die", exit_code=exit_code)

    def _set_health(self, container: _Container, status: HealthStatus) -> None:
        if container.health != status:
            container.health = status
            self._emit(container, "health_status", health=status)

    def _bind_ports(self, container: _Container) -> tuple[PublishedPort, ...]:
        published: list[PublishedPort] = []
        claimed: list[tuple[str, str, int]] = []
        for port in container.spec.ports:
            host_port = port.host_port or self._dynamic_port(port.host_ip, port.protocol)
            key = (port.host_ip, port.protocol, host_port)
            if key in self._host_ports_in_use:
                self._host_ports_in_use.difference_update(claimed)
                raise ContainerStartFailed(
                    f"driver failed programming external connectivity on endpoint {container.spec.name}:"
                    f" Bind for {port.host_ip}:{host_port} failed: port is already allocated"
                )
            self._host_ports_in_use.add(key)
            claimed.append(key)
            published.append(PublishedPort(port.container_port, port.protocol, port.host_ip, host_port))
        return tuple(sorted(published, key=lambda p: (p.container_port, p.protocol, p.host_ip)))

    def _dynamic_port(self, host_ip: str, protocol: str) -> int:
        span = LAST_DYNAMIC_PORT - FIRST_DYNAMIC_PORT + 1
        for _ in range(span):
            candidate = self._next_dynamic_port
            self._next_dynamic_port = FIRST_DYNAMIC_PORT + (candidate + 1 - FIRST_DYNAMIC_PORT) % span
            if (host_ip, protocol, candidate) not in self._host_ports_in_use:
                return candidate
        raise ContainerStartFailed("no free host port in the ephemeral range")

    def _allocate_address(self) -> int:
        if self._free_addresses:
            return heapq.heappop(self._free_addresses)
        address = self._next_address
        self._next_address += 1
        if self._next_address % 256 == 255:  # no .255 nor .0 host octets
            self._next_address += 2
        if self._next_address >= 1 << 24:
            raise ContainerStartFailed("the simulated 10.0.0.0/8 pool is exhausted")
        return address

    def _release(self, container: _Container) -> None:
        self._host_ports_in_use.difference_update(
            (p.host_ip, p.protocol, p.host_port) for p in container.ports
        )
        if container.address is not None:
            heapq.heappush(self._free_addresses, container.address)
        container.address = None

    @staticmethod
    def _ip_address(container: _Container) -> str | None:
        address = container.address
        if address is None:
            return None
        return f"10.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}"

    def _state(self, container: _Container) -> ContainerState:
        running = container.status == "running"
        return ContainerState(
            id=container.id,
            name=container.spec.name,
            image=container.spec.image,
            labels=dict(container.spec.labels),
            status=container.status,
            exit_code=container.exit_code,
            error=container.error,
            oom_killed=container.oom_killed,
            started_at=container.started_at,
            finished_at=container.finished_at,
            health=container.health,
            ip_address=self._ip_address(container) if running else None,
            ports=container.ports if running else (),
            image_id=container.image_id,
            pid=container.pid,
        )


def _signal_number(name: str) -> int:
    """``"SIGTERM"``, ``"TERM"`` or ``"15"`` → 15."""
    if name.isdigit():
        return int(name)
    upper = name.upper()
    try:
        return int(signals.Signals[upper if upper.startswith("SIG") else "SIG" + upper])
    except KeyError:
        raise RuntimeFailure(f"invalid signal: {name}") from None
