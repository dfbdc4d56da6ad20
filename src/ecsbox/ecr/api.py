"""The ECR operations: the table of operation name → handler that :func:`ecsbox.ecr.register`
hands to the wire layer's registry. (The registry's own HTTP API, ``/v2/``, is served elsewhere.)"""

from __future__ import annotations

from typing import Any, Protocol

from ecsbox.core.clock import Clock
from ecsbox.ecr.addresses import RegistryAddresses
from ecsbox.ecr.blobs import BlobStore
from ecsbox.ecr.handling import Deps, Handler
from ecsbox.ecr.images import Images
from ecsbox.ecr.lifecycle_policies import LifecyclePolicies
from ecsbox.ecr.repositories import Repositories
from ecsbox.store import Store


class Registry(Protocol):
    def register(self, service: str, operation: str, handler: Any) -> None: ...


def ecr_operations(deps: Deps, blobs: BlobStore) -> dict[str, Handler]:
    """Every ECR operation ecsbox implements, bound to its dependencies."""
    repositories = Repositories(deps)
    images = Images(deps, blobs)
    lifecycle = LifecyclePolicies(deps)
    return {
        "CreateRepository": repositories.create,
        "DescribeRepositories": repositories.describe,
        "DeleteRepository": repositories.delete,
        "SetRepositoryPolicy": repositories.set_policy,
        "GetRepositoryPolicy": repositories.get_policy,
        "DeleteRepositoryPolicy": repositories.delete_policy,
        "PutImageTagMutability": repositories.put_tag_mutability,
        "PutImageScanningConfiguration": repositories.put_scanning,
        "TagResource": repositories.tag,
        "UntagResource": repositories.untag,
        "ListTagsForResource": repositories.list_tags,
        "DescribeRegistry": repositories.describe_registry,
        "GetAuthorizationToken": repositories.get_authorization_token,
        "DescribeImages": images.describe,
        "ListImages": images.list,
        "BatchGetImage": images.batch_get,
        "BatchDeleteImage": images.batch_delete,
        "PutImage": images.put,
        "BatchCheckLayerAvailability": images.check_layers,
        "InitiateLayerUpload": images.initiate_upload,
        "UploadLayerPart": images.upload_part,
        "CompleteLayerUpload": images.complete_upload,
        "GetDownloadUrlForLayer": images.download_url,
        "PutLifecyclePolicy": lifecycle.put,
        "GetLifecyclePolicy": lifecycle.get,
        "DeleteLifecyclePolicy": lifecycle.delete,
        "StartLifecyclePolicyPreview": lifecycle.start_preview,
        "GetLifecyclePolicyPreview": lifecycle.get_preview,
    }


def register(
    registry: Registry, store: Store, clock: Clock, addresses: RegistryAddresses, blobs: BlobStore
) -> None:
    """Register every ECR operation with the wire layer's registry."""
    for operation, handler in ecr_operations(
        Deps(store=store, clock=clock, addresses=addresses), blobs
    ).items():
        registry.register("ecr", operation, handler)
