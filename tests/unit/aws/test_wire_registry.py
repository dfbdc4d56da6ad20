"""The registry: services, their protocols, error codes and routing names, all from the models."""

from __future__ import annotations

import datetime
import doctest
import importlib

import pytest

from ecsbox.aws import SERVICES, ServiceRegistry
from ecsbox.aws.errors import TypeMismatch, ValidationError
from ecsbox.aws.models import load_model
from ecsbox.aws.registry import UNMODELLED_VALIDATION_CODES
from ecsbox.aws.validate import validate


@pytest.fixture(scope="module")
def registry() -> ServiceRegistry:
    return ServiceRegistry()


EXPECTED_PROTOCOLS = {
    "ecs": ("json",),
    "cloudwatch": ("smithy-rpc-v2-cbor", "json", "query"),
    "codebuild": ("smithy-rpc-v2-cbor", "json"),
    "sns": ("query",),
    "sts": ("query",),
    "elbv2": ("query",),
    "xray": ("rest-json",),
    "s3": ("rest-xml",),
}


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_served_with_a_modelled_validation_code(
    registry: ServiceRegistry, service: str
) -> None:
    spec = registry.service(service)
    assert spec.model.service_name == service
    if service in EXPECTED_PROTOCOLS:
        assert spec.protocols == EXPECTED_PROTOCOLS[service]
    if service not in UNMODELLED_VALIDATION_CODES:
        assert spec.errors[spec.validation_code].modelled, spec.validation_code
    assert spec.missing_code in (spec.validation_code, "MissingParameter")


def test_cloudwatch_error_codes_come_from_the_model(registry: ServiceRegistry) -> None:
    spec = registry.service("cloudwatch")
    assert (spec.validation_code, spec.missing_code) == ("InvalidParameterValue", "MissingParameter")
    info = spec.error("InvalidParameterValue", None, True)
    assert (info.shape_name, info.code, info.status) == (
        "InvalidParameterValueException",
        "InvalidParameterValue",
        400,
    )
    assert spec.error("InvalidParameterValueException", None, True) == info
    assert spec.query_compatible


def test_routing_names(registry: ServiceRegistry) -> None:
    assert registry.by_target_prefix("GraniteServiceVersion20100801") is registry.service("cloudwatch")
    assert registry.by_target_prefix("AmazonEC2ContainerServiceV20141113") is registry.service("ecs")
    assert registry.by_signing_name("monitoring") is registry.service("cloudwatch")
    assert registry.by_signing_name("elasticloadbalancing") is registry.service("elbv2")
    assert registry.by_signing_name("xray") is registry.service("xray")
    assert registry.by_signing_name("iot") is None
    assert registry.by_query_action("AssumeRoleWithWebIdentity") is registry.service("sts")
    assert registry.by_query_action("ListTagsForResource") is None  # several query services have it


def test_register_checks_the_model() -> None:
    registry = ServiceRegistry()
    registry.register("ecs", "CreateCluster", lambda context, params: {})
    assert registry.registered("ecs") == {"CreateCluster"}
    assert registry.registered("ecr") == set()
    with pytest.raises(ValueError, match="LaunchRockets"):
        registry.register("ecs", "LaunchRockets", lambda context, params: {})
    with pytest.raises(ValueError):
        registry.register("lambda", "Invoke", lambda context, params: {})


def shape(service: str, operation: str):  # type: ignore[no-untyped-def]
    return load_model(service).operation_model(operation).input_shape


@pytest.mark.parametrize(
    "service, operation, params, message",
    [
        ("ecs", "DescribeClusters", {"clusters": ["a", 5]}, "at 'clusters.2.member' failed"),
        ("ecs", "ListClusters", {"maxResults": 1.5}, "Member must be of type integer"),
        ("ecs", "ListClusters", {"maxResults": True}, "Member must be of type integer"),
        (
            "ecs",
            "CreateService",
            {"serviceName": "s", "desiredCount": 2**31},
            "Member must be of type integer",
        ),
        (
            "cloudwatch",
            "PutMetricData",
            {"Namespace": "A", "MetricData": [{"MetricName": "m", "Timestamp": 5}]},
            "at 'MetricData.1.member.Timestamp' failed to satisfy constraint: "
            "Member must be of type timestamp",
        ),
    ],
)
def test_type_mismatches(service: str, operation: str, params: dict, message: str) -> None:
    with pytest.raises(TypeMismatch) as caught:
        validate(shape(service, operation), params)
    assert message in caught.value.message


@pytest.mark.parametrize(
    "service, operation, params, message",
    [
        (
            "cloudwatch",
            "ListMetrics",
            {"RecentlyActive": "PT3H", "Namespace": "A" * 256},
            "Member must have length less than or equal to 255",
        ),
        (
            "elbv2",
            "DescribeLoadBalancers",
            {"PageSize": 0},
            "Value '0' at 'PageSize' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            "ecs",
            "RunTask",
            {"taskDefinition": "t", "launchType": "MOON"},
            "Value 'MOON' at 'launchType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [EC2, ",
        ),
        (
            "cloudwatch",
            "PutMetricData",
            {"Namespace": "", "MetricData": []},
            "Value '' at 'Namespace' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1",
        ),
        (
            "cloudwatch",
            "PutMetricData",
            {"Namespace": ":colon", "MetricData": []},
            "Member must satisfy regular expression pattern: [^:].*",
        ),
        (
            "sns",
            "Publish",
            {"Message": "m", "MessageAttributes": {"k": {}}},
            "Value null at 'MessageAttributes.k.DataType' failed to satisfy constraint: "
            "Member must not be null",
        ),
    ],
)
def test_constraint_messages(service: str, operation: str, params: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate(shape(service, operation), params)
    assert not isinstance(caught.value, TypeMismatch)
    assert message in caught.value.message, caught.value.message


def test_all_problems_are_reported_and_missing_is_flagged() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(shape("ecs", "RegisterTaskDefinition"), {"containerDefinitions": [{"name": "x" * 300}]})
    assert caught.value.missing
    assert caught.value.message.startswith("1 validation error detected: Value null at 'family'")
    params = {
        "Namespace": "A",
        "MetricData": [{"MetricName": "m", "Timestamp": datetime.datetime.now(datetime.UTC)}],
    }
    validate(shape("cloudwatch", "PutMetricData"), params)


@pytest.mark.parametrize(
    "module",
    [
        "ecsbox.aws.models",
        "ecsbox.aws.values",
        "ecsbox.aws.validate",
        "ecsbox.aws.registry",
        "ecsbox.aws.gateway",
        "ecsbox.aws.protocols.convert",
        "ecsbox.aws.protocols.query",
        "ecsbox.aws.protocols.rest",
        "ecsbox.aws.protocols.xml",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
