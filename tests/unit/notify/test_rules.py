"""SNS's pure rules: names and ARNs, protocols and endpoints, topic and subscription attributes,
tokens, and every notify module's worked examples."""

from __future__ import annotations

import doctest
import importlib
import json

import pytest

import ecsbox.notify
from ecsbox.notify.model import (
    NotifyRuleError,
    TopicRef,
    is_valid_topic_name,
    parse_subscription_arn,
    parse_topic_arn,
    require_subscription_arn,
)
from ecsbox.notify.subscription_rules import (
    SubscriptionFacts,
    check_endpoint,
    check_protocol,
    check_subscribe_attributes,
    listed,
    mask_endpoint,
    set_subscription_attribute,
    subscription_view,
)
from ecsbox.notify.tokens import is_current, issued_at, make_token
from ecsbox.notify.topic_attributes import (
    SubscriptionCounts,
    check_create_attributes,
    check_fifo_request,
    check_topic_attribute,
    differs,
    set_attribute,
    topic_view,
)

DOCUMENTED = [
    "model",
    "delivery_policy",
    "topic_attributes",
    "subscription_rules",
    "filter_policy",
    "messages",
    "publish_rules",
    "mail",
    "envelopes",
    "tokens",
    "http_client",
    "deliveries",
]
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"
SUB = TOPIC + ":6b0e71bd-7e97-4d97-80ce-4a0994e55286"


@pytest.mark.parametrize("module", DOCUMENTED)
def test_worked_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"ecsbox.notify.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_the_package_surface() -> None:
    assert sorted(ecsbox.notify.__all__) == [
        "Deliveries",
        "Notifier",
        "NotifyRuleError",
        "Sns",
        "notify_operations",
        "register",
    ]
    for name in ecsbox.notify.__all__:
        assert getattr(ecsbox.notify, name) is not None


def fails(call: object, *args: object) -> tuple[str, str]:
    with pytest.raises(NotifyRuleError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.code, caught.value.message


# ---- names and ARNs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "valid"),
    [("alarms", True), ("A-b_9", True), ("x" * 256, True), ("x" * 257, False), ("", False), ("a.b", False),
     ("a b", False), ("ümlaut", False), ("orders.fifo", False)],
)  # fmt: skip
def test_topic_names(name: str, valid: bool) -> None:
    assert is_valid_topic_name(name) is valid


@pytest.mark.parametrize(
    ("arn", "parsed"),
    [
        (TOPIC, TopicRef(("123456789012", "eu-west-1"), "alarms")),
        ("arn:aws:sns:local:000000000000:t", TopicRef(("000000000000", "local"), "t")),
        ("arn:aws:sqs:eu-west-1:123456789012:alarms", None),
        ("arn:aws:sns:eu-west-1:1234:alarms", None),
        ("arn:aws:sns:eu-west-1:123456789012:bad name", None),
        ("alarms", None),
        (SUB, None),
    ],
)
def test_topic_arns(arn: str, parsed: TopicRef | None) -> None:
    assert parse_topic_arn(arn) == parsed


def test_subscription_arns() -> None:
    parsed = parse_subscription_arn(SUB)
    assert parsed is not None and parsed.arn == SUB and parsed.topic.arn == TOPIC
    assert parse_subscription_arn(TOPIC + ":not-a-uuid") is None
    assert fails(require_subscription_arn, "pending confirmation") == (
        "InvalidParameter",
        "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 1",
    )
    assert fails(require_subscription_arn, TOPIC) == ("InvalidParameter", "Invalid parameter: SubscriptionId")


# ---- protocols and endpoints -----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http", "https", "email", "email-json", "HTTP"])
def test_delivered_protocols(protocol: str) -> None:
    assert check_protocol(protocol) == protocol.lower()


@pytest.mark.parametrize("protocol", ["sqs", "lambda", "sms", "application", "firehose"])
def test_protocols_of_services_ecsbox_does_not_run_are_refused_with_the_reason(protocol: str) -> None:
    code, message = fails(check_protocol, protocol)
    assert code == "InvalidParameter"
    assert message.startswith("Invalid parameter: Protocol Reason: ecsbox delivers to http, https, email")
    assert protocol in message


def test_an_unknown_protocol() -> None:
    assert fails(check_protocol, "carrier-pigeon") == (
        "InvalidParameter",
        "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon",
    )


