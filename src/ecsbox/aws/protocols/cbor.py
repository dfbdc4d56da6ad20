"""Smithy RPC v2 CBOR: ``POST /service/<targetPrefix>/operation/<Operation>`` with
``smithy-protocol: rpc-v2-cbor`` and a CBOR map body; timestamps are CBOR tag 1 (epoch seconds).

Errors are a CBOR map ``{"__type": code, "message": …}``; awsQueryCompatible services (CloudWatch)
add ``x-amzn-query-error: <Code>;Sender`` which botocore uses as the error code.
"""

from __future__ import annotations

import datetime
from typing import Any

import cbor2

from ecsbox.aws.errors import AwsError, MalformedRequest
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.protocols.base import Protocol, error_info, query_error_header
from ecsbox.aws.protocols.convert import Convert, compile_converter
from ecsbox.aws.registry import OperationSpec, ServiceSpec
from ecsbox.aws.values import to_datetime

CBOR_PATH_PREFIX = "/service/"


def split_path(path: str) -> tuple[str, str] | None:
    """``/service/GraniteServiceVersion20100801/operation/PutMetricData`` →
    ``("GraniteServiceVersion20100801", "PutMetricData")``; None for any other path."""
    parts = path.split("/")
    if len(parts) != 5 or parts[0] or parts[1] != "service" or parts[3] != "operation":
        return None
    return parts[2], parts[4]


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime.datetime | bool):
        return value
    if isinstance(value, int | float):
        try:
            return to_datetime(value)
        except (ValueError, OverflowError):
            return value
    return value


def _blob_in(value: Any) -> Any:
    return bytes(value) if isinstance(value, bytearray) else value


CBOR_IN: dict[str, Convert] = {"timestamp": _timestamp, "blob": _blob_in}
CBOR_OUT: dict[str, Convert] = {"timestamp": _timestamp}


def _encode_default(encoder: cbor2.CBOREncoder, value: Any) -> None:
    if isinstance(value, set | frozenset):
        encoder.encode(list(value))
        return
    raise cbor2.CBOREncodeTypeError(f"cannot serialise {type(value).__name__}")


def dump_cbor(document: Any) -> bytes:
    return cbor2.dumps(document, datetime_as_timestamp=True, default=_encode_default)


class CborProtocol(Protocol):
    name = "smithy-rpc-v2-cbor"

    def operation_name(self, request: HttpRequest, service: ServiceSpec) -> str | None:
        parts = split_path(request.path)
        return parts[1] if parts else None

    def _codecs(self, operation: OperationSpec) -> tuple[Convert | None, Convert | None]:
        codecs = operation.compiled.get(self.name)
        if codecs is None:
            codecs = (
                compile_converter(operation.input_shape, CBOR_IN, renames="in"),
                compile_converter(operation.output_shape, CBOR_OUT, copy=True),
            )
            operation.compiled[self.name] = codecs
        return codecs

    def parse(self, request: HttpRequest, service: ServiceSpec, operation: OperationSpec) -> dict[str, Any]:
        if not request.body:
            return {}
        try:
            params = cbor2.loads(request.body)
        except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise MalformedRequest(f"Request body is not valid CBOR: {exc}") from None
        if not isinstance(params, dict) or not all(isinstance(key, str) for key in params):
            raise MalformedRequest("Request body must be a CBOR map with text keys")
        convert_in = self._codecs(operation)[0]
        return convert_in(params) if convert_in is not None else params

    def serialize(
        self,
        result: dict[str, Any],
        request: HttpRequest,
        service: ServiceSpec,
        operation: OperationSpec,
        request_id: str,
    ) -> HttpResponse:
        convert_out = self._codecs(operation)[1]
        document = convert_out(result) if convert_out is not None else result
        if document and None in document.values():
            document = {key: value for key, value in document.items() if value is not None}
        return HttpResponse(200, self._headers(request_id), dump_cbor(document or {}))

    def _headers(self, request_id: str) -> list[tuple[str, str]]:
        return [
            ("content-type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amzn-RequestId", request_id),
        ]

    def serialize_error(
        self, error: AwsError, request: HttpRequest, service: ServiceSpec | None, request_id: str
    ) -> HttpResponse:
        info, status = error_info(error, service)
        headers = self._headers(request_id)
        if service is not None and service.query_compatible:
            headers.append(query_error_header(info, error))
        return HttpResponse(status, headers, dump_cbor({"__type": info.shape_name, "message": error.message}))
