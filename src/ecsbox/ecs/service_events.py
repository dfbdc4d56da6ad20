"""Service event messages (``Service.events[]``) and the rule that keeps the list (SEMANTICS §1.5).

Every message starts ``(service <name>)``. The texts AWS documents are reproduced exactly
(steady state, unable to place, start impaired, throttled, the deployment-configuration message);
the ones seen in consoles but not documented (started / stopped N tasks, deployment completed,
deployment failed) follow the commonly reported wording.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

MAX_SERVICE_EVENTS = 100
# How long an identical message is not repeated when nothing else happened in between. AWS re-emits
# "has reached a steady state." periodically and the console folds repeats for up to 6 hours;
# ecsbox uses that 6 hours for every message (its choice: AWS gives no period).
REPEAT_WINDOW_S = 6 * 3600.0


@dataclass(frozen=True)
class ServiceEvent:
    """One ``ServiceEvent {id, createdAt, message}``; ``created_at`` in epoch seconds."""

    id: str
    created_at: float
    message: str


def _task_list(task_ids: Sequence[str]) -> str:
    return " ".join(f"(task {task_id})" for task_id in task_ids)


def steady_state(service_name: str) -> str:
    """``steady_state("web")`` → ``(service web) has reached a steady state.``"""
    return f"(service {service_name}) has reached a steady state."


def started_tasks(service_name: str, task_ids: Sequence[str]) -> str:
    """``started_tasks("web", ["a1", "b2"])`` → ``(service web) has started 2 tasks: (task a1) (task b2).``"""
    return f"(service {service_name}) has started {len(task_ids)} tasks: {_task_list(task_ids)}."


def stopped_tasks(service_name: str, task_ids: Sequence[str]) -> str:
    """``stopped_tasks("web", ["a1"])`` → ``(service web) has stopped 1 running tasks: (task a1).``"""
    return f"(service {service_name}) has stopped {len(task_ids)} running tasks: {_task_list(task_ids)}."


def task_failed_health_checks(service_name: str, task_id: str) -> str:
    """``task_failed_health_checks("web", "a1")`` → ``(service web) (task a1) failed container health checks.``"""
    return f"(service {service_name}) (task {task_id}) failed container health checks."


def unable_to_place(service_name: str, detail: str | None = None) -> str:
    """``unable_to_place("web", "The closest matching container-instance abc has insufficient CPU units
    available.")`` → ``(service web) was unable to place a task because no container instance met all of
    its requirements. The closest matching …``; without ``detail`` the first sentence alone."""
    message = (
        f"(service {service_name}) was unable to place a task because no container instance met all "
        "of its requirements."
    )
    return f"{message} {detail}" if detail else message


def start_impaired(service_name: str) -> str:
    """The throttle message: ``(service web) is unable to consistently start tasks successfully.``"""
    return f"(service {service_name}) is unable to consistently start tasks successfully."


def operations_throttled(service_name: str) -> str:
    """``(service web) operations are being throttled. Will try again later.``"""
    return f"(service {service_name}) operations are being throttled. Will try again later."


def deployment_stuck(service_name: str) -> str:
    """Neither bound lets the scheduler start or stop a task (SEMANTICS §1.2)."""
    return (
        f"(service {service_name}) was unable to stop or start tasks during a deployment because of the "
        "service deployment configuration. Update the minimumHealthyPercent or maximumPercent value "
        "and try again."
    )


def deployment_completed(service_name: str, deployment_id: str) -> str:
    """``deployment_completed("web", "ecs-svc/1")`` → ``(service web) (deployment ecs-svc/1) deployment completed.``"""
    return f"(service {service_name}) (deployment {deployment_id}) deployment completed."


def deployment_failed(service_name: str, deployment_id: str, cause: str) -> str:
    """``deployment_failed("web", "ecs-svc/1", "tasks failed to start")`` →
    ``(service web) (deployment ecs-svc/1) deployment failed: tasks failed to start.``"""
    return f"(service {service_name}) (deployment {deployment_id}) deployment failed: {cause}."


def rolling_back(service_name: str, failed_deployment_id: str, target_deployment_id: str) -> str:
    """``rolling_back("web", "ecs-svc/2", "ecs-svc/1")`` →
    ``(service web) (deployment ecs-svc/2) rolling back to deployment ecs-svc/1.`` (ecsbox's wording)."""
    return (
        f"(service {service_name}) (deployment {failed_deployment_id}) rolling back to deployment "
        f"{target_deployment_id}."
    )


def append_events(
    events: Sequence[ServiceEvent],
    messages: Iterable[str],
    now: float,
    new_id: Callable[[], str],
    *,
    repeat_window_s: float = REPEAT_WINDOW_S,
    limit: int = MAX_SERVICE_EVENTS,
) -> list[ServiceEvent]:
    """The event list after ``messages`` happened at ``now``, newest first, at most ``limit`` long.

    A message identical to the newest event is dropped while that event is younger than
    ``repeat_window_s`` (a steady service says so once every 6 hours, not every tick); after any other
    event it is recorded again (a steady state reached after a deployment is news). ``events`` is
    newest first, as DescribeServices lists them.

    Example: ``[steady@0]`` + ``steady`` at 3600 → unchanged; at 21600 → ``[steady@21600, steady@0]``.
    """
    result = list(events)
    for message in messages:
        newest = result[0] if result else None
        if newest is not None and newest.message == message and now - newest.created_at < repeat_window_s:
            continue
        result.insert(0, ServiceEvent(id=new_id(), created_at=now, message=message))
    return result[:limit]
