"""Metrics from CloudWatch Logs: what the composition root hangs on logs' metric hook.

Every committed batch of log events brings two kinds of datapoint: those the log group's metric
filters make (computed by logs, handed over as its ``MetricDatum`` values, read here by attribute so
metrics imports nothing of logs) and those the events embed in the embedded metric format
(:func:`ecsbox.metrics.emf.emf_data`). :func:`write_log_metrics` turns both into :class:`Datum`,
folds the values of one metric that fall into one storage slot (one second for high-resolution
metrics, one minute otherwise) into one datum, and writes them in one call.

Wiring (``app.py``)::

    async def sink(partition, group_name, events, filter_data):
        await write_log_metrics(writer, partition, events, filter_data)

    logs.register(registry, store, clock, metric_sink=sink)
    logs.LogIngest(store, clock, metric_sink=sink)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ecsbox.metrics.emf import emf_data, is_recordable
from ecsbox.metrics.model import Datum, MetricId, MetricWriter, Partition

MAX_NAME_CHARS = 255
MAX_DIMENSION_VALUE_CHARS = 1024


class FilterDatum(Protocol):
    """One metric filter datapoint as logs computes it (``ecsbox.logs.MetricDatum``)."""

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> float: ...

    @property
    def timestamp_ms(self) -> int: ...

    @property
    def unit(self) -> str: ...

    @property
    def dimensions(self) -> Mapping[str, str]: ...


def filter_datum(item: FilterDatum) -> Datum | None:
    """The :class:`Datum` of one metric filter datapoint (timestamps go from milliseconds to
    seconds); None for one CloudWatch could not record (a value beyond ±2^360, a dimension value
    over 1024 characters)."""
    dimensions = dict(item.dimensions)
    if not is_recordable(float(item.value)) or any(
        not 0 < len(value) <= MAX_DIMENSION_VALUE_CHARS or not 0 < len(key) <= MAX_NAME_CHARS
        for key, value in dimensions.items()
    ):
        return None
    metric = MetricId.of(item.namespace, item.name, dimensions)
    return Datum.single(metric, item.timestamp_ms / 1000.0, float(item.value), unit=item.unit or "None")


def log_data(events: Iterable[tuple[int, str]], filter_data: Iterable[FilterDatum]) -> list[Datum]:
    """Every datapoint a batch of events makes: its metric filters' first, then its EMF documents'
    (one event can feed both), folded by :func:`fold`."""
    data = [d for d in (filter_datum(item) for item in filter_data) if d is not None]
    for timestamp_ms, message in events:
        data.extend(emf_data(message, timestamp_ms))
    return fold(data)


def fold(data: Sequence[Datum]) -> list[Datum]:
    """One datum per metric, unit, storage resolution and storage slot (the second, for
    resolution 1; the minute, for 60), at the slot's start, holding every value of the slot:
    what CloudWatch keeps of them anyway, in one row instead of one per log event.

    >>> m = MetricId.of("App", "Errors")
    >>> folded = fold([Datum.single(m, 120.5, 1.0), Datum.single(m, 150.0, 1.0), Datum.single(m, 185.0, 4.0)])
    >>> [(d.timestamp, d.sample_count, d.sum, d.value_counts) for d in folded]
    [(120.0, 2.0, 2.0, ((1.0, 2.0),)), (180.0, 1.0, 4.0, ((4.0, 1.0),))]
    """
    slots: dict[tuple[MetricId, str, int, float], list[Datum]] = {}
    for datum in data:
        step = 1 if datum.storage_resolution == 1 else 60
        slot = float(math.floor(datum.timestamp / step) * step)
        slots.setdefault((datum.metric, datum.unit, step, slot), []).append(datum)
    folded = []
    for (metric, unit, resolution, start), group in slots.items():
        counts: dict[float, float] = {}
        for datum in group:
            for value, count in datum.value_counts or ():
                counts[value] = counts.get(value, 0.0) + count
        known = all(datum.value_counts is not None for datum in group)  # else: statistic sets
        folded.append(
            Datum(
                metric,
                start,
                sum(d.sample_count for d in group),
                math.fsum(d.sum for d in group),
                min(d.minimum for d in group),
                max(d.maximum for d in group),
                unit,
                resolution,
                tuple(sorted(counts.items())) if known else None,
            )
        )
    return folded


async def write_log_metrics(
    writer: MetricWriter,
    partition: Partition,
    events: Sequence[tuple[int, str]],
    filter_data: Sequence[FilterDatum],
) -> None:
    """Write what a committed batch of log events makes (:func:`log_data`) through ``writer``, in
    one call; nothing when it makes nothing."""
    data = log_data(events, filter_data)
    if data:
        await writer.put(partition, data)
