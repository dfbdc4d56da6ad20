"""Errors as clients see them: the right code, message and status on every protocol."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.unit.aws.aws_wire import (
    StubAuthenticator,
    authorization,
    boto3_client,
    handle,
    json_request,
    parse_response,
    serialize_request,
)

from ecsbox.aws import AwsError, Gateway, HttpRequest, ServiceRegistry


@pytest.fixture(scope="module")
def registry() -> ServiceRegistry:
    return ServiceRegistry()


@pytest.fixture()
def gateway(registry: ServiceRegistry) -> Gateway:
    return Gateway(registry, StubAuthenticator())


def raising(error: Exception) -> Any:
    def handler(context: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise error

    return handler


def test_ecs_handler_error_reaches_boto3_as_its_modelled_exception(
    registry: ServiceRegistry, gateway: Gateway
) -> None:
    registry.register(
        "ecs", "DescribeServices", raising(AwsError("ClusterNotFoundException", "Cluster not found."))
    )
    client = boto3_client(gateway, "ecs")
    with pytest.raises(client.exceptions.ClusterNotFoundException) as caught:
        client.describe_services(cluster="nope", services=["web"])
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ClusterNotFoundException", "Cluster not found.")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["ResponseMetadata"]["RequestId"]


def test_cloudwatch_query_compatible_error_over_cbor_in_boto3(
    registry: ServiceRegistry, gateway: Gateway
) -> None:
    registry.register("cloudwatch", "PutMetricData", raising(AwsError("InvalidParameterValue", "bad value")))
    client = boto3_client(gateway, "cloudwatch")
    assert client.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    with pytest.raises(client.exceptions.InvalidParameterValueException) as caught:
        client.put_metric_data(Namespace="A", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert caught.value.response["Error"]["Message"] == "bad value"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
@pytest.mark.parametrize("raised", ["InvalidParameterValue", "InvalidParameterValueException"])
def test_cloudwatch_error_code_is_the_query_code_on_every_protocol(
    registry: ServiceRegistry, gateway: Gateway, protocol: str, raised: str
) -> None:
    registry.register("cloudwatch", "ListMetrics", raising(AwsError(raised, "no such thing")))
    response = handle(gateway, serialize_request("cloudwatch", "ListMetrics", {"Namespace": "A"}, protocol))
    assert response.status == 400
    if protocol != "query":
        assert response.header("x-amzn-query-error") == "InvalidParameterValue;Sender"
    parsed = parse_response("cloudwatch", "ListMetrics", response, protocol)
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    assert parsed["Error"]["Message"] == "no such thing"
    assert parsed["ResponseMetadata"]["RequestId"] == response.header("x-amzn-RequestId")
    client = boto3_client(gateway, "cloudwatch")
    assert (
        client.exceptions.from_code(parsed["Error"]["Code"])
        is client.exceptions.InvalidParameterValueException
    )


def test_query_error_document_shape(registry: ServiceRegistry, gateway: Gateway) -> None:
    registry.register("sns", "Publish", raising(AwsError("NotFound", "Topic does not exist", 404)))
    request = serialize_request(
        "sns", "Publish", {"TopicArn": "arn:aws:sns:eu-west-1:1:t", "Message": "m"}, "query"
    )
    response = handle(gateway, request)
    assert response.status == 404
    body = response.body.decode()
    assert body.startswith('<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">')
    assert (
        "<Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error>"
        in body
    )
    assert f"<RequestId>{response.header('x-amzn-RequestId')}</RequestId></ErrorResponse>" in body
    client = boto3_client(gateway, "sns")
    with pytest.raises(client.exceptions.NotFoundException):
        client.publish(TopicArn="arn:aws:sns:eu-west-1:1:t", Message="m")


def test_model_status_wins_for_modelled_codes(registry: ServiceRegistry, gateway: Gateway) -> None:
    registry.register("sns", "Publish", raising(AwsError("InvalidSecurity", "no")))
    response = handle(
        gateway, serialize_request("sns", "Publish", {"TopicArn": "t", "Message": "m"}, "query")
    )
    assert response.status == 403


def test_rest_json_error_carries_the_error_type_header(registry: ServiceRegistry, gateway: Gateway) -> None:
    registry.register("xray", "GetGroup", raising(AwsError("InvalidRequestException", "no such group")))
    response = handle(gateway, serialize_request("xray", "GetGroup", {"GroupName": "g"}, "rest-json"))
    assert response.status == 400
    assert response.header("x-amzn-ErrorType") == "InvalidRequestException"
    parsed = parse_response("xray", "GetGroup", response, "rest-json")
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"]) == (
        "InvalidRequestException",
        "no such group",
    )


def test_json_error_headers_and_body(registry: ServiceRegistry, gateway: Gateway) -> None:
    registry.register("ecs", "ListClusters", raising(AwsError("ClientException", "nope")))
    response = handle(gateway, serialize_request("ecs", "ListClusters", {}, "json"))
    assert response.header("x-amzn-ErrorType") == "ClientException"
    assert response.header("x-amzn-RequestId")
    assert response.body.startswith(b'{"__type":"ClientException"')


def test_unregistered_operation_answers_501_not_implemented(
    registry: ServiceRegistry, gateway: Gateway
) -> None:
    response = handle(
        gateway,
        serialize_request("ecs", "DeleteAccountSetting", {"name": "tagResourceAuthorization"}, "json"),
    )
    assert response.status == 501
    parsed = parse_response("ecs", "DeleteAccountSetting", response, "json")
    assert parsed["Error"]["Code"] == "NotImplemented"
    assert "DeleteAccountSetting" in parsed["Error"]["Message"]


def test_s3_answers_501_in_its_own_error_format(gateway: Gateway) -> None:
    client = boto3_client(gateway, "s3")
    with pytest.raises(ClientError) as caught:
        client.list_objects_v2(Bucket="b")
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_handler_crash_is_500_internal_failure_and_logged(
    registry: ServiceRegistry, gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register("ecs", "ListServices", raising(RuntimeError("bug")))
    with caplog.at_level(logging.ERROR, logger="ecsbox.aws"):
        response = handle(gateway, serialize_request("ecs", "ListServices", {}, "json"))
    assert response.status == 500
    assert parse_response("ecs", "ListServices", response, "json")["Error"]["Code"] == "InternalFailure"
    assert any(record.exc_info for record in caplog.records)


def test_authentication_errors_are_answered_in_the_service_protocol(registry: ServiceRegistry) -> None:
    class Refuse:
        def authenticate(self, request: HttpRequest) -> Any:
            raise AwsError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )

    gateway = Gateway(registry, Refuse())
    response = handle(gateway, serialize_request("sts", "GetCallerIdentity", {}, "query"))
    assert response.status == 403
    assert parse_response("sts", "GetCallerIdentity", response, "query")["Error"]["Code"] == (
        "UnrecognizedClientException"
    )


def test_unknown_operations(gateway: Gateway) -> None:
    response = handle(gateway, json_request("ecs", "LaunchRockets", b"{}"))
    assert response.status == 400
    assert (
        parse_response("ecs", "ListClusters", response, "json")["Error"]["Code"]
        == "UnknownOperationException"
    )
    query = HttpRequest(
        "POST",
        "/",
        "",
        {"content-type": "application/x-www-form-urlencoded", "authorization": authorization("sns")},
        b"Action=LaunchRockets&Version=1",
    )
    response = handle(gateway, query)
    assert response.status == 400
    assert parse_response("sns", "Publish", response, "query")["Error"]["Code"] == "InvalidAction"


@pytest.mark.parametrize(
    "request_",
    [
        HttpRequest("POST", "/", "", {"x-amz-target": "NoSuchService_2020.Do"}, b"{}"),
        HttpRequest("GET", "/", "", {}, b""),
        HttpRequest(
            "POST",
            "/",
            "",
            {"authorization": "AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/iot/aws4_request"},
            b"{}",
        ),
        HttpRequest("POST", "/service/Nope/operation/Do", "", {"smithy-protocol": "rpc-v2-cbor"}, b"\xa0"),
        HttpRequest("POST", "/", "Action=Frobnicate", {}, b""),
    ],
)
def test_unknown_services_answer_400_json(gateway: Gateway, request_: HttpRequest) -> None:
    response = handle(gateway, request_)
    assert response.status == 400
    assert b"UnknownServiceException" in response.body


def test_unsigned_query_call_finds_its_service(registry: ServiceRegistry, gateway: Gateway) -> None:
    registry.register(
        "sts", "AssumeRoleWithWebIdentity", raising(AwsError("InvalidIdentityToken", "bad token"))
    )
    params = {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "session", "WebIdentityToken": "t" * 10}
    request = serialize_request("sts", "AssumeRoleWithWebIdentity", params, "query")
    del request.headers["authorization"]
    response = handle(gateway, request)
    assert parse_response("sts", "AssumeRoleWithWebIdentity", response, "query")["Error"]["Code"] == (
        "InvalidIdentityToken"
    )
