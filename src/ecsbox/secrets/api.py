"""The Parameter Store and Secrets Manager operations: the tables of operation name → handler that
:func:`ecsbox.secrets.register` hands to the wire layer's registry."""

from __future__ import annotations

from typing import Any, Protocol

from ecsbox.core.clock import Clock
from ecsbox.secrets.handling import Deps, Handler
from ecsbox.secrets.parameter_tags import ParameterTags
from ecsbox.secrets.parameters import Parameters
from ecsbox.secrets.secret_lifecycle import SecretLifecycle
from ecsbox.secrets.secretsmanager import Secrets
from ecsbox.store import Store


class Registry(Protocol):
    def register(self, service: str, operation: str, handler: Any) -> None: ...


def ssm_operations(store: Store, clock: Clock) -> dict[str, Handler]:
    """Every SSM (Parameter Store) operation ecsbox implements, bound to its dependencies."""
    deps = Deps(store=store, clock=clock)
    parameters = Parameters(deps)
    tags = ParameterTags(deps)
    return {
        "PutParameter": parameters.put,
        "GetParameter": parameters.get,
        "GetParameters": parameters.get_many,
        "GetParametersByPath": parameters.get_by_path,
        "DeleteParameter": parameters.delete,
        "DeleteParameters": parameters.delete_many,
        "DescribeParameters": parameters.describe,
        "AddTagsToResource": tags.add,
        "ListTagsForResource": tags.list,
        "RemoveTagsFromResource": tags.remove,
    }


def secretsmanager_operations(store: Store, clock: Clock) -> dict[str, Handler]:
    """Every Secrets Manager operation ecsbox implements, bound to its dependencies."""
    deps = Deps(store=store, clock=clock)
    secrets = Secrets(deps)
    lifecycle = SecretLifecycle(deps)
    return {
        "CreateSecret": secrets.create,
        "GetSecretValue": secrets.get_value,
        "PutSecretValue": secrets.put_value,
        "UpdateSecret": secrets.update,
        "DescribeSecret": secrets.describe,
        "ListSecrets": secrets.list,
        "DeleteSecret": lifecycle.delete,
        "RestoreSecret": lifecycle.restore,
        "TagResource": lifecycle.tag,
        "UntagResource": lifecycle.untag,
    }


def register(registry: Registry, store: Store, clock: Clock) -> None:
    """Register every Parameter Store and Secrets Manager operation with the wire layer's registry."""
    for operation, handler in ssm_operations(store, clock).items():
        registry.register("ssm", operation, handler)
    for operation, handler in secretsmanager_operations(store, clock).items():
        registry.register("secretsmanager", operation, handler)
