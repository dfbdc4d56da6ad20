"""The wire layer's error tree: every error that reaches a client is an :class:`AwsError`.

Handlers raise ``AwsError("ClientException", "…")`` with a code their service model names; the
HTTP status and the query-compatible code come from the model when the gateway serialises it.
"""

from __future__ import annotations

from ecsbox.core.errors import EcsboxError


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
