"""Bad input gets the service's own 4xx code and a message naming the member, never a 500.

Requests are generated from the ECS model: a minimal valid request for every operation, then one
broken variant per required member, type, length, enumeration and range.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from botocore.model import Shape
from tests.unit.aws.aws_wire import (
    StubAuthenticator,
    authorization,
    handle,
    json_body,
    json_request,
    serialize_request,
)

from ecsbox.aws import Gateway, HttpRequest, ServiceRegistry
from ecsbox.aws.models import load_model
from ecsbox.aws.validate import compile_pattern

ECS = load_model("ecs")
ECS_OPERATIONS = sorted(ECS.operation_names)
CANDIDATES = ["a", "abc", "web-1", "default", "1", "arn:aws:ecs:eu-west-1:123456789012:cluster/a"]


def minimal(shape: Shape) -> Any:
    """The smallest value ``shape`` accepts."""
    kind = shape.type_name
    low = shape.metadata.get("min")
    if kind == "structure":
        members = shape.members
        if shape.is_tagged_union and members:
            first = next(iter(members))
            return {first: minimal(members[first])}
        return {name: minimal(members[name]) for name in shape.required_members}
    if kind == "list":
        return [minimal(shape.member) for _ in range(max(low or 0, 1))]
    if kind == "map":
        return {minimal(shape.key): minimal(shape.value)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        pattern = compile_pattern(shape.metadata["pattern"]) if "pattern" in shape.metadata else None
        for candidate in [*CANDIDATES, "a" * (low or 1)]:
            if len(candidate) >= (low or 0) and (pattern is None or pattern.fullmatch(candidate)):
                return candidate
        raise AssertionError(f"no candidate fits {shape.name}")
    if kind in ("integer", "long"):
        return int(low) if low is not None else 1
    if kind in ("float", "double"):
        return float(low) if low is not None else 1.0
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    if kind == "blob":
        return b"x" * max(low or 0, 1)
    raise AssertionError(kind)


WRONG_TYPE = {
    "string": 12345,
    "integer": "abc",
    "long": "abc",
    "float": "abc",
    "double": "abc",
    "boolean": "yes",
    "list": "not-a-list",
    "map": ["not", "a", "map"],
    "structure": "not-a-structure",
    "timestamp": "not-a-time",
    "blob": "!!!not base64!!!",
}


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    return Gateway(ServiceRegistry(), StubAuthenticator())


def answer(gateway: Gateway, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handle(gateway, json_request("ecs", operation, json_body(params)))
    return response.status, json.loads(response.body)


@pytest.mark.parametrize("operation", ECS_OPERATIONS)
def test_every_ecs_operation_validates_its_model(gateway: Gateway, operation: str) -> None:
    shape = ECS.operation_model(operation).input_shape
    valid = minimal(shape)
    # The minimal request is valid: no handler is registered, so the answer is 501 NotImplemented.
    status, body = answer(gateway, operation, valid)
    assert (status, body["__type"]) == (501, "NotImplemented"), body

    for name in shape.required_members:
        broken = {key: value for key, value in valid.items() if key != name}
        status, body = answer(gateway, operation, broken)
        assert (status, body["__type"]) == (400, "InvalidParameterException"), (name, body)
        assert (
            f"Value null at '{name}' failed to satisfy constraint: Member must not be null" in body["message"]
        )

    for name, member in shape.members.items():
        if getattr(member, "is_document_type", False):
            continue
        broken = {**valid, name: WRONG_TYPE[member.type_name]}
        status, body = answer(gateway, operation, broken)
        assert status == 400 and body["__type"] == "SerializationException", (name, body)
        assert f"'{name}'" in body["message"]

        for bad_value, rule in invalid_values(member):
            status, body = answer(gateway, operation, {**valid, name: bad_value})
            assert (status, body["__type"]) == (400, "InvalidParameterException"), (name, bad_value, body)
            assert f"at '{name}' failed to satisfy constraint: {rule}" in body["message"], body


def invalid_values(member: Shape) -> list[tuple[Any, str]]:
    """Values of the right type that break one of the member's constraints."""
    out: list[tuple[Any, str]] = []
    low, high = member.metadata.get("min"), member.metadata.get("max")
    if member.type_name == "string":
        if member.enum:
            out.append(("NOT_IN_THE_ENUM", "Member must satisfy enum value set"))
        if high is not None:
            out.append(("a" * (high + 1), "Member must have length less than or equal to"))
    if member.type_name in ("integer", "long"):
        if high is not None:
            out.append((high + 1, f"Member must have value less than or equal to {high}"))
        if low is not None:
            out.append((low - 1, f"Member must have value greater than or equal to {low}"))
    if member.type_name == "list" and high is not None:
        out.append(([minimal(member.member)] * (high + 1), "Member must have length less than or equal to"))
    return out


