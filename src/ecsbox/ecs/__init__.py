"""Amazon ECS: the control plane (task definitions, clusters, capacity providers, account
settings, tags). Other packages use only what is named here."""

from ecsbox.ecs.api import operations, register

__all__ = ["operations", "register"]
