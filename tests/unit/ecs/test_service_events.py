"""Service event messages and the newest-100 / no-repeat list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count

import pytest

from ecsbox.ecs import service_events as ev
from ecsbox.ecs.service_events import ServiceEvent, append_events


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (ev.steady_state("web"), "(service web) has reached a steady state."),
        (ev.started_tasks("web", ["a1", "b2"]), "(service web) has started 2 tasks: (task a1) (task b2)."),
        (ev.stopped_tasks("web", ["a1"]), "(service web) has stopped 1 running tasks: (task a1)."),
        (
            ev.task_failed_health_checks("web", "a1"),
            "(service web) (task a1) failed container health checks.",
        ),
        (
            ev.unable_to_place("web"),
            "(service web) was unable to place a task because no container instance met all of its requirements.",
        ),
        (
            ev.unable_to_place(
                "web", "The closest matching container-instance i-1 has insufficient CPU units available."
            ),
            "(service web) was unable to place a task because no container instance met all of its requirements. "
            "The closest matching container-instance i-1 has insufficient CPU units available.",
        ),
        (ev.start_impaired("web"), "(service web) is unable to consistently start tasks successfully."),
        (
            ev.operations_throttled("web"),
            "(service web) operations are being throttled. Will try again later.",
        ),
        (
            ev.deployment_stuck("web"),
            "(service web) was unable to stop or start tasks during a deployment because of the service "
            "deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again.",
        ),
        (
            ev.deployment_completed("web", "ecs-svc/1"),
            "(service web) (deployment ecs-svc/1) deployment completed.",
        ),
        (
            ev.deployment_failed("web", "ecs-svc/2", "tasks failed to start"),
            "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.",
        ),
        (
            ev.rolling_back("web", "ecs-svc/2", "ecs-svc/1"),
            "(service web) (deployment ecs-svc/2) rolling back to deployment ecs-svc/1.",
        ),
    ],
)
def test_messages(message: str, expected: str) -> None:
    assert message == expected


def ids() -> Callable[[], str]:
    counter: Iterator[int] = count(1)
    return lambda: f"e{next(counter)}"


STEADY = ev.steady_state("web")
DONE = ev.deployment_completed("web", "ecs-svc/1")


@pytest.mark.parametrize(
    ("existing", "messages", "now", "expected"),
    [
        ([], [STEADY], 0.0, [(0.0, STEADY)]),
        ([(0.0, STEADY)], [STEADY], 3600.0, [(0.0, STEADY)]),  # repeated within 6 h: folded
        ([(0.0, STEADY)], [STEADY], 21600.0, [(21600.0, STEADY), (0.0, STEADY)]),  # 6 h later: again
        (
            [(0.0, STEADY)],
            [DONE, STEADY],
            60.0,
            [(60.0, STEADY), (60.0, DONE), (0.0, STEADY)],
        ),  # news between
        ([], [STEADY, STEADY], 5.0, [(5.0, STEADY)]),
    ],
)
def test_append_events_folds_repeats(
    existing: list[tuple[float, str]], messages: list[str], now: float, expected: list[tuple[float, str]]
) -> None:
    events = [ServiceEvent(f"old{i}", at, message) for i, (at, message) in enumerate(existing)]
    result = append_events(events, messages, now, ids())
    assert [(event.created_at, event.message) for event in result] == expected


def test_append_events_keeps_the_newest_100_newest_first() -> None:
    events: list[ServiceEvent] = []
    new_id = ids()
    for second in range(150):
        events = append_events(events, [ev.started_tasks("web", [f"t{second}"])], float(second), new_id)
    assert len(events) == 100
    assert events[0].message == ev.started_tasks("web", ["t149"])
    assert events[-1].message == ev.started_tasks("web", ["t50"])
    assert len({event.id for event in events}) == 100
