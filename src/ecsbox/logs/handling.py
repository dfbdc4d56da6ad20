"""What every CloudWatch Logs handler shares: its dependencies, the boundary where logs rule errors
become AWS errors, and how a request names its log group."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import rule_errors_as_aws
from ecsbox.core.clock import Clock
from ecsbox.logs.limits import is_valid_text
from ecsbox.logs.model import (
    NAME_AND_IDENTIFIER,
    NAME_OR_IDENTIFIER,
    GroupRef,
    LogsRuleError,
    group_identifier,
    invalid_parameter,
)
from ecsbox.store import Store

if TYPE_CHECKING:  # metric_hook reaches the operation modules, which import this one
    from ecsbox.logs.metric_hook import MetricSink

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Deps:
    store: Store
    clock: Clock
    metric_sink: MetricSink | None = None  # hears of committed events (CloudWatch metrics)

    def now_ms(self) -> int:
        """ecsbox's clock in milliseconds, the unit of every CloudWatch Logs time."""
        return int(self.clock.now() * 1000)


def check_text(params: dict[str, Any]) -> None:
    """Every name, prefix and pattern must be valid Unicode (JSON can carry a lone surrogate, which
    no database stores); log messages are cleaned instead (:func:`ecsbox.logs.limits.clean_message`)."""
    for key, value in params.items():
        if key != "logEvents" and not _valid(value):
            raise invalid_parameter(f"Invalid characters in {key}.")


def _valid(value: Any) -> bool:
    if isinstance(value, str):
        return is_valid_text(value)
    if isinstance(value, list):
        return all(_valid(item) for item in value)
    if isinstance(value, dict):
        return all(_valid(key) and _valid(item) for key, item in value.items())
    return True


def named_group(ctx: RequestContext, params: dict[str, Any]) -> GroupRef:
    """The group of an operation that takes ``logGroupName`` or ``logGroupIdentifier`` (exactly one)."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name is not None and identifier is not None:
        raise invalid_parameter(NAME_AND_IDENTIFIER)
    if identifier is not None:
        return group_identifier(ctx.partition, str(identifier))
    if name is None:
        raise invalid_parameter(NAME_OR_IDENTIFIER)
    return GroupRef(ctx.partition, str(name))


# Checks the request's text (check_text), and turns LogsRuleError raised below a handler into the
# AwsError the wire layer answers with.
aws_errors = rule_errors_as_aws(LogsRuleError, check_text)
