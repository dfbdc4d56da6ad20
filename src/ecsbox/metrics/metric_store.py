"""Where CloudWatch datapoints live: :class:`MetricStore` writes them (the
:class:`~ecsbox.metrics.model.MetricWriter` the collector, metric filters, EMF and PutMetricData use)
and reads them back aggregated by period (the :class:`~ecsbox.metrics.model.MetricReader` alarms and
the read operations use).

A put is one write transaction: the series are found (ids cached per partition and metric, and checked
by the same statement that stamps their ``last_put``), then every point goes in with one
``executemany``. A read sums points per period in SQL and merges raw values (for percentiles) in Python
only when asked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from sqlalchemy import Connection

from ecsbox.core.clock import Clock
from ecsbox.metrics import metric_repo
from ecsbox.metrics.metric_repo import AggregateRow, PointRow
from ecsbox.metrics.model import Bucket, Datum, MetricId, Partition, ValueCounts
from ecsbox.metrics.statistics import merge_value_counts
from ecsbox.store import Store

MAX_CACHED_SERIES = 100_000  # series ids kept in memory; the cache starts over beyond this
HEAVY_READ_S = 86_400.0  # reads spanning more than this run off the event loop


def stored_resolution(storage_resolution: int) -> int:
    """What a datum is stored at: 1 s (high resolution) or 60 s.

    >>> stored_resolution(1), stored_resolution(60), stored_resolution(10)
    (1, 60, 1)
    """
    return 1 if storage_resolution < 60 else 60


def point_start(timestamp: float, resolution: int) -> float:
    """The start of the second or minute a datum falls in: ``point_start(125.7, 60)`` → 120.0."""
    return float(math.floor(timestamp / resolution) * resolution)


def point_row(series_id: int, datum: Datum) -> PointRow:
    resolution = stored_resolution(datum.storage_resolution)
    return metric_repo.point_row(
        series_id,
        point_start(datum.timestamp, resolution),
        resolution,
        datum.unit,
        datum.sample_count,
        datum.sum,
        datum.minimum,
        datum.maximum,
        datum.value_counts,
    )


def buckets_of(
    rows: Sequence[AggregateRow],
    values: Sequence[tuple[int, str, str]],
    origin: float,
    period: int,
    by_unit: bool,
) -> list[Bucket]:
    """Periods' aggregates as buckets. A bucket has value counts only when every point in it had
    them (``values`` holds them, per period and unit); None otherwise.

    >>> rows = [(0, "Count", 2.0, 3.0, 1.0, 2.0, 2, 2), (2, "Count", 1.0, 5.0, 5.0, 5.0, 0, 1)]
    >>> values = [(0, "Count", "[[1.0,1.0]]"), (0, "Count", "[[2.0,1.0]]")]
    >>> [(b.start, b.sum, b.value_counts) for b in buckets_of(rows, values, 100.0, 60, by_unit=False)]
    [(100.0, 3.0, ((1.0, 1.0), (2.0, 1.0))), (220.0, 5.0, None)]
    """
    parts: dict[tuple[int, str], list[ValueCounts]] = {}
    for index, unit, text in values:
        key = (index, unit if by_unit else "")
        parts.setdefault(key, []).append(tuple((float(v), float(c)) for v, c in json.loads(text)))
    found: list[Bucket] = []
    for index, unit, sample_count, total, minimum, maximum, with_values, points in rows:
        key = (index, unit if by_unit else "")
        value_counts = merge_value_counts(parts[key]) if with_values == points and key in parts else None
        found.append(
            Bucket(origin + index * period, sample_count, total, minimum, maximum, unit, value_counts)
        )
    return found


class MetricStore:
    """Datapoints in the store: a MetricWriter and a MetricReader."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._series: dict[tuple[Partition, MetricId], int] = {}

    # ---- MetricWriter ----------------------------------------------------------------------------

    async def put(self, partition: Partition, data: Sequence[Datum]) -> None:
        """Store ``data`` (committed when this returns); ``last_put`` of each series is now."""
        if not data:
            return
        now = self.clock.now()
        metrics = list(dict.fromkeys(datum.metric for datum in data))
        cached = {metric: self._series.get((partition, metric)) for metric in metrics}

        def write(conn: Connection) -> dict[MetricId, int]:
            known = [series_id for series_id in cached.values() if series_id is not None]
            present = metric_repo.touch_series(conn, known, now) if known else set()
            ids: dict[MetricId, int] = {}
            for metric in metrics:
                series_id = cached[metric]
                if series_id is None or series_id not in present:
                    series_id = metric_repo.create_series(conn, partition, metric, now)
                ids[metric] = series_id
            metric_repo.insert_points(conn, [point_row(ids[datum.metric], datum) for datum in data])
            return ids

        ids = await self.store.write(write)
        if len(self._series) + len(ids) > MAX_CACHED_SERIES:
            self._series.clear()
        for metric, series_id in ids.items():  # only after the commit: a rolled-back id is no id
            self._series[(partition, metric)] = series_id

    # ---- MetricReader ----------------------------------------------------------------------------

    async def buckets(
        self,
        partition: Partition,
        metric: MetricId,
        period: int,
        start: float,
        end: float,
        unit: str | None = None,
        *,
        values: bool = True,
    ) -> list[Bucket]:
        """One bucket per period of [start, end) holding data, counted from ``start``, oldest first.
        Without ``unit`` every unit's points are merged (the bucket names the first unit in
        alphabetical order). ``values=False`` skips merging raw values (no percentiles then)."""
        return await self._read(partition, metric, period, start, end, unit, values, by_unit=False)

    async def buckets_by_unit(
        self,
        partition: Partition,
        metric: MetricId,
        period: int,
        start: float,
        end: float,
        *,
        values: bool = True,
    ) -> list[Bucket]:
        """Like :meth:`buckets`, with one bucket per period and unit (GetMetricStatistics without a
        Unit answers a datapoint per unit), ordered by period start, then unit."""
        return await self._read(partition, metric, period, start, end, None, values, by_unit=True)

    async def _read(
        self,
        partition: Partition,
        metric: MetricId,
        period: int,
        start: float,
        end: float,
        unit: str | None,
        values: bool,
        by_unit: bool,
    ) -> list[Bucket]:
        if end <= start or period <= 0:
            return []

        def read(conn: Connection) -> list[Bucket]:
            series_id = metric_repo.find_series(conn, partition, metric)
            if series_id is None:
                return []
            rows = metric_repo.aggregates(conn, series_id, start, period, start, end, unit, by_unit)
            value_rows: list[tuple[int, str, str]] = []
            if values and any(row[6] == row[7] for row in rows):
                value_rows = metric_repo.value_counts_rows(conn, series_id, start, period, start, end, unit)
            return buckets_of(rows, value_rows, start, period, by_unit)

        return await self.store.read(read, heavy=end - start > HEAVY_READ_S)
