"""Round trips through botocore for every protocol: its serialiser → our gateway → its parser."""

from __future__ import annotations

import datetime

import pytest
from tests.unit.aws.aws_wire import ACCOUNT, REGION, normalise, parse_response, round_trip, serialize_request

from ecsbox.aws import AwsError, Gateway, ServiceRegistry
from ecsbox.aws.errors import AwsError as AwsErrorClass

UTC = datetime.UTC
T0 = datetime.datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
T1 = datetime.datetime(2024, 5, 1, 13, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry() -> ServiceRegistry:
    return ServiceRegistry()


TASK_DEFINITION = {
    "family": "web",
    "networkMode": "awsvpc",
    "cpu": "256",
    "memory": "512",
    "requiresCompatibilities": ["FARGATE"],
    "containerDefinitions": [
        {
            "name": "app",
            "image": "nginx:1.27",
            "essential": True,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
            "environment": [{"name": "MODE", "value": "prod"}],
            "healthCheck": {
                "command": ["CMD-SHELL", "curl -f http://localhost/"],
                "interval": 5,
                "retries": 3,
            },
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}},
            "dockerLabels": {"team": "edge"},
        }
    ],
    "tags": [{"key": "env", "value": "test"}],
}


def test_ecs_register_task_definition_round_trips(registry: ServiceRegistry) -> None:
    result = {
        "taskDefinition": {
            "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1",
            "family": "web",
            "revision": 1,
            "containerDefinitions": TASK_DEFINITION["containerDefinitions"],
            "status": "ACTIVE",
            "registeredAt": T0,
        },
        "tags": [{"key": "env", "value": "test"}],
    }
    params, parsed, response = round_trip(
        registry, "ecs", "RegisterTaskDefinition", TASK_DEFINITION, result, "json"
    )
    assert params == TASK_DEFINITION
    assert response.status == 200
    assert response.header("content-type") == "application/x-amz-json-1.1"
    assert parsed == result


def test_ecs_describe_clusters_round_trips_and_handler_sees_its_context(registry: ServiceRegistry) -> None:
    result = {
        "clusters": [
            {
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/a",
                "clusterName": "a",
                "status": "ACTIVE",
                "runningTasksCount": 2,
            }
        ],
        "failures": [{"arn": "arn:aws:ecs:x:1:cluster/b", "reason": "MISSING"}],
    }
    params, parsed, response = round_trip(
        registry, "ecs", "DescribeClusters", {"clusters": ["a", "b"], "include": ["TAGS"]}, result, "json"
    )
    assert params == {"clusters": ["a", "b"], "include": ["TAGS"]}
    assert parsed == result
    assert response.header("x-amzn-RequestId")


METRIC_DATA = {
    "Namespace": "App/Web",
    "MetricData": [
        {
            "MetricName": "Latency",
            "Dimensions": [{"Name": "Service", "Value": "web"}, {"Name": "Cluster", "Value": "main"}],
            "Timestamp": T0,
            "Value": 12.5,
            "Unit": "Milliseconds",
        },
        {
            "MetricName": "Requests",
            "Timestamp": T1,
            "Values": [1.0, 2.0],
            "Counts": [3.0, 4.0],
            "Unit": "Count",
        },
    ],
}
STATISTICS = {
    "Label": "Latency",
    "Datapoints": [
        {"Timestamp": T0, "Average": 12.5, "Maximum": 20.0, "Unit": "Milliseconds"},
        {"Timestamp": T1, "SampleCount": 3.0, "Sum": 30.0, "Unit": "Milliseconds"},
    ],
}


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_cloudwatch_put_metric_data_round_trips(registry: ServiceRegistry, protocol: str) -> None:
    params, parsed, response = round_trip(registry, "cloudwatch", "PutMetricData", METRIC_DATA, {}, protocol)
    assert params == METRIC_DATA
    assert response.status == 200
    assert parsed == {}


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_cloudwatch_get_metric_statistics_round_trips(registry: ServiceRegistry, protocol: str) -> None:
    request = {
        "Namespace": "App/Web",
        "MetricName": "Latency",
        "Dimensions": [{"Name": "Service", "Value": "web"}],
        "StartTime": T0,
        "EndTime": T1,
        "Period": 60,
        "Statistics": ["Average", "Maximum"],
        "ExtendedStatistics": ["p99"],
    }
    params, parsed, _ = round_trip(
        registry, "cloudwatch", "GetMetricStatistics", request, STATISTICS, protocol
    )
    assert params == request
    assert parsed == STATISTICS


