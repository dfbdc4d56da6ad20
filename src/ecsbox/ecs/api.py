"""The ECS control plane's operations: the table of operation name → handler that
:func:`ecsbox.ecs.register` hands to the wire layer's registry."""

from __future__ import annotations

from typing import Any, Protocol

from ecsbox.core.clock import Clock
from ecsbox.ecs.capacity_providers import CapacityProviders
from ecsbox.ecs.clusters import Clusters
from ecsbox.ecs.handling import Deps, Handler
from ecsbox.ecs.settings import AccountSettings
from ecsbox.ecs.tagging import Tagging
from ecsbox.ecs.taskdefs import TaskDefinitions
from ecsbox.store import Store


class Registry(Protocol):
    def register(self, service: str, operation: str, handler: Any) -> None: ...


def operations(store: Store, clock: Clock) -> dict[str, Handler]:
    """Every ECS operation ecsbox implements, bound to its dependencies."""
    deps = Deps(store=store, clock=clock)
    task_definitions = TaskDefinitions(deps)
    clusters = Clusters(deps)
    providers = CapacityProviders(deps)
    settings = AccountSettings(deps)
    tagging = Tagging(deps)
    return {
        "RegisterTaskDefinition": task_definitions.register,
        "DescribeTaskDefinition": task_definitions.describe,
        "ListTaskDefinitions": task_definitions.list,
        "ListTaskDefinitionFamilies": task_definitions.list_families,
        "DeregisterTaskDefinition": task_definitions.deregister,
        "DeleteTaskDefinitions": task_definitions.delete,
        "CreateCluster": clusters.create,
        "DescribeClusters": clusters.describe,
        "ListClusters": clusters.list,
        "DeleteCluster": clusters.delete,
        "UpdateCluster": clusters.update,
        "UpdateClusterSettings": clusters.update_settings,
        "PutClusterCapacityProviders": clusters.put_capacity_providers,
        "CreateCapacityProvider": providers.create,
        "DescribeCapacityProviders": providers.describe,
        "UpdateCapacityProvider": providers.update,
        "DeleteCapacityProvider": providers.delete,
        "PutAccountSetting": settings.put,
        "PutAccountSettingDefault": settings.put_default,
        "ListAccountSettings": settings.list,
        "DeleteAccountSetting": settings.delete,
        "TagResource": tagging.tag,
        "UntagResource": tagging.untag,
        "ListTagsForResource": tagging.list,
    }


def register(registry: Registry, store: Store, clock: Clock) -> None:
    """Register every ECS operation with the wire layer's registry."""
    for operation, handler in operations(store, clock).items():
        registry.register("ecs", operation, handler)
