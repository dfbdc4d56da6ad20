"""The deployment circuit breaker (SEMANTICS §1.3): one state per deployment, advanced by what
happens to that deployment's tasks, tripped when consecutive failures reach the threshold.

* Stage 1 (no task of the deployment has reached RUNNING yet): every task that stops before
  RUNNING is a failure.
* Stage 2 (from the first RUNNING task; the count resets to 0 then, as the API reference says):
  tasks stopped for failing health checks, or stopped after RUNNING without ever being healthy,
  are failures; a task becoming healthy resets the count when ``resetOnHealthyTask`` (default true).
  Tasks that fail to start in stage 2 no longer count (the API reference: once a task runs, the
  count "stops being evaluated" for start failures).
* The threshold is recomputed from the latest desired count (:func:`rounding.circuit_breaker_threshold`).
* Tripped: the deployment goes FAILED and launches nothing more; with ``rollback`` a new deployment
  to the newest COMPLETED one starts. Monitoring ends (MONITORING_COMPLETE) when the rollout completes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ecsbox.ecs import service_events
from ecsbox.ecs.deployment import COMPLETED, FAILED, DeploymentUpdate, DeploymentView
from ecsbox.ecs.rounding import (
    DEFAULT_THRESHOLD_VALUE,
    THRESHOLD_BOUNDED_PERCENT,
    circuit_breaker_threshold,
)

TRIGGERED, MONITORING, MONITORING_COMPLETE, DISABLED = (
    "TRIGGERED",
    "MONITORING",
    "MONITORING_COMPLETE",
    "DISABLED",
)
REASON_FAILED_TO_START = "ECS deployment circuit breaker: task failed to start."
# ecsbox's wording for stage 2 (AWS documents only the stage-1 reason).
REASON_FAILED_HEALTH_CHECKS = "ECS deployment circuit breaker: task failed health checks."


def rollback_reason(target_deployment_id: str) -> str:
    """``rolloutStateReason`` of the rollback deployment:
    ``rollback_reason("ecs-svc/1")`` → ``ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.``"""
    return f"ECS deployment circuit breaker: rolling back to deploymentId {target_deployment_id}."


class TaskOutcome(StrEnum):
    FAILED_TO_START = "FAILED_TO_START"  # stopped before reaching RUNNING
    RUNNING = "RUNNING"  # reached RUNNING
    HEALTHY = "HEALTHY"  # counted healthy (HEALTHY, or 40 s RUNNING without a health check)
    FAILED_HEALTH_CHECKS = "FAILED_HEALTH_CHECKS"  # stopped after RUNNING, unhealthy or never healthy


@dataclass(frozen=True)
class CircuitBreakerConfig:
    enable: bool = False
    rollback: bool = False
    reset_on_healthy_task: bool = True
    threshold_type: str = THRESHOLD_BOUNDED_PERCENT
    threshold_value: int = DEFAULT_THRESHOLD_VALUE

    @classmethod
    def from_api(cls, document: Mapping[str, Any] | None) -> CircuitBreakerConfig:
        """From ``deploymentConfiguration.deploymentCircuitBreaker`` (None → disabled)."""
        if not document:
            return cls()
        threshold = document.get("thresholdConfiguration") or {}
        return cls(
            enable=bool(document.get("enable")),
            rollback=bool(document.get("rollback")),
            reset_on_healthy_task=document.get("resetOnHealthyTask") is not False,
            threshold_type=str(threshold.get("type") or THRESHOLD_BOUNDED_PERCENT),
            threshold_value=int(threshold.get("value", DEFAULT_THRESHOLD_VALUE)),
        )


@dataclass(frozen=True)
class CircuitBreakerState:
    status: str = MONITORING
    failure_count: int = 0  # Deployment.failedTasks
    stage: int = 1
    reason: str | None = None  # set when TRIGGERED


def initial_state(config: CircuitBreakerConfig) -> CircuitBreakerState:
    """A new deployment's breaker: MONITORING when enabled, else DISABLED."""
    return CircuitBreakerState(status=MONITORING if config.enable else DISABLED)


def threshold(config: CircuitBreakerConfig, desired_count: int) -> int:
    """``threshold(CircuitBreakerConfig(enable=True), 25)`` → 13."""
    return circuit_breaker_threshold(desired_count, config.threshold_type, config.threshold_value)


