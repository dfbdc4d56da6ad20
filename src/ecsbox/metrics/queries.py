"""The rules of CloudWatch's reads (pure): which periods are valid, how a query's start time is rounded,
which periods data of a given age can be read at, and how many datapoints a query asks for.

CloudWatch keeps high-resolution points (< 60 s) for 3 hours, 1-minute points for 15 days, 5-minute
points for 63 days and 1-hour points for 455 days, rolling each up into the next (see
:mod:`ecsbox.metrics.retention`). A read whose start time is older than 3 hours must therefore ask for a
period that is a multiple of what is kept at that age, "or no data points in that time range is
returned" (GetMetricStatistics); and the start is rounded down to that resolution so that every period
holds whole stored points.

>>> round_start(1_000_000_007.0, now=1_000_000_100.0, period=60)
999999960.0
>>> period_readable(60, start=1_000_000_000.0 - 20 * DAY_S, now=1_000_000_000.0)
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ecsbox.metrics.statistics import STANDARD, percentile_of

HOUR_S = 3_600
DAY_S = 86_400
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)
MAX_STATISTICS_DATAPOINTS = 1_440  # GetMetricStatistics

# (age beyond which, the resolution kept): the rolled-up resolutions, oldest last.
KEPT_RESOLUTION = ((3 * HOUR_S, 60), (15 * DAY_S, 300), (63 * DAY_S, HOUR_S))


def is_valid_period(period: int) -> bool:
    """1, 5, 10, 20, 30 or a multiple of 60 seconds.

    >>> [is_valid_period(p) for p in (1, 5, 7, 20, 30, 45, 60, 90, 120, 3600)]
    [True, True, False, True, True, False, True, False, True, True]
    """
    return period in HIGH_RESOLUTION_PERIODS or (period > 0 and period % 60 == 0)


def resolution_at_age(age_s: float) -> int:
    """The finest resolution CloudWatch keeps for data ``age_s`` seconds old.

    >>> [resolution_at_age(a) for a in (0, 3 * HOUR_S, 3 * HOUR_S + 1, 16 * DAY_S, 64 * DAY_S)]
    [1, 1, 60, 300, 3600]
    """
    kept = 1
    for age, resolution in KEPT_RESOLUTION:
        if age_s > age:
            kept = resolution
    return kept


def period_readable(period: int, start: float, now: float) -> bool:
    """Whether data from ``start`` on can be read at ``period``: a start more than 3 hours ago needs a
    multiple of 60, more than 15 days a multiple of 300, more than 63 days a multiple of 3600.

    >>> now = 100 * DAY_S
    >>> [period_readable(p, now - age, now) for p, age in ((10, 2 * HOUR_S), (10, 4 * HOUR_S), (60, 4 * HOUR_S),
    ...                                                   (60, 20 * DAY_S), (300, 20 * DAY_S), (300, 70 * DAY_S))]
    [True, False, True, False, True, False]
    """
    return period % resolution_at_age(now - start) == 0


def round_start(start: float, now: float, period: int) -> float:
    """The start time CloudWatch reads from: rounded down to the whole minute (start less than 15
    days ago), 5 minutes (15 to 63 days) or hour (older); with a 1, 5, 10, 20 or 30 second period,
    to a multiple of the period instead (start within 3 hours).

    >>> now = 1_000_000_000.0
    >>> [round_start(now - 23, now, p) for p in (1, 10, 60)]
    [999999977.0, 999999970.0, 999999960.0]
    >>> round_start(now - 20 * DAY_S, now, 300) % 300, round_start(now - 70 * DAY_S, now, 3600) % 3600
    (0.0, 0.0)
    """
    age = now - start
    step = period if period < 60 and age <= 3 * HOUR_S else max(60, resolution_at_age(age))
    return float(math.floor(start / step) * step)


def datapoint_count(start: float, end: float, period: int) -> int:
    """How many periods [start, end) spans, the last one partial.

    >>> datapoint_count(0.0, 3600.0, 60), datapoint_count(0.0, 3601.0, 60), datapoint_count(5.0, 5.0, 60)
    (60, 61, 0)
    """
    if end <= start:
        return 0
    return math.ceil((end - start) / period)


@dataclass(frozen=True)
class Window:
    """What a query reads: [start, end) counted in periods of ``period`` from the rounded start;
    ``readable`` is False when the data's age does not allow the period (no datapoints then)."""

    start: float
    end: float
    period: int
    readable: bool

    @property
    def count(self) -> int:
        return datapoint_count(self.start, self.end, self.period)


def window(start: float, end: float, period: int, now: float) -> Window:
    """The window a query of [start, end) at ``period`` reads, asked at ``now``.

    >>> window(1_000_000_007.0, 1_000_003_607.0, 60, now=1_000_003_607.0)
    Window(start=999999960.0, end=1000003607.0, period=60, readable=True)
    """
    return Window(round_start(start, now, period), end, period, period_readable(period, start, now))


def is_extended_statistic(name: str) -> bool:
    """A percentile GetMetricStatistics accepts in ExtendedStatistics: ``p0.0`` to ``p100``.

    >>> [is_extended_statistic(s) for s in ("p99", "p99.9", "p0.0", "p100", "p100.1", "tm90", "Average")]
    [True, True, True, True, False, False, False]
    """
    return percentile_of(name) is not None


def is_standard_statistic(name: str) -> bool:
    """One of the five statistics every period has, spelt as AWS spells it.

    >>> is_standard_statistic("Average"), is_standard_statistic("average")
    (True, False)
    """
    return name in STANDARD