@pytest.mark.parametrize(
    ("protocol", "endpoint", "message"),
    [
        ("http", "https://example.com/", "Invalid parameter: Endpoint must match the specified protocol"),
        ("https", "http://example.com/", "Invalid parameter: Endpoint must match the specified protocol"),
        ("http", "example.com", "Invalid parameter: Endpoint must match the specified protocol"),
        ("http", "http:///path", "Invalid parameter: Endpoint must match the specified protocol"),
        ("http", "http://example.com:port/", "Invalid parameter: Endpoint Reason: not a valid URL"),
        ("http", "http://exa mple.com/", "Invalid parameter: Endpoint Reason: not a valid URL"),
        ("email", "not-an-address", "Invalid parameter: Email address"),
        ("email", "a@b", "Invalid parameter: Email address"),
        ("email-json", "ops/../x@example.com", "Invalid parameter: Email address"),
        ("email", None, "Invalid parameter: Endpoint Reason: An endpoint is required for this protocol"),
    ],
)
def test_endpoints_that_do_not_suit_their_protocol(protocol: str, endpoint: str | None, message: str) -> None:
    assert fails(check_endpoint, protocol, endpoint) == ("InvalidParameter", message)


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [("http", "http://127.0.0.1:8080/sns?x=1"), ("https", "HTTPS://user:pw@hooks.example.com/"),
     ("email", "ops+alerts@example.co.uk"), ("email-json", "o'neil@example.com")],
)  # fmt: skip
def test_endpoints_that_suit_their_protocol(protocol: str, endpoint: str) -> None:
    assert check_endpoint(protocol, endpoint) == endpoint


def test_passwords_in_endpoints_are_masked() -> None:
    assert mask_endpoint("https://u:secret@h.example.com:8443/p?q") == "https://u:****@h.example.com:8443/p?q"
    assert mask_endpoint("https://h.example.com/") == "https://h.example.com/"
    facts = SubscriptionFacts(SUB, TOPIC, "https", "https://u:secret@h/", "123456789012", 1, {})
    assert listed(facts)["Endpoint"] == "https://u:****@h/"


# ---- subscription attributes -----------------------------------------------------------------------


def test_subscription_attributes_are_checked_per_protocol() -> None:
    assert check_subscribe_attributes("http", {"RawMessageDelivery": "True"}) == {
        "RawMessageDelivery": "true"
    }
    assert fails(check_subscribe_attributes, "email", {"RawMessageDelivery": "true"}) == (
        "InvalidParameter",
        "Invalid parameter: Delivery protocol [email] does not support raw message delivery.",
    )
    assert fails(check_subscribe_attributes, "http", {"RawMessageDelivery": "yes"})[1] == (
        "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [yes]. Must be true or false."
    )
    assert fails(check_subscribe_attributes, "email", {"DeliveryPolicy": '{"healthyRetryPolicy": {}}'})[
        0
    ] == ("InvalidParameter")
    assert fails(check_subscribe_attributes, "http", {"RedrivePolicy": "{}"})[1].startswith(
        "Invalid parameter: Attributes Reason: RedrivePolicy: dead-letter queues are Amazon SQS queues"
    )
    assert (
        fails(check_subscribe_attributes, "http", {"Colour": "red"})[1] == "Invalid parameter: AttributeName"
    )


def test_a_filter_policy_is_read_in_the_scope_given_with_it() -> None:
    nested = '{"alarm": {"state": ["ALARM"]}}'
    stored = check_subscribe_attributes("http", {"FilterPolicy": nested, "FilterPolicyScope": "MessageBody"})
    assert stored["FilterPolicyScope"] == "MessageBody"
    with pytest.raises(NotifyRuleError):
        check_subscribe_attributes("http", {"FilterPolicy": nested})  # attributes scope: no nesting
    with pytest.raises(NotifyRuleError):  # switching the scope back must keep the policy valid
        set_subscription_attribute("http", stored, "FilterPolicyScope", "MessageAttributes")
    assert "FilterPolicy" not in set_subscription_attribute("http", stored, "FilterPolicy", "")


