"""How long CloudWatch keeps datapoints at each resolution, and how finer points are rolled up into
coarser ones (pure).

AWS keeps points with a period below 60 s for 3 hours, 1-minute points for 15 days, 5-minute points for
63 days and 1-hour points for 455 days (15 months); as points age they are aggregated into the next
resolution, so older data stays readable at coarser periods (GetMetricStatistics' "Amazon CloudWatch
retains metric data as follows"). :func:`roll_up_plan` says, for a moment, which points are due;
:func:`merge_points` merges them.

>>> [(step.target, step.cutoff) for step in roll_up_plan(100 * DAY_S)]
[(60, 8629200.0), (300, 7344000.0), (3600, 3196800.0)]
>>> expiry_cutoff(500 * DAY_S) == 45 * DAY_S
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from ecsbox.metrics.model import ValueCounts
from ecsbox.metrics.statistics import merge_value_counts

HOUR_S = 3_600
DAY_S = 86_400
# (resolution, how long points of it are kept before they are rolled into the next)
KEPT = ((1, 3 * HOUR_S), (60, 15 * DAY_S), (300, 63 * DAY_S), (3600, 455 * DAY_S))
RESOLUTIONS = tuple(resolution for resolution, _ in KEPT)
EXPIRY_S = KEPT[-1][1]


@dataclass(frozen=True)
class RollUp:
    """Points finer than ``target`` seconds with ``ts`` before ``cutoff`` become ``target``-second
    points. ``cutoff`` is a multiple of ``target``, so no target period is split."""

    target: int
    cutoff: float


def aligned_cutoff(moment: float, resolution: int) -> float:
    """``moment`` rounded down to a multiple of ``resolution``: ``aligned_cutoff(7259.0, 3600)`` → 7200.0."""
    return float(math.floor(moment / resolution) * resolution)


def roll_up_plan(now: float) -> list[RollUp]:
    """The roll-ups due at ``now``, finest first: 1 s points older than 3 h into 1-minute points,
    1-minute points older than 15 days into 5-minute points, 5-minute points older than 63 days into
    1-hour points (each cutoff rounded down to the target resolution)."""
    plan: list[RollUp] = []
    for (_, kept_s), (target, _) in itertools.pairwise(KEPT):
        plan.append(RollUp(target, aligned_cutoff(now - kept_s, target)))
    return plan


def expiry_cutoff(now: float) -> float:
    """Points with ``ts`` before this are deleted: 455 days before ``now``."""
    return now - EXPIRY_S


@dataclass(frozen=True)
class Point:
    """A stored point, as retention reads and writes it."""

    series_id: int
    ts: float
    resolution: int
    unit: str
    sample_count: float
    sum: float
    minimum: float
    maximum: float
    value_counts: ValueCounts | None


def merge_points(points: Iterable[Point], target: int) -> list[Point]:
    """The ``target``-second points that replace ``points``: one per series, unit and target period,
    the aggregates merged; raw values kept when every merged point had them.

    >>> merged = merge_points([Point(1, 61.0, 1, "Count", 1, 2.0, 2.0, 2.0, ((2.0, 1.0),)),
    ...                        Point(1, 119.0, 1, "Count", 2, 4.0, 1.0, 3.0, ((1.0, 1.0), (3.0, 1.0))),
    ...                        Point(1, 120.0, 1, "Count", 1, 9.0, 9.0, 9.0, None)], 60)
    >>> [(p.ts, p.sample_count, p.sum, p.minimum, p.maximum, p.value_counts) for p in merged]
    [(60.0, 3.0, 6.0, 1.0, 3.0, ((1.0, 1.0), (2.0, 1.0), (3.0, 1.0))), (120.0, 1.0, 9.0, 9.0, 9.0, None)]
    """
    groups: dict[tuple[int, str, float], list[Point]] = {}
    for point in points:
        key = (point.series_id, point.unit, aligned_cutoff(point.ts, target))
        groups.setdefault(key, []).append(point)
    merged: list[Point] = []
    for (series_id, unit, ts), members in groups.items():
        every_has_values = all(member.value_counts is not None for member in members)
        merged.append(
            Point(
                series_id,
                ts,
                target,
                unit,
                float(sum(member.sample_count for member in members)),
                float(sum(member.sum for member in members)),
                min(member.minimum for member in members),
                max(member.maximum for member in members),
                merge_value_counts(m.value_counts for m in members if m.value_counts is not None)
                if every_has_values
                else None,
            )
        )
    return merged
