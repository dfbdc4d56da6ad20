"""Real boto3 clients against a live ecsbox: every protocol answers well-formed results or AWS
errors, never a crash, and bad input never changes state."""

from __future__ import annotations

import http.client
import json
import random
from datetime import UTC, datetime
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})


def client(service: str, endpoint: str, region: str = "us-east-1", **kwargs):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        **kwargs,
    )


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        (
            "cloudwatch",
            "put_metric_data",  # CBOR with current boto3
            {
                "Namespace": "App",
                "MetricData": [{"MetricName": "m", "Value": 1.0, "Timestamp": datetime.now(UTC)}],
            },
        ),
        ("cloudwatch", "list_metrics", {}),
        (
            "xray",
            "get_trace_summaries",  # rest-json
            {
                "StartTime": datetime(2026, 1, 1, tzinfo=UTC),
                "EndTime": datetime(2026, 1, 2, tzinfo=UTC),
            },
        ),
        ("elbv2", "describe_load_balancers", {"Names": ["a", "b"]}),  # query
        ("sns", "list_topics", {}),
        ("sts", "get_caller_identity", {}),
        ("logs", "describe_log_groups", {}),
        ("codepipeline", "list_pipelines", {}),
    ],
)
def test_every_protocol_answers_an_aws_shaped_response(
    ecsbox_endpoint: str, service: str, operation: str, params: dict
) -> None:
    """Not yet implemented operations answer 501 NotImplemented in the service's own protocol,
    which botocore parses into a ClientError; implemented ones answer their output shape."""
    c = client(service, ecsbox_endpoint)
    try:
        result = getattr(c, operation)(**params)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NotImplemented"
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert c.meta.method_to_api_mapping[operation] in exc.response["Error"]["Message"]
    else:
        assert result["ResponseMetadata"]["HTTPStatusCode"] == 200


def _call_over(endpoint: str, service: str, operation: str, params: dict, protocol: str) -> dict:
    """Send one operation over a chosen protocol, signed as botocore signs, parsed by botocore."""
    model = botocore.session.get_session().get_service_model(service)
    operation_model = model.operation_model(operation)
    request_dict = create_serializer(protocol, include_validation=False).serialize_to_request(
        params, operation_model
    )
    request = AWSRequest(
        method=request_dict["method"],
        url=endpoint + request_dict["url_path"],
        data=request_dict["body"],
        headers=request_dict["headers"],
    )
    if request_dict["query_string"]:
        request.params = request_dict["query_string"]
    SigV4Auth(Credentials("test", "test"), model.signing_name, "us-east-1").add_auth(request)
    prepared = request.prepare()
    response = urllib3.PoolManager().request(
        prepared.method, prepared.url, body=prepared.body, headers=dict(prepared.headers)
    )
    http_response = {"status_code": response.status, "headers": dict(response.headers), "body": response.data}
    output_shape = operation_model.output_shape if response.status < 300 else None
    return create_parser(protocol).parse(http_response, output_shape)


def test_cloudwatch_validation_error_has_its_query_code_over_every_protocol(ecsbox_endpoint: str) -> None:
    """Older SDKs speak JSON 1.0 or query to CloudWatch, current boto3 CBOR: all see MissingParameter."""
    for protocol in ("smithy-rpc-v2-cbor", "json", "query"):
        parsed = _call_over(ecsbox_endpoint, "cloudwatch", "PutMetricData", {"MetricData": []}, protocol)
        assert parsed["Error"]["Code"] == "MissingParameter", (protocol, parsed)
        assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "Namespace" in parsed["Error"]["Message"]


def test_ecs_validation_errors_name_the_member(ecsbox_endpoint: str) -> None:
    ecs = client("ecs", ecsbox_endpoint, config=NO_VALIDATION)
    with pytest.raises(ClientError) as info:
        ecs.register_task_definition(containerDefinitions=[])
    assert info.value.response["Error"]["Code"] in ("InvalidParameterException", "ClientException")
    assert "family" in info.value.response["Error"]["Message"]
    _code, status = error_of(lambda: ecs.describe_clusters(clusters=[1, 2]))
    assert status == 400


