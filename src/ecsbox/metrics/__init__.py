"""CloudWatch metrics and alarms: PutMetricData and the reads, the collector that measures the
tasks' containers, Container Insights, and alarms that act.

Other packages use only what is named here.
"""

from __future__ import annotations

from typing import Any


def register(registry: Any, store: Any, clock: Any) -> None:
    """Register every CloudWatch operation with the wire layer's registry."""