def observe(
    state: CircuitBreakerState,
    config: CircuitBreakerConfig,
    outcome: TaskOutcome,
    desired_count: int,
) -> CircuitBreakerState:
    """The breaker after one task outcome of its deployment.

    Example (desired 4 → threshold 3): FAILED_TO_START x3 → TRIGGERED with the stage-1 reason;
    FAILED_TO_START x2, RUNNING, FAILED_TO_START → still MONITORING, count 0 (stage 2).
    A disabled, tripped or completed breaker does not change (its count still shows failures when
    disabled, as ``failedTasks`` does).
    """
    if state.status in (TRIGGERED, MONITORING_COMPLETE):
        return state
    count, stage = state.failure_count, state.stage
    if outcome is TaskOutcome.FAILED_TO_START:
        if stage == 1:
            count += 1
    elif outcome is TaskOutcome.RUNNING:
        if stage == 1:
            count, stage = 0, 2
    elif outcome is TaskOutcome.HEALTHY:
        if stage == 1:
            count, stage = 0, 2
        elif config.reset_on_healthy_task:
            count = 0
    else:  # FAILED_HEALTH_CHECKS; a RUNNING the controller did not report is implied
        count = 1 if stage == 1 else count + 1
        stage = 2
    if state.status == MONITORING and count >= threshold(config, desired_count):
        reason = (
            REASON_FAILED_TO_START if outcome is TaskOutcome.FAILED_TO_START else REASON_FAILED_HEALTH_CHECKS
        )
        return CircuitBreakerState(TRIGGERED, count, stage, reason)
    return replace(state, failure_count=count, stage=stage)


def complete(state: CircuitBreakerState) -> CircuitBreakerState:
    """The rollout COMPLETED: a monitoring breaker stops monitoring."""
    return replace(state, status=MONITORING_COMPLETE) if state.status == MONITORING else state


def status_document(
    state: CircuitBreakerState, config: CircuitBreakerConfig, desired_count: int
) -> dict[str, Any]:
    """``ServiceDeploymentCircuitBreaker`` as the API prints it:
    ``{"status": "MONITORING", "failureCount": 1, "threshold": 3}``."""
    return {
        "status": state.status,
        "failureCount": state.failure_count,
        "threshold": threshold(config, desired_count),
    }


def rollback_target(
    deployments: Sequence[DeploymentView], failed_deployment_id: str
) -> DeploymentView | None:
    """The deployment to roll back to: the newest COMPLETED one other than the failed one."""
    completed = [d for d in deployments if d.rollout_state == COMPLETED and d.id != failed_deployment_id]
    return max(completed, key=lambda d: (d.created_at, d.id), default=None)


@dataclass(frozen=True)
class Trip:
    """What the controller does when a deployment's watcher (this breaker, or the deployment
    alarms of :mod:`ecsbox.ecs.deployment_alarms`) trips."""

    failed_update: DeploymentUpdate  # the tripped deployment → rolloutState FAILED
    events: tuple[str, ...]
    # With rollback and a COMPLETED deployment to go back to: create a new PRIMARY deployment of
    # this task definition, rolloutState IN_PROGRESS with ``rollback_reason``.
    rollback_task_definition: str | None = None
    rollback_to_deployment_id: str | None = None
    rollback_reason: str | None = None


def fail_deployment(
    service_name: str,
    failed: DeploymentView,
    deployments: Sequence[DeploymentView],
    *,
    cause: str,
    reason: str,
    rollback: bool,
    rollback_reason_of: Callable[[str], str],
) -> Trip:
    """Deployment ``failed`` goes FAILED with ``reason`` (event ``… deployment failed: {cause}.``);
    with ``rollback`` and a COMPLETED deployment to go back to (:func:`rollback_target`), a new one
    of its task definition starts with ``rollback_reason_of(target id)`` and a rolling-back event.

    Example: ``ecs-svc/2`` fails with rollback while ``ecs-svc/1`` (``web:1``) is COMPLETED →
    ``Trip(ecs-svc/2 FAILED, (failed event, rolling-back event), "web:1", "ecs-svc/1", reason)``.
    """
    events = [service_events.deployment_failed(service_name, failed.id, cause)]
    update = DeploymentUpdate(failed.id, failed.status, FAILED, reason)
    target = rollback_target(deployments, failed.id) if rollback else None
    if target is None:
        return Trip(update, tuple(events))
    events.append(service_events.rolling_back(service_name, failed.id, target.id))
    return Trip(update, tuple(events), target.task_definition, target.id, rollback_reason_of(target.id))


def on_trip(
    service_name: str,
    config: CircuitBreakerConfig,
    state: CircuitBreakerState,
    failed: DeploymentView,
    deployments: Sequence[DeploymentView],
) -> Trip:
    """The consequences of ``state`` (TRIGGERED) for deployment ``failed``.

    Example: ``ecs-svc/2`` trips with rollback while ``ecs-svc/1`` (``web:1``) is COMPLETED →
    ``ecs-svc/2`` FAILED "ECS deployment circuit breaker: task failed to start.", roll back to ``web:1``.
    """
    reason = state.reason or REASON_FAILED_TO_START
    cause = "tasks failed to start" if reason == REASON_FAILED_TO_START else "tasks failed health checks"
    return fail_deployment(
        service_name,
        failed,
        deployments,
        cause=cause,
        reason=reason,
        rollback=config.rollback,
        rollback_reason_of=rollback_reason,
    )
