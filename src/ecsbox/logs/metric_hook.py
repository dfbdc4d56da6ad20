"""The hook through which stored log events reach CloudWatch metrics.

After a batch of events is committed (PutLogEvents, or :class:`ecsbox.logs.LogIngest` for the
container log paths), the :data:`MetricSink` the composition root wired in hears of it: the
partition, the log group, the events and the datapoints the group's metric filters make of them.
Logs owns the filters, so it computes those datapoints itself; what else the events carry
(embedded metric format) and where the datapoints go are the sink's business. The hook is plain
types, so logs imports nothing of metrics.

The filters are read in the transaction that stores the events (one indexed query per batch, so a
filter put or deleted a moment ago is seen at once, whichever ecsbox server wrote it); patterns
are compiled once per distinct pattern text. The sink runs after the commit: when it fails the
events stay stored and the failure is logged, as CloudWatch Logs keeps an event whose metric could
not be published.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from ecsbox.logs.group_repo import MetricFilterRow
from ecsbox.logs.metric_filter_ops import pattern_of
from ecsbox.logs.metric_filters import MetricDatum, Pattern, metric_data
from ecsbox.logs.model import LogsRuleError, Partition

log = logging.getLogger("ecsbox.logs.metrics")

Event = tuple[int, str]  # (timestamp ms, message)
# sink(partition, log group name, the events stored (as given), their metric filter datapoints)
MetricSink = Callable[[Partition, str, list[Event], list[MetricDatum]], Awaitable[None]]

_PATTERN_CACHE = 1024


@functools.lru_cache(maxsize=_PATTERN_CACHE)
def _compiled(text: str) -> Pattern | None:
    try:
        return pattern_of(text)
    except LogsRuleError:  # stored patterns were checked at PutMetricFilter; be safe anyway
        return None


def filter_data(filters: Sequence[MetricFilterRow], events: Sequence[Event]) -> list[MetricDatum]:
    """The datapoints ``filters`` (one log group's) make of ``events``, filter by filter, each
    filter's in event order."""
    found: list[MetricDatum] = []
    for row in filters:
        pattern = _compiled(row.pattern)
        if pattern is None:
            continue
        for timestamp_ms, message in events:
            found.extend(metric_data(pattern, row.transformations, message, timestamp_ms))
    return found


async def tell(
    sink: MetricSink | None,
    partition: Partition,
    group_name: str,
    events: Sequence[Event],
    filters: Sequence[MetricFilterRow],
) -> None:
    """Give the sink the committed ``events`` and their metric filter datapoints; never raises
    (the events are stored whatever the sink does)."""
    if sink is None or not events:
        return
    try:
        await sink(partition, group_name, list(events), filter_data(filters, events))
    except Exception:
        log.exception("event=log_metrics_failed group=%s events=%d", group_name, len(events))
