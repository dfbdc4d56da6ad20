"""The CloudWatch metric operations: the table of operation name → handler that
:func:`ecsbox.metrics.register` hands to the wire layer's registry."""

from __future__ import annotations

from ecsbox.core.clock import Clock
from ecsbox.metrics.handling import Deps, Handler
from ecsbox.metrics.listing_ops import ListMetrics
from ecsbox.metrics.metric_data_ops import GetMetricData
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.metrics.put_ops import PutMetricData
from ecsbox.metrics.statistics_ops import GetMetricStatistics
from ecsbox.store import Store


def metric_operations(store: Store, clock: Clock, metrics: MetricStore | None = None) -> dict[str, Handler]:
    """PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics, bound to their dependencies
    (``metrics``: the MetricStore to share with the rest of ecsbox; a new one when omitted)."""
    deps = Deps(store=store, clock=clock, metrics=metrics or MetricStore(store, clock))
    return {
        "PutMetricData": PutMetricData(deps).put,
        "GetMetricStatistics": GetMetricStatistics(deps).get,
        "GetMetricData": GetMetricData(deps).get,
        "ListMetrics": ListMetrics(deps).list_metrics,
    }
