"""Deployment alarms (``deploymentConfiguration.alarms {alarmNames, enable, rollback}``, SEMANTICS
§1.3): CloudWatch alarms that fail a rolling deployment. Pure; the scheduler reads the alarms'
states and applies what these functions decide.

* From the deployment's start, every listed alarm that goes into ALARM fails it. An alarm already
  in ALARM when the deployment starts is ignored until it leaves ALARM (a rollback deployment, which
  starts while the alarm that failed the previous one is still firing, would otherwise fail at
  once). A listed alarm that does not exist is skipped.
* When the rollout reaches steady state it stays IN_PROGRESS for the *bake time*, still watched, and
  the old deployments (their tasks gone) stay listed as ACTIVE so there is something to roll back
  to; then it is COMPLETED. ECS computes the bake time from the alarms' configuration and does not
  document how: ecsbox takes the longest evaluation time (Period x EvaluationPeriods) among the
  listed alarms, as the ECS team described it when the feature shipped (unconfirmed beyond that).
* Tripped: the deployment goes FAILED (event ``SERVICE_DEPLOYMENT_FAILED``) and launches nothing
  more; with ``rollback`` a new deployment to the newest COMPLETED one starts, exactly as the
  circuit breaker does (:func:`ecsbox.ecs.circuit_breaker.fail_deployment`). The circuit breaker and
  the alarms can both watch a deployment; the first to trip wins.

The ``rolloutStateReason`` texts follow the circuit breaker's documented ones; AWS does not
document the alarm variants (unconfirmed wording).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ecsbox.ecs import service_events
from ecsbox.ecs.circuit_breaker import Trip, fail_deployment
from ecsbox.ecs.deployment import COMPLETED, INACTIVE, DeploymentView, Plan

MONITORING, TRIGGERED, MONITORING_COMPLETE = "MONITORING", "TRIGGERED", "MONITORING_COMPLETE"
ALARM = "ALARM"
MAX_ALARM_NAMES = 100  # ecsbox's limit: what one DescribeAlarms call takes
MAX_ALARM_NAME_CHARS = 255
REASON_ALARMS = "ECS deployment alarms: deployment failed: alarm(s) detected."


def rollback_reason(target_deployment_id: str) -> str:
    """The rollback deployment's ``rolloutStateReason``.

    >>> rollback_reason("ecs-svc/1")
    'ECS deployment alarms: rolling back to deploymentId ecs-svc/1.'
    """
    return f"ECS deployment alarms: rolling back to deploymentId {target_deployment_id}."


@dataclass(frozen=True)
class AlarmsConfig:
    enable: bool = False
    rollback: bool = False
    alarm_names: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, document: Mapping[str, Any] | None) -> AlarmsConfig:
        """From ``deploymentConfiguration.alarms`` (None → not used)."""
        if not document:
            return cls()
        return cls(
            enable=bool(document.get("enable")),
            rollback=bool(document.get("rollback")),
            alarm_names=tuple(dict.fromkeys(str(n) for n in document.get("alarmNames") or ())),
        )

    @property
    def watching(self) -> bool:
        return self.enable and bool(self.alarm_names)


def check_config(document: Mapping[str, Any] | None) -> str | None:
    """What is wrong with ``deploymentConfiguration.alarms`` (the InvalidParameterException
    message), or None. ``{"alarmNames": [], "enable": True, "rollback": False}`` → a message: an
    enabled check needs an alarm to watch."""
    if not document:
        return None
    names = list(document.get("alarmNames") or [])
    if document.get("enable") and not names:
        return "alarmNames must name at least one CloudWatch alarm when alarms are enabled."
    if len(names) > MAX_ALARM_NAMES:
        return f"alarmNames can have at most {MAX_ALARM_NAMES} alarm names."
    for name in names:
        if not 0 < len(name) <= MAX_ALARM_NAME_CHARS:
            return f"An alarm name must be 1 to {MAX_ALARM_NAME_CHARS} characters long."
    return None


@dataclass(frozen=True)
class AlarmReading:
    """One CloudWatch alarm as the deployment sees it: its state (``OK``, ``ALARM``,
    ``INSUFFICIENT_DATA``) and how long it takes to judge (Period x EvaluationPeriods, seconds)."""

    state: str
    evaluation_s: float = 0.0


@dataclass(frozen=True)
class AlarmWatch:
    """The alarms' watch over one deployment (kept in the service's scheduler state)."""

    status: str = MONITORING
    started: bool = False  # the first reading was taken (what was already firing is known)
    ignored: tuple[str, ...] = ()  # in ALARM when the deployment started, and ever since
    bake_until: float | None = None  # the rollout reached steady state; completes at this time
    triggered: tuple[str, ...] = ()  # the alarms that failed the deployment


def bake_time_s(config: AlarmsConfig, readings: Mapping[str, AlarmReading]) -> float:
    """The longest evaluation time among the listed alarms that exist (0 when none does).

    >>> bake_time_s(AlarmsConfig(True, True, ("a", "b")), {"a": AlarmReading("OK", 180)})
    180.0
    """
    return float(max((readings[n].evaluation_s for n in config.alarm_names if n in readings), default=0.0))


def observe(watch: AlarmWatch, config: AlarmsConfig, readings: Mapping[str, AlarmReading]) -> AlarmWatch:
    """The watch after one reading of the alarms.

    Example (alarms ``a``, ``b``): first reading ``a`` ALARM, ``b`` OK → ``a`` ignored, still
    MONITORING; then ``b`` ALARM → TRIGGERED by ``b``; had ``a`` gone OK and then ALARM again, ``a``
    would have triggered it. A watch that tripped or completed does not change.

    >>> config = AlarmsConfig(True, True, ("a", "b"))
    >>> first = observe(AlarmWatch(), config, {"a": AlarmReading("ALARM"), "b": AlarmReading("OK")})
    >>> first.status, first.ignored
    ('MONITORING', ('a',))
    >>> observe(first, config, {"a": AlarmReading("ALARM"), "b": AlarmReading("ALARM")}).triggered
    ('b',)
    """
    if watch.status != MONITORING:
        return watch
    firing = [name for name in config.alarm_names if name in readings and readings[name].state == ALARM]
    if not watch.started:
        return replace(watch, started=True, ignored=tuple(firing))
    ignored = tuple(name for name in watch.ignored if name in firing)
    triggered = tuple(name for name in firing if name not in ignored)
    if triggered:
        return replace(watch, status=TRIGGERED, ignored=ignored, triggered=triggered)
    return replace(watch, ignored=ignored)


def hold_for_bake(
    decision: Plan,
    service_name: str,
    primary_id: str,
    watch: AlarmWatch,
    bake_s: float | None,
    now: float,
) -> tuple[Plan, AlarmWatch]:
    """Keep a watched rollout IN_PROGRESS through its bake time.

    When ``decision`` completes the primary deployment: the first time, the bake starts (it ends
    ``bake_s`` later; ``bake_s`` None means the alarms were not read this tick, so the bake cannot
    start yet); until it ends the completion, the old deployments' retirement to INACTIVE and the
    completed / steady-state events are held back; once it ends they go through and the watch is
    MONITORING_COMPLETE. Example: settled at 100 with a 180 s bake → held until 280, completed then.
    """
    completing = any(
        u.deployment_id == primary_id and u.rollout_state == COMPLETED for u in decision.deployment_updates
    )
    if watch.status != MONITORING or not completing:
        return decision, watch
    bake_until = watch.bake_until
    if bake_until is None and bake_s is not None:
        bake_until = now + bake_s
    if bake_until is not None and now >= bake_until:
        return decision, replace(watch, status=MONITORING_COMPLETE, bake_until=bake_until)
    held = {
        service_events.deployment_completed(service_name, primary_id),
        service_events.steady_state(service_name),
    }
    return (
        replace(
            decision,
            deployment_updates=tuple(
                u
                for u in decision.deployment_updates
                if u.status != INACTIVE
                and not (u.deployment_id == primary_id and u.rollout_state == COMPLETED)
            ),
            events=tuple(e for e in decision.events if e not in held),
            steady=False,
        ),
        replace(watch, bake_until=bake_until),
    )


def on_trip(
    service_name: str,
    config: AlarmsConfig,
    watch: AlarmWatch,
    failed: DeploymentView,
    deployments: Sequence[DeploymentView],
) -> Trip:
    """The consequences of ``watch`` (TRIGGERED) for deployment ``failed`` (the same shape, and the
    same rollback, as the circuit breaker's :func:`ecsbox.ecs.circuit_breaker.on_trip`).

    Example: ``ecs-svc/2`` trips on alarm ``web-5xx`` with rollback while ``ecs-svc/1`` (``web:1``) is
    COMPLETED → ``ecs-svc/2`` FAILED, event ``… deployment failed: alarm(s) detected: web-5xx.``, a
    new deployment of ``web:1``.
    """
    return fail_deployment(
        service_name,
        failed,
        deployments,
        cause="alarm(s) detected: " + ", ".join(watch.triggered),
        reason=REASON_ALARMS,
        rollback=config.rollback,
        rollback_reason_of=rollback_reason,
    )
