"""Container output arriving over Fluent Forward, delivered where its task definition says.

Docker's fluentd driver sends each record with the tag the ECS agent gave the container, which
carries the destination (:mod:`ecsbox.core.log_routes`). ``awsfirelens`` records go through their
task's FireLens router (:mod:`ecsbox.logs.firelens`), built from the setup ECS derives from the
task definition and the router image. ``awslogs`` records go to their group and
stream — the stream ``<prefix>/<container>/<task id>``, or the container's id without a prefix —
in the task's account and the ``awslogs-region``; with a multiline pattern, continuation lines join
the event before them. The receiver acknowledges a chunk only after :meth:`ContainerLogs.handle`
returns, and that returns only after the events are committed.

A multiline event still open (it may get more lines) is held in memory until its next first line
or :data:`MULTILINE_FLUSH_S` of quiet; those lines are acknowledged before they are stored.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from ecsbox.core.log_routes import LogRoute, decode_route
from ecsbox.logs.firelens import FireLensConfigError, firelens_tag, parse_fluent_bit_config
from ecsbox.logs.firelens_outputs import OutputFactory, Router, build_router
from ecsbox.logs.ingest import LogIngest
from ecsbox.logs.model import STREAM_NOT_FOUND, LogsRuleError
from ecsbox.logs.multiline import first_line_test, join_lines

log = logging.getLogger("ecsbox.logs.containers")

MULTILINE_FLUSH_S = 1.0

Entry = tuple[float, dict[str, Any]]
StreamKey = tuple[str, str, str, str, str]  # account, region, group, stream, tag


def _loopback_only(host: str, port: int) -> tuple[str, int]:
    """A FireLens http output may reach this machine's loopback only (ecsbox routes on the host)."""
    name = host.strip("[]").lower()
    try:
        loopback = name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise FireLensConfigError(f"http output host {host} is not reachable from ecsbox (loopback only)")
    return host, port


def _stream_of(route: LogRoute, record: dict[str, Any]) -> str:
    return route.stream or str(record.get("container_id") or route.container)


def _message(record: dict[str, Any]) -> str:
    value = record.get("log", "")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# (partition, task id) → the task's FireLens setup (ecsbox.ecs.taskspec.firelens_setup plus the
# router image's "extra_config"), or None for a task without a router.
FireLensSource = Callable[[tuple[str, str], str], Awaitable[dict[str, Any] | None]]
ROUTERS_KEPT = 1000


