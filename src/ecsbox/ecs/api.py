"""The ECS control plane's operations: the table of operation name → handler that
:func:`ecsbox.ecs.register` hands to the wire layer's registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ecsbox.core.clock import Clock
from ecsbox.ecs.capacity_providers import CapacityProviders
from ecsbox.ecs.clusters import Clusters
from ecsbox.ecs.handling import Deps, Handler
from ecsbox.ecs.instances import ContainerInstances, MachineInfo
from ecsbox.ecs.local_instance import Machine
from ecsbox.ecs.services import Services
from ecsbox.ecs.settings import AccountSettings
from ecsbox.ecs.tagging import Tagging
from ecsbox.ecs.taskdefs import TaskDefinitions
from ecsbox.ecs.tasks import Tasks
from ecsbox.store import Store


class Registry(Protocol):
    def register(self, service: str, operation: str, handler: Any) -> None: ...


def _no_agent(task_arn: str) -> None:
    """Without a task agent (tests of the control plane alone) tasks are only recorded."""


async def _no_machine() -> Machine | None:
    return None


def operations(
    store: Store,
    clock: Clock,
    wake: Callable[[str], None] = _no_agent,
    wake_service: Callable[[str], None] = _no_agent,
    machine: MachineInfo | None = None,
    server_id: str = "",
) -> dict[str, Handler]:
    """Every ECS operation ecsbox implements, bound to its dependencies. ``wake`` tells the task
    agent that a task changed, ``wake_service`` the service scheduler that a service did."""
    deps = Deps(store=store, clock=clock)
    tasks = Tasks(deps, wake, machine, server_id)
    instances = ContainerInstances(deps, machine or _no_machine, server_id)
    services = Services(deps, wake_service)
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
        "RunTask": tasks.run,
        "StartTask": tasks.start,
        "StopTask": tasks.stop,
        "DescribeTasks": tasks.describe,
        "ListTasks": tasks.list,
        "ListContainerInstances": instances.list,
        "DescribeContainerInstances": instances.describe,
        "PutAttributes": instances.put,
        "DeleteAttributes": instances.delete,
        "ListAttributes": instances.list_attributes,
        "CreateService": services.create,
        "UpdateService": services.update,
        "DeleteService": services.delete,
        "DescribeServices": services.describe,
        "ListServices": services.list,
    }


def register(
    registry: Registry,
    store: Store,
    clock: Clock,
    wake: Callable[[str], None] = _no_agent,
    wake_service: Callable[[str], None] = _no_agent,
    machine: MachineInfo | None = None,
    server_id: str = "",
) -> None:
    """Register every ECS operation with the wire layer's registry."""
    for operation, handler in operations(store, clock, wake, wake_service, machine, server_id).items():
        registry.register("ecs", operation, handler)
