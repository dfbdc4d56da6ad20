"""Amazon ECS: the control plane (task definitions, clusters, capacity providers, account
settings, tags), tasks and the agent that runs them. Other packages use only what is named here."""

from ecsbox.ecs.agent import TASK_CHANGED, TaskAgent
from ecsbox.ecs.api import operations, register
from ecsbox.ecs.scheduler import ServiceScheduler

__all__ = ["TASK_CHANGED", "ServiceScheduler", "TaskAgent", "operations", "register"]
