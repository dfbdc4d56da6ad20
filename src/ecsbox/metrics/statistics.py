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
    if p is None or not bucket.value_counts:
        return None
    return percentile(bucket.value_counts, p)
