"""ECR: repositories, authorization tokens and (served beside the AWS API) the registry itself.

Other packages use only what is named here; the composition root builds the blob store, the
registry (served on the API port under ``/v2/``), its housekeeping, and the image source the ECS
agent pulls registry images with.
"""

from ecsbox.ecr.addresses import RegistryAddresses
from ecsbox.ecr.api import ecr_operations, register
from ecsbox.ecr.blobs import BlobStore
from ecsbox.ecr.housekeeping import HousekeepingReport, RegistryHousekeeping
from ecsbox.ecr.pulls import ImageSource
from ecsbox.ecr.registry import Registry
from ecsbox.ecr.repository_repo import load_partition_numbers, load_secret

__all__ = [
    "BlobStore",
    "HousekeepingReport",
    "ImageSource",
    "Registry",
    "RegistryAddresses",
    "RegistryHousekeeping",
    "ecr_operations",
    "load_partition_numbers",
    "load_secret",
    "register",
]
