"""Delivery policies (retry schedules, effective policies, limits) and filter policies (what they
may say, which messages pass)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.notify.delivery_policy import (
    BACKOFF_FUNCTIONS,
    DEFAULT_RETRY_POLICY,
    EMAIL_RETRY_POLICY,
    RetryPolicy,
    effective_http_policy,
    parse_retry_policy,
    parse_topic_policy,
    retry_delays,
    subscription_effective_document,
)
from ecsbox.notify.filter_policy import Attribute, parse_filter_policy, passes
from ecsbox.notify.model import NotifyRuleError

# ---- retry schedules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        (DEFAULT_RETRY_POLICY, [20.0, 20.0, 20.0]),
        (RetryPolicy(1, 1, 0, 0, 0, 0, "linear"), []),
        (RetryPolicy(5, 10, 4, 2, 0, 0, "linear"), [0.0, 0.0, 7.5, 10.0]),
        (RetryPolicy(5, 10, 5, 1, 1, 1, "linear"), [0.0, 5.0, 7.5, 10.0, 10.0]),
        (RetryPolicy(10, 80, 3, 0, 0, 0, "geometric"), [20.0, 40.0, 80.0]),
    ],
)
def test_retry_schedules(policy: RetryPolicy, delays: list[float]) -> None:
    assert retry_delays(policy) == delays


def test_email_deliveries_follow_smtp_s_fixed_policy() -> None:
    delays = retry_delays(EMAIL_RETRY_POLICY)
    assert len(delays) == 50
    assert delays[:2] == [10.0, 10.0] and delays[-38:] == [600.0] * 38
    assert sum(delays) > 6 * 3600  # "50 attempts, over 6 hours"


@st.composite
def retry_policies(draw: st.DrawFn) -> RetryPolicy:
    low = draw(st.integers(1, 300))
    high = draw(st.integers(low, 600))
    phases = draw(st.lists(st.integers(0, 5), min_size=3, max_size=3))
    retries = sum(phases) + draw(st.integers(0, 10))
    return RetryPolicy(
        low, high, retries, phases[0], phases[1], phases[2], draw(st.sampled_from(BACKOFF_FUNCTIONS))
    )


@given(retry_policies())
def test_every_schedule_has_numretries_delays_within_the_targets(policy: RetryPolicy) -> None:
    delays = retry_delays(policy)
    assert len(delays) == policy.retries
    assert delays[: policy.no_delay] == [0.0] * policy.no_delay
    rest = delays[policy.no_delay :]
    assert all(policy.min_delay <= d <= policy.max_delay for d in rest)
    assert rest == sorted(rest)  # delays never shrink after the immediate phase


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"minDelayTarget": 30, "maxDelayTarget": 20}, "p.minDelayTarget must be less than or equal to maxDelayTarget"),
        ({"maxDelayTarget": 3601}, "p.maxDelayTarget must be between 1 and 3600"),
        ({"numRetries": 101}, "p.numRetries must be between 0 and 100"),
        ({"numRetries": 1, "numNoDelayRetries": 2},
         "p.numRetries must be at least the sum of the other phases' retries"),
        ({"backoffFunction": "cubic"}, "p.backoffFunction must be one of arithmetic, exponential, geometric, linear"),
        ({"numRetries": 100, "minDelayTarget": 60, "maxDelayTarget": 60},
         "the total retry time of p must not exceed 3600 seconds"),
        ({"numRetries": "3"}, "p.numRetries must be an integer"),
        ([], "p must be a JSON object"),
    ],
)  # fmt: skip
def test_retry_policies_aws_refuses(document: object, reason: str) -> None:
    with pytest.raises(NotifyRuleError) as caught:
        parse_retry_policy(document, "p")
    assert caught.value.message == f"Invalid parameter: DeliveryPolicy: {reason}"


def test_a_subscription_overrides_its_topic_unless_the_topic_forbids_it() -> None:
    topic = json.dumps(
        {
            "http": {
                "defaultHealthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 5, "maxDelayTarget": 5},
                "defaultThrottlePolicy": {"maxReceivesPerSecond": 3},
                "defaultRequestPolicy": {"headerContentType": "application/json"},
            }
        }
    )
    own = json.dumps({"healthyRetryPolicy": {"numRetries": 7, "minDelayTarget": 1, "maxDelayTarget": 1}})
    policy = effective_http_policy(topic, own)
    assert (policy.retry.retries, policy.max_receives_per_second, policy.content_type) == (
        7,
        3,
        "application/json",
    )
    locked = json.loads(topic)
    locked["http"]["disableSubscriptionOverrides"] = True
    assert effective_http_policy(json.dumps(locked), own).retry.retries == 2
    document = json.loads(subscription_effective_document(policy))
    assert document["throttlePolicy"] == {"maxReceivesPerSecond": 3}
    assert document["requestPolicy"] == {"headerContentType": "application/json"}


def test_content_types_and_throttles() -> None:
    with pytest.raises(NotifyRuleError):
        parse_topic_policy('{"http": {"defaultRequestPolicy": {"headerContentType": "image/png"}}}')
    with pytest.raises(NotifyRuleError):
        parse_topic_policy('{"http": {"defaultThrottlePolicy": {"maxReceivesPerSecond": 0}}}')
    with pytest.raises(NotifyRuleError):
        parse_topic_policy("[1]")
    assert parse_topic_policy('{"http": {}}').retry is None


# ---- filter policies -------------------------------------------------------------------------------

ATTRS: dict[str, Attribute] = {
    "severity": ("String", "critical"),
    "code": ("Number", "503"),
    "regions": ("String.Array", '["eu-west-1", "us-east-1"]'),
    "source_ip": ("String", "10.0.3.7"),
    "blob": ("Binary", b"\x00\x01"),
}


@pytest.mark.parametrize(
    ("policy", "passed"),
    [
        ({"severity": ["critical"]}, True),
        ({"severity": ["warning", "critical"]}, True),
        ({"severity": ["warning"]}, False),
        ({"severity": [{"prefix": "crit"}]}, True),
        ({"severity": [{"suffix": "cal"}]}, True),
        ({"severity": [{"equals-ignore-case": "CRITICAL"}]}, True),
        ({"severity": [{"anything-but": ["warning", "info"]}]}, True),
        ({"severity": [{"anything-but": "critical"}]}, False),
        ({"severity": [{"anything-but": {"prefix": "crit"}}]}, False),
        ({"code": [503]}, True),
        ({"code": ["503"]}, False),  # a string does not match a Number attribute
        ({"code": [{"numeric": [">=", 500, "<", 600]}]}, True),
        ({"code": [{"numeric": ["<", 500]}]}, False),
        ({"regions": ["us-east-1"]}, True),
        ({"regions": ["ap-south-1"]}, False),
        ({"source_ip": [{"cidr": "10.0.0.0/16"}]}, True),
        ({"source_ip": [{"cidr": "192.168.0.0/16"}]}, False),
        ({"missing": [{"exists": False}]}, True),
        ({"missing": [{"exists": True}]}, False),
        ({"severity": [{"exists": True}]}, True),
        ({"missing": [{"anything-but": "x"}]}, False),  # anything-but needs the attribute
        ({"blob": [{"exists": True}]}, True),
        ({"blob": ["AAE="]}, False),  # binary attributes offer no value to match
        ({"severity": ["critical"], "code": [404]}, False),  # every key must match
        ({"severity": ["critical"], "$or": [{"code": [404]}, {"regions": ["eu-west-1"]}]}, True),
        ({"$or": [{"code": [404]}, {"severity": ["info"]}]}, False),
    ],
)
def test_message_attribute_filtering(policy: dict[str, object], passed: bool) -> None:
    assert passes(parse_filter_policy(json.dumps(policy)), "any body", ATTRS) is passed


BODY = json.dumps(
    {"AlarmName": "cpu-high", "NewStateValue": "ALARM", "Trigger": {"Threshold": 80, "Dims": [{"n": "a"}]}}
)


@pytest.mark.parametrize(
    ("policy", "passed"),
    [
        ({"NewStateValue": ["ALARM"]}, True),
        ({"NewStateValue": ["OK"]}, False),
        ({"Trigger": {"Threshold": [{"numeric": [">", 50]}]}}, True),
        ({"Trigger": {"Dims": {"n": ["a"]}}}, True),
        ({"Trigger": {"Missing": [{"exists": False}]}}, True),
        ({"AlarmName": [{"prefix": "mem"}]}, False),
    ],
)
def test_message_body_filtering(policy: dict[str, object], passed: bool) -> None:
    assert passes(parse_filter_policy(json.dumps(policy), "MessageBody"), BODY, {}) is passed


def test_a_body_policy_never_passes_a_message_that_is_not_a_json_object() -> None:
    policy = parse_filter_policy('{"a": [{"exists": false}]}', "MessageBody")
    assert not passes(policy, "plain text", {}) and not passes(policy, "[1]", {})
    assert passes(None, "anything", {})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "failed to parse JSON"),
        ("{}", "the policy must be a non-empty JSON object"),
        ('{"a": []}', "Empty arrays are not allowed"),
        ('{"a": "b"}', '"a" must be an object or an array'),
        ('{"a": [{"wildcard": "x"}]}', "Unrecognized match type wildcard"),
        ('{"a": [{"numeric": ["<>", 1]}]}', "Unrecognized numeric range operator: <>"),
        ('{"a": [{"numeric": [">", 5, "<", 1]}]}', "Bottom must be less than top"),
        ('{"a": [{"cidr": "x"}]}', "Malformed CIDR, one '/' required: x"),
        ('{"a": [true]}', "Match value must be String, number, true, false, or null"),
        ('{"a": {"b": ["c"]}}', "Filter policy scope MessageAttributes does not support nested filter policy"),
        (json.dumps({key: ["1"] for key in "abcdef"}), "Filter policy can not have more than 5 keys"),
    ],
)  # fmt: skip
def test_filter_policies_aws_refuses(text: str, reason: str) -> None:
    with pytest.raises(NotifyRuleError) as caught:
        parse_filter_policy(text)
    assert caught.value.message == f"Invalid parameter: FilterPolicy: {reason}"


def test_a_policy_of_too_many_combinations_is_refused() -> None:
    policy = {key: [str(i) for i in range(6)] for key in "abc"}  # 6 * 6 * 6 = 216 > 150
    with pytest.raises(NotifyRuleError) as caught:
        parse_filter_policy(json.dumps(policy))
    assert "216 combinations" in caught.value.message
