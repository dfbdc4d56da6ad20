"""The metrics collector: measures every container of every RUNNING task, as the ECS agent does,
and turns the measurements into CloudWatch datapoints and Container Insights performance events.

Each tick (every 20 s of ecsbox time at the default 60-second resolution; 5 s at 10, 1 s at 1):

1. reads what runs from ECS (a :class:`~ecsbox.core.monitoring.MonitoringSnapshot`);
2. samples every running container's cumulative counters (and each ``awsvpc`` task's pause
   container, whose network namespace is the task's): from the cgroup files where ecsbox runs
   beside the engine (every container in one thread hop), else from the runtime's ``stats``
   (concurrent, bounded). A container that vanished in between is skipped;
3. rates each container's use between this sample and the previous one, over the samples' own read
   times (wall time: a CPU second is a real second, whatever the clock's scale), and writes the
   free ``AWS/ECS`` datums stamped with the ecsbox clock — several samples per period, so
   SampleCount > 1, as on AWS;
4. once per period (the first tick of a new one), for clusters with Container Insights enabled:
   the ``ECS/ContainerInsights`` datums and the performance events over the period just ended,
   stamped with the new period's start, to ``/aws/ecs/containerinsights/<cluster>/performance``.

A task is measured once every container of it (and its pause container) has a previous sample, so
a task's first tick reads nothing rather than a partial figure. :meth:`Collector.latest` keeps the
latest figures per cluster, service and task for ``ecsbox top``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ecsbox.core.clock import Clock
from ecsbox.core.monitoring import MonitoringSnapshot, Partition, TaskInfo
from ecsbox.metrics.ecs_metrics import Utilization, ecs_metrics
from ecsbox.metrics.figures import Latest, latest_figures
from ecsbox.metrics.host_probe import HostProbe
from ecsbox.metrics.insights import insights_metrics
from ecsbox.metrics.instance_metrics import HostCounters, host_usage_between
from ecsbox.metrics.model import Datum, MetricWriter
from ecsbox.metrics.performance_events import performance_events
from ecsbox.metrics.usage import Counters, NetworkCounters, TaskUsage, Usage, task_usage, usage_between
from ecsbox.runtime.port import ContainerStats, Runtime, RuntimeFailure

log = logging.getLogger("ecsbox.metrics.collector")

RESOLUTIONS = (1, 10, 60)
SAMPLE_INTERVAL_S = {60: 20.0, 10: 5.0, 1: 1.0}  # ecsbox seconds between samples, per resolution
MIN_WALL_INTERVAL_S = 0.5  # never sample more often than this, whatever the time scale
POLL_S = 0.1  # how often run() looks at the (possibly scaled) clock between samples
DEFAULT_CONCURRENCY = 32  # runtime stats calls in flight at once

WriteLogs = Callable[[Partition, str, str, list[tuple[int, str]]], Awaitable[None]]


class UsageProbe(Protocol):
    """A fast, blocking reader of containers' counters (:class:`ecsbox.metrics.cgroups.CgroupReader`)."""

    def read_many(
        self, container_ids: Iterable[str], with_network: Iterable[str] = ()
    ) -> dict[str, ContainerStats]: ...


@dataclass(frozen=True)
class CollectReport:
    """What one tick did."""

    at: float  # ecsbox clock
    running_tasks: int
    containers: int  # containers (and pause containers) sampled
    from_probe: int  # read from the cgroup files
    from_runtime: int  # read through the runtime's stats
    skipped: int  # vanished or unreadable
    measured_tasks: int
    datums: int
    events: int
    insights_period: bool  # this tick reported a Container Insights period
    wall_seconds: float


@dataclass(frozen=True)
class _Sampled:
    counters: dict[str, Counters]
    host: HostCounters | None
    from_probe: int
    from_runtime: int


