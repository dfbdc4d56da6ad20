"""The deployment circuit breaker: stages, threshold, reset, trip and rollback."""

from __future__ import annotations

import pytest

from ecsbox.ecs.circuit_breaker import (
    DISABLED,
    MONITORING,
    MONITORING_COMPLETE,
    REASON_FAILED_HEALTH_CHECKS,
    REASON_FAILED_TO_START,
    TRIGGERED,
    CircuitBreakerConfig,
    CircuitBreakerState,
    TaskOutcome,
    complete,
    initial_state,
    observe,
    on_trip,
    rollback_target,
    status_document,
)
from ecsbox.ecs.deployment import (
    ACTIVE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    DeploymentUpdate,
    DeploymentView,
)

ON = CircuitBreakerConfig(enable=True, rollback=True)
F, R, H, U = (
    TaskOutcome.FAILED_TO_START,
    TaskOutcome.RUNNING,
    TaskOutcome.HEALTHY,
    TaskOutcome.FAILED_HEALTH_CHECKS,
)


def run(config: CircuitBreakerConfig, outcomes: list[TaskOutcome], desired: int = 4) -> CircuitBreakerState:
    state = initial_state(config)
    for outcome in outcomes:
        state = observe(state, config, outcome, desired)
    return state


@pytest.mark.parametrize(
    ("config", "outcomes", "desired", "status", "failures", "reason"),
    [
        (ON, [F, F], 4, MONITORING, 2, None),
        (ON, [F, F, F], 4, TRIGGERED, 3, REASON_FAILED_TO_START),  # threshold 3 (the floor)
        (ON, [F] * 12, 25, MONITORING, 12, None),  # threshold 13 for desired 25
        (ON, [F] * 13, 25, TRIGGERED, 13, REASON_FAILED_TO_START),
        (ON, [F, F, R, F, F, F], 4, MONITORING, 0, None),  # stage 2: start failures stop counting
        (ON, [F, F, R, U, U], 4, MONITORING, 2, None),  # the first RUNNING reset the count
        (ON, [R, U, U, U], 4, TRIGGERED, 3, REASON_FAILED_HEALTH_CHECKS),
        (ON, [R, U, U, H, U, U], 4, MONITORING, 2, None),  # a healthy task resets (default)
        (
            CircuitBreakerConfig(enable=True, reset_on_healthy_task=False),
            [R, U, U, H, U],
            4,
            TRIGGERED,
            3,
            REASON_FAILED_HEALTH_CHECKS,
        ),
        (ON, [U, U, U], 4, TRIGGERED, 3, REASON_FAILED_HEALTH_CHECKS),  # RUNNING implied
        (
            CircuitBreakerConfig(enable=True, threshold_type="COUNT", threshold_value=1),
            [F],
            4,
            TRIGGERED,
            1,
            REASON_FAILED_TO_START,
        ),
        (CircuitBreakerConfig(), [F, F, F, F], 4, DISABLED, 4, None),  # disabled: counts, never trips
        (ON, [F, F, F, F, F], 4, TRIGGERED, 3, REASON_FAILED_TO_START),  # tripped: frozen
    ],
)
def test_breaker_table(
    config: CircuitBreakerConfig,
    outcomes: list[TaskOutcome],
    desired: int,
    status: str,
    failures: int,
    reason: str | None,
) -> None:
    state = run(config, outcomes, desired)
    assert (state.status, state.failure_count, state.reason) == (status, failures, reason)


def test_from_api_defaults_and_values() -> None:
    assert CircuitBreakerConfig.from_api(None) == CircuitBreakerConfig()
    assert CircuitBreakerConfig.from_api({"enable": True, "rollback": False}) == CircuitBreakerConfig(
        enable=True,
        rollback=False,
        reset_on_healthy_task=True,
        threshold_type="BOUNDED_PERCENT",
        threshold_value=50,
    )
    document = {
        "enable": True,
        "rollback": True,
        "resetOnHealthyTask": False,
        "thresholdConfiguration": {"type": "COUNT", "value": 5},
    }
    assert CircuitBreakerConfig.from_api(document) == CircuitBreakerConfig(True, True, False, "COUNT", 5)


def test_status_document_and_completion() -> None:
    state = run(ON, [F], desired=25)
    assert status_document(state, ON, 25) == {"status": "MONITORING", "failureCount": 1, "threshold": 13}
    done = complete(state)
    assert done.status == MONITORING_COMPLETE
    assert observe(done, ON, F, 25) == done  # no longer evaluated
    assert complete(initial_state(CircuitBreakerConfig())).status == DISABLED


OLD = DeploymentView("ecs-svc/1", ACTIVE, "web:1", COMPLETED, created_at=100.0)
OLDER = DeploymentView("ecs-svc/0", ACTIVE, "web:0", COMPLETED, created_at=50.0)
NEW = DeploymentView("ecs-svc/2", PRIMARY, "web:2", IN_PROGRESS, created_at=200.0)


def test_rollback_target_is_the_newest_completed_other_deployment() -> None:
    assert rollback_target([NEW, OLDER, OLD], NEW.id) == OLD
    assert rollback_target([NEW], NEW.id) is None
    assert rollback_target([NEW, DeploymentView("ecs-svc/1", ACTIVE, "web:1", FAILED)], NEW.id) is None


def test_trip_with_rollback() -> None:
    state = run(ON, [F, F, F])
    trip = on_trip("web", ON, state, NEW, [NEW, OLD])
    assert trip.failed_update == DeploymentUpdate("ecs-svc/2", PRIMARY, FAILED, REASON_FAILED_TO_START)
    assert trip.rollback_task_definition == "web:1"
    assert trip.rollback_to_deployment_id == "ecs-svc/1"
    assert trip.rollback_reason == "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."
    assert trip.events == (
        "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.",
        "(service web) (deployment ecs-svc/2) rolling back to deployment ecs-svc/1.",
    )


def test_trip_without_rollback_or_without_a_completed_deployment() -> None:
    no_rollback = CircuitBreakerConfig(enable=True)
    state = run(no_rollback, [R, U, U, U])
    trip = on_trip("web", no_rollback, state, NEW, [NEW, OLD])
    assert trip.failed_update.rollout_state_reason == REASON_FAILED_HEALTH_CHECKS
    assert trip.rollback_task_definition is None
    assert trip.events == (
        "(service web) (deployment ecs-svc/2) deployment failed: tasks failed health checks.",
    )
    assert on_trip("web", ON, run(ON, [F, F, F]), NEW, [NEW]).rollback_task_definition is None
