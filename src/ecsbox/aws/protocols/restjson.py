"""The ``rest-json`` protocol (X-Ray): operations routed by method and ``requestUri``, members bound to
the URI, query string and headers, the rest in a JSON body. Errors carry ``x-amzn-ErrorType``.
"""

from __future__ import annotations

from typing import Any

from ecsbox.aws.errors import AwsError, MalformedRequest
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.protocols.base import Protocol, error_info
from ecsbox.aws.protocols.convert import Convert, compile_converter
from ecsbox.aws.protocols.json import JSON_IN, JSON_OUT, dump_json, json_default, load_json_object
from ecsbox.aws.protocols.rest import bind_request, response_status_and_headers, routes_for
from ecsbox.aws.registry import OperationSpec, ServiceSpec

__all__ = ["RestJsonProtocol", "json_default"]


class RestJsonProtocol(Protocol):
    name = "rest-json"

    def operation_name(self, request: HttpRequest, service: ServiceSpec) -> str | None:
        found = routes_for(service).match(request.method, request.path, request.query)
        return found[0] if found else None

    def unknown_operation(self, name: str | None, service: ServiceSpec) -> AwsError:
        return AwsError(
            "UnknownOperationException",
            "No operation of "
            f"{service.model.metadata.get('serviceId', service.name)} matches this method and path",
            404,
        )

    def _codecs(self, operation: OperationSpec) -> tuple[Convert | None, Convert | None]:
        codecs = operation.compiled.get(self.name)
        if codecs is None:
            payload = self._payload(operation)
            if payload is not None and operation.input_shape is not None:
                input_shape = operation.input_shape.members[payload]
            else:
                input_shape = operation.input_shape
            codecs = (
                compile_converter(input_shape, JSON_IN, renames="in"),
                compile_converter(operation.output_shape, JSON_OUT, renames="out", copy=True),
            )
            operation.compiled[self.name] = codecs
        return codecs

    @staticmethod
    def _payload(operation: OperationSpec) -> str | None:
        shape = operation.input_shape
        return shape.serialization.get("payload") if shape is not None else None

    def parse(self, request: HttpRequest, service: ServiceSpec, operation: OperationSpec) -> dict[str, Any]:
        found = routes_for(service).match(request.method, request.path, request.query)
        labels = found[1] if found else {}
        convert_in = self._codecs(operation)[0]
        payload = self._payload(operation)
        params: dict[str, Any]
        if payload is not None and operation.input_shape is not None:
            member = operation.input_shape.members[payload]
            params = {}
            if member.type_name in ("blob", "string"):
                if request.body:
                    params[payload] = request.body if member.type_name == "blob" else request.body.decode()
            elif request.body.strip():
                document = load_json_object(request.body)
                params[payload] = convert_in(document) if convert_in is not None else document
        else:
            params = load_json_object(request.body)
            if convert_in is not None:
                params = convert_in(params)
        if not isinstance(params, dict):
            raise MalformedRequest("Request body must be a JSON object")
        bind_request(request, operation, labels, params)
        return params

    def serialize(
        self,
        result: dict[str, Any],
        request: HttpRequest,
        service: ServiceSpec,
        operation: OperationSpec,
        request_id: str,
    ) -> HttpResponse:
        status, headers, body_members = response_status_and_headers(operation, result)
        headers += [("content-type", "application/json"), ("x-amzn-RequestId", request_id)]
        shape = operation.output_shape
        payload = shape.serialization.get("payload") if shape is not None else None
        if payload is not None and shape is not None:
            value = body_members.get(payload)
            member = shape.members[payload]
            if member.type_name == "blob":
                return HttpResponse(status, headers, bytes(value or b""))
            if member.type_name == "string":
                return HttpResponse(status, headers, (value or "").encode())
            convert = compile_converter(member, JSON_OUT, renames="out", copy=True)
            document = convert(value) if convert is not None and value is not None else value
            return HttpResponse(status, headers, dump_json(document or {}))
        convert_out = self._codecs(operation)[1]
        document = convert_out(body_members) if convert_out is not None else body_members
        return HttpResponse(status, headers, dump_json(document))

    def serialize_error(
        self, error: AwsError, request: HttpRequest, service: ServiceSpec | None, request_id: str
    ) -> HttpResponse:
        info, status = error_info(error, service)
        headers = [
            ("content-type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", info.shape_name),
        ]
        return HttpResponse(status, headers, dump_json({"__type": info.shape_name, "message": error.message}))
