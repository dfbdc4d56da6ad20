"""What every wire protocol module provides, and the pieces they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ecsbox.aws.errors import AwsError
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.registry import ErrorInfo, OperationSpec, ServiceSpec


class Protocol(ABC):
    """One AWS wire protocol: find the operation a request names, read its parameters, write the
    result or an error the way botocore's parser for that protocol reads them."""

    name: str

    @abstractmethod
    def operation_name(self, request: HttpRequest, service: ServiceSpec) -> str | None:
        """The operation the request names (None when it names none); need not exist in the model."""

    @abstractmethod
    def parse(self, request: HttpRequest, service: ServiceSpec, operation: OperationSpec) -> dict[str, Any]:
        """The parameters botocore's client was given; raises MalformedRequest on undecodable input."""

    @abstractmethod
    def serialize(
        self,
        result: dict[str, Any],
        request: HttpRequest,
        service: ServiceSpec,
        operation: OperationSpec,
        request_id: str,
    ) -> HttpResponse:
        """The HTTP response carrying ``result`` (a dict shaped like the operation's output)."""

    @abstractmethod
    def serialize_error(
        self, error: AwsError, request: HttpRequest, service: ServiceSpec | None, request_id: str
    ) -> HttpResponse:
        """The HTTP response carrying ``error`` in this protocol's error format."""

    def unknown_operation(self, name: str | None, service: ServiceSpec) -> AwsError:
        return AwsError(
            "UnknownOperationException",
            f"Operation {name or '(none)'} is not supported by "
            f"{service.model.metadata.get('serviceId', service.name)}",
            400,
        )


def error_info(error: AwsError, service: ServiceSpec | None) -> tuple[ErrorInfo, int]:
    """The wire names of ``error`` and its HTTP status: the model's when it models the code,
    else the error's own status, else 400."""
    if service is None:
        info = ErrorInfo(error.code, error.code, error.status, error.sender_fault, modelled=False)
    else:
        info = service.error(error.code, error.status, error.sender_fault)
    status = (info.status if info.modelled else None) or error.status or 400
    return info, status


def query_error_header(info: ErrorInfo, error: AwsError) -> tuple[str, str]:
    """``x-amzn-query-error: <Code>;Sender`` for awsQueryCompatible services."""
    fault = "Sender" if (info.sender_fault if info.modelled else error.sender_fault) else "Receiver"
    return ("x-amzn-query-error", f"{info.code};{fault}")