class Collector:
    def __init__(
        self,
        clock: Clock,
        snapshot: Callable[[], Awaitable[MonitoringSnapshot]],
        runtime_provider: Callable[[], Runtime | None],
        writer: MetricWriter,
        write_logs: WriteLogs,
        resolution_s: int = 60,
        host_probe: HostProbe | None = None,
        *,
        usage_probe: UsageProbe | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if resolution_s not in RESOLUTIONS:
            raise ValueError(f"metrics resolution must be one of {RESOLUTIONS}, not {resolution_s}")
        self.clock = clock
        self.snapshot = snapshot
        self.runtime_provider = runtime_provider
        self.writer = writer
        self.write_logs = write_logs
        self.resolution_s = resolution_s
        self.host_probe = host_probe
        self.usage_probe = usage_probe
        self.concurrency = max(1, concurrency)
        self._previous: dict[str, Counters] = {}  # container id → its last sample
        self._period_base: dict[str, Counters] = {}  # container id → its sample at the period's start
        self._period: int | None = None  # the Container Insights period being gathered
        self._host_base: HostCounters | None = None
        self._tasks: dict[str, TaskUsage] = {}  # task ARN → its latest measured use
        self._services: dict[tuple[Partition, str, str], tuple[Utilization | None, Utilization | None]] = {}
        self._clusters: dict[tuple[Partition, str], tuple[float | None, float | None]] = {}
        self._latest = Latest(None, resolution_s, ())

    @property
    def storage_resolution(self) -> int:
        """What the datums are stored at: 1 (high resolution) below a minute, else 60."""
        return 1 if self.resolution_s < 60 else 60

    @property
    def sample_interval_s(self) -> float:
        return SAMPLE_INTERVAL_S[self.resolution_s]

    def latest(self) -> Latest:
        """The latest figures per cluster, service and task (for ``ecsbox top``)."""
        return self._latest

    # ---- one tick ------------------------------------------------------------------------------

    async def collect_once(self, now: float | None = None) -> CollectReport:
        started = self.clock.wall()
        now = self.clock.now() if now is None else now
        snapshot = await self.snapshot()
        running = snapshot.running_tasks()
        wanted, with_network = _containers_to_sample(running)
        sampled = await self._sample(wanted, with_network)
        counters = sampled.counters

        measured = _measure(running, counters, self._previous)
        self._previous = counters
        figures = ecs_metrics(snapshot, measured, now, self.storage_resolution)
        data: dict[Partition, list[Datum]] = defaultdict(list)
        for partition, datums in figures.data.items():
            data[partition].extend(datums)

        events = 0
        period = math.floor(now / self.resolution_s)
        reported = self._period is not None and period > self._period
        if reported:
            period_measured = _measure(running, counters, self._period_base)
            period_host = (
                host_usage_between(self._host_base, sampled.host)
                if self._host_base is not None and sampled.host is not None
                else None
            )
            stamp = float(period * self.resolution_s)
            for partition, datums in insights_metrics(
                snapshot, period_measured, stamp, self.storage_resolution, period_host
            ).items():
                data[partition].extend(datums)
            events = await self._write_events(
                performance_events(snapshot, period_measured, stamp, period_host)
            )
        if self._period is None or reported:
            self._period = period
            self._period_base = dict(counters)
            self._host_base = sampled.host
        else:  # a container first seen mid-period is measured from its first sample
            self._period_base = {c: self._period_base.get(c, counters[c]) for c in counters}
            if self._host_base is None:
                self._host_base = sampled.host

        written = await self._write_data(data)
        self._remember(snapshot, measured, figures.services, figures.clusters, now)
        return CollectReport(
            at=now,
            running_tasks=len(running),
            containers=len(wanted),
            from_probe=sampled.from_probe,
            from_runtime=sampled.from_runtime,
            skipped=len(wanted) - len(counters),
            measured_tasks=len(measured),
            datums=written,
            events=events,
            insights_period=reported,
            wall_seconds=self.clock.wall() - started,
        )

    async def run(self) -> None:
        """Collect every sample interval of ecsbox time until cancelled (a failed tick is logged and
        the next one runs); never more often than every half second of wall time."""
        while True:
            begun, due = self.clock.wall(), self.clock.now() + self.sample_interval_s
            try:
                await self.collect_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=metrics_collect_failed")
            while self.clock.now() < due or self.clock.wall() - begun < MIN_WALL_INTERVAL_S:
                await asyncio.sleep(POLL_S)

    # ---- sampling ------------------------------------------------------------------------------

    async def _sample(self, container_ids: Sequence[str], with_network: set[str]) -> _Sampled:
        found: dict[str, ContainerStats] = {}
        host: HostCounters | None = None
        probe, host_probe = self.usage_probe, self.host_probe
        if probe is not None or host_probe is not None:

            def blocking() -> tuple[dict[str, ContainerStats], HostCounters | None]:
                read: dict[str, ContainerStats] = {}
                if probe is not None:
                    try:
                        read = probe.read_many(container_ids, with_network)
                    except OSError as error:
                        log.debug("event=cgroup_read_failed error=%s", error)
                return read, host_probe.sample() if host_probe is not None else None

            found, host = await asyncio.to_thread(blocking)
        from_probe = len(found)
        missing = [c for c in container_ids if c not in found]
        runtime = self.runtime_provider()
        if missing and runtime is not None:
            found.update(await self._runtime_stats(runtime, missing))
        counters = {c: _counters(stats, c in with_network) for c, stats in found.items()}
        return _Sampled(counters, host, from_probe, len(found) - from_probe)

    async def _runtime_stats(self, runtime: Runtime, container_ids: list[str]) -> dict[str, ContainerStats]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(container_id: str) -> tuple[str, ContainerStats | None]:
            async with gate:
                try:
                    return container_id, await runtime.stats(container_id)
                except RuntimeFailure as error:  # gone, or the engine is away: skipped this time
                    log.debug("event=container_stats_failed container=%s error=%s", container_id[:12], error)
                    return container_id, None

        answers = await asyncio.gather(*(one(c) for c in container_ids))
        return {c: stats for c, stats in answers if stats is not None}

    # ---- writing -------------------------------------------------------------------------------

    async def _write_data(self, data: dict[Partition, list[Datum]]) -> int:
        written = 0
        for partition, datums in data.items():
            if not datums:
                continue
            try:
                await self.writer.put(partition, datums)
                written += len(datums)
            except Exception as error:
                log.warning("event=metrics_write_failed partition=%s/%s error=%s", *partition, error)
        return written

    async def _write_events(self, events: dict[tuple[Partition, str, str], list[tuple[int, str]]]) -> int:
        written = 0
        for (partition, group, stream), batch in events.items():
            try:
                await self.write_logs(partition, group, stream, batch)
                written += len(batch)
            except Exception as error:
                log.warning(
                    "event=performance_log_write_failed group=%s stream=%s error=%s", group, stream, error
                )
        return written

    def _remember(
        self,
        snapshot: MonitoringSnapshot,
        measured: dict[str, TaskUsage],
        services: dict[tuple[Partition, str, str], tuple[Utilization | None, Utilization | None]],
        clusters: dict[tuple[Partition, str], tuple[float | None, float | None]],
        now: float,
    ) -> None:
        live = {t.task_arn for t in snapshot.tasks}
        self._tasks = {arn: used for arn, used in {**self._tasks, **measured}.items() if arn in live}
        live_services = {(s.partition, s.cluster, s.service_name) for s in snapshot.services}
        self._services = {k: v for k, v in {**self._services, **services}.items() if k in live_services}
        live_clusters = {(c.partition, c.name) for c in snapshot.clusters}
        self._clusters = {k: v for k, v in {**self._clusters, **clusters}.items() if k in live_clusters}
        self._latest = latest_figures(
            snapshot, self._tasks, self._services, self._clusters, now, self.resolution_s
        )


def _containers_to_sample(running: Iterable[TaskInfo]) -> tuple[list[str], set[str]]:
    """The runtime ids to sample, and those whose network namespace is counted: a ``bridge``
    container's own, an ``awsvpc`` task's pause container's (shared by the task, read once)."""
    wanted: list[str] = []
    with_network: set[str] = set()
    for task in running:
        for container in task.containers:
            if container.runtime_id and container.known_status == "RUNNING":
                wanted.append(container.runtime_id)
                if task.network_mode == "bridge":
                    with_network.add(container.runtime_id)
        if task.network_mode == "awsvpc" and task.pause_runtime_id:
            wanted.append(task.pause_runtime_id)
            with_network.add(task.pause_runtime_id)
    return wanted, with_network


def _counters(stats: ContainerStats, with_network: bool) -> Counters:
    network = None
    if with_network:
        network = NetworkCounters(
            stats.network_rx_bytes,
            stats.network_tx_bytes,
            stats.network_rx_packets,
            stats.network_tx_packets,
            stats.network_rx_dropped,
            stats.network_tx_dropped,
            stats.network_rx_errors,
            stats.network_tx_errors,
        )
    return Counters(
        read_at=stats.read_at,
        cpu_ns=stats.cpu_total_ns,
        memory_bytes=stats.memory_usage_bytes,
        block_read_bytes=stats.block_read_bytes,
        block_write_bytes=stats.block_write_bytes,
        network=network,
    )


def _measure(
    running: Iterable[TaskInfo], now: dict[str, Counters], before: dict[str, Counters]
) -> dict[str, TaskUsage]:
    """Each running task's use between ``before`` and ``now``, by task ARN: the tasks every sampled
    container of which (pause included) has both samples."""
    measured = {}
    for task in running:
        containers: dict[str, Usage] = {}
        complete = True
        for container in task.containers:
            if not container.runtime_id or container.runtime_id not in now:
                continue  # not running, or vanished: skipped
            used = _between(before, now, container.runtime_id)
            if used is None:
                complete = False
            else:
                containers[container.name] = used
        pause = None
        if task.network_mode == "awsvpc" and task.pause_runtime_id and task.pause_runtime_id in now:
            pause = _between(before, now, task.pause_runtime_id)
            complete = complete and pause is not None
        if complete and containers:
            used_task = task_usage(task, containers, pause)
            if used_task is not None:
                measured[task.task_arn] = used_task
    return measured


def _between(before: dict[str, Counters], now: dict[str, Counters], container_id: str) -> Usage | None:
    earlier = before.get(container_id)
    return usage_between(earlier, now[container_id]) if earlier is not None else None