def test_cbor_response_carries_the_smithy_headers(registry: ServiceRegistry) -> None:
    _, _, response = round_trip(
        registry, "cloudwatch", "PutMetricData", METRIC_DATA, {}, "smithy-rpc-v2-cbor"
    )
    assert response.header("smithy-protocol") == "rpc-v2-cbor"
    assert response.header("content-type") == "application/cbor"


def test_xray_put_trace_segments_round_trips(registry: ServiceRegistry) -> None:
    request = {"TraceSegmentDocuments": ['{"id":"70de5b6f19ff9a0a","name":"web","trace_id":"1-5f-ab"}']}
    result = {"UnprocessedTraceSegments": [{"Id": "70de5b6f19ff9a0a", "ErrorCode": "x", "Message": "bad"}]}
    params, parsed, response = round_trip(registry, "xray", "PutTraceSegments", request, result, "rest-json")
    assert params == request
    assert parsed == result
    assert response.header("content-type") == "application/json"


def test_xray_get_trace_summaries_round_trips(registry: ServiceRegistry) -> None:
    request = {"StartTime": T0, "EndTime": T1, "Sampling": False, "FilterExpression": 'service("web")'}
    result = {
        "TraceSummaries": [
            {
                "Id": "1-5f-ab",
                "Duration": 0.25,
                "ResponseTime": 0.2,
                "HasError": False,
                "StartTime": T0,
                "Http": {"HttpURL": "http://x/", "HttpStatus": 200, "HttpMethod": "GET"},
                "Annotations": {"k": [{"AnnotationValue": {"StringValue": "v"}}]},
            }
        ],
        "ApproximateTime": T1,
        "TracesProcessedCount": 1,
    }
    params, parsed, _ = round_trip(registry, "xray", "GetTraceSummaries", request, result, "rest-json")
    assert params == request
    assert parsed == result


@pytest.mark.parametrize(
    "operation, request_params",
    [
        ("GetGroup", {"GroupName": "web"}),
        ("ListTagsForResource", {"ResourceARN": "arn:aws:xray:eu-west-1:123456789012:group/web/x"}),
    ],
)
def test_xray_routes_by_request_uri(registry: ServiceRegistry, operation: str, request_params: dict) -> None:
    params, _, response = round_trip(registry, "xray", operation, request_params, {}, "rest-json")
    assert params == request_params
    assert response.status == 200


def test_rest_json_binds_uri_labels_query_strings_and_headers() -> None:
    """X-Ray binds everything to the body; Lambda's model exercises the rest of the binder."""
    from ecsbox.aws.models import load_model
    from ecsbox.aws.protocols import PROTOCOLS
    from ecsbox.aws.registry import ServiceSpec

    service = ServiceSpec("lambda", load_model("lambda"))
    protocol = PROTOCOLS["rest-json"]
    request = serialize_request(
        "lambda", "GetFunction", {"FunctionName": "my fn/x", "Qualifier": "3"}, "rest-json"
    )
    name = protocol.operation_name(request, service)
    assert name == "GetFunction"
    operation = service.operation(name)
    assert operation is not None
    assert protocol.parse(request, service, operation) == {"FunctionName": "my fn/x", "Qualifier": "3"}
    invoke = {"FunctionName": "f", "InvocationType": "Event", "Payload": b'{"a": 1}', "ClientContext": "e30="}
    request = serialize_request("lambda", "Invoke", invoke, "rest-json")
    operation = service.operation(protocol.operation_name(request, service) or "")
    assert operation is not None and operation.name == "Invoke"
    assert protocol.parse(request, service, operation) == invoke
    result = {
        "StatusCode": 202,
        "FunctionError": "Unhandled",
        "Payload": b'{"ok": true}',
        "ExecutedVersion": "1",
    }
    response = protocol.serialize(result, request, service, operation, "rid")
    parsed = parse_response("lambda", "Invoke", response, "rest-json")
    assert parsed["StatusCode"] == 202 and parsed["FunctionError"] == "Unhandled"
    payload = parsed["Payload"]
    assert (payload if isinstance(payload, str) else payload.read().decode()) == '{"ok": true}'
    assert parsed["ExecutedVersion"] == "1"


