"""Properties: any input botocore can send parses back to itself, any result we write botocore reads
back to itself, for every ECS operation and a spread of CloudWatch, X-Ray, ELBv2 and SNS ones."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.aws.aws_strategies import from_shape
from tests.unit.aws.aws_wire import normalise, parse_response, serialize_request

from ecsbox.aws import ServiceRegistry
from ecsbox.aws.models import load_model
from ecsbox.aws.protocols import PROTOCOLS

REGISTRY = ServiceRegistry()
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _plain(service: str) -> list[str]:
    model = load_model(service)
    return sorted(
        name
        for name in model.operation_names
        if not model.operation_model(name).has_event_stream_input
        and not model.operation_model(name).has_event_stream_output
    )


CASES = (
    [("ecs", name, "json") for name in _plain("ecs")]
    + [
        ("cloudwatch", name, protocol)
        for name in (
            "PutMetricData",
            "GetMetricData",
            "GetMetricStatistics",
            "PutMetricAlarm",
            "DescribeAlarms",
        )
        for protocol in ("smithy-rpc-v2-cbor", "json", "query")
    ]
    + [
        ("xray", name, "rest-json")
        for name in (
            "PutTraceSegments",
            "GetTraceSummaries",
            "GetServiceGraph",
            "CreateGroup",
            "BatchGetTraces",
        )
    ]
    + [
        ("elbv2", name, "query")
        for name in (
            "DescribeLoadBalancers",
            "CreateTargetGroup",
            "DescribeTargetHealth",
            "CreateRule",
            "ModifyListener",
        )
    ]
    + [("sns", name, "query") for name in ("Publish", "CreateTopic", "SetTopicAttributes", "ListTopics")]
)


def _strategy(service: str, operation: str) -> st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]:
    model = load_model(service).operation_model(operation)
    inputs = from_shape(model.input_shape) if model.input_shape is not None else st.just({})
    outputs = from_shape(model.output_shape) if model.output_shape is not None else st.just({})
    return st.tuples(inputs, outputs)


@pytest.mark.parametrize("service, operation, protocol", CASES, ids=[f"{s}.{o}.{p}" for s, o, p in CASES])
def test_requests_and_results_round_trip(service: str, operation: str, protocol: str) -> None:
    spec = REGISTRY.service(service)
    spec_operation = spec.operation(operation)
    assert spec_operation is not None
    wire = PROTOCOLS[protocol]
    lossy = protocol == "query"  # the query protocol cannot carry empty maps and structures

    @PROPERTY_SETTINGS
    @given(_strategy(service, operation))
    def check(example: tuple[dict[str, Any], dict[str, Any]]) -> None:
        params, result = example
        request = serialize_request(service, operation, params, protocol, validate=False)
        assert wire.operation_name(request, spec) == operation
        assert normalise(wire.parse(request, spec, spec_operation), lossy) == normalise(params, lossy)

        response = wire.serialize(result, request, spec, spec_operation, "req-1")
        parsed = parse_response(service, operation, response, protocol)
        metadata = parsed.pop("ResponseMetadata")
        if spec_operation.output_shape is not None:
            assert metadata["RequestId"] == "req-1"
        assert normalise(parsed, lossy) == normalise(result, lossy)

    check()