def _raw(endpoint: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _bad_requests(rng: random.Random) -> list[tuple[str, str, bytes, dict[str, str]]]:
    auth = (
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{svc}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00"
    )
    json_headers = lambda target, svc="ecs", ver="1.1": {  # noqa: E731
        "X-Amz-Target": target,
        "Content-Type": f"application/x-amz-json-{ver}",
        "Authorization": auth.format(svc=svc),
        "X-Amz-Date": "20260101T000000Z",
    }
    ecs_ops = [
        "RegisterTaskDefinition",
        "DescribeClusters",
        "CreateCluster",
        "ListTaskDefinitions",
        "DeleteCluster",
        "TagResource",
        "PutClusterCapacityProviders",
        "DescribeTaskDefinition",
        "CreateCapacityProvider",
        "PutAccountSetting",
        "UpdateCluster",
        "DeregisterTaskDefinition",
    ]
    # Not a JSON object at all: wrong for every operation.
    malformed = [b"{", b"[]", b'"x"', b"\xff\xfe\x00", b"1e999999", b'{"a":', b"5", b"true"]
    long_name = b"a" * 300
    invalid = {  # well-formed JSON, wrong for this operation
        "RegisterTaskDefinition": [
            b'{"family": "ok", "containerDefinitions": [null]}',
            b'{"family": "ok", "containerDefinitions": [{"name": "c", "image": "i", "memory": 9,'
            b' "environment": [null]}]}',
            b'{"family": 5, "containerDefinitions": []}',
            b'{"family": "ok"}',
            b'{"containerDefinitions": []}',
            b'{"family": "' + long_name + b'", "containerDefinitions": []}',
            b'{"family": "ok", "containerDefinitions": {}}',
            b'{"family": "ok", "containerDefinitions": [{"name": []}]}',
            b'{"family": "ok", "containerDefinitions": [], "networkMode": "wormhole"}',
            b'{"family": "ok", "containerDefinitions": [{"name": "c", "image": "i"}], "cpu": "256",'
            b' "memory": "4096", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"}',
        ],
        "DescribeClusters": [
            b'{"clusters": [null]}',
            b'{"clusters": [1, 2]}',
            b'{"clusters": "x"}',
            b'{"include": ["BOGUS"]}',
        ],
        "CreateCluster": [
            b'{"clusterName": 5}',
            b'{"settings": [{"name": "bogus", "value": "x"}]}',
            b'{"clusterName": "c", "capacityProviders": ["NOPE"]}',
            b'{"clusterName": "c", "capacityProviders": ["FARGATE"],'
            b' "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 5000}]}',
            b'{"clusterName": "c", "tags": [{"key": ""}]}',
        ],
        "ListTaskDefinitions": [
            b'{"maxResults": -1}',
            b'{"maxResults": 1000000}',
            b'{"sort": "SIDEWAYS"}',
            b'{"nextToken": "!!!"}',
            b'{"status": "GONE"}',
        ],
        "DeleteCluster": [b"{}", b'{"cluster": null}', b'{"cluster": "nope"}'],
        "TagResource": [
            b"{}",
            b'{"resourceArn": "x", "tags": []}',
            b'{"resourceArn": "arn:aws:ecs:us-east-1:000000000000:cluster/nope", "tags": [{"key": "a", "value": "b"}]}',
        ],
        "PutClusterCapacityProviders": [
            b"{}",
            b'{"cluster": "nope", "capacityProviders": [], "defaultCapacityProviderStrategy": []}',
        ],
        "DescribeTaskDefinition": [
            b"{}",
            b'{"taskDefinition": "nope:1"}',
            b'{"taskDefinition": "keep:999"}',
            b'{"taskDefinition": "keep:99999999999999999999"}',
        ],
        "CreateCapacityProvider": [
            b"{}",
            b'{"name": "x"}',
            b'{"name": "aws-x", "autoScalingGroupProvider": {"autoScalingGroupArn":'
            b' "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x:autoScalingGroupName/x"}}',
        ],
        "PutAccountSetting": [b"{}", b'{"name": "bogus", "value": "enabled"}'],
        "UpdateCluster": [b"{}", b'{"cluster": "nope"}'],
        "DeregisterTaskDefinition": [b"{}", b'{"taskDefinition": "keep"}', b'{"taskDefinition": "keep:999"}'],
    }
    requests: list[tuple[str, str, bytes, dict[str, str]]] = []
    for op in ecs_ops:
        for body in malformed + invalid[op]:
            requests.append(("POST", "/", body, json_headers(f"AmazonEC2ContainerServiceV20141113.{op}")))
    requests += [
        ("POST", "/", b"{}", json_headers("AmazonEC2ContainerServiceV20141113.NoSuchOperation")),
        ("POST", "/", b"{}", json_headers("NoSuchService.Op")),
        ("POST", "/", b"{}", json_headers("")),
        ("GET", "/", b"", {}),
        (
            "POST",
            "/",
            b"Action=DescribeLoadBalancers&Names.member.1=" + b"x" * 5000,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": auth.format(svc="elasticloadbalancing"),
                "X-Amz-Date": "20260101T000000Z",
            },
        ),
        (
            "POST",
            "/",
            b"Action=NoSuchAction",
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": auth.format(svc="sns"),
                "X-Amz-Date": "20260101T000000Z",
            },
        ),
        (
            "POST",
            "/",
            b"%%%&&&===",
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": auth.format(svc="monitoring"),
                "X-Amz-Date": "20260101T000000Z",
            },
        ),
        (
            "POST",
            "/service/GraniteServiceVersion20100801/operation/PutMetricData",
            b"\xbf\x01",
            {
                "smithy-protocol": "rpc-v2-cbor",
                "Content-Type": "application/cbor",
                "Authorization": auth.format(svc="monitoring"),
                "X-Amz-Date": "20260101T000000Z",
            },
        ),
        (
            "POST",
            "/service/GraniteServiceVersion20100801/operation/Nope",
            b"\xa0",
            {
                "smithy-protocol": "rpc-v2-cbor",
                "Content-Type": "application/cbor",
                "Authorization": auth.format(svc="monitoring"),
                "X-Amz-Date": "20260101T000000Z",
            },
        ),
        (
            "POST",
            "/TraceSummaries",
            b"{not json",
            {
                "Content-Type": "application/json",
                "Authorization": auth.format(svc="xray"),
                "X-Amz-Date": "20260101T000000Z",
            },
        ),
        (
            "GET",
            "/NoSuchXrayPath",
            b"",
            {"Authorization": auth.format(svc="xray"), "X-Amz-Date": "20260101T000000Z"},
        ),
    ]
    for _ in range(120):  # random bytes (never an object) as JSON bodies to random ECS operations
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))).replace(b"{", b"")
        requests.append(
            ("POST", "/", junk, json_headers(f"AmazonEC2ContainerServiceV20141113.{rng.choice(ecs_ops)}"))
        )
    return requests


