"""The ``rest-xml`` protocol (S3), errors only for now: every S3 operation answers 501 in S3's own
error format ``<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>``.
"""

from __future__ import annotations

from typing import Any

from ecsbox.aws.errors import AwsError
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.protocols.base import Protocol, error_info
from ecsbox.aws.protocols.rest import bind_request, routes_for
from ecsbox.aws.protocols.xml import escape
from ecsbox.aws.registry import OperationSpec, ServiceSpec


class RestXmlProtocol(Protocol):
    name = "rest-xml"

    def operation_name(self, request: HttpRequest, service: ServiceSpec) -> str | None:
        found = routes_for(service).match(request.method, request.path, request.query)
        return found[0] if found else None

    def unknown_operation(self, name: str | None, service: ServiceSpec) -> AwsError:
        return AwsError("NotImplemented", "ecsbox does not implement this request", 501, sender_fault=False)

    def parse(self, request: HttpRequest, service: ServiceSpec, operation: OperationSpec) -> dict[str, Any]:
        """URI, query string and header members; a blob payload as raw bytes. XML bodies are not read."""
        found = routes_for(service).match(request.method, request.path, request.query)
        params: dict[str, Any] = {}
        shape = operation.input_shape
        payload = shape.serialization.get("payload") if shape is not None else None
        if payload and shape is not None and shape.members[payload].type_name == "blob" and request.body:
            params[payload] = request.body
        bind_request(request, operation, found[1] if found else {}, params)
        return params

    def serialize(
        self,
        result: dict[str, Any],
        request: HttpRequest,
        service: ServiceSpec,
        operation: OperationSpec,
        request_id: str,
    ) -> HttpResponse:
        error = AwsError(
            "NotImplemented",
            f"ecsbox cannot answer {operation.name} results in rest-xml yet",
            501,
            sender_fault=False,
        )
        return self.serialize_error(error, request, service, request_id)

    def serialize_error(
        self, error: AwsError, request: HttpRequest, service: ServiceSpec | None, request_id: str
    ) -> HttpResponse:
        info, status = error_info(error, service)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(info.code)}</Code><Message>{escape(error.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        headers = [
            ("content-type", "application/xml"),
            ("x-amz-request-id", request_id),
            ("x-amzn-RequestId", request_id),
        ]
        return HttpResponse(status, headers, body.encode())
