"""The ``json`` protocol (1.0 and 1.1): ``X-Amz-Target: <targetPrefix>.<Operation>`` and a JSON body.

Request ``{"family": "web", "containerDefinitions": [...]}`` with target
``AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition`` → params as botocore was given them
(timestamps as aware datetimes, blobs as bytes). Errors are ``{"__type": code, "message": …}``.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import orjson

from ecsbox.aws.errors import AwsError, MalformedRequest
from ecsbox.aws.http import HttpRequest, HttpResponse
from ecsbox.aws.protocols.base import Protocol, error_info, query_error_header
from ecsbox.aws.protocols.convert import Convert, compile_converter
from ecsbox.aws.registry import OperationSpec, ServiceSpec
from ecsbox.aws.values import b64decode, b64encode, to_datetime, to_epoch


def _lenient(convert: Convert) -> Convert:
    """Convert, or keep the raw value so the validator names the member that is wrong."""

    def attempt(value: Any) -> Any:
        try:
            return convert(value)
        except (ValueError, TypeError, OverflowError):
            return value

    return attempt


def _timestamp_in(value: Any) -> Any:
    return value if isinstance(value, datetime.datetime) else to_datetime(value)


def _blob_in(value: Any) -> Any:
    return value if isinstance(value, bytes) else b64decode(value)


_SPECIAL_DOUBLES = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _double_in(value: Any) -> Any:
    """JSON has no NaN or infinities: AWS's JSON protocols send them as the strings "NaN",
    "Infinity" and "-Infinity" (so the handler can refuse them with its own error).

    >>> _double_in("NaN") != _double_in("NaN"), _double_in("-Infinity"), _double_in(1.5), _double_in("x")
    (True, -inf, 1.5, 'x')
    """
    if isinstance(value, str):
        return _SPECIAL_DOUBLES.get(value, value)
    return value


JSON_IN: dict[str, Convert] = {
    "timestamp": _lenient(_timestamp_in),
    "blob": _lenient(_blob_in),
    "double": _double_in,
    "float": _double_in,
}
JSON_OUT: dict[str, Convert] = {"timestamp": _lenient(to_epoch), "blob": _lenient(b64encode)}


def json_default(value: Any) -> Any:
    """Values a handler may leave in untyped places (documents): datetimes and bytes."""
    if isinstance(value, datetime.datetime):
        return to_epoch(value)
    if isinstance(value, bytes | bytearray):
        return b64encode(bytes(value))
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dump_json(document: Any) -> bytes:
    """Compact JSON; datetimes become epoch seconds (through ``json_default``), as AWS sends them."""
    try:
        return orjson.dumps(document, default=json_default, option=_ORJSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):  # e.g. an integer past 64 bits: the slow, exact path
        return json.dumps(document, default=json_default, separators=(",", ":")).encode()


def load_json_object(body: bytes) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); MalformedRequest for anything else."""
    if not body.strip():
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # orjson refuses what Python's parser takes (integers past 64 bits): ask it too
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise MalformedRequest(f"Request body is not valid JSON: {exc}") from None
    except RecursionError as exc:
        raise MalformedRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MalformedRequest("Request body must be a JSON object")
    return document


def drop_none(result: dict[str, Any]) -> dict[str, Any]:
    if None in result.values():
        return {key: value for key, value in result.items() if value is not None}
    return result


class JsonProtocol(Protocol):
    name = "json"

    def operation_name(self, request: HttpRequest, service: ServiceSpec) -> str | None:
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.rpartition(".")
        if prefix != service.target_prefix or not operation:
            return None
        return operation

    def _codecs(self, operation: OperationSpec) -> tuple[Convert | None, Convert | None]:
        codecs = operation.compiled.get(self.name)
        if codecs is None:
            codecs = (
                compile_converter(operation.input_shape, JSON_IN, renames="in"),
                compile_converter(operation.output_shape, JSON_OUT, renames="out", copy=True),
            )
            operation.compiled[self.name] = codecs
        return codecs

    def parse(self, request: HttpRequest, service: ServiceSpec, operation: OperationSpec) -> dict[str, Any]:
        params = load_json_object(request.body)
        convert_in = self._codecs(operation)[0]
        return convert_in(params) if convert_in is not None else params

    def _content_type(self, request: HttpRequest, service: ServiceSpec) -> str:
        sent = request.headers.get("content-type", "")
        if sent.startswith("application/x-amz-json-1."):
            return sent.split(";", 1)[0]
        return f"application/x-amz-json-{service.model.metadata.get('jsonVersion', '1.1')}"

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
        return HttpResponse(
            200,
            [("content-type", self._content_type(request, service)), ("x-amzn-RequestId", request_id)],
            dump_json(drop_none(document) if document else {}),
        )

    def serialize_error(
        self, error: AwsError, request: HttpRequest, service: ServiceSpec | None, request_id: str
    ) -> HttpResponse:
        info, status = error_info(error, service)
        headers = [
            (
                "content-type",
                self._content_type(request, service) if service else "application/x-amz-json-1.1",
            ),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", info.shape_name),
        ]
        if service is not None and service.query_compatible:
            headers.append(query_error_header(info, error))
        body = {"__type": info.shape_name, "message": error.message}
        return HttpResponse(status, headers, dump_json(body))
