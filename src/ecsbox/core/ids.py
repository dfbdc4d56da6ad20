"""Identifiers and ARNs as AWS spells them."""

from __future__ import annotations

import uuid

DEFAULT_ACCOUNT_ID = "000000000000"


def arn(service: str, region: str, account_id: str, resource: str, partition: str = "aws") -> str:
    """Build an ARN. ``arn("ecs", "us-east-1", "000000000000", "cluster/default")``
    → ``arn:aws:ecs:us-east-1:000000000000:cluster/default``."""
    return f"arn:{partition}:{service}:{region}:{account_id}:{resource}"


def parse_arn(value: str) -> dict[str, str] | None:
    """Split an ARN into its parts, or None when it is not one."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return {
        "partition": parts[1],
        "service": parts[2],
        "region": parts[3],
        "account": parts[4],
        "resource": parts[5],
    }


def request_id() -> str:
    return str(uuid.uuid4())
