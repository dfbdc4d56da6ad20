"""What every Parameter Store and Secrets Manager handler shares: its dependencies and the
boundary where secrets rule errors become AWS errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import rule_errors_as_aws
from ecsbox.core.clock import Clock
from ecsbox.secrets.model import SecretsRuleError
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock


# Turns SecretsRuleError raised below a handler into the AwsError the wire layer answers with.
aws_errors = rule_errors_as_aws(SecretsRuleError)


def caller_arn(ctx: RequestContext) -> str:
    """The caller's principal ARN, or the account root when the wire layer did not name one."""
    return ctx.principal_arn or f"arn:aws:iam::{ctx.account_id}:root"
