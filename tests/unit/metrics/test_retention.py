"""Retention and roll-up (ecsbox.metrics.retention, pure) and the read rules that follow from it
(ecsbox.metrics.queries): tables of cases and the invariants of merging."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.metrics.queries import (
    datapoint_count,
    is_valid_period,
    period_readable,
    resolution_at_age,
    round_start,
    window,
)
from ecsbox.metrics.retention import Point, RollUp, expiry_cutoff, merge_points, roll_up_plan

HOUR = 3_600
DAY = 86_400
NOW = 1_700_006_400.0  # a whole hour


def test_roll_up_plan_at_a_whole_hour() -> None:
    assert roll_up_plan(NOW) == [
        RollUp(60, NOW - 3 * HOUR),
        RollUp(300, NOW - 15 * DAY),
        RollUp(3600, NOW - 63 * DAY),
    ]
    assert expiry_cutoff(NOW) == NOW - 455 * DAY


@pytest.mark.parametrize("offset", [1.0, 59.0, 61.5, 299.0, 3599.0])
def test_cutoffs_never_split_a_target_period(offset: float) -> None:
    for step in roll_up_plan(NOW + offset):
        assert step.cutoff % step.target == 0
        assert step.cutoff <= NOW + offset - {60: 3 * HOUR, 300: 15 * DAY, 3600: 63 * DAY}[step.target]


def test_merge_points_groups_by_series_unit_and_period() -> None:
    points = [
        Point(1, 0.0, 1, "Count", 1, 1.0, 1.0, 1.0, ((1.0, 1.0),)),
        Point(1, 59.0, 1, "Count", 1, 2.0, 2.0, 2.0, ((2.0, 1.0),)),
        Point(1, 30.0, 1, "Bytes", 1, 7.0, 7.0, 7.0, ((7.0, 1.0),)),
        Point(2, 30.0, 1, "Count", 1, 5.0, 5.0, 5.0, ((5.0, 1.0),)),
        Point(1, 60.0, 1, "Count", 2, 6.0, 2.0, 4.0, None),
    ]
    merged = {(p.series_id, p.unit, p.ts): p for p in merge_points(points, 60)}
    assert set(merged) == {(1, "Count", 0.0), (1, "Bytes", 0.0), (2, "Count", 0.0), (1, "Count", 60.0)}
    first = merged[(1, "Count", 0.0)]
    assert (first.resolution, first.sample_count, first.sum, first.minimum, first.maximum) == (
        60,
        2.0,
        3.0,
        1.0,
        2.0,
    )
    assert first.value_counts == ((1.0, 1.0), (2.0, 1.0))
    assert merged[(1, "Count", 60.0)].value_counts is None


points_strategy = st.lists(
    st.builds(
        lambda series, second, unit, values: Point(
            series,
            float(second),
            1,
            unit,
            float(len(values)),
            float(sum(values)),
            float(min(values)),
            float(max(values)),
            tuple((float(v), 1.0) for v in sorted(values)),
        ),
        st.integers(1, 3),
        st.integers(0, 900),
        st.sampled_from(["Count", "Bytes"]),
        st.lists(st.integers(-100, 100), min_size=1, max_size=4),
    ),
    max_size=40,
)


@given(points_strategy, st.sampled_from([60, 300, 3600]))
def test_merging_keeps_every_sample_and_every_extreme(points: list[Point], target: int) -> None:
    merged = merge_points(points, target)
    assert sum(p.sample_count for p in merged) == sum(p.sample_count for p in points)
    assert math.isclose(sum(p.sum for p in merged), sum(p.sum for p in points), abs_tol=1e-9)
    for p in merged:
        assert p.ts % target == 0 and p.resolution == target
        members = [
            q
            for q in points
            if (q.series_id, q.unit) == (p.series_id, p.unit) and p.ts <= q.ts < p.ts + target
        ]
        assert p.minimum == min(q.minimum for q in members) and p.maximum == max(q.maximum for q in members)
        assert p.value_counts is not None and sum(c for _, c in p.value_counts) == p.sample_count
    assert len({(p.series_id, p.unit, p.ts) for p in merged}) == len(merged)


# ---- the read rules that follow -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "resolution"),
    [(0, 1), (3 * HOUR, 1), (3 * HOUR + 1, 60), (15 * DAY, 60), (15 * DAY + 1, 300), (63 * DAY + 1, 3600)],
)
def test_resolution_kept_at_each_age(age: float, resolution: int) -> None:
    assert resolution_at_age(age) == resolution


@pytest.mark.parametrize(
    ("period", "age", "readable"),
    [
        (1, HOUR, True),
        (30, 3 * HOUR, True),
        (30, 3 * HOUR + 60, False),
        (60, 14 * DAY, True),
        (120, 14 * DAY, True),
        (60, 16 * DAY, False),
        (300, 16 * DAY, True),
        (600, 62 * DAY, True),
        (300, 64 * DAY, False),
        (3600, 400 * DAY, True),
    ],
)
def test_period_readable_for_start_age(period: int, age: float, readable: bool) -> None:
    assert period_readable(period, NOW - age, NOW) is readable


@pytest.mark.parametrize(
    ("start_offset", "period", "rounded_offset"),
    [
        (-23, 1, -23),
        (-23, 5, -25),
        (-23, 20, -40),
        (-23, 60, -60),
        (-(4 * HOUR) - 23, 10, -(4 * HOUR) - 60),
        (-(20 * DAY) - 7, 300, -(20 * DAY) - 300),
        (-(70 * DAY) - 7, 3600, -(70 * DAY) - 3600),
    ],
)
def test_start_rounding(start_offset: float, period: int, rounded_offset: float) -> None:
    assert round_start(NOW + start_offset, NOW, period) == NOW + rounded_offset


def test_period_rules_and_counts() -> None:
    assert [p for p in range(1, 181) if is_valid_period(p)] == [1, 5, 10, 20, 30, 60, 120, 180]
    assert datapoint_count(0, 86_400, 60) == 1440
    w = window(NOW - 90, NOW, 60, NOW)
    assert (w.start, w.count, w.readable) == (NOW - 120, 2, True)


@given(st.floats(0, 500 * DAY), st.sampled_from([1, 5, 10, 20, 30, 60, 300, 3600]))
def test_a_readable_rounded_start_is_a_multiple_of_what_is_kept(age: float, period: int) -> None:
    """Whatever CloudWatch keeps at a start's age, a readable query's periods hold whole stored points."""
    start = NOW - age
    if period_readable(period, start, NOW):
        rounded = round_start(start, NOW, period)
        assert rounded <= start and rounded % resolution_at_age(age) == 0
