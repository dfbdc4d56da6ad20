"""Bad input to SNS, against a live ecsbox: every refusal is a 4xx with the code the model names,
never a 500, never a server traceback, never a state change.

What broke before these tests: JSON nested past what Python's parser takes (in a topic's Policy or
DeliveryPolicy, a subscription's FilterPolicy or DeliveryPolicy, a ``MessageStructure=json``
message, a String.Array attribute, a message body that a MessageBody filter policy reads, a forged
NextToken) ended in a RecursionError; NaN, Infinity and numbers beyond a double in delivery and
filter policies ended in a ValueError or an OverflowError; an unsigned link whose query string is not
UTF-8 was answered as a request for no service.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from tests.conftest import LiveServer
from tests.contract.aws_clients import error_of
from tests.contract.test_sns import Endpoint, subscribe_and_confirm, wait_for

REGION = "eu-west-1"
NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})
DEEP_ARRAYS = "[" * 5000 + "]" * 5000
DEEP_OBJECTS = '{"a":' * 3000 + "1" + "}" * 3000


@pytest.fixture()
def sns(ecsbox_server: LiveServer, ecsbox_endpoint: str) -> Iterator[Any]:
    """A client sending what it is given; after the test, the server must have logged no unhandled error."""
    before = len(ecsbox_server.output)
    yield boto3.client(
        "sns",
        endpoint_url=ecsbox_endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=NO_VALIDATION,
    )
    logged = "".join(ecsbox_server.output[before:])
    assert "event=unhandled_error" not in logged and "Traceback" not in logged, logged[-3000:]


@pytest.fixture()
def endpoint() -> Iterator[Endpoint]:
    started = Endpoint().start()
    try:
        yield started
    finally:
        started.stop()


def forged(scope: str, key_text: str) -> str:
    return base64.urlsafe_b64encode(f'{{"s":"{scope}","k":{key_text}}}'.encode()).decode().rstrip("=")


# ---- topic attributes ------------------------------------------------------------------------------------------

TOPIC_ATTRIBUTES = [
    ("Policy", DEEP_ARRAYS, "Invalid parameter: Policy Error: the policy must be a JSON object with a Statement"),
    ("Policy", '{"Statement": []' + "," + '"x":' + DEEP_OBJECTS + "}",
     "Invalid parameter: Policy Error: the policy must be a JSON object with a Statement"),
    ("DeliveryPolicy", DEEP_ARRAYS, "Invalid parameter: DeliveryPolicy: the policy is not valid JSON"),
    ("DeliveryPolicy", '{"http": {"defaultHealthyRetryPolicy": {"numRetries": NaN}}}',
     "Invalid parameter: DeliveryPolicy: the policy is not valid JSON"),
    ("DeliveryPolicy", '{"http": {"defaultHealthyRetryPolicy": {"numRetries": Infinity}}}',
     "Invalid parameter: DeliveryPolicy: the policy is not valid JSON"),
    ("DeliveryPolicy", '{"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 1e400}}}',
     "Invalid parameter: DeliveryPolicy: the policy is not valid JSON"),
    ("DeliveryPolicy", '{"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 2.5}}}',
     "Invalid parameter: DeliveryPolicy: http.defaultHealthyRetryPolicy.minDelayTarget must be an integer"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "message"), TOPIC_ATTRIBUTES)
def test_set_topic_attributes_refuses_what_is_not_a_policy(
    sns: Any, name: str, value: str, message: str
) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    before = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    code, status, said = error_of(
        sns.set_topic_attributes, TopicArn=topic_arn, AttributeName=name, AttributeValue=value
    )
    assert (code, status, said) == ("InvalidParameter", 400, message)
    assert sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"] == before


def test_create_topic_refuses_a_delivery_policy_with_nan(sns: Any) -> None:
    policy = '{"http": {"defaultHealthyRetryPolicy": {"numRetries": NaN}}}'
    code, status, _ = error_of(sns.create_topic, Name="ops", Attributes={"DeliveryPolicy": policy})
    assert (code, status) == ("InvalidParameter", 400)
    assert sns.list_topics()["Topics"] == []


# ---- subscription attributes -----------------------------------------------------------------------------------

SUBSCRIPTION_ATTRIBUTES = [
    ("FilterPolicy", DEEP_ARRAYS, "Invalid parameter: FilterPolicy: failed to parse JSON"),
    ("FilterPolicy", DEEP_OBJECTS, "Invalid parameter: FilterPolicy: failed to parse JSON"),
    ("FilterPolicy", '{"a": [' + "9" * 400 + "]}",
     "Invalid parameter: FilterPolicy: a number must be a number from -1.0E9 to 1.0E9"),
    ("FilterPolicy", '{"a": [{"anything-but": [' + "9" * 400 + "]}]}",
     "Invalid parameter: FilterPolicy: anything-but value must be a number from -1.0E9 to 1.0E9"),
    ("FilterPolicy", '{"a": [{"anything-but": [NaN]}]}', "Invalid parameter: FilterPolicy: failed to parse JSON"),
    ("DeliveryPolicy", DEEP_ARRAYS, "Invalid parameter: DeliveryPolicy: the policy is not valid JSON"),
    ("DeliveryPolicy", '{"healthyRetryPolicy": {"numRetries": NaN}}',
     "Invalid parameter: DeliveryPolicy: the policy is not valid JSON"),
    ("DeliveryPolicy", '{"throttlePolicy": {"maxReceivesPerSecond": -Infinity}}',
     "Invalid parameter: DeliveryPolicy: the policy is not valid JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value", "message"), SUBSCRIPTION_ATTRIBUTES)
def test_set_subscription_attributes_refuses_what_is_not_a_policy(
    sns: Any, endpoint: Endpoint, name: str, value: str, message: str
) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    arn = subscribe_and_confirm(sns, endpoint, topic_arn)
    before = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    code, status, said = error_of(
        sns.set_subscription_attributes, SubscriptionArn=arn, AttributeName=name, AttributeValue=value
    )
    assert (code, status, said) == ("InvalidParameter", 400, message)
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"] == before


@pytest.mark.parametrize(
    ("name", "value"),
    [("FilterPolicy", DEEP_ARRAYS), ("DeliveryPolicy", '{"healthyRetryPolicy": {"minDelayTarget": NaN}}')],
)
def test_subscribe_refuses_what_is_not_a_policy_and_subscribes_nothing(
    sns: Any, endpoint: Endpoint, name: str, value: str
) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    code, status, _ = error_of(
        sns.subscribe, TopicArn=topic_arn, Protocol="http", Endpoint=endpoint.url, Attributes={name: value}
    )
    assert (code, status) == ("InvalidParameter", 400)
    assert sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"] == []


# ---- Publish ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message", [DEEP_ARRAYS, DEEP_OBJECTS, '{"default": NaN}'], ids=["arrays", "objects", "NaN"]
)
def test_a_message_structure_that_is_not_json_is_invalid_parameter(sns: Any, message: str) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    code, status, said = error_of(sns.publish, TopicArn=topic_arn, Message=message, MessageStructure="json")
    assert (code, status) == ("InvalidParameter", 400)
    assert said == "Invalid parameter: Message Structure - JSON message body failed to parse"


@pytest.mark.parametrize(
    ("data_type", "value", "message"),
    [
        ("String.Array", DEEP_ARRAYS, "The message attribute 'level' has an invalid message attribute value: a "
         "String.Array is a JSON array of strings, numbers, true, false or null."),
        ("String.Array", "[NaN]", "The message attribute 'level' has an invalid message attribute value: a "
         "String.Array is a JSON array of strings, numbers, true, false or null."),
        ("Number", "NaN", "Could not cast message attribute 'level' value to number."),
        ("Number", "1e999", "Could not cast message attribute 'level' value to number."),
        ("Number", "9" * 400, "Could not cast message attribute 'level' value to number."),
    ],
)  # fmt: skip
def test_message_attributes_that_are_not_their_type_are_parameter_value_invalid(
    sns: Any, data_type: str, value: str, message: str
) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    attributes = {"level": {"DataType": data_type, "StringValue": value}}
    code, status, said = error_of(
        sns.publish, TopicArn=topic_arn, Message="hello", MessageAttributes=attributes
    )
    assert (code, status, said) == ("ParameterValueInvalid", 400, message)


def test_a_deeply_nested_body_passes_no_message_body_policy(sns: Any, endpoint: Endpoint) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    subscribe_and_confirm(
        sns, endpoint, topic_arn, FilterPolicyScope="MessageBody", FilterPolicy='{"level": ["high"]}'
    )
    for body in ("[" * 100_000, '{"level":' * 25_000, '{"level": ' + "9" * 400 + "}"):
        assert sns.publish(TopicArn=topic_arn, Message=body)["MessageId"]
    sns.publish(TopicArn=topic_arn, Message='{"level": "high"}')
    (notification,) = wait_for("the matching notification", lambda: endpoint.of_type("Notification"))
    assert notification.document["Message"] == '{"level": "high"}'


def test_a_huge_number_in_a_body_compares_as_the_number_it_is(sns: Any, endpoint: Endpoint) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    subscribe_and_confirm(
        sns,
        endpoint,
        topic_arn,
        FilterPolicyScope="MessageBody",
        FilterPolicy='{"n": [{"numeric": [">", 5]}]}',
    )
    sns.publish(TopicArn=topic_arn, Message='{"n": ' + "9" * 400 + "}")
    (notification,) = wait_for("the notification", lambda: endpoint.of_type("Notification"))
    assert notification.document["Message"].startswith('{"n": 999')


# ---- forged NextTokens -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_text", ['["\\ud800"]', "[" * 50_000 + "]" * 50_000], ids=["surrogate", "deep"])
def test_forged_next_tokens_are_invalid_parameter(sns: Any, key_text: str) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    account, region = "000000000000", REGION
    calls = [
        (sns.list_topics, {}, f"ListTopics:{account}:{region}"),
        (sns.list_subscriptions, {}, f"ListSubscriptions:{account}:{region}"),
        (sns.list_subscriptions_by_topic, {"TopicArn": topic_arn}, f"ListSubscriptionsByTopic:{topic_arn}"),
    ]
    for call, params, scope in calls:
        code, status, message = error_of(call, **params, NextToken=forged(scope, key_text))
        assert (code, status, message) == ("InvalidParameter", 400, "Invalid parameter: NextToken")


# ---- the unsigned links ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Action=ConfirmSubscription&TopicArn={topic}&Token=%ff%fe", "MalformedQueryString"),
        ("Action=ConfirmSubscription&TopicArn={topic}&Token=%ed%a0%80", "MalformedQueryString"),
        ("Action=Unsubscribe&SubscriptionArn={topic}:%ff", "MalformedQueryString"),
        ("Action=ConfirmSubscription&TopicArn={topic}&Token=garbage", "InvalidParameter"),
        ("Action=ConfirmSubscription&TopicArn={topic}", "InvalidParameter"),
        ("Action=Unsubscribe&SubscriptionArn=garbage", "InvalidParameter"),
    ],
)
def test_a_mangled_link_is_answered_by_sns(sns: Any, ecsbox_endpoint: str, query: str, code: str) -> None:
    topic_arn = sns.create_topic(Name="ops")["TopicArn"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{ecsbox_endpoint}/?{query.format(topic=topic_arn)}", timeout=30)
    body = refused.value.read()
    assert refused.value.code == 400
    assert body.startswith(b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'), body
    assert f"<Code>{code}</Code>".encode() in body