def test_nested_members_are_named_like_aws(gateway: Gateway) -> None:
    params = {"family": "web", "containerDefinitions": [{"name": "a"}, {"image": "x", "cpu": "many"}]}
    status, body = answer(gateway, "RegisterTaskDefinition", params)
    assert (status, body["__type"]) == (400, "SerializationException")
    assert "'containerDefinitions.2.member.cpu'" in body["message"]
    params = {"family": "web", "containerDefinitions": [{"name": "a"}, {"image": "x"}], "networkMode": "warp"}
    status, body = answer(gateway, "RegisterTaskDefinition", params)
    assert (status, body["__type"]) == (400, "InvalidParameterException")
    assert body["message"].startswith("1 validation error detected: Value 'warp' at 'networkMode' failed to")


def test_unknown_members_are_ignored(gateway: Gateway) -> None:
    status, body = answer(gateway, "ListClusters", {"maxResults": 5, "somethingNew": {"x": 1}})
    assert (status, body["__type"]) == (501, "NotImplemented")


def test_json_version_10_is_accepted_for_a_json_11_service(gateway: Gateway) -> None:
    response = handle(gateway, json_request("ecs", "ListClusters", b"{}", version="1.0"))
    assert response.status == 501
    assert response.header("content-type") == "application/x-amz-json-1.0"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"null", b"{" * 5000])
def test_malformed_json_bodies_are_400(gateway: Gateway, body: bytes) -> None:
    response = handle(gateway, json_request("ecs", "ListClusters", body))
    assert response.status == 400
    assert json.loads(response.body)["__type"] == "SerializationException"


def cbor_request(body: bytes) -> HttpRequest:
    return HttpRequest(
        "POST",
        "/service/GraniteServiceVersion20100801/operation/PutMetricData",
        "",
        {
            "smithy-protocol": "rpc-v2-cbor",
            "content-type": "application/cbor",
            "authorization": authorization("cloudwatch"),
        },
        body,
    )


@pytest.mark.parametrize("body", [b"\xa2\x61", b"\x82\x01\x02", b"\xff", b"\xa1\x01\x02", b"\x9f" * 1000])
def test_malformed_cbor_bodies_are_400(gateway: Gateway, body: bytes) -> None:
    response = handle(gateway, cbor_request(body))
    assert response.status == 400, response.body


def test_truncated_cbor_from_botocore_is_400(gateway: Gateway) -> None:
    request = serialize_request(
        "cloudwatch",
        "PutMetricData",
        {"Namespace": "A", "MetricData": [{"MetricName": "m", "Value": 1.0}]},
        "smithy-rpc-v2-cbor",
    )
    for cut in (1, 5, len(request.body) // 2, len(request.body) - 1):
        response = handle(gateway, cbor_request(request.body[:cut]))
        assert response.status == 400


def test_cloudwatch_missing_member_is_missing_parameter(gateway: Gateway) -> None:
    import cbor2

    response = handle(gateway, cbor_request(cbor2.dumps({"MetricData": [{"MetricName": "m"}]})))
    assert response.status == 400
    assert response.header("x-amzn-query-error") == "MissingParameter;Sender"
    response = handle(gateway, cbor_request(cbor2.dumps({"Namespace": "A" * 300, "MetricData": []})))
    assert response.header("x-amzn-query-error") == "InvalidParameterValue;Sender"


def form(body: bytes, service: str = "sns") -> HttpRequest:
    return HttpRequest(
        "POST",
        "/",
        "",
        {
            "content-type": "application/x-www-form-urlencoded; charset=utf-8",
            "authorization": authorization(service),
        },
        body,
    )


@pytest.mark.parametrize(
    "body, code",
    [
        (b"Action=Publish&TopicArn=%ff%fe&Message=m", "MalformedQueryString"),
        (b"\xff\xfe\x00garbage", "MalformedQueryString"),
        (b"&&&===", "MissingAction"),
        (b"Action=Publish&TopicArn=t", "InvalidParameter"),
        (b"Action=Publish&TopicArn=t&Message=m&MessageAttributes.entry.x.Name=k", "InvalidParameter"),
        (b"Action=Publish&TopicArn=t&Message=m&MessageAttributes=oops", "InvalidParameter"),
    ],
)
def test_bad_query_requests_are_400(gateway: Gateway, body: bytes, code: str) -> None:
    response = handle(gateway, form(body))
    assert response.status == 400, response.body
    assert f"<Code>{code}</Code>".encode() in response.body


def test_query_type_errors_use_the_validation_code(gateway: Gateway) -> None:
    response = handle(
        gateway, form(b"Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=lots", "elbv2")
    )
    assert response.status == 400
    assert b"<Code>ValidationError</Code>" in response.body and b"PageSize" in response.body
    response = handle(gateway, form(b"Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=0", "elbv2"))
    assert b"<Code>ValidationError</Code>" in response.body
    assert b"Member must have value greater than or equal to 1" in response.body


def test_rest_json_bad_input(gateway: Gateway) -> None:
    request = serialize_request("xray", "GetGroup", {"GroupName": "g"}, "rest-json")
    for body in (b"{oops", b"[]", json.dumps({"GroupName": "x" * 40}).encode()):
        response = handle(gateway, HttpRequest(request.method, request.path, "", request.headers, body))
        assert response.status == 400
        assert response.header("x-amzn-ErrorType") in ("SerializationException", "InvalidRequestException")
    response = handle(gateway, HttpRequest("POST", "/NoSuchThing", "", request.headers, b"{}"))
    assert response.status == 404
