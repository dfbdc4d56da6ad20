"""PutMetricAlarm's and SetAlarmState's rules: each refused request gets AWS's code and message, and
what ecsbox does not evaluate is refused with a message saying so."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

from ecsbox.metrics import alarm_model, alarm_rules
from ecsbox.metrics.alarm_rules import check_action, check_alarm, check_period, check_reason_data, check_tags
from ecsbox.metrics.model import MetricsRuleError

PARTITION = ("123456789012", "eu-west-1")


def test_doctests() -> None:
    assert doctest.testmod(alarm_rules).failed == 0
    assert doctest.testmod(alarm_model).failed == 0


def request(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "AlarmName": "cpu-high",
        "Namespace": "AWS/ECS",
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "web"}],
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 70,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params


def refused(**changes: Any) -> tuple[str, str]:
    with pytest.raises(MetricsRuleError) as caught:
        check_alarm(request(**changes), PARTITION)
    return caught.value.code, caught.value.message


def test_a_valid_request_is_stored_as_given_with_defaults() -> None:
    document, tags = check_alarm(
        request(DatapointsToAlarm=2, Tags=[{"Key": "team", "Value": "core"}], AlarmDescription="hot"),
        PARTITION,
    )
    assert document["Threshold"] == 70.0 and isinstance(document["Threshold"], float)
    assert document["ActionsEnabled"] is True
    assert (document["OKActions"], document["AlarmActions"], document["InsufficientDataActions"]) == (
        [],
        [],
        [],
    )
    assert document["Dimensions"][0] == {"Name": "ClusterName", "Value": "prod"}
    assert document["DatapointsToAlarm"] == 2 and document["AlarmDescription"] == "hot"
    assert "TreatMissingData" not in document and "Tags" not in document
    assert tags == {"team": "core"}
    assert check_alarm(request(ActionsEnabled=False), PARTITION)[0]["ActionsEnabled"] is False


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"Period": 45}, "ValidationError", "Period must be 10, 20, 30 or a multiple of 60"),
        ({"Period": 90}, "ValidationError", "Period must be 10, 20, 30 or a multiple of 60"),
        (
            {"Period": 300, "EvaluationPeriods": 289},
            "ValidationError",
            "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400) "
            "for alarms using period < 3600",
        ),
        (
            {"Period": 3600, "EvaluationPeriods": 169},
            "ValidationError",
            "Metrics cannot be checked across more than a week (EvaluationPeriods * Period must be <= 604800) "
            "for alarms using period >= 3600",
        ),
        (
            {"DatapointsToAlarm": 4},
            "ValidationError",
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods",
        ),
        (
            {"ExtendedStatistic": "p99"},
            "ValidationError",
            "PutMetricAlarm request can not be made with both Statistic and ExtendedStatistic parameters. "
            "Only one of them should be present",
        ),
        ({"Statistic": None}, "ValidationError", "PutMetricAlarm request should have a Statistic parameter"),
        (
            {"Statistic": None, "ExtendedStatistic": "p1000"},
            "InvalidParameterValue",
            "The value p1000 for parameter ExtendedStatistic is not supported.",
        ),
        (
            {"Statistic": None, "ExtendedStatistic": "Average"},
            "InvalidParameterValue",
            "The value Average for parameter ExtendedStatistic is not supported.",
        ),
        (
            {"EvaluateLowSampleCountPercentile": "ignore"},
            "ValidationError",
            "Option evaluateLowSampleCountPercentile can not be applied with statistic Average. This option is "
            "enabled only for percentile statistics.",
        ),
        (
            {"Statistic": None, "ExtendedStatistic": "p90", "EvaluateLowSampleCountPercentile": "sometimes"},
            "ValidationError",
            "Supported options for EvaluateLowSampleCountPercentile are evaluate and ignore.",
        ),
        (
            {"TreatMissingData": "zero"},
            "ValidationError",
            "Supported values for TreatMissingData are breaching, notBreaching, ignore, and missing.",
        ),
        (
            {"Threshold": float("nan")},
            "ValidationError",
            "PutMetricAlarm request should have a valid Threshold parameter",
        ),
        (
            {"EvaluationPeriods": None},
            "MissingParameter",
            "1 validation error detected: Value null at 'evaluationPeriods' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            {"MetricName": None},
            "MissingParameter",
            "1 validation error detected: Value null at 'metricName' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            {"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"},
            "ValidationError",
            "ComparisonOperator LessThanLowerOrGreaterThanUpperThreshold is only valid for alarms based on "
            "anomaly detection models (ThresholdMetricId).",
        ),
        (
            {"Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}]},
            "InvalidParameterValue",
            "The dimension name A is given more than once.",
        ),
        (
            {"AlarmName": "bad\nname"},
            "ValidationError",
            "AlarmName must not contain ASCII Control characters",
        ),
        (
            {"AlarmDescription": "\ud800"},
            "InvalidParameterValue",
            "The parameter request contains invalid characters.",
        ),
    ],
)
def test_refused_requests(changes: dict[str, Any], code: str, message: str) -> None:
    assert refused(**changes) == (code, message)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"Metrics": [{"Id": "m1", "Expression": "SUM(METRICS())"}]}, "metric math"),
        ({"ThresholdMetricId": "ad1"}, "anomaly detection"),
        ({"EvaluationCriteria": {"PromQLCriteria": {"Query": "up"}}, "EvaluationInterval": 60}, "PromQL"),
        ({"WarmUpConfiguration": {"WarmUpPeriodDurationInMinutes": 5}}, "warm-up"),
        ({"EvaluationWindow": {"WallClockWindow": {}}}, "wall clock"),
        ({"ActionConfiguration": {"AlarmTagsPropagation": {"Enabled": True}}}, "tags"),
    ],
)
def test_what_ecsbox_does_not_evaluate_is_refused_and_says_so(changes: dict[str, Any], words: str) -> None:
    code, message = refused(**changes)
    assert code == "InvalidParameterValue"
    assert message.startswith("ecsbox does not") and words in message


def test_a_sliding_window_is_the_default_and_accepted() -> None:
    document, _ = check_alarm(request(EvaluationWindow={"SlidingWindow": {}}), PARTITION)
    assert document["EvaluationWindow"] == {"SlidingWindow": {}}


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sns:eu-west-1:123456789012:ops",
        "arn:aws:sns:eu-west-1:123456789012:ops.fifo",
        "arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:1b2c3d:resource/ecs/service/prod/web:"
        "policyName/cpu",
        "arn:aws:automate:eu-west-1:ec2:stop",
        "arn:aws:lambda:eu-west-1:123456789012:function:notify:live",
        "arn:aws:ssm:eu-west-1:123456789012:opsitem:3#CATEGORY=Availability",
        "arn:aws:ssm-incidents::123456789012:responseplan/plan",
    ],
)
def test_action_arns_cloudwatch_takes(arn: str) -> None:
    assert check_action(arn, "eu-west-1") == arn


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        (
            "arn:aws:sns:us-east-1:123456789012:ops",
            "Invalid region us-east-1 specified. Only eu-west-1 is supported.",
        ),
        ("not-an-arn", "Invalid arn syntax: not-an-arn"),
        (
            "arn:aws:sqs:eu-west-1:123456789012:queue",
            "Invalid arn syntax: arn:aws:sqs:eu-west-1:123456789012:queue",
        ),
        ("arn:aws:sns:eu-west-1:1234:ops", "Invalid arn syntax: arn:aws:sns:eu-west-1:1234:ops"),
        (
            "arn:aws:sns:eu-west-1:123456789012:o p s",
            "Invalid arn syntax: arn:aws:sns:eu-west-1:123456789012:o p s",
        ),
        (
            "arn:aws:automate:eu-west-1:ec2:explode",
            "Invalid arn syntax: arn:aws:automate:eu-west-1:ec2:explode",
        ),
        (
            "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:x",
            "Invalid arn syntax: arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:x",
        ),
    ],
)
def test_action_arns_refused(arn: str, message: str) -> None:
    with pytest.raises(MetricsRuleError) as caught:
        check_action(arn, "eu-west-1")
    assert (caught.value.code, caught.value.message) == ("ValidationError", message)


def test_repeated_actions_are_kept_once() -> None:
    topic = "arn:aws:sns:eu-west-1:123456789012:ops"
    document, _ = check_alarm(request(AlarmActions=[topic, topic]), PARTITION)
    assert document["AlarmActions"] == [topic]


def test_periods_within_limits() -> None:
    for period, n in ((10, 8640), (30, 2880), (60, 1440), (3600, 168), (86400, 7)):
        check_period(period, n)


def test_tags() -> None:
    assert check_tags([{"Key": "a", "Value": ""}]) == {"a": ""}
    with pytest.raises(MetricsRuleError, match="reserved"):
        check_tags([{"Key": "aws:cloudformation:stack", "Value": "x"}])
    with pytest.raises(MetricsRuleError, match="at most 50"):
        check_tags([{"Key": f"k{i}", "Value": "v"} for i in range(51)])


def test_state_reason_data_must_be_json() -> None:
    assert check_reason_data(None) is None
    assert check_reason_data("[1, 2]") == "[1, 2]"
    with pytest.raises(MetricsRuleError) as caught:
        check_reason_data("{broken")
    assert caught.value.code == "InvalidFormat"
