"""Trimmed, winsorized and ranked statistics, and merged distributions (ecsbox.metrics.statistics)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.metrics.model import Bucket
from ecsbox.metrics.statistics import (
    is_statistic,
    merge_value_counts,
    percentile,
    statistic_value,
    trimmed_of,
    trimmed_value,
)

# 1..10 once each and 100 ten times: 20 samples
DIST = (*((float(v), 1.0) for v in range(1, 11)), (100.0, 10.0))


def bucket(value_counts: tuple[tuple[float, float], ...] | None) -> Bucket:
    values = value_counts or ((0.0, 1.0),)
    count = sum(c for _, c in values)
    return Bucket(
        0.0, count, sum(v * c for v, c in values), values[0][0], values[-1][0], "None", value_counts
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("p50", 10.0),
        ("p51", 100.0),
        ("tm50", 5.5),  # the lowest half: 1..10
        ("TM(:50%)", 5.5),
        ("tc50", 10.0),
        ("ts50", 55.0),
        ("wm50", 7.75),  # the ten 100s count as p50 = 10: (55 + 100) / 20
        ("TM(5:100)", 1040 / 15),  # 6..10 and the ten 100s
        ("TC(5:100)", 15.0),
        ("PR(:10)", 50.0),
        ("PR(10:)", 50.0),
        ("IQM", 1040 / 15),  # above p25 (5) up to p75 (100): 6..10 and the ten 100s
    ],
)
def test_statistic_values_on_a_distribution(name: str, expected: float) -> None:
    assert statistic_value(bucket(DIST), name) == pytest.approx(expected)


def test_without_raw_values_only_the_standard_statistics_answer() -> None:
    stat_set = Bucket(0.0, 4.0, 10.0, 1.0, 4.0, "None", None)
    assert statistic_value(stat_set, "Average") == 2.5
    assert [statistic_value(stat_set, s) for s in ("p50", "tm90", "PR(:3)", "IQM")] == [None] * 4


def test_empty_trimmed_ranges() -> None:
    spec = trimmed_of("TM(200:300)")
    assert spec is not None
    assert trimmed_value(DIST, spec) is None
    assert trimmed_value(DIST, trimmed_of("TC(200:300)")) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    ["Average", "p0", "p99.99", "tm99", "tm(10%:90%)", "TM(10%:90%)", "WM(:95%)", "TS(1:)", "PR(1:2)", "IQM"],
)
def test_names_cloudwatch_accepts(name: str) -> None:
    assert is_statistic(name)


@pytest.mark.parametrize(
    "name",
    ["average", "p", "p101", "tm", "TM(90%:10%)", "TM(10%:90)", "PR(10%:90%)", "TM(:)", "XX(1:2)", "tm 90"],
)
def test_names_cloudwatch_refuses(name: str) -> None:
    assert not is_statistic(name)


distributions = st.lists(
    st.tuples(st.integers(-1000, 1000).map(float), st.integers(1, 5).map(float)), min_size=1, max_size=30
).map(lambda pairs: merge_value_counts([tuple(pairs)]))


@given(distributions, st.floats(1, 100))
def test_trimmed_mean_lies_between_min_and_the_percentile(
    dist: tuple[tuple[float, float], ...], p: float
) -> None:
    spec = trimmed_of(f"tm{p:.2f}".rstrip("0").rstrip("."))
    if spec is None:
        return
    value = trimmed_value(dist, spec)
    assert value is not None
    assert dist[0][0] - 1e-9 <= value <= percentile(dist, spec.upper.value or 100) + 1e-9  # type: ignore[operator]


@given(distributions, distributions)
def test_merging_distributions_adds_counts(
    a: tuple[tuple[float, float], ...], b: tuple[tuple[float, float], ...]
) -> None:
    merged = merge_value_counts([a, b])
    assert sum(c for _, c in merged) == sum(c for _, c in a) + sum(c for _, c in b)
    assert [v for v, _ in merged] == sorted({v for v, _ in a} | {v for v, _ in b})
