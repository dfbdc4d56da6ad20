"""Deployment alarms, the pure rules: what a reading does to a deployment's watch, the bake time, how
a rollout is held through it, what a trip does, and which configurations are refused."""

from __future__ import annotations

import doctest

import pytest

from ecsbox.ecs import deployment_alarms
from ecsbox.ecs.deployment import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    DeploymentCounts,
    DeploymentUpdate,
    DeploymentView,
    Plan,
    ServiceView,
    TaskView,
    plan,
)
from ecsbox.ecs.deployment_alarms import (
    MONITORING,
    MONITORING_COMPLETE,
    REASON_ALARMS,
    TRIGGERED,
    AlarmReading,
    AlarmsConfig,
    AlarmWatch,
    bake_time_s,
    check_config,
    hold_for_bake,
    observe,
    on_trip,
)

CONFIG = AlarmsConfig(enable=True, rollback=True, alarm_names=("a", "b"))
OK, ALARM, NO_DATA = AlarmReading("OK", 60), AlarmReading("ALARM", 60), AlarmReading("INSUFFICIENT_DATA", 60)
STARTED = AlarmWatch(started=True)


def test_config_from_the_api() -> None:
    assert AlarmsConfig.from_api(None) == AlarmsConfig()
    config = AlarmsConfig.from_api({"alarmNames": ["a", "b", "a"], "enable": True, "rollback": False})
    assert config == AlarmsConfig(True, False, ("a", "b")) and config.watching
    assert not AlarmsConfig.from_api({"alarmNames": ["a"], "enable": False, "rollback": True}).watching


@pytest.mark.parametrize(
    ("watch", "readings", "expected"),
    [
        # The first reading only learns what was already firing.
        (AlarmWatch(), {"a": ALARM, "b": OK}, AlarmWatch(MONITORING, True, ("a",))),
        (AlarmWatch(), {"a": OK, "b": OK}, STARTED),
        # Then any alarm going into ALARM trips the watch...
        (STARTED, {"a": OK, "b": ALARM}, AlarmWatch(TRIGGERED, True, (), None, ("b",))),
        (STARTED, {"a": ALARM, "b": ALARM}, AlarmWatch(TRIGGERED, True, (), None, ("a", "b"))),
        # ...but INSUFFICIENT_DATA, OK and a missing alarm do not.
        (STARTED, {"a": NO_DATA}, STARTED),
        (STARTED, {}, STARTED),
        # An alarm firing since the start is ignored while it keeps firing, and counts once it recovered.
        (AlarmWatch(MONITORING, True, ("a",)), {"a": ALARM, "b": OK}, AlarmWatch(MONITORING, True, ("a",))),
        (AlarmWatch(MONITORING, True, ("a",)), {"a": OK}, STARTED),
        (
            AlarmWatch(MONITORING, True, ("a",)),
            {"a": ALARM, "b": ALARM},
            AlarmWatch(TRIGGERED, True, ("a",), None, ("b",)),
        ),
        # Alarms not listed do not count; tripped and completed watches do not change.
        (STARTED, {"c": ALARM}, STARTED),
        (
            AlarmWatch(TRIGGERED, True, (), None, ("a",)),
            {"a": OK},
            AlarmWatch(TRIGGERED, True, (), None, ("a",)),
        ),
        (AlarmWatch(MONITORING_COMPLETE, True), {"a": ALARM}, AlarmWatch(MONITORING_COMPLETE, True)),
    ],
)
def test_observe(watch: AlarmWatch, readings: dict[str, AlarmReading], expected: AlarmWatch) -> None:
    assert observe(watch, CONFIG, readings) == expected


@pytest.mark.parametrize(
    ("readings", "bake_s"),
    [
        ({"a": AlarmReading("OK", 180), "b": AlarmReading("OK", 600)}, 600.0),
        ({"a": AlarmReading("OK", 180), "c": AlarmReading("OK", 900)}, 180.0),  # c is not listed
        ({}, 0.0),  # no alarm exists: nothing to wait for
    ],
)
def test_the_bake_time_is_the_longest_evaluation_time(
    readings: dict[str, AlarmReading], bake_s: float
) -> None:
    assert bake_time_s(CONFIG, readings) == bake_s


def settled_plan() -> Plan:
    """One tick of a rollout that just settled: d2 (primary) healthy at desired, d1 empty."""
    service = ServiceView("web", desired_count=2, primary_deployment_id="d2")
    deployments = [
        DeploymentView("d2", "PRIMARY", "web:2", IN_PROGRESS, 10.0),
        DeploymentView("d1", "ACTIVE", "web:1", COMPLETED, 0.0),
    ]
    tasks = [TaskView(f"t{i}", "d2", "RUNNING", started_at=0.0) for i in range(2)]
    decision = plan(service, deployments, tasks, now=100.0)
    assert (
        DeploymentUpdate("d2", "PRIMARY", COMPLETED, "ECS deployment d2 completed.")
        in decision.deployment_updates
    )
    assert decision.steady
    return decision


