"""Part of the composition root: how monitoring joins the capabilities, which do not import each
other. The collector measures ECS's tasks and writes CloudWatch metrics and Container Insights'
performance events into CloudWatch Logs; alarms read the metrics and publish to SNS; ECS
deployments read alarm states; log events become metrics (metric filters, embedded metric format);
``ecsbox top`` reads the collector's latest figures.

Only :mod:`ecsbox.app` imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsbox import ecs, logs, metrics, notify
from ecsbox.config import Settings
from ecsbox.core.clock import Clock
from ecsbox.ecs.local_instance import Machine
from ecsbox.runtime import Runtime
from ecsbox.store import Store

Partition = tuple[str, str]
PERFORMANCE_RETENTION_DAYS = 1  # /aws/ecs/containerinsights/<cluster>/performance, when ecsbox creates it


@dataclass
class Monitoring:
    metric_store: metrics.MetricStore
    housekeeping: metrics.MetricsHousekeeping  # roll-up and retention of datapoints
    evaluator: metrics.AlarmEvaluator
    actions: metrics.AlarmActions  # alarm actions: SNS notifications, scaling events
    collector: metrics.Collector | None  # None without a container runtime

    def background(self) -> list[Coroutine[Any, Any, None]]:
        """What runs beside the server for as long as it serves."""
        work = [self.housekeeping.run(), self.evaluator.run(), self.actions.run()]
        if self.collector is not None:
            work.append(self.collector.run())
        return work

    async def top(self, _body: dict[str, Any]) -> dict[str, Any]:
        """``POST /_ecsbox/metrics/top``: the collector's latest figures (``ecsbox top``)."""
        if self.collector is None:
            return {"clock": None, "resolution": None, "clusters": []}
        return self.collector.latest().document()


def log_metric_sink(metric_store: metrics.MetricStore) -> logs.MetricSink:
    """Log events, once stored, become datapoints: their metric filters' and their embedded
    metric format's."""

    async def sink(partition: Partition, group: str, events: list[Any], filter_data: list[Any]) -> None:
        await metrics.write_log_metrics(metric_store, partition, events, filter_data)

    return sink


def alarm_reader(
    store: Store,
) -> Callable[[Partition, tuple[str, ...]], Awaitable[Mapping[str, ecs.AlarmReading]]]:
    """ECS deployment alarms: each named alarm's state and how long it takes to judge."""

    async def read(partition: Partition, names: tuple[str, ...]) -> Mapping[str, ecs.AlarmReading]:
        found = await metrics.alarm_states(store, partition, names)
        return {name: ecs.AlarmReading(state, evaluation_s) for name, (state, evaluation_s) in found.items()}

    return read


def build_monitoring(
    settings: Settings,
    store: Store,
    clock: Clock,
    metric_store: metrics.MetricStore,
    runtime_provider: Callable[[], Runtime | None],
    machine: Callable[[], Awaitable[Machine | None]],
    server_id: str,
    log_ingest: logs.LogIngest,
    notifier: notify.Notifier,
) -> Monitoring:
    async def publish(partition: Partition, topic_arn: str, subject: str, message: str) -> None:
        # SNS takes subjects of up to 100 characters; a long alarm name's subject is cut there.
        await notifier.publish(partition, topic_arn, subject[:100], message)

    async def snapshot() -> Any:
        return await ecs.monitoring_snapshot(store, await machine(), server_id)

    async def write_logs(
        partition: Partition, group: str, stream: str, events: Sequence[tuple[int, str]]
    ) -> None:
        # As ECS creates the performance log group for Container Insights: its events kept one day.
        await log_ingest.deliver(
            partition,
            group,
            stream,
            events,
            create_group=True,
            new_group_retention_days=PERFORMANCE_RETENTION_DAYS,
        )

    collector = None
    if settings.runtime != "none":
        collector = metrics.Collector(
            clock,
            snapshot,
            runtime_provider,
            metric_store,
            write_logs,
            settings.metrics_resolution,
            metrics.LinuxHostProbe() if os.path.isdir("/proc") else None,
            usage_probe=_usage_probe(settings),
        )
    return Monitoring(
        metric_store=metric_store,
        housekeeping=metrics.MetricsHousekeeping(store, clock, settings.time_scale),
        evaluator=metrics.AlarmEvaluator(store, clock, metric_store, time_scale=settings.time_scale),
        actions=metrics.AlarmActions(store, clock, publish),
        collector=collector,
    )


def _usage_probe(settings: Settings) -> metrics.CgroupReader | None:
    """The cgroup files of a Docker engine on this machine (the fast path); the engine's stats API
    otherwise (a remote engine, the simulated runtime)."""
    if settings.runtime != "docker":
        return None
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host and not docker_host.startswith("unix://"):
        return None
    return metrics.CgroupReader.detect()
