"""The composition root: builds the store, clock, bus and wire; mounts every capability; serves.

Nothing imports this module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import botocore
import uvicorn
from sqlalchemy import select

from ecsbox import __version__, ecr, ecs, logs, metrics, notify
from ecsbox.app_monitoring import Monitoring, alarm_reader, build_monitoring, log_metric_sink
from ecsbox.asgi import EcsboxAsgi
from ecsbox.aws import SERVICES, Gateway, ServiceRegistry
from ecsbox.aws.sigv4 import Authenticator, parse_access_keys
from ecsbox.config import Settings
from ecsbox.console import OperatorEndpoints
from ecsbox.core.bus import Bus
from ecsbox.core.clock import ScaledClock
from ecsbox.core.lag import LoopLagMonitor
from ecsbox.ecs.container_listener import ContainerEndpoints, load_key
from ecsbox.ecs.local_instance import Machine
from ecsbox.ecs.prune import prune, stop_all_tasks
from ecsbox.ecs.spot import interrupt_spot_task
from ecsbox.runtime import Runtime, RuntimeFailure
from ecsbox.secrets import register as register_secrets
from ecsbox.secrets import resolve_secret_reference
from ecsbox.store import Store, schema

log = logging.getLogger("ecsbox")

CLOCK_KEY = "clock_last_scaled"
FORWARD_KEY = "forward_port"  # the Forward receiver's port, kept for the containers across restarts
CLOCK_SAVE_EVERY_S = 1.0  # wall seconds between saves of the scaled clock's high-water mark


@dataclass
class Ecsbox:
    settings: Settings
    store: Store
    clock: ScaledClock
    bus: Bus
    registry: ServiceRegistry
    asgi: EcsboxAsgi
    lag: LoopLagMonitor
    agent: ecs.TaskAgent
    scheduler: ecs.ServiceScheduler
    server_id: str
    containers: ContainerEndpoints | None = None
    addresses: ecr.RegistryAddresses | None = None  # where each partition's ECR registry answers
    housekeeping: ecr.RegistryHousekeeping | None = None  # lifecycle policies, garbage collection
    log_ingest: logs.LogIngest | None = None  # container log paths write CloudWatch Logs events here
    logs_housekeeping: logs.LogsHousekeeping | None = None  # retention expiry, purges of deleted logs
    container_logs: logs.ContainerLogs | None = None  # awslogs containers' output, from Forward
    sns: notify.Sns | None = None  # SNS: the delivery worker, and the notifier for alarm actions
    monitoring: Monitoring | None = None  # metrics, the collector, alarms and their actions

    def health(self) -> dict[str, Any]:
        services = {}
        for name in SERVICES:
            implemented = len(self.registry.registered(name))
            services[name] = {
                "state": "running" if implemented else "not implemented",
                "operations": implemented,
            }
        return {
            "status": "running",
            "version": __version__,
            "botocore": botocore.__version__,
            "pid": os.getpid(),
            "time_scale": self.settings.time_scale,
            "clock": self.clock.now(),  # ecsbox's clock, epoch seconds (scaled by time_scale)
            "event_loop_lag": self.lag.summary(),
            "container_runtime": self.settings.runtime if self.agent.runtime is not None else "unavailable",
            "services": services,
        }

    def remember_clock(self) -> None:
        """Persist where the scaled clock is, at shutdown (the event loop has stopped)."""
        self.store.write_now(_save_clock(self.clock.now()))

    async def remember_clock_ahead(self) -> None:
        """Persist a point the scaled clock will not have passed before the next save, so even a
        kill -9 never lets a restart run the clock backwards (it may jump ahead by as much)."""
        ahead = CLOCK_SAVE_EVERY_S * 2 * self.settings.time_scale
        await self.store.write(_save_clock(self.clock.now() + ahead))


def _save_clock(value: float) -> Callable[[Any], None]:
    def save(conn: Any) -> None:
        updated = conn.execute(
            schema.meta.update().where(schema.meta.c.key == CLOCK_KEY).values(value=repr(value))
        ).rowcount
        if not updated:
            conn.execute(schema.meta.insert().values(key=CLOCK_KEY, value=repr(value)))

    return save


def _clock_origin(store: Store, wall_now: float) -> float:
    """Where the scaled clock starts: the wall time, or where it stopped last time if that is later."""
    row = store.read_now(
        lambda c: c.execute(select(schema.meta.c.value).where(schema.meta.c.key == CLOCK_KEY)).first()
    )
    return max(wall_now, float(row[0])) if row else wall_now


def build(settings: Settings) -> Ecsbox:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url)
    store.open()
    wall_now = time.time()
    clock = ScaledClock(_clock_origin(store, wall_now), wall_now, settings.time_scale)
    bus = Bus()
    registry = ServiceRegistry()
    server_id = _server_id(store)
    runtime = _make_runtime(settings, clock)
    # What the containers get (metadata, task-role credentials, the AWS endpoint): a listener of
    # their own, started in _serve before the agent runs.
    containers = ContainerEndpoints(store, registry, lambda: agent.runtime, load_key(store))
    addresses = ecr.RegistryAddresses(
        port=settings.port,
        default=(settings.default_account_id, settings.default_region),
        numbers=ecr.load_partition_numbers(store),
    )
    token_secret = ecr.load_secret(store)
    blobs = ecr.BlobStore(settings.data_dir / "registry")
    agent = ecs.TaskAgent(
        store,
        runtime,
        clock,
        bus,
        server_id,
        _pause_image_provider(runtime),
        base_environment=containers.task_environment,
        secret_resolver=lambda account_id, region, value_from: resolve_secret_reference(
            store, account_id, region, value_from, now=clock.now()
        ),
        image_resolver=ecr.ImageSource(addresses, lambda: token_secret, clock).resolve,
    )
    machine = _machine_provider(agent)
    scheduler = ecs.ServiceScheduler(
        store, clock, bus, agent.wake, machine, server_id, alarm_states=alarm_reader(store)
    )
    ecs.register(registry, store, clock, agent.wake, scheduler.wake, machine, server_id)
    register_secrets(registry, store, clock)
    ecr.register(registry, store, clock, addresses, blobs)
    metric_store = metrics.register(registry, store, clock)
    metric_sink = log_metric_sink(metric_store)
    logs.register(registry, store, clock, metric_sink)
    sns = notify.register(  # SNS: owned by the notify work
        registry,
        store,
        clock,
        endpoint_url=lambda: f"http://{settings.host}:{box.asgi.port or settings.port}",
        mailbox_dir=settings.data_dir / "mailboxes",
    )
    log_ingest = logs.LogIngest(store, clock, metric_sink)
    monitoring = build_monitoring(
        settings,
        store,
        clock,
        metric_store,
        lambda: agent.runtime,
        machine,
        server_id,
        log_ingest,
        sns.notifier,
    )
    housekeeping = ecr.RegistryHousekeeping(
        store, clock, blobs, settings.time_scale, settings.registry_gc_grace_s
    )
    authenticator = Authenticator(
        settings.default_account_id,
        settings.default_region,
        parse_access_keys(settings.access_keys, settings.default_account_id),
    )
    gateway = Gateway(registry, authenticator)
    box: Ecsbox
    operator = OperatorEndpoints(
        health=lambda: box.health(),
        reset=_resetter(store, agent) if settings.allow_reset else None,
        actions={
            "tasks/prune": lambda _body: prune(store, agent.runtime, server_id),
            "tasks/interrupt": lambda body: interrupt_spot_task(store, agent.wake, _task_arn(body)),
            "tasks/stop-all": lambda _body: stop_all_tasks(store, agent.wake, scheduler.pause, clock.wall),
            "ecr/lifecycle": lambda _body: _report(housekeeping.apply_lifecycle(every_repository=True)),
            "ecr/gc": lambda _body: _report(housekeeping.collect_garbage()),
            "metrics/top": monitoring.top,
        },
    )
    oci = ecr.Registry(store, clock, blobs, addresses, lambda: token_secret)
    asgi = EcsboxAsgi(gateway.handle, sns.serve_certificate(operator), settings.allowed_hosts, registry=oci)
    box = Ecsbox(
        settings, store, clock, bus, registry, asgi, LoopLagMonitor(), agent, scheduler, server_id, containers
    )
    box.addresses = addresses
    box.housekeeping = housekeeping
    box.log_ingest = log_ingest
    box.logs_housekeeping = logs.LogsHousekeeping(store, clock, settings.time_scale)
    box.sns = sns
    box.container_logs = logs.ContainerLogs(
        box.log_ingest,
        firelens_source=agent.firelens_setup_of,
        firelens_files=settings.data_dir / "firelens",
    )
    agent.log_preparer = box.container_logs.prepare
    agent.firelens_check = box.container_logs.check_firelens
    box.monitoring = monitoring
    return box


async def _report(work: Awaitable[ecr.HousekeepingReport]) -> dict[str, Any]:
    return dataclasses.asdict(await work)


def _machine_provider(agent: ecs.TaskAgent) -> Callable[[], Awaitable[Machine | None]]:
    """This machine's size as the container engine reports it (asked once): the local container
    instance every cluster has. None while no engine answers."""
    known: list[Machine] = []

    async def machine() -> Machine | None:
        if known:
            return known[0]
        if agent.runtime is None:
            return None
        try:
            info = await agent.runtime.info()
        except RuntimeFailure:
            return None
        known.append(Machine(info.cpus, info.memory_bytes, info.architecture))
        return known[0]

    return machine


def _task_arn(body: dict[str, Any]) -> str:
    task_arn = body.get("task")
    if not isinstance(task_arn, str) or not task_arn.startswith("arn:aws:ecs:"):
        raise ValueError('send {"task": "<task ARN>"}')
    return task_arn


def _server_id(store: Store) -> str:
    """This data directory's server id, made on first use: it labels every container ecsbox starts."""
    key = "server_id"
    row = store.read_now(
        lambda c: c.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).first()
    )
    if row:
        return str(row[0])
    server_id = secrets.token_hex(16)
    store.write_now(lambda c: c.execute(schema.meta.insert().values(key=key, value=server_id)))
    return server_id