def test_a_settled_rollout_is_held_through_the_bake_time() -> None:
    decision = settled_plan()
    held, watch = hold_for_bake(decision, "web", "d2", STARTED, 180.0, 100.0)
    assert watch.bake_until == 280.0 and watch.status == MONITORING
    assert held.deployment_updates == ()  # neither d2 COMPLETED nor d1 INACTIVE
    assert not held.steady
    assert not any("deployment completed" in e or "steady state" in e for e in held.events)
    assert held.counts == decision.counts  # DescribeServices still shows d1, with nothing left

    again, watch = hold_for_bake(decision, "web", "d2", watch, 999.0, 279.0)  # the bake does not restart
    assert again.deployment_updates == () and watch.bake_until == 280.0

    done, watch = hold_for_bake(decision, "web", "d2", watch, 180.0, 280.0)
    assert done == decision and watch.status == MONITORING_COMPLETE


def test_without_a_reading_the_bake_cannot_start() -> None:
    held, watch = hold_for_bake(settled_plan(), "web", "d2", AlarmWatch(), None, 100.0)
    assert held.deployment_updates == () and watch.bake_until is None


def test_no_alarm_to_wait_for_completes_at_once() -> None:
    decision = settled_plan()
    done, watch = hold_for_bake(decision, "web", "d2", STARTED, 0.0, 100.0)
    assert done == decision and watch.status == MONITORING_COMPLETE


def test_only_a_completing_monitored_rollout_is_held() -> None:
    busy = Plan(counts=(DeploymentCounts("d2", 2, 1, 1),))
    assert hold_for_bake(busy, "web", "d2", STARTED, 180.0, 100.0) == (busy, STARTED)
    tripped = AlarmWatch(TRIGGERED, True, (), None, ("a",))
    decision = settled_plan()
    assert hold_for_bake(decision, "web", "d2", tripped, 180.0, 100.0) == (decision, tripped)


DEPLOYMENTS = [
    DeploymentView("ecs-svc/2", "PRIMARY", "web:2", IN_PROGRESS, 20.0),
    DeploymentView("ecs-svc/1", "ACTIVE", "web:1", COMPLETED, 10.0),
]
TRIPPED = AlarmWatch(TRIGGERED, True, (), None, ("a", "b"))


def test_a_trip_with_rollback_goes_back_to_the_last_completed_deployment() -> None:
    trip = on_trip("web", CONFIG, TRIPPED, DEPLOYMENTS[0], DEPLOYMENTS)
    assert trip.failed_update == DeploymentUpdate("ecs-svc/2", "PRIMARY", FAILED, REASON_ALARMS)
    assert trip.events == (
        "(service web) (deployment ecs-svc/2) deployment failed: alarm(s) detected: a, b.",
        "(service web) (deployment ecs-svc/2) rolling back to deployment ecs-svc/1.",
    )
    assert (trip.rollback_task_definition, trip.rollback_to_deployment_id) == ("web:1", "ecs-svc/1")
    assert trip.rollback_reason == "ECS deployment alarms: rolling back to deploymentId ecs-svc/1."


def test_a_trip_without_rollback_or_without_a_completed_deployment_only_fails() -> None:
    no_rollback = AlarmsConfig(True, False, ("a",))
    for config, deployments in [(no_rollback, DEPLOYMENTS), (CONFIG, DEPLOYMENTS[:1])]:
        trip = on_trip("web", config, TRIPPED, DEPLOYMENTS[0], deployments)
        assert trip.failed_update.rollout_state == FAILED and len(trip.events) == 1
        assert trip.rollback_task_definition is None


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (None, None),
        ({"alarmNames": ["a"], "enable": True, "rollback": True}, None),
        ({"alarmNames": [], "enable": False, "rollback": False}, None),
        ({"alarmNames": [], "enable": True, "rollback": False}, "at least one"),
        ({"alarmNames": [""], "enable": False, "rollback": False}, "1 to 255"),
        ({"alarmNames": ["x" * 256], "enable": True, "rollback": False}, "1 to 255"),
        ({"alarmNames": ["x" * 255], "enable": True, "rollback": False}, None),
        ({"alarmNames": [str(i) for i in range(101)], "enable": True, "rollback": False}, "at most 100"),
    ],
)
def test_check_config(document: dict[str, object] | None, problem: str | None) -> None:
    found = check_config(document)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_worked_examples() -> None:
    result = doctest.testmod(deployment_alarms)
    assert result.attempted > 0 and result.failed == 0
