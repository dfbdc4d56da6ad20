"""The CloudWatch Logs operations: the table of operation name → handler that
:func:`ecsbox.logs.register` hands to the wire layer's registry."""

from __future__ import annotations

from typing import Any, Protocol

from ecsbox.core.clock import Clock
from ecsbox.logs.events import LogEvents
from ecsbox.logs.groups import LogGroups
from ecsbox.logs.handling import Deps, Handler
from ecsbox.logs.metric_filter_ops import MetricFilters
from ecsbox.logs.metric_hook import MetricSink
from ecsbox.logs.search import Search
from ecsbox.logs.streams import LogStreams
from ecsbox.store import Store


class Registry(Protocol):
    def register(self, service: str, operation: str, handler: Any) -> None: ...


def logs_operations(store: Store, clock: Clock, metric_sink: MetricSink | None = None) -> dict[str, Handler]:
    """Every CloudWatch Logs operation ecsbox implements, bound to its dependencies.
    ``metric_sink`` hears of the events PutLogEvents stores (:mod:`ecsbox.logs.metric_hook`)."""
    deps = Deps(store=store, clock=clock, metric_sink=metric_sink)
    groups = LogGroups(deps)
    streams = LogStreams(deps)
    events = LogEvents(deps)
    search = Search(deps)
    filters = MetricFilters(deps)
    return {
        "CreateLogGroup": groups.create,
        "DescribeLogGroups": groups.describe,
        "DeleteLogGroup": groups.delete,
        "PutRetentionPolicy": groups.put_retention,
        "DeleteRetentionPolicy": groups.delete_retention,
        "PutLogGroupDeletionProtection": groups.put_deletion_protection,
        "TagResource": groups.tag_resource,
        "UntagResource": groups.untag_resource,
        "ListTagsForResource": groups.list_tags_for_resource,
        "TagLogGroup": groups.tag_log_group,
        "UntagLogGroup": groups.untag_log_group,
        "ListTagsLogGroup": groups.list_tags_log_group,
        "CreateLogStream": streams.create,
        "DescribeLogStreams": streams.describe,
        "DeleteLogStream": streams.delete,
        "PutLogEvents": events.put,
        "GetLogEvents": events.get,
        "FilterLogEvents": search.filter,
        "PutMetricFilter": filters.put,
        "DescribeMetricFilters": filters.describe,
        "DeleteMetricFilter": filters.delete,
        "TestMetricFilter": filters.test,
    }


def register(registry: Registry, store: Store, clock: Clock, metric_sink: MetricSink | None = None) -> None:
    """Register every CloudWatch Logs operation with the wire layer's registry."""
    for operation, handler in logs_operations(store, clock, metric_sink).items():
        registry.register("logs", operation, handler)
