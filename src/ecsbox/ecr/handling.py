"""What every ECR handler shares: its dependencies and the boundary where ECR rule errors become
AWS errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import rule_errors_as_aws
from ecsbox.core.clock import Clock
from ecsbox.ecr.addresses import RegistryAddresses
from ecsbox.ecr.model import EcrRuleError, Partition
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    addresses: RegistryAddresses


# Turns EcrRuleError raised below a handler into the AwsError the wire layer answers with.
aws_errors = rule_errors_as_aws(EcrRuleError)


def partition_of(ctx: RequestContext, params: dict[str, Any]) -> Partition:
    """The partition a request acts on: the caller's region, and ``registryId`` when given (ecsbox
    lets a caller name another account's registry; AWS would check cross-account permissions)."""
    return (str(params.get("registryId") or ctx.account_id), ctx.region)