class ContainerLogs:
    def __init__(
        self,
        ingest: LogIngest,
        wall: Callable[[], float] = time.time,
        firelens_source: FireLensSource | None = None,
        firelens_files: Path | None = None,
    ) -> None:
        self.ingest = ingest
        self.wall = wall
        self.firelens_source = firelens_source
        self.firelens_files = firelens_files  # where FireLens file outputs write, one folder a task
        self._starts: dict[str, Callable[[str], bool] | None] = {}
        self._pending: dict[StreamKey, tuple[tuple[int, str], float, LogRoute]] = {}
        self._warned: set[str] = set()
        self._routers: dict[tuple[str, str, str], Router] = {}

    # ---- FireLens ----------------------------------------------------------------------------

    def firelens_router(self, setup: dict[str, Any]) -> Router:
        """The task's router, as ECS's generated configuration plus the router image's own would
        route; FireLensConfigError with the reason for what ecsbox cannot run."""
        router = setup["router"]
        if router.get("type", "fluentbit") != "fluentbit":
            raise FireLensConfigError(
                f"firelensConfiguration type {router['type']} is not available in ecsbox (use fluentbit)"
            )
        extra = setup.get("extra_config")
        config = parse_fluent_bit_config(extra) if extra else None
        account = setup["account_id"]

        async def deliver(
            region: str, group: str, stream: str, events: Sequence[tuple[int, str]], create_group: bool
        ) -> None:
            await self.ingest.deliver(
                (account, region or setup["region"]), group, stream, events, create_group=create_group
            )

        outputs = OutputFactory(
            deliver, host_path=self._host_path(setup["task_id"]), http_address=_loopback_only
        )
        return build_router(setup["containers"], router["options"], config, setup["metadata"], outputs)

    async def check_firelens(self, setup: dict[str, Any]) -> None:
        """Before a FireLens task starts: ValueError with the reason when ecsbox cannot route it."""
        try:
            self.firelens_router(setup)
        except FireLensConfigError as exc:
            raise ValueError(str(exc)) from exc

    def _host_path(self, task_id: str) -> Callable[[str], Path]:
        base = (self.firelens_files or Path(tempfile.gettempdir()) / "ecsbox-firelens") / task_id

        def host_path(path: str) -> Path:
            target = (base / path.lstrip("/")).resolve()
            if base.resolve() not in (target, *target.parents):
                raise FireLensConfigError(f"file output path {path} leaves the router's files")
            return target

        return host_path

    async def _firelens(self, route: LogRoute, entries: list[Entry]) -> None:
        key = (route.account_id, route.region, route.task_id)
        router = self._routers.get(key)
        if router is None:
            if self.firelens_source is None:
                self._warn_once(route.task_id, "event=firelens_unrouted task=%s")
                return
            setup = await self.firelens_source((route.account_id, route.region), route.task_id)
            if setup is None:
                self._warn_once(route.task_id, "event=firelens_no_router task=%s")
                return
            try:
                router = self.firelens_router(setup)
            except (FireLensConfigError, ValueError) as exc:
                self._warn_once(route.task_id, "event=firelens_refused task=%s reason=%s", route.task_id, exc)
                return
            if len(self._routers) >= ROUTERS_KEPT:
                self._routers.pop(next(iter(self._routers)))
            self._routers[key] = router
        await router.handle(firelens_tag(route.container, route.task_id), entries)

    async def handle(self, tag: str, entries: list[Entry]) -> None:
        """Store one chunk of records (the receiver acknowledges it when this returns)."""
        route = decode_route(tag)
        if route is None:
            self._warn_once(tag, "event=container_logs_unknown_tag tag=%s")
            return
        if route.kind == "firelens":
            await self._firelens(route, entries)
            return
        if route.kind != "awslogs":
            self._warn_once(tag, "event=container_logs_unsupported kind=%s", route.kind)
            return
        by_stream: dict[str, list[tuple[int, str]]] = {}
        for timestamp, record in entries:
            by_stream.setdefault(_stream_of(route, record), []).append(
                (int(timestamp * 1000), _message(record))
            )
        for stream, lines in by_stream.items():
            await self._deliver(route, tag, stream, lines)

    async def _deliver(self, route: LogRoute, tag: str, stream: str, lines: list[tuple[int, str]]) -> None:
        starts = self._starts.get(tag, ...)
        if starts is ...:
            starts = self._starts[tag] = first_line_test(route.options)
        events = lines
        if starts is not None:
            key: StreamKey = (route.account_id, route.region, route.group, stream, tag)
            held = self._pending.pop(key, None)
            events, still_open = join_lines(lines, starts, held[0] if held else None)
            if still_open is not None:
                self._pending[key] = (still_open, self.wall(), route)
        if events:
            await self._store(route, stream, events)

    async def _store(self, route: LogRoute, stream: str, events: list[tuple[int, str]]) -> None:
        try:
            await self.ingest.deliver(
                (route.account_id, route.region),
                route.group,
                stream,
                events,
                create_group=route.options.get("awslogs-create-group", "").lower() == "true",
            )
        except LogsRuleError as refused:
            # As the awslogs driver does when its group is gone: the lines are dropped, and said so.
            self._warn_once(
                f"{route.group}/{stream}",
                "event=container_logs_dropped group=%s stream=%s reason=%s",
                route.group,
                stream,
                refused.message,
            )

    async def prepare(self, route: LogRoute) -> None:
        """Before a container starts: its group exists (created with awslogs-create-group) and so
        does its stream when the name is known; LookupError with AWS's message otherwise."""
        try:
            await self.ingest.deliver(
                (route.account_id, route.region),
                route.group,
                route.stream or "",
                [],
                create_group=route.options.get("awslogs-create-group", "").lower() == "true",
                create_stream=bool(route.stream),
            )
        except LogsRuleError as refused:
            if refused.message == STREAM_NOT_FOUND and not route.stream:
                return  # no prefix: the stream is the container's id, made with its first line
            raise LookupError(f"{refused.code}: {refused.message}") from refused

    async def flush(self, quiet_s: float = MULTILINE_FLUSH_S) -> int:
        """Store the multiline events that have had no new line for ``quiet_s``; how many."""
        now = self.wall()
        due = [key for key, (_, since, _) in self._pending.items() if now - since >= quiet_s]
        for key in due:
            event, _, route = self._pending.pop(key)
            await self._store(route, key[3], [event])
        return len(due)

    async def run(self) -> None:
        """Forever: flush quiet multiline events."""
        while True:
            await asyncio.sleep(MULTILINE_FLUSH_S / 2)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=container_logs_flush_failed")

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args or (key,))
