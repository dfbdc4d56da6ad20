"""What a handler knows about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    account_id: str
    region: str
    service: str  # botocore service name, e.g. "ecs"
    operation: str  # e.g. "RegisterTaskDefinition"
    request_id: str
    access_key_id: str = ""
    principal_arn: str = ""  # the caller, e.g. arn:aws:iam::000000000000:root

    @property
    def partition(self) -> tuple[str, str]:
        return (self.account_id, self.region)
