"""Amazon ECS: the control plane (task definitions, clusters, capacity providers, account
settings, tags), tasks and the agent that runs them, services and their scheduler (which reads
deployment alarms as :class:`AlarmReading`). Other packages use only what is named here."""

from ecsbox.ecs.agent import TASK_CHANGED, TaskAgent
from ecsbox.ecs.api import operations, register
from ecsbox.ecs.deployment_alarms import AlarmReading
from ecsbox.ecs.monitoring import monitoring_snapshot
from ecsbox.ecs.scheduler import ServiceScheduler

__all__ = [
    "TASK_CHANGED",
    "AlarmReading",
    "ServiceScheduler",
    "TaskAgent",
    "monitoring_snapshot",
    "operations",
    "register",
]
