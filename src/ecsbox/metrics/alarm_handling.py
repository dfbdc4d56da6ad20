"""What every alarm operation shares: its dependencies, and the boundary where CloudWatch rule errors
become the AWS errors the wire layer answers with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import rule_errors_as_aws
from ecsbox.core.clock import Clock
from ecsbox.metrics.model import MetricsRuleError, check_request_text
from ecsbox.store import Store

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

RESOURCE_NOT_FOUND = "ResourceNotFound"  # the alarm operations' code (404)
RESOURCE_NOT_FOUND_EXCEPTION = "ResourceNotFoundException"  # the tag operations' code (404)


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock


# Checks that every string of the request is storable, and turns MetricsRuleError raised below a
# handler into the AwsError the wire layer answers with (same code and message).
aws_errors = rule_errors_as_aws(MetricsRuleError, check_request_text)


def alarm_not_found(name: str) -> MetricsRuleError:
    return MetricsRuleError(RESOURCE_NOT_FOUND, f"Alarm {name} does not exist.")