def test_hundreds_of_bad_requests_get_4xx_and_change_nothing(ecsbox_endpoint: str) -> None:
    ecs = client("ecs", ecsbox_endpoint)
    ecs.create_cluster(clusterName="keep")
    ecs.register_task_definition(
        family="keep", containerDefinitions=[{"name": "c", "image": "busybox", "memory": 64}]
    )
    before = (ecs.list_clusters()["clusterArns"], ecs.list_task_definitions()["taskDefinitionArns"])

    requests = _bad_requests(random.Random(7))
    assert len(requests) > 250
    statuses = []
    for method, path, body, headers in requests:
        status, payload = _raw(ecsbox_endpoint, method, path, body, headers)
        statuses.append(status)
        assert 400 <= status < 500 or status == 501, (
            status,
            path,
            headers.get("X-Amz-Target"),
            body[:80],
            payload,
        )
        if status != 501 and payload:
            assert b"<Code>" in payload or b"__type" in payload or b"code" in payload.lower(), payload

    after = (ecs.list_clusters()["clusterArns"], ecs.list_task_definitions()["taskDefinitionArns"])
    assert after == before
    status, payload = _raw(ecsbox_endpoint, "GET", "/_ecsbox/health", b"", {})
    assert status == 200 and json.loads(payload)["status"] == "running"


def test_foreign_host_and_origin_are_refused(ecsbox_endpoint: str) -> None:
    status, _ = _raw(ecsbox_endpoint, "GET", "/_ecsbox/health", b"", {"Host": "evil.example"})
    assert status == 403
    status, _ = _raw(ecsbox_endpoint, "POST", "/_ecsbox/state/reset", b"", {"Origin": "https://evil.example"})
    assert status == 403


def test_a_signature_for_one_service_does_not_open_another(ecsbox_endpoint: str) -> None:
    request = AWSRequest(
        method="POST",
        url=ecsbox_endpoint + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials("test", "test"), "sts", "us-east-1").add_auth(request)
    prepared = request.prepare()
    response = urllib3.PoolManager().request(
        "POST", prepared.url, body=prepared.body, headers=dict(prepared.headers)
    )
    assert response.status == 403
    assert b"Credential should be scoped to correct service" in response.data


def test_operator_actions_need_a_json_content_type(ecsbox_endpoint: str) -> None:
    """No HTML form or no-cors fetch can send application/json, so no web page can post here."""
    status, _ = _raw(ecsbox_endpoint, "POST", "/_ecsbox/state/reset", b"", {})
    assert status == 415
    status, _ = _raw(ecsbox_endpoint, "POST", "/_ecsbox/tasks/prune", b"", {"Content-Type": "text/plain"})
    assert status == 415
    port = urlsplit(ecsbox_endpoint).port
    status, _ = _raw(
        ecsbox_endpoint,
        "POST",
        "/_ecsbox/state/reset",
        b"{}",
        {"Content-Type": "application/json", "Origin": f"http://localhost:{port + 1}"},
    )
    assert status == 403
