"""The wire layer's error tree: every error that reaches a client is an :class:`AwsError`.

Handlers raise ``AwsError("ClientException", "…")`` with a code their service model names; the
HTTP status and the query-compatible code come from the model when the gateway serialises it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

from ecsbox.core.errors import EcsboxError

F = TypeVar("F", bound=Callable[..., Awaitable[dict[str, Any]]])


class AwsError(EcsboxError):
    """An error answered to the client in its service's own error shape."""

    def __init__(self, code: str, message: str, status: int | None = None, sender_fault: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status  # None: take it from the service model (400 when the model is silent)
        self.sender_fault = sender_fault


class ValidationError(AwsError):
    """Input that breaks the model (required, type, range, length, pattern, enum).

    The gateway rewrites ``code`` to the validation code of the service the request went to.
    """

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__("ValidationException", message, 400)
        self.missing = missing


class MalformedRequest(AwsError):
    """A body that cannot be decoded at all (bad JSON, CBOR, query string)."""

    def __init__(self, message: str) -> None:
        super().__init__("SerializationException", message, 400)


class NotImplementedOperation(AwsError):
    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            "NotImplemented",
            f"The operation {operation} of service {service} is not yet implemented by ecsbox",
            501,
            sender_fault=False,
        )


class TypeMismatch(ValidationError):
    """A value of the wrong wire type (a string where a number belongs, an int out of its type's range).

    Coral services answer these before validating, with ``SerializationException`` on the json
    protocols; query services answer their validation code.
    """


class _RuleError(Protocol):
    code: str  # the error code the service model names
    message: str


def rule_errors_as_aws(
    rule_error: type[Exception], check_request: Callable[[dict[str, Any]], None] | None = None
) -> Callable[[F], F]:
    """A capability's boundary, as a decorator for its handlers: ``rule_error`` (an error with
    ``code`` and ``message``, as ``EcrRuleError``) raised below a handler becomes the
    :class:`AwsError` the wire layer answers with (same code, same message). With ``check_request``,
    the request's parameters (the handler's last argument) are checked first, and what it raises is
    translated too. Example: ``aws_errors = rule_errors_as_aws(EcsRuleError)``, then ``@aws_errors``
    on each ECS handler."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
            try:
                if check_request is not None and args and isinstance(args[-1], dict):
                    check_request(args[-1])
                return await fn(*args, **kwargs)
            except rule_error as exc:
                broken = cast(_RuleError, exc)
                raise AwsError(broken.code, broken.message) from exc

        return wrapper  # type: ignore[return-value]

    return decorate
