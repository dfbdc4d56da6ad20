"""What a task's containers say about the task: pure translation of observed container states into
the ECS task and container fields (SEMANTICS §1.6, §1.7)."""

from __future__ import annotations

from dataclasses import dataclass

from ecsbox.runtime.port import ContainerState

# lastStatus values in lifecycle order
PROVISIONING = "PROVISIONING"
PENDING = "PENDING"
ACTIVATING = "ACTIVATING"
RUNNING = "RUNNING"
DEACTIVATING = "DEACTIVATING"
STOPPING = "STOPPING"
DEPROVISIONING = "DEPROVISIONING"
STOPPED = "STOPPED"
LIFECYCLE = (PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED)

# stopCode values (botocore TaskStopCode)
TASK_FAILED_TO_START = "TaskFailedToStart"
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
USER_INITIATED = "UserInitiated"
SERVICE_SCHEDULER_INITIATED = "ServiceSchedulerInitiated"
SPOT_INTERRUPTION = "SpotInterruption"
TERMINATION_NOTICE = "TerminationNotice"

ESSENTIAL_EXITED_REASON = "Essential container in task exited"

HEALTHY = "HEALTHY"
UNHEALTHY = "UNHEALTHY"
UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class ObservedContainer:
    last_status: str  # PENDING | RUNNING | STOPPED
    exit_code: int | None
    reason: str
    health: str  # HEALTHY | UNHEALTHY | UNKNOWN


def observe(state: ContainerState | None) -> ObservedContainer:
    """A container as ECS reports it. A container that is gone (``docker rm -f``) is STOPPED with
    no exit code, as the agent reports a container it lost.

    running + healthy → (RUNNING, None, "", HEALTHY); exited 3 → (STOPPED, 3, "", UNKNOWN).
    """
    if state is None:
        return ObservedContainer(
            STOPPED, None, "DockerContainerRemoved: the container no longer exists", UNKNOWN
        )
    health = {"healthy": HEALTHY, "unhealthy": UNHEALTHY}.get(state.health or "", UNKNOWN)
    if state.status in ("running", "paused", "restarting"):
        return ObservedContainer(RUNNING, None, "", health)
    if state.status == "created":
        return ObservedContainer(PENDING, None, "", UNKNOWN)
    reason = "OutOfMemoryError: Container killed due to memory usage" if state.oom_killed else state.error
    return ObservedContainer(STOPPED, state.exit_code, reason, health)


def task_health(essential_health: list[str]) -> str:
    """The task's health from its essential containers': any UNHEALTHY → UNHEALTHY; else any
    UNKNOWN → UNKNOWN; else HEALTHY. ``[HEALTHY, UNKNOWN]`` → UNKNOWN; ``[]`` → UNKNOWN."""
    if not essential_health:
        return UNKNOWN
    if UNHEALTHY in essential_health:
        return UNHEALTHY
    if UNKNOWN in essential_health:
        return UNKNOWN
    return HEALTHY


def lifecycle_index(status: str) -> int:
    return LIFECYCLE.index(status) if status in LIFECYCLE else 0


def is_past(status: str, than: str) -> bool:
    """Has ``status`` reached or passed ``than`` in the lifecycle? (RUNNING, PENDING) → True."""
    return lifecycle_index(status) >= lifecycle_index(than)
