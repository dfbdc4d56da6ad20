"""The service throttle (SEMANTICS §1.5): a service whose tasks keep stopping before they reach
RUNNING waits longer and longer between launch attempts, at most 15 minutes.

AWS documents the behaviour but no numbers except the cap; ecsbox's progression is: the first
:data:`FREE_START_FAILURES` consecutive start failures are retried at once (a bad host or a
one-off pull error should not slow a service down), then 30 s, doubling per further failure,
capped at 900 s: 0, 0, 30, 60, 120, 240, 480, 900, 900, ...

The counter grows with each task that stops without having reached RUNNING, is reset when a task
reaches RUNNING (launches work again) and when the service is updated (a new deployment). Tasks that
die after RUNNING never count, nor do tasks stopped on purpose (by a user or by the scheduler) or
taken back by the platform (Spot, maintenance) before they ran.
"""

from __future__ import annotations

from dataclasses import dataclass

THROTTLE_CAP_S = 900.0
FREE_START_FAILURES = 2
FIRST_DELAY_S = 30.0

# Stops that say nothing about whether the task can start.
_NOT_A_START_FAILURE = frozenset(
    {"UserInitiated", "ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice"}
)


def throttle_delay(consecutive_start_failures: int) -> float:
    """Seconds to wait after the latest failure: 0 for the first two, then ``30 * 2**(n-3)``
    capped at 900. Table: 1 → 0, 2 → 0, 3 → 30, 4 → 60, 5 → 120, 7 → 480, 8 → 900, 50 → 900."""
    steps = consecutive_start_failures - FREE_START_FAILURES
    if steps <= 0:
        return 0.0
    if steps > 16:  # 30 * 2**15 is far past the cap already; don't build huge integers
        return THROTTLE_CAP_S
    return min(THROTTLE_CAP_S, FIRST_DELAY_S * (1 << (steps - 1)))


def next_launch_allowed_at(consecutive_start_failures: int, last_failure_at: float | None) -> float:
    """Epoch seconds before which the scheduler starts no task (``ServiceView.launch_not_before``).

    Example: 4 failures, the last at 1000 → 1060. No failure yet → 0.0 (no throttle).
    """
    if last_failure_at is None:
        return 0.0
    return last_failure_at + throttle_delay(consecutive_start_failures)


def counts_as_start_failure(reached_running: bool, stop_code: str | None) -> bool:
    """Whether a stopped task feeds the throttle: it never reached RUNNING and was not stopped on
    purpose. ``(False, "TaskFailedToStart")`` → True; ``(True, "EssentialContainerExited")`` → False;
    ``(False, "UserInitiated")`` → False."""
    return not reached_running and stop_code not in _NOT_A_START_FAILURE


@dataclass(frozen=True)
class BackoffState:
    """A service's throttle, as stored with the service."""

    consecutive_start_failures: int = 0
    last_failure_at: float | None = None

    @property
    def launch_not_before(self) -> float:
        return next_launch_allowed_at(self.consecutive_start_failures, self.last_failure_at)

    def is_throttled(self, now: float) -> bool:
        return now < self.launch_not_before


def record_task_stopped(
    state: BackoffState, *, reached_running: bool, stop_code: str | None, now: float
) -> BackoffState:
    """The state after one of the service's tasks stopped at ``now``."""
    if not counts_as_start_failure(reached_running, stop_code):
        return state
    return BackoffState(state.consecutive_start_failures + 1, now)


def record_task_running(state: BackoffState) -> BackoffState:
    """A task reached RUNNING: launches work, the throttle is lifted."""
    return BackoffState() if state.consecutive_start_failures else state


def record_service_update(state: BackoffState) -> BackoffState:
    """UpdateService started a new deployment: start afresh."""
    return BackoffState()


def became_throttled(before: BackoffState, after: BackoffState) -> bool:
    """Whether this change switched the throttle on (the moment to record the
    "unable to consistently start tasks successfully" event)."""
    return (
        throttle_delay(after.consecutive_start_failures) > 0
        and throttle_delay(before.consecutive_start_failures) == 0
    )
