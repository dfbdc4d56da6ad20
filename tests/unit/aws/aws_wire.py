"""Test helpers: botocore's own serialisers make the requests, its parsers read our responses."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from ecsbox.aws import Gateway, HttpRequest, HttpResponse, ServiceRegistry
from ecsbox.aws.models import load_model

ACCOUNT = "123456789012"
REGION = "eu-west-1"


@dataclass(frozen=True)
class Caller:
    account_id: str = ACCOUNT
    region: str = REGION
    access_key_id: str = "AKIDTEST"
    principal_arn: str = f"arn:aws:iam::{ACCOUNT}:root"


class StubAuthenticator:
    """Accepts everyone as the same caller."""

    def authenticate(self, request: HttpRequest) -> Caller:
        return Caller()


def signing_name(service: str) -> str:
    metadata = load_model(service).metadata
    return str(metadata.get("signingName") or metadata.get("endpointPrefix"))


def authorization(service: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/{REGION}/{signing_name(service)}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
    )


def serialize_request(
    service: str, operation: str, params: dict[str, Any], protocol: str, validate: bool = True
) -> HttpRequest:
    """The HTTP request botocore's client would send for ``params`` over ``protocol``."""
    operation_model = load_model(service).operation_model(operation)
    serialized = create_serializer(protocol, include_validation=validate).serialize_to_request(
        params, operation_model
    )
    prepare_request_dict(serialized, endpoint_url="http://localhost:4566")
    prepared = create_request_object(serialized).prepare()
    url = urlsplit(prepared.url)
    headers = {key.lower(): value for key, value in prepared.headers.items()}
    headers["authorization"] = authorization(service)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return HttpRequest(prepared.method, url.path or "/", url.query, headers, body)


def botocore_response(response: HttpResponse) -> dict[str, Any]:
    headers = HeadersDict()
    for key, value in response.headers:
        headers[key] = value
    return {"status_code": response.status, "headers": headers, "body": response.body}


def parse_response(service: str, operation: str, response: HttpResponse, protocol: str) -> dict[str, Any]:
    """What botocore's client would return (or put in ClientError.response) for our response."""
    operation_model = load_model(service).operation_model(operation)
    parsed: dict[str, Any] = create_parser(protocol).parse(
        botocore_response(response), operation_model.output_shape
    )
    return parsed


def handle(gateway: Gateway, request: HttpRequest) -> HttpResponse:
    return asyncio.run(gateway.handle(request))


class Capture:
    """A handler that records what it was given and answers ``result``."""

    def __init__(self, result: dict[str, Any] | None = None) -> None:
        self.result = result or {}
        self.params: dict[str, Any] | None = None
        self.context: Any = None

    def __call__(self, context: Any, params: dict[str, Any]) -> dict[str, Any]:
        self.context = context
        self.params = params
        return self.result


def round_trip(
    registry: ServiceRegistry,
    service: str,
    operation: str,
    params: dict[str, Any],
    result: dict[str, Any],
    protocol: str,
) -> tuple[dict[str, Any] | None, dict[str, Any], HttpResponse]:
    """Params as our handler saw them, the result as botocore parsed it, and the raw response."""
    capture = Capture(result)
    registry.register(service, operation, capture)
    response = handle(
        Gateway(registry, StubAuthenticator()), serialize_request(service, operation, params, protocol)
    )
    parsed = parse_response(service, operation, response, protocol)
    parsed.pop("ResponseMetadata", None)
    return capture.params, parsed, response


def json_body(value: Any) -> bytes:
    """Raw JSON for hand-made (possibly invalid) requests."""

    def default(item: Any) -> Any:
        if isinstance(item, datetime.datetime):
            return item.timestamp()
        if isinstance(item, bytes):
            return base64.b64encode(item).decode()
        raise TypeError(type(item))

    return json.dumps(value, default=default).encode()


def json_request(service: str, operation: str, body: bytes, version: str = "1.1") -> HttpRequest:
    prefix = load_model(service).metadata["targetPrefix"]
    return HttpRequest(
        "POST",
        "/",
        "",
        {
            "x-amz-target": f"{prefix}.{operation}",
            "content-type": f"application/x-amz-json-{version}",
            "authorization": authorization(service),
        },
        body,
    )


def normalise(value: Any, drop_empty: bool = False) -> Any:
    """Drop None (and, for the query protocol, empty containers it cannot carry)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = normalise(item, drop_empty)
            if item is None or (drop_empty and item in ({}, [])):
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        items = [normalise(item, drop_empty) for item in value]
        if drop_empty:
            items = [item for item in items if item not in ({}, [])]
        return items
    if isinstance(value, bytearray):
        return bytes(value)
    return value


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self.body


def boto3_client(gateway: Gateway, service: str) -> Any:
    """A real boto3 client whose HTTP requests are answered in-process by ``gateway``."""
    import boto3
    from botocore.awsrequest import AWSResponse

    client = boto3.session.Session(
        aws_access_key_id="AKIDTEST", aws_secret_access_key="secret", region_name=REGION
    ).client(service, endpoint_url="http://localhost:4566")

    def send(request: Any, **kwargs: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        headers = {
            key.lower(): (value.decode() if isinstance(value, bytes) else value)
            for key, value in request.headers.items()
        }
        response = handle(gateway, HttpRequest(request.method, url.path or "/", url.query, headers, body))
        return AWSResponse(request.url, response.status, dict(response.headers), _Raw(response.body))

    client.meta.events.register("before-send", send)
    return client
