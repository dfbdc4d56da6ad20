"""The service scheduler's rounding rules, one formula per function (SEMANTICS §1.2-1.4).

All arithmetic is on integers (or exact fractions), so ``desired * percent / 100`` never lands a
hair below a whole number and rounds the wrong way.
"""

from __future__ import annotations

from fractions import Fraction

THRESHOLD_BOUNDED_PERCENT = "BOUNDED_PERCENT"
THRESHOLD_UNBOUNDED_PERCENT = "UNBOUNDED_PERCENT"
THRESHOLD_COUNT = "COUNT"
THRESHOLD_TYPES = (THRESHOLD_COUNT, THRESHOLD_BOUNDED_PERCENT, THRESHOLD_UNBOUNDED_PERCENT)

CIRCUIT_BREAKER_MIN_THRESHOLD = 3
CIRCUIT_BREAKER_MAX_THRESHOLD = 200
DEFAULT_THRESHOLD_VALUE = 50


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def max_tasks(desired_count: int, maximum_percent: int) -> int:
    """Ceiling on tasks RUNNING or PENDING: ``floor(desired * maximumPercent / 100)``.

    Examples: desired 4, max 200 → 8; desired 3, max 125 → floor(3.75) = 3; desired 0 → 0.
    """
    return desired_count * maximum_percent // 100


def min_healthy(desired_count: int, minimum_healthy_percent: int) -> int:
    """Floor on healthy RUNNING tasks: ``ceil(desired * minimumHealthyPercent / 100)``.

    Examples: desired 4, min 50 → 2; desired 2, min 75 → ceil(1.5) = 2; desired 3, min 0 → 0.
    """
    return _ceil_div(desired_count * minimum_healthy_percent, 100)


def task_set_desired(desired_count: int, scale_percent: float) -> int:
    """A task set's ``computedDesiredCount``: ``ceil(desired * scale.value / 100)``, always up.

    ``scale_percent`` is the double the API carries; it is read as the decimal the user wrote
    (``repr``), so 0.1 % of 1000 is exactly 1, not 2. Examples: desired 12, scale 10 → 1.2 → 2;
    desired 4, scale 50 → 2; desired 1000, scale 0.1 → 1; scale 0 → 0.
    """
    exact = Fraction(repr(float(scale_percent))) * desired_count / 100
    return int(-(-exact.numerator // exact.denominator))


def circuit_breaker_threshold(
    desired_count: int,
    threshold_type: str = THRESHOLD_BOUNDED_PERCENT,
    threshold_value: int = DEFAULT_THRESHOLD_VALUE,
) -> int:
    """Failed tasks that trip the deployment circuit breaker (SEMANTICS §1.3).

    * ``BOUNDED_PERCENT`` (the default, value 50): ``clamp(ceil(value% * desired), 3, 200)``;
      desired 25 → ceil(12.5) = 13; desired 1 → 3; desired 1000 → 200.
    * ``UNBOUNDED_PERCENT``: ``ceil(value% * desired)`` without the clamp, but at least 1 (a
      threshold of 0 would fail every deployment before it starts; ecsbox's choice); desired 1000,
      value 50 → 500; desired 0 → 1.
    * ``COUNT``: ``value`` itself (at least 1); value 7 → 7.
    """
    if threshold_type == THRESHOLD_COUNT:
        return max(1, threshold_value)
    share = _ceil_div(desired_count * threshold_value, 100)
    if threshold_type == THRESHOLD_UNBOUNDED_PERCENT:
        return max(1, share)
    if threshold_type != THRESHOLD_BOUNDED_PERCENT:
        raise ValueError(f"unknown circuit breaker threshold type {threshold_type!r}")
    return min(CIRCUIT_BREAKER_MAX_THRESHOLD, max(CIRCUIT_BREAKER_MIN_THRESHOLD, share))
