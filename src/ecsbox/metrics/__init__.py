"""CloudWatch metrics and alarms: PutMetricData and the reads, the collector that measures the
tasks' containers, Container Insights, and alarms that act.

Other packages use only what is named here: :func:`register` (the composition root) with the
:class:`MetricStore` it shares; the background work the composition root runs
(:class:`MetricsHousekeeping`, :class:`AlarmEvaluator`, :class:`AlarmActions`, :class:`Collector`
with its probes); :func:`write_log_metrics` (datapoints from log events: metric filters and the
embedded metric format) and :func:`alarm_states` (ECS deployment alarms read alarm states).
"""

from __future__ import annotations

from typing import Any

from ecsbox.core.clock import Clock
from ecsbox.metrics.alarm_actions import AlarmActions
from ecsbox.metrics.alarm_describe import alarm_states
from ecsbox.metrics.alarm_evaluator import AlarmEvaluator
from ecsbox.metrics.alarm_ops import alarm_operations
from ecsbox.metrics.api import metric_operations
from ecsbox.metrics.cgroups import CgroupReader
from ecsbox.metrics.collector import Collector
from ecsbox.metrics.from_logs import write_log_metrics
from ecsbox.metrics.host_probe import LinuxHostProbe
from ecsbox.metrics.housekeeping import MetricsHousekeeping, MetricsHousekeepingReport
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.store import Store

__all__ = [
    "AlarmActions",
    "AlarmEvaluator",
    "CgroupReader",
    "Collector",
    "LinuxHostProbe",
    "MetricStore",
    "MetricsHousekeeping",
    "MetricsHousekeepingReport",
    "alarm_states",
    "register",
    "write_log_metrics",
]


def register(
    registry: Any, store: Store, clock: Clock, metric_store: MetricStore | None = None
) -> MetricStore:
    """Register every CloudWatch operation (metrics and alarms) with the wire layer's registry;
    returns the :class:`MetricStore` they share (the given one, or a new one)."""
    shared = metric_store or MetricStore(store, clock)
    operations = {**metric_operations(store, clock, shared), **alarm_operations(store, clock)}
    for operation, handler in operations.items():
        registry.register("cloudwatch", operation, handler)
    return shared
