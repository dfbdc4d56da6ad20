"""Where a task's image comes from when it lives in ecsbox's registry: the local address the
engine pulls from, and a token for it.

A task definition names an ECR image either as AWS writes it,
``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`` (the account may be a placeholder such as
the seed's ``xxxx``: then it is the task's own account), or by a ``repositoryUri`` ecsbox handed
out (``localhost:4566/<repo>:<tag>``). Both run unchanged: the engine pulls from the partition's
registry address with a fresh token, the way the ECS agent pulls from ECR with the task
execution role's credentials.
"""

from __future__ import annotations

from collections.abc import Callable

from ecsbox.core.clock import Clock
from ecsbox.ecr.addresses import RegistryAddresses, split_host
from ecsbox.ecr.model import Partition, image_partition, parse_aws_image
from ecsbox.ecr.tokens import USER, issue_password
from ecsbox.runtime.port import RegistryAuth


class UnknownRegistry(LookupError):
    """An ECR image of a partition that has no repository here: nothing to pull it from."""


class ImageSource:
    def __init__(self, addresses: RegistryAddresses, secret: Callable[[], bytes], clock: Clock) -> None:
        self.addresses = addresses
        self.secret = secret
        self.clock = clock

    def local_reference(self, image: str, task_partition: Partition) -> tuple[str, Partition] | None:
        """(the image at its local registry address, its partition), or None for an image that is
        not in ecsbox's registry."""
        aws = parse_aws_image(image)
        if aws is not None:
            partition = image_partition(aws, task_partition)
            try:
                host = self.addresses.host(partition)
            except KeyError:
                raise UnknownRegistry(
                    f"{image}: no repository of account {partition[0]} in {partition[1]} exists in ecsbox"
                ) from None
            return f"{host}/{aws.repository}{aws.reference}", partition
        host, slash, _rest = image.partition("/")
        if not slash or split_host(host)[1] != self.addresses.port:
            return None
        partition_here = self.addresses.partition_of(host)
        return (image, partition_here) if partition_here is not None else None

    async def resolve(self, account: str, region: str, image: str) -> tuple[str, RegistryAuth] | None:
        found = self.local_reference(image, (account, region))
        if found is None:
            return None
        reference, partition = found
        password, _expires = issue_password(self.secret(), partition, self.clock.wall())
        return reference, RegistryAuth(USER, password)
