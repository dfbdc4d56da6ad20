"""Request bodies sent gzip-compressed (SDKs compress PutMetricData bodies over 10 KB): decoded
before routing and parsing, refused with a 4xx when they are not gzip or inflate past 16 MiB."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest

from ecsbox.aws import Gateway, HttpRequest, RequestContext, ServiceRegistry
from ecsbox.aws.gateway import MAX_DECODED_BYTES, decoded
from ecsbox.aws.sigv4 import Authenticator, parse_access_keys


def _gateway() -> tuple[Gateway, list[dict[str, Any]]]:
    registry = ServiceRegistry()
    seen: list[dict[str, Any]] = []

    def list_clusters(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        seen.append(params)
        return {"clusterArns": []}

    registry.register("ecs", "ListClusters", list_clusters)
    return Gateway(registry, Authenticator("000000000000", "us-east-1", parse_access_keys((), "0"))), seen


def _request(body: bytes, encoding: str = "gzip") -> HttpRequest:
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        "content-encoding": encoding,
    }
    return HttpRequest("POST", "/", "", headers, body)


def test_a_gzip_body_reaches_the_handler_decoded() -> None:
    gateway, seen = _gateway()
    response = asyncio.run(gateway.handle(_request(gzip.compress(json.dumps({"maxResults": 5}).encode()))))
    assert response.status == 200
    assert seen == [{"maxResults": 5}]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not gzip at all", 400, "SerializationException"),
        (gzip.compress(b'{"maxResults": 5}')[:-6], 400, "SerializationException"),  # truncated
        (gzip.compress(b"0" * (MAX_DECODED_BYTES + 1)), 413, "RequestEntityTooLarge"),
    ],
)
def test_a_bad_gzip_body_is_refused_and_never_reaches_the_handler(
    body: bytes, status: int, code: str
) -> None:
    gateway, seen = _gateway()
    response = asyncio.run(gateway.handle(_request(body)))
    assert response.status == status
    assert json.loads(response.body)["__type"].endswith(code)
    assert seen == []


def test_other_encodings_are_kept_and_plain_bodies_untouched() -> None:
    plain = _request(b"{}", encoding="identity")
    assert decoded(plain) is plain
    both = decoded(_request(gzip.compress(b"{}"), encoding="gzip, br"))
    assert both.body == b"{}" and both.headers["content-encoding"] == "br"
