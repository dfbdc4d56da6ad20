"""CloudWatch metrics and alarms: PutMetricData and the reads, the collector that measures the
tasks' containers, Container Insights, and alarms that act.

Other packages use only what is named here.
"""

from __future__ import annotations

from typing import Any


def register(registry: Any, store: Any, clock: Any) -> None:
    """Register every CloudWatch operation with the wire layer's registry."""
    import importlib

    # INTEGRATION SEAM (temporary, replaced when the parts land): the metric operations
    # (metrics.api.metric_operations) and the alarm operations (metrics.alarm_ops.alarm_operations)
    # are built in parallel; each is registered once its module exists.
    for module_name, factory in (
        ("ecsbox.metrics.api", "metric_operations"),
        ("ecsbox.metrics.alarm_ops", "alarm_operations"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for operation, handler in getattr(module, factory)(store, clock).items():
            registry.register("cloudwatch", operation, handler)
