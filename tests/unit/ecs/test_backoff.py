"""The service throttle: progression, what counts, what resets it."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecs.backoff import (
    THROTTLE_CAP_S,
    BackoffState,
    became_throttled,
    counts_as_start_failure,
    next_launch_allowed_at,
    record_service_update,
    record_task_running,
    record_task_stopped,
    throttle_delay,
)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 30),
        (4, 60),
        (5, 120),
        (6, 240),
        (7, 480),
        (8, 900),
        (9, 900),
        (10_000, 900),
    ],
)
def test_throttle_delay_table(failures: int, delay: float) -> None:
    assert throttle_delay(failures) == delay


@pytest.mark.parametrize(
    ("failures", "last_failure_at", "expected"),
    [(0, None, 0.0), (2, 1000.0, 1000.0), (4, 1000.0, 1060.0), (20, 1000.0, 1900.0)],
)
def test_next_launch_allowed_at(failures: int, last_failure_at: float | None, expected: float) -> None:
    assert next_launch_allowed_at(failures, last_failure_at) == expected


@pytest.mark.parametrize(
    ("reached_running", "stop_code", "counts"),
    [
        (False, "TaskFailedToStart", True),
        (False, "EssentialContainerExited", True),  # exited before the task was RUNNING
        (False, None, True),
        (True, "EssentialContainerExited", False),  # died after RUNNING: never throttles
        (True, "TaskFailedToStart", False),
        (False, "UserInitiated", False),
        (False, "ServiceSchedulerInitiated", False),
        (False, "SpotInterruption", False),
        (False, "TerminationNotice", False),
    ],
)
def test_what_counts_as_a_start_failure(reached_running: bool, stop_code: str | None, counts: bool) -> None:
    assert counts_as_start_failure(reached_running, stop_code) is counts


def test_failures_build_up_and_a_service_update_resets() -> None:
    state = BackoffState()
    for second in (100.0, 101.0, 102.0, 103.0):
        state = record_task_stopped(state, reached_running=False, stop_code="TaskFailedToStart", now=second)
    assert state == BackoffState(4, 103.0)
    assert state.launch_not_before == 163.0
    assert state.is_throttled(162.9) and not state.is_throttled(163.0)
    assert record_service_update(state) == BackoffState()


def test_a_task_dying_after_running_leaves_the_state_alone_and_a_running_task_resets_it() -> None:
    state = BackoffState(3, 50.0)
    assert (
        record_task_stopped(state, reached_running=True, stop_code="EssentialContainerExited", now=60)
        == state
    )
    assert record_task_running(state) == BackoffState()
    assert record_task_running(BackoffState()) == BackoffState()


def test_became_throttled_fires_once_at_the_third_failure() -> None:
    states = [BackoffState(n, 0.0 if n else None) for n in range(6)]
    flips = [became_throttled(before, after) for before, after in pairwise(states)]
    assert flips == [False, False, True, False, False]


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_delay_is_monotonic_and_capped(first: int, second: int) -> None:
    low, high = sorted((first, second))
    assert 0 <= throttle_delay(low) <= throttle_delay(high) <= THROTTLE_CAP_S == 900
