"""The statistics CloudWatch computes from one period's aggregate (:class:`Bucket`). Pure.

``statistic_value(bucket, name)`` answers the five standard statistics and percentiles (``p90``,
``p99.9``). A percentile needs the raw values: a bucket holding a statistic set has none, and the
answer is None, as AWS returns no datapoint then.

>>> b = Bucket(0.0, 4.0, 10.0, 1.0, 4.0, "None", ((1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 1.0)))
>>> [statistic_value(b, s) for s in ("SampleCount", "Average", "Sum", "Minimum", "Maximum")]
[4.0, 2.5, 10.0, 1.0, 4.0]
>>> statistic_value(b, "p50"), statistic_value(b, "p75"), statistic_value(b, "p100")
(2.0, 3.0, 4.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ecsbox.metrics.model import Bucket, ValueCounts

STANDARD = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)$")


def percentile_of(name: str) -> float | None:
    """The percentile a statistic names (``p99.5`` → 99.5), None when it names none.

    >>> percentile_of("p99.5"), percentile_of("p100"), percentile_of("p101"), percentile_of("Average")
    (99.5, 100.0, None, None)
    """
    match = _PERCENTILE.match(name)
    return float(match.group(1)) if match else None


def percentile(value_counts: ValueCounts, p: float) -> float:
    """The ``p``-th percentile of a distribution by nearest rank: the smallest value at or below
    which at least p % of the samples lie (p0 is the minimum).

    >>> percentile(((10.0, 9.0), (1000.0, 1.0)), 90), percentile(((10.0, 9.0), (1000.0, 1.0)), 91)
    (10.0, 1000.0)
    """
    ordered = sorted(value_counts)
    total = sum(count for _, count in ordered)
    if p <= 0:
        return ordered[0][0]
    rank = math.ceil(p / 100.0 * total - 1e-9)
    seen = 0.0
    for value, count in ordered:
        seen += count
        if seen >= rank:
            return value
    return ordered[-1][0]


def statistic_value(bucket: Bucket, name: str) -> float | None:
    """One statistic of one period; None when it cannot be computed from what the bucket holds."""
    if name == "SampleCount":
        return bucket.sample_count
    if name == "Sum":
        return bucket.sum
    if name == "Minimum":
        return bucket.minimum
    if name == "Maximum":
        return bucket.maximum
    if name == "Average":
        return bucket.sum / bucket.sample_count if bucket.sample_count else None
    p = percentile_of(name)
    if p is not None:
        return percentile(bucket.value_counts, p) if bucket.value_counts else None
    spec = trimmed_of(name)
    if spec is None or not bucket.value_counts:
        return None
    return trimmed_value(bucket.value_counts, spec)


# ---- trimmed, winsorized and ranked statistics (GetMetricData's Stat, alarms' ExtendedStatistic) ----
#
# ``tm``/``wm``/``tc``/``ts`` with one number are shorthand for the lowest part: ``tm90`` is
# ``TM(0%:90%)``, the mean after removing the 10 % highest values. With two bounds, a bound ending in
# ``%`` is a percentile of the period's values, otherwise an absolute value; a value v counts when
# lower < v ≤ upper (an omitted or 0 % lower bound keeps the minimum). ``IQM`` is ``TM(25%:75%)``.
# ``PR(a:b)`` is the percentage of values with a < v ≤ b.

_SHORT = re.compile(r"^(tm|wm|tc|ts)(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)$")
_BOUNDED = re.compile(r"^(tm|wm|tc|ts|pr)\(([^:()]*):([^:()]*)\)$", re.IGNORECASE)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Bound:
    """One bound of a trimmed statistic: a percentile (``percent``) or an absolute value; None is open."""

    value: float | None
    percent: bool = False


@dataclass(frozen=True)
class Trimmed:
    kind: str  # tm, wm, tc, ts or pr
    lower: Bound
    upper: Bound


def _bound(text: str, percent_allowed: bool) -> Bound | None:
    text = text.strip()
    if not text:
        return Bound(None)
    if text.endswith("%"):
        number = text[:-1]
        if not percent_allowed or not _NUMBER.match(number) or not 0.0 <= float(number) <= 100.0:
            return None
        return Bound(float(number), percent=True)
    if not _NUMBER.match(text):
        return None
    return Bound(float(text))


def trimmed_of(name: str) -> Trimmed | None:
    """The trimmed statistic a name asks for, None when it names none.

    >>> trimmed_of("tm90")
    Trimmed(kind='tm', lower=Bound(value=None, percent=False), upper=Bound(value=90.0, percent=True))
    >>> trimmed_of("TM(150:1000)").upper, trimmed_of("PR(:300)").kind, trimmed_of("IQM").lower
    (Bound(value=1000.0, percent=False), 'pr', Bound(value=25.0, percent=True))
    >>> trimmed_of("tm(90%:10%)") is None, trimmed_of("PR(10%:)") is None, trimmed_of("tm101") is None
    (True, True, True)
    """
    if name == "IQM":
        return Trimmed("tm", Bound(25.0, True), Bound(75.0, True))
    short = _SHORT.match(name)
    if short:
        return Trimmed(short.group(1), Bound(None), Bound(float(short.group(2)), True))
    bounded = _BOUNDED.match(name)
    if not bounded:
        return None
    kind = bounded.group(1).lower()
    lower = _bound(bounded.group(2), kind != "pr")
    upper = _bound(bounded.group(3), kind != "pr")
    if lower is None or upper is None or (lower.value is None and upper.value is None):
        return None
    both = lower.value is not None and upper.value is not None
    if both and (lower.percent != upper.percent or lower.value >= upper.value):  # type: ignore[operator]
        return None
    return Trimmed(kind, lower, upper)


def is_statistic(name: str) -> bool:
    """Any statistic CloudWatch computes: the five standard ones, percentiles, trimmed forms.

    >>> [is_statistic(s) for s in ("Sum", "p99", "tm99", "TM(10%:90%)", "WM(:95%)", "PR(:300)", "IQM", "p", "avg")]
    [True, True, True, True, True, True, True, False, False]
    """
    return name in STANDARD or percentile_of(name) is not None or trimmed_of(name) is not None


def _threshold(bound: Bound, ordered: ValueCounts) -> float | None:
    if bound.value is None:
        return None
    if bound.percent:
        return percentile(ordered, bound.value) if bound.value > 0 else None
    return bound.value


def trimmed_value(value_counts: ValueCounts, spec: Trimmed) -> float | None:
    """A trimmed statistic of a distribution; None when no value lies within the bounds (for the
    means) — a count, sum or rank is then 0.

    >>> dist = ((1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 1.0), (100.0, 1.0))
    >>> [trimmed_value(dist, trimmed_of(s)) for s in ("tm80", "tc80", "ts80", "TM(1:4)", "PR(:3)")]
    [2.5, 4.0, 10.0, 3.0, 60.0]
    >>> trimmed_value(dist, trimmed_of("wm80"))  # 100 counts as p80 = 4
    2.8
    """
    ordered = tuple(sorted(value_counts))
    lower = _threshold(spec.lower, ordered)
    upper = _threshold(spec.upper, ordered)

    def inside(value: float) -> bool:
        return (lower is None or value > lower) and (upper is None or value <= upper)

    total_count = sum(count for _, count in ordered)
    kept = [(value, count) for value, count in ordered if inside(value)]
    count = sum(c for _, c in kept)
    if spec.kind == "pr":
        return 100.0 * count / total_count if total_count else None
    if spec.kind == "tc":
        return count
    if spec.kind == "ts":
        return sum(v * c for v, c in kept)
    if spec.kind == "wm":
        if not total_count:
            return None
        low = ordered[0][0] if lower is None else lower
        high = ordered[-1][0] if upper is None else upper
        return sum(min(max(v, low), high) * c for v, c in ordered) / total_count
    return sum(v * c for v, c in kept) / count if count else None


def merge_value_counts(parts: Iterable[ValueCounts]) -> ValueCounts:
    """Several distributions as one: counts of equal values added, values in order.

    >>> merge_value_counts([((1.0, 2.0), (5.0, 1.0)), ((5.0, 3.0),), ()])
    ((1.0, 2.0), (5.0, 4.0))
    """
    merged: dict[float, float] = {}
    for part in parts:
        for value, count in part:
            merged[value] = merged.get(value, 0.0) + count
    return tuple(sorted(merged.items()))
