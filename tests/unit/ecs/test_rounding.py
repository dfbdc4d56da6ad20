"""Scheduler rounding: one table per formula (SEMANTICS §1.2-1.4 examples are rows)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecs.rounding import circuit_breaker_threshold, max_tasks, min_healthy, task_set_desired


@pytest.mark.parametrize(
    ("desired", "maximum_percent", "expected"),
    [
        (4, 200, 8),  # may start 4 new before stopping old
        (3, 125, 3),  # floor(3.75)
        (3, 200, 6),
        (3, 100, 3),
        (0, 200, 0),
        (1, 150, 1),
        (10, 110, 11),
        (7, 143, 10),  # floor(10.01)
    ],
)
def test_max_tasks_rounds_down(desired: int, maximum_percent: int, expected: int) -> None:
    assert max_tasks(desired, maximum_percent) == expected


@pytest.mark.parametrize(
    ("desired", "minimum_healthy_percent", "expected"),
    [
        (4, 50, 2),  # may stop 2 old first
        (2, 75, 2),  # ceil(1.5): cannot stop anything first
        (3, 100, 3),
        (3, 50, 2),
        (3, 0, 0),
        (0, 100, 0),
        (10, 33, 4),  # ceil(3.3)
        (100, 7, 7),  # 7.00 exactly: no float drift upwards
    ],
)
def test_min_healthy_rounds_up(desired: int, minimum_healthy_percent: int, expected: int) -> None:
    assert min_healthy(desired, minimum_healthy_percent) == expected


@pytest.mark.parametrize(
    ("desired", "scale", "expected"),
    [
        (12, 10.0, 2),  # 1.2 → 2
        (2, 60.0, 2),  # 1.2 → 2
        (4, 50.0, 2),
        (1000, 0.1, 1),  # exact decimal, not 1.0000000000000000555 → 2
        (100, 1.1, 2),  # 1.1 → 2
        (10, 0.0, 0),
        (10, 100.0, 10),
        (3, 33.3, 1),  # 0.999 → 1
    ],
)
def test_task_set_desired_rounds_up(desired: int, scale: float, expected: int) -> None:
    assert task_set_desired(desired, scale) == expected


@pytest.mark.parametrize(
    ("desired", "threshold_type", "value", "expected"),
    [
        (25, "BOUNDED_PERCENT", 50, 13),  # the guide's example
        (1, "BOUNDED_PERCENT", 50, 3),  # floor of 3
        (6, "BOUNDED_PERCENT", 50, 3),
        (8, "BOUNDED_PERCENT", 50, 4),
        (400, "BOUNDED_PERCENT", 50, 200),
        (1000, "BOUNDED_PERCENT", 50, 200),  # ceiling of 200
        (10, "BOUNDED_PERCENT", 100, 10),
        (1000, "UNBOUNDED_PERCENT", 50, 500),
        (1, "UNBOUNDED_PERCENT", 50, 1),
        (0, "UNBOUNDED_PERCENT", 50, 1),
        (0, "COUNT", 7, 7),
        (500, "COUNT", 2, 2),
    ],
)
def test_circuit_breaker_threshold(desired: int, threshold_type: str, value: int, expected: int) -> None:
    assert circuit_breaker_threshold(desired, threshold_type, value) == expected


def test_circuit_breaker_threshold_defaults_are_bounded_50_percent() -> None:
    assert circuit_breaker_threshold(25) == 13


def test_unknown_threshold_type_is_refused() -> None:
    with pytest.raises(ValueError, match="PERCENTAGE"):
        circuit_breaker_threshold(4, "PERCENTAGE", 50)


@given(st.integers(0, 10_000), st.integers(0, 400))
def test_rounding_matches_exact_fractions(desired: int, percent: int) -> None:
    exact = desired * percent / 100
    assert max_tasks(desired, percent) <= exact < max_tasks(desired, percent) + 1
    assert min_healthy(desired, percent) - 1 < exact <= min_healthy(desired, percent)