def _make_runtime(settings: Settings, clock: ScaledClock) -> Runtime | None:
    if settings.runtime == "none":
        return None
    if settings.runtime == "simulated":
        from ecsbox.runtime.simulated import SimulatedRuntime

        return SimulatedRuntime(clock)
    from ecsbox.runtime.docker import DockerRuntime

    return DockerRuntime(max_workers=24)


def _pause_image_provider(runtime: Runtime | None) -> Callable[[], Awaitable[str]]:
    """The awsvpc pause image, built on the engine once and then remembered."""
    built: list[str] = []
    lock = asyncio.Lock()

    async def pause_image() -> str:
        if built:
            return built[0]
        async with lock:
            if not built:
                from ecsbox.runtime.docker import DockerRuntime
                from ecsbox.runtime.pause import ensure_pause_image

                built.append(
                    await ensure_pause_image(runtime) if isinstance(runtime, DockerRuntime) else "pause"
                )
        return built[0]

    return pause_image


def _resetter(store: Store, agent: ecs.TaskAgent) -> Callable[[], Awaitable[None]]:
    async def reset() -> None:
        await store.reset()
        await agent.remove_all_containers()

    return reset


def loopback_sockets(port: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1 and ::1 (the latter only where the host has IPv6)."""
    sockets = []
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address, port))
        except OSError as exc:
            sock.close()
            if family == socket.AF_INET:
                raise
            log.warning("event=ipv6_loopback_unavailable error=%s", exc)
            continue
        port = sock.getsockname()[1]  # port 0: the same free port on both families
        sock.listen(1024)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


class _QuietTlsProbes(logging.Filter):
    """The docker CLI tries HTTPS before plain HTTP at every registry login, push and pull; each
    TLS hello reaching ecsbox's plain-HTTP port is answered 400 and would log a warning. Those go
    to debug: they are expected, and a flood of them hides what matters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Invalid HTTP request received.":
            log.debug("event=invalid_http_request (a TLS client on the plain-HTTP port?)")
            return False
        return True


def partition_socket(address: str, port: int) -> socket.socket | None:
    """A listening socket on another partition's registry address (127.1.x.y, on loopback); None
    where the system does not answer that address (only Linux answers all of 127.0.0.0/8)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        log.warning("event=registry_address_unavailable address=%s error=%s", address, exc)
        return None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def serve(settings: Settings) -> None:
    """Run ecsbox in the foreground until SIGINT or SIGTERM."""
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    box = build(settings)
    sockets = loopback_sockets(settings.port)
    port = sockets[0].getsockname()[1]
    if box.addresses is not None:
        for address in box.addresses.addresses():
            extra = partition_socket(address, port)
            if extra is not None:
                sockets.append(extra)
    box.asgi.port = port
    if box.addresses is not None:
        box.addresses.port = port  # port 0 (tests): repository URIs carry the port actually bound
    pid_file = settings.pid_file
    pid_file.write_text(f"{os.getpid()}\n{port}\n")
    logging.getLogger("uvicorn.error").addFilter(_QuietTlsProbes())
    config = uvicorn.Config(
        box.asgi,
        loop="uvloop" if _has_uvloop() else "asyncio",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
    server = _Server(config)
    log.info("event=listening port=%s data_dir=%s version=%s", port, settings.data_dir, __version__)
    # A line a parent process can wait for (tests, benchmarks, `ecsbox up` users).
    print(f"ecsbox {__version__} ready on http://localhost:{port}", flush=True)
    try:
        if _has_uvloop():
            import uvloop

            uvloop.run(_serve(server, sockets, box))
        else:
            asyncio.run(_serve(server, sockets, box))
    finally:
        with suppress(Exception):
            box.remember_clock()
        box.store.close()
        with suppress(FileNotFoundError):
            pid_file.unlink()
        log.info("event=stopped")


async def _check_runtime(box: Ecsbox) -> None:
    """Tasks need a container engine; without one the control plane still serves, and tasks stop
    with the reason."""
    runtime = box.agent.runtime
    if runtime is None:
        return
    try:
        info = await runtime.info()
    except RuntimeFailure as exc:
        log.warning("event=no_container_engine error=%s", exc)
        box.agent.runtime = None
        return
    log.info("event=container_engine name=%s version=%s cpus=%s", info.name, info.version, info.cpus)


async def _start_forward(box: Ecsbox) -> logs.ForwardServer | None:
    """The Fluent Forward receiver for awslogs containers, on loopback (dockerd runs its fluentd
    log driver in the host's network namespace). A taken port falls back to any free one: only
    ecsbox hands the address out. Without it, awslogs containers log to json-file."""
    assert box.container_logs is not None
    # Running containers keep the address they were started with: the port used last time comes
    # before any other free one.
    before = box.store.read_now(
        lambda c: c.execute(select(schema.meta.c.value).where(schema.meta.c.key == FORWARD_KEY)).first()
    )
    previous = int(before[0]) if before else 0
    for port in dict.fromkeys([p for p in (box.settings.forward_port, previous) if p] + [0]):
        forward = logs.ForwardServer(box.container_logs.handle, "127.0.0.1", port)
        try:
            await forward.start()
        except OSError as exc:
            log.warning("event=forward_port_unavailable port=%s error=%s", port, exc)
            continue
        address = f"127.0.0.1:{forward.port}"
        box.agent.log_forward = functools.partial(str, address)
        if previous != forward.port:
            await box.store.write(functools.partial(_set_meta, key=FORWARD_KEY, value=str(forward.port)))
        log.info("event=forward_listening address=%s", address)
        return forward
    return None


def _set_meta(conn: Any, key: str, value: str) -> None:
    if not conn.execute(schema.meta.update().where(schema.meta.c.key == key).values(value=value)).rowcount:
        conn.execute(schema.meta.insert().values(key=key, value=value))


async def _start_container_listener(box: Ecsbox) -> None:
    """The containers' own listener (DESIGN.md, Security). ``ECSBOX_CONTAINER_PORT`` picks its port
    (0: any free one); ``ECSBOX_CONTAINER_LINK_LOCAL=0`` keeps ecsbox off 169.254.170.2 (task-role
    credentials then go into the containers' environment)."""
    if box.containers is None or box.agent.runtime is None:
        return
    port = int(os.environ.get("ECSBOX_CONTAINER_PORT") or 0)
    link_local = os.environ.get("ECSBOX_CONTAINER_LINK_LOCAL", "1").strip().lower() not in {"0", "false"}
    try:
        await box.containers.start(box.agent.network, box.server_id, port, link_local)
    except OSError as exc:
        log.warning("event=container_listener_failed error=%s", exc)


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, which would end the process before
    ecsbox has closed its store; here a signal only asks the server to stop. It can also start
    listening on one more socket while it runs (a new partition's registry address)."""

    async def listen_on(self, sock: socket.socket) -> None:
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        loop = asyncio.get_running_loop()
        self.servers.append(await loop.create_server(create_protocol, sock=sock, backlog=config.backlog))

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


async def _serve(server: uvicorn.Server, sockets: list[socket.socket], box: Ecsbox) -> None:
    async def remember_clock_ahead() -> None:
        while True:
            await box.remember_clock_ahead()
            await asyncio.sleep(CLOCK_SAVE_EVERY_S)

    await _check_runtime(box)
    await _start_container_listener(box)
    tasks = [
        asyncio.create_task(remember_clock_ahead()),
        asyncio.create_task(box.lag.run()),
        asyncio.create_task(box.agent.run()),
        asyncio.create_task(box.scheduler.run()),
    ]
    if box.housekeeping is not None:
        tasks.append(asyncio.create_task(box.housekeeping.run()))
    if box.logs_housekeeping is not None:
        tasks.append(asyncio.create_task(box.logs_housekeeping.run()))
    if box.sns is not None:
        tasks.append(asyncio.create_task(box.sns.deliveries.run()))
    if box.monitoring is not None:
        tasks.extend(asyncio.create_task(work) for work in box.monitoring.background())
    forward = await _start_forward(box) if box.container_logs is not None else None
    if forward is not None and box.container_logs is not None:
        tasks.append(asyncio.create_task(box.container_logs.run()))
    if box.addresses is not None and isinstance(server, _Server):
        port = box.addresses.port
        listening: set[asyncio.Task[None]] = set()

        def listen(address: str) -> None:
            sock = partition_socket(address, port)
            if sock is not None:
                task = asyncio.get_running_loop().create_task(server.listen_on(sock))
                listening.add(task)
                task.add_done_callback(listening.discard)

        box.addresses.listen = listen
    try:
        await server.serve(sockets=sockets)
    finally:
        for task in tasks:
            task.cancel()
        if forward is not None:
            with suppress(Exception):
                await forward.close()
        if box.containers is not None:
            with suppress(Exception):
                await box.containers.stop()
        if box.agent.runtime is not None:
            # The task network goes with the server unless tasks still use it (they outlive a
            # stop, and the next start adopts them): Docker has room for only ~30 such networks.
            with suppress(Exception):
                await box.agent.runtime.remove_network(box.agent.network)
            with suppress(Exception):
                await box.agent.runtime.close()


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = ["Ecsbox", "build", "serve"]