def test_elbv2_describe_load_balancers_round_trips(registry: ServiceRegistry) -> None:
    request = {"Names": ["web", "api"], "PageSize": 10}
    result = {
        "LoadBalancers": [
            {
                "LoadBalancerArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/web/1",
                "DNSName": "web-1.eu-west-1.elb.localhost",
                "CreatedTime": T0,
                "LoadBalancerName": "web",
                "Scheme": "internet-facing",
                "State": {"Code": "active"},
                "Type": "application",
                "AvailabilityZones": [{"ZoneName": "eu-west-1a", "SubnetId": "subnet-1"}],
                "SecurityGroups": ["sg-1", "sg-2"],
            }
        ],
        "NextMarker": "m",
    }
    params, parsed, response = round_trip(
        registry, "elbv2", "DescribeLoadBalancers", request, result, "query"
    )
    assert params == request
    assert parsed == result
    assert b'xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"' in response.body
    assert b"<DescribeLoadBalancersResult>" in response.body


def test_sns_publish_with_message_attributes_round_trips(registry: ServiceRegistry) -> None:
    request = {
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:alerts",
        "Message": "hello <world> & 'you'",
        "Subject": "hi",
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": "alarm"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
            "count": {"DataType": "Number", "StringValue": "3"},
        },
    }
    params, parsed, _ = round_trip(registry, "sns", "Publish", request, {"MessageId": "m-1"}, "query")
    assert params == request
    assert parsed == {"MessageId": "m-1"}


def test_query_maps_in_results_round_trip(registry: ServiceRegistry) -> None:
    result = {"Attributes": {"DisplayName": "Alerts & more", "Policy": "{}"}}
    _, parsed, _ = round_trip(
        registry, "sns", "GetTopicAttributes", {"TopicArn": "arn:aws:sns:eu-west-1:1:t"}, result, "query"
    )
    assert parsed == result


def test_sts_get_caller_identity_round_trips(registry: ServiceRegistry) -> None:
    result = {"UserId": "AKIDTEST", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}
    params, parsed, response = round_trip(registry, "sts", "GetCallerIdentity", {}, result, "query")
    assert params == {}
    assert parsed == result
    assert b'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"' in response.body


def test_none_values_in_results_are_omitted(registry: ServiceRegistry) -> None:
    result = {"clusterArns": ["a"], "nextToken": None}
    _, parsed, response = round_trip(registry, "ecs", "ListClusters", {}, result, "json")
    assert b"nextToken" not in response.body
    assert normalise(parsed) == {"clusterArns": ["a"]}


def test_async_handlers_are_awaited(registry: ServiceRegistry) -> None:
    from tests.unit.aws.aws_wire import StubAuthenticator, handle

    async def list_clusters(context: object, params: dict) -> dict:
        return {"clusterArns": ["async"]}

    registry.register("ecs", "ListClusters", list_clusters)
    response = handle(
        Gateway(registry, StubAuthenticator()), serialize_request("ecs", "ListClusters", {}, "json")
    )
    assert parse_response("ecs", "ListClusters", response, "json")["clusterArns"] == ["async"]


def test_handler_sees_the_request_context(registry: ServiceRegistry) -> None:
    from tests.unit.aws.aws_wire import Capture, StubAuthenticator, handle

    capture = Capture({"clusterArns": []})
    registry.register("ecs", "ListClusters", capture)
    response = handle(
        Gateway(registry, StubAuthenticator()), serialize_request("ecs", "ListClusters", {}, "json")
    )
    context = capture.context
    assert (context.account_id, context.region, context.service, context.operation) == (
        ACCOUNT,
        REGION,
        "ecs",
        "ListClusters",
    )
    assert context.request_id == response.header("x-amzn-RequestId")
    assert context.principal_arn == f"arn:aws:iam::{ACCOUNT}:root" and context.access_key_id == "AKIDTEST"


def test_public_surface() -> None:
    import ecsbox.aws

    assert set(ecsbox.aws.__all__) == {
        "ServiceRegistry",
        "Gateway",
        "Handler",
        "RequestContext",
        "AwsError",
        "HttpRequest",
        "HttpResponse",
        "SERVICES",
    }
    assert AwsError is AwsErrorClass