def test_the_subscription_view() -> None:
    facts = SubscriptionFacts(
        SUB, TOPIC, "http", "http://h/", "123456789012", 0, {"FilterPolicy": '{"a": ["b"]}'}
    )
    view = subscription_view(facts, None)
    assert view["PendingConfirmation"] == "true"
    assert view["RawMessageDelivery"] == "false"
    assert view["FilterPolicyScope"] == "MessageAttributes"
    assert json.loads(view["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 3
    email = subscription_view(SubscriptionFacts(SUB, TOPIC, "email", "a@b.c", "1", 1, {}), None)
    assert "EffectiveDeliveryPolicy" not in email and email["PendingConfirmation"] == "false"


# ---- topic attributes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SignatureVersion", "3", "Invalid parameter: SignatureVersion Reason: must be 1 or 2"),
        ("TracingConfig", "On", "Invalid parameter: TracingConfig Reason: must be PassThrough or Active"),
        ("Policy", "not json", "Invalid parameter: Policy Error: the policy must be a JSON object with a Statement"),
        ("Colour", "red", "Invalid parameter: AttributeName"),
        ("HTTPSuccessFeedbackSampleRate", "101", "Invalid parameter: Attributes Reason: "
         "HTTPSuccessFeedbackSampleRate: must be an integer from 0 to 100"),
        ("HTTPFailureFeedbackRoleArn", "role", "Invalid parameter: Attributes Reason: "
         "HTTPFailureFeedbackRoleArn: not an IAM role ARN"),
        ("DeliveryPolicy", '{"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 0}}}',
         "Invalid parameter: DeliveryPolicy: http.defaultHealthyRetryPolicy.minDelayTarget must be between 1 "
         "and 3600"),
        ("ContentBasedDeduplication", "true", "Invalid parameter: FifoTopic Reason: ecsbox serves standard "
         "topics only: FIFO topics deliver only to Amazon SQS queues, which ecsbox does not run"),
    ],
)  # fmt: skip
def test_topic_attribute_values_ecsbox_refuses(name: str, value: str, message: str) -> None:
    assert fails(check_topic_attribute, name, value) == ("InvalidParameter", message)


def test_maximum_message_size_is_bounded_to_what_http_and_email_take() -> None:
    assert check_topic_attribute("MaximumMessageSize", "1024") == "1024"
    assert check_topic_attribute("MaximumMessageSize", "262144") == "262144"
    for refused in ("1023", "262145", "big"):
        assert fails(check_topic_attribute, "MaximumMessageSize", refused)[0] == "InvalidParameter"


def test_fifo_topics_are_refused_with_the_reason() -> None:
    error = check_fifo_request("orders", {"FifoTopic": "true"})
    assert error is not None and "Fifo Topic names must end with .fifo" in error.message
    error = check_fifo_request("orders.fifo", {"FifoTopic": "true"})
    assert error is not None and "ecsbox serves standard topics only" in error.message
    assert check_fifo_request("orders", {"FifoTopic": "false"}) is None
    assert check_create_attributes({"FifoTopic": "false", "DisplayName": "Ops"}) == {"DisplayName": "Ops"}


def test_setting_and_clearing_topic_attributes() -> None:
    stored = set_attribute({}, "DisplayName", "Ops")
    assert stored == {"DisplayName": "Ops"}
    assert set_attribute(stored, "DisplayName", "") == {}
    assert not differs(stored, {"DisplayName": "Ops"}) and differs(stored, {"DisplayName": "Dev"})
    with pytest.raises(NotifyRuleError):
        set_attribute(stored, "Policy", "")


def test_the_topic_view_computes_what_aws_computes() -> None:
    view = topic_view(
        ("123456789012", "eu-west-1"), "alarms", {"DisplayName": "Ops"}, SubscriptionCounts(2, 1, 3)
    )
    assert list(view)[:8] == [
        "Policy",
        "Owner",
        "SubscriptionsPending",
        "TopicArn",
        "EffectiveDeliveryPolicy",
        "SubscriptionsConfirmed",
        "DisplayName",
        "SubscriptionsDeleted",
    ]
    assert (view["SubscriptionsConfirmed"], view["SubscriptionsPending"], view["SubscriptionsDeleted"]) == (
        "2",
        "1",
        "3",
    )
    policy = json.loads(view["Policy"])
    assert policy["Statement"][0]["Resource"] == TOPIC
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"AWS:SourceOwner": "123456789012"}}


# ---- tokens ----------------------------------------------------------------------------------------


def test_tokens_carry_their_issue_time() -> None:
    token = make_token(1_700_000_000.0, "f" * 240)
    assert len(token) == 256 and issued_at(token) == 1_700_000_000.0
    assert is_current(token, 1_700_000_000.0 + 2 * 86_400)
    assert not is_current(token, 1_700_000_000.0 + 2 * 86_400 + 1)
    assert issued_at("short") is None and issued_at("z" * 256) is None
