"""CloudWatch metric alarms through real boto3 against a live ecsbox: every alarm operation, AWS's
error codes, paging, history, and tags on alarm ARNs. The live server does not evaluate alarms in
these tests' time, so state changes are made with SetAlarmState (whose effects — history, actions,
events — are the same as an evaluation's)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.contract.aws_clients import error_of

REGION = "eu-west-1"
ACCOUNT = "000000000000"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ops"
POLICY = (
    f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:6d8a:resource/ecs/service/prod/web:policyName/up"
)
NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})


def client(endpoint: str, config: Config | None = None) -> Any:
    return boto3.client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


@pytest.fixture()
def cw(ecsbox_endpoint: str) -> Any:
    return client(ecsbox_endpoint)


@pytest.fixture()
def raw(ecsbox_endpoint: str) -> Any:
    """A client that sends what it is given (no client-side validation)."""
    return client(ecsbox_endpoint, NO_VALIDATION)


def arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def put(cw: Any, name: str = "cpu-high", **changes: Any) -> None:
    params: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": "CPU of the web service",
        "Namespace": "AWS/ECS",
        "MetricName": "CPUUtilization",
        "Dimensions": [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "web"}],
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 70.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": [TOPIC],
    }
    params.update(changes)
    cw.put_metric_alarm(**{key: value for key, value in params.items() if value is not None})


def names(response: dict[str, Any]) -> list[str]:
    return [a["AlarmName"] for a in response["MetricAlarms"]]


def test_put_and_describe_an_alarm(cw: Any) -> None:
    before = datetime.datetime.now(datetime.UTC)
    put(cw, TreatMissingData="breaching", Unit="Percent", Tags=[{"Key": "team", "Value": "web"}])
    alarms = cw.describe_alarms()
    assert alarms["CompositeAlarms"] == []
    (alarm,) = alarms["MetricAlarms"]
    assert alarm["AlarmArn"] == arn("cpu-high")
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert "StateReasonData" not in alarm
    assert alarm["ActionsEnabled"] is True
    assert (alarm["AlarmActions"], alarm["OKActions"], alarm["InsufficientDataActions"]) == ([TOPIC], [], [])
    assert alarm["Dimensions"] == [
        {"Name": "ClusterName", "Value": "prod"},
        {"Name": "ServiceName", "Value": "web"},
    ]
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 3, 2)
    assert (alarm["Threshold"], alarm["TreatMissingData"], alarm["Unit"]) == (70.0, "breaching", "Percent")
    assert alarm["AlarmDescription"] == "CPU of the web service"
    assert "ExtendedStatistic" not in alarm and "EvaluateLowSampleCountPercentile" not in alarm
    for key in ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp", "StateTransitionedTimestamp"):
        assert before - datetime.timedelta(seconds=5) <= alarm[key] <= before + datetime.timedelta(minutes=1)
    assert cw.list_tags_for_resource(ResourceARN=arn("cpu-high"))["Tags"] == [{"Key": "team", "Value": "web"}]


def test_updating_an_alarm_keeps_its_state_and_replaces_its_configuration(cw: Any) -> None:
    put(cw)
    cw.set_alarm_state(AlarmName="cpu-high", StateValue="ALARM", StateReason="drill")
    put(
        cw,
        Threshold=90.0,
        Tags=[{"Key": "ignored", "Value": "on update"}],
        AlarmActions=[],
        DatapointsToAlarm=3,
    )
    alarm = cw.describe_alarms(AlarmNames=["cpu-high"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "drill")
    assert (alarm["Threshold"], alarm["AlarmActions"], alarm["DatapointsToAlarm"]) == (90.0, [], 3)
    assert cw.list_tags_for_resource(ResourceARN=arn("cpu-high"))["Tags"] == []
    history = cw.describe_alarm_history(AlarmName="cpu-high", HistoryItemType="ConfigurationUpdate")
    summaries = [h["HistorySummary"] for h in history["AlarmHistoryItems"]]
    assert summaries == ['Alarm "cpu-high" updated', 'Alarm "cpu-high" created']
    data = json.loads(history["AlarmHistoryItems"][0]["HistoryData"])
    assert data["type"] == "Update" and data["originalUpdatedFields"]["threshold"] == 70.0


def test_percentile_alarms(cw: Any) -> None:
    put(cw, "p99", Statistic=None, ExtendedStatistic="p99", EvaluateLowSampleCountPercentile="ignore")
    alarm = cw.describe_alarms(AlarmNames=["p99"])["MetricAlarms"][0]
    assert (alarm["ExtendedStatistic"], alarm["EvaluateLowSampleCountPercentile"]) == ("p99", "ignore")
    assert "Statistic" not in alarm


def test_describe_alarms_filters_and_pages(cw: Any) -> None:
    for index in range(5):
        put(cw, f"web-{index}", AlarmActions=[TOPIC] if index % 2 else [POLICY])
    put(cw, "db-cpu", AlarmActions=[])
    cw.set_alarm_state(AlarmName="web-3", StateValue="ALARM", StateReason="test")
    assert names(cw.describe_alarms()) == ["db-cpu", "web-0", "web-1", "web-2", "web-3", "web-4"]
    assert names(cw.describe_alarms(AlarmNamePrefix="web-")) == [f"web-{i}" for i in range(5)]
    assert names(cw.describe_alarms(AlarmNames=["web-4", "db-cpu", "nope"])) == ["db-cpu", "web-4"]
    assert names(cw.describe_alarms(StateValue="ALARM")) == ["web-3"]
    assert names(cw.describe_alarms(ActionPrefix="arn:aws:autoscaling:")) == ["web-0", "web-2", "web-4"]
    assert names(cw.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=100)) == names(
        cw.describe_alarms()
    )
    composite_only = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])
    assert (composite_only["MetricAlarms"], composite_only["CompositeAlarms"]) == ([], [])
    assert cw.describe_alarms(ParentsOfAlarmName="web-1")["MetricAlarms"] == []

    first = cw.describe_alarms(MaxRecords=4)
    assert names(first) == ["db-cpu", "web-0", "web-1", "web-2"]
    second = cw.describe_alarms(MaxRecords=4, NextToken=first["NextToken"])
    assert names(second) == ["web-3", "web-4"] and "NextToken" not in second
    paged = [
        a["AlarmName"]
        for page in cw.get_paginator("describe_alarms").paginate(PaginationConfig={"PageSize": 2})
        for a in page["MetricAlarms"]
    ]
    assert paged == names(cw.describe_alarms())

    assert error_of(cw.describe_alarms, NextToken="garbage")[:2] == ("InvalidNextToken", 400)
    code, status, _ = error_of(cw.describe_alarms, AlarmNames=["a"], AlarmNamePrefix="a")
    assert (code, status) == ("InvalidParameterCombination", 400)
    code, _, _ = error_of(cw.describe_alarms, ChildrenOfAlarmName="a", StateValue="OK")
    assert code == "InvalidParameterCombination"


def test_describe_alarms_for_metric(cw: Any) -> None:
    put(cw, "avg")
    put(cw, "max", Statistic="Maximum", Period=300)
    put(
        cw,
        "other-service",
        Dimensions=[{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "api"}],
    )
    dims = [{"Name": "ServiceName", "Value": "web"}, {"Name": "ClusterName", "Value": "prod"}]  # any order
    found = cw.describe_alarms_for_metric(MetricName="CPUUtilization", Namespace="AWS/ECS", Dimensions=dims)
    assert sorted(names(found)) == ["avg", "max"]
    only_max = cw.describe_alarms_for_metric(
        MetricName="CPUUtilization", Namespace="AWS/ECS", Dimensions=dims, Statistic="Maximum"
    )
    assert names(only_max) == ["max"]
    assert names(
        cw.describe_alarms_for_metric(
            MetricName="CPUUtilization", Namespace="AWS/ECS", Dimensions=dims, Period=60
        )
    ) == ["avg"]
    assert (
        cw.describe_alarms_for_metric(MetricName="CPUUtilization", Namespace="AWS/ECS")["MetricAlarms"] == []
    )


def test_set_alarm_state_history_and_its_errors(cw: Any) -> None:
    put(cw)
    cw.set_alarm_state(
        AlarmName="cpu-high", StateValue="ALARM", StateReason="drill", StateReasonData='{"n": 1}'
    )
    alarm = cw.describe_alarms(AlarmNames=["cpu-high"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"], alarm["StateReasonData"]) == (
        "ALARM",
        "drill",
        '{"n": 1}',
    )
    cw.set_alarm_state(AlarmName="cpu-high", StateValue="OK", StateReason="over")
    items = cw.describe_alarm_history(AlarmName="cpu-high", HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"
    ]
    assert [i["HistorySummary"] for i in items] == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    assert items[0]["AlarmType"] == "MetricAlarm"
    data = json.loads(items[1]["HistoryData"])
    assert data["newState"] == {"stateValue": "ALARM", "stateReason": "drill", "stateReasonData": {"n": 1}}

    assert error_of(cw.set_alarm_state, AlarmName="nope", StateValue="OK", StateReason="x")[:2] == (
        "ResourceNotFound",
        404,
    )
    code, status, message = error_of(
        cw.set_alarm_state, AlarmName="cpu-high", StateValue="OK", StateReason="x", StateReasonData="{nope"
    )
    assert (code, status) == ("InvalidFormat", 400) and "StateReasonData" in message


def test_describe_alarm_history_filters_and_pages(cw: Any) -> None:
    put(cw)
    for state in ("ALARM", "OK", "ALARM", "OK"):
        cw.set_alarm_state(AlarmName="cpu-high", StateValue=state, StateReason="flap")
    newest_first = cw.describe_alarm_history(AlarmName="cpu-high")["AlarmHistoryItems"]
    assert len(newest_first) == 5 and newest_first[-1]["HistorySummary"] == 'Alarm "cpu-high" created'
    oldest_first = cw.describe_alarm_history(AlarmName="cpu-high", ScanBy="TimestampAscending")[
        "AlarmHistoryItems"
    ]
    assert [i["HistorySummary"] for i in oldest_first] == [
        i["HistorySummary"] for i in reversed(newest_first)
    ]
    page = cw.describe_alarm_history(AlarmName="cpu-high", MaxRecords=2)
    rest = cw.describe_alarm_history(AlarmName="cpu-high", MaxRecords=10, NextToken=page["NextToken"])
    assert len(page["AlarmHistoryItems"]) == 2 and len(rest["AlarmHistoryItems"]) == 3
    future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    assert cw.describe_alarm_history(StartDate=future)["AlarmHistoryItems"] == []
    assert len(cw.describe_alarm_history(EndDate=future)["AlarmHistoryItems"]) == 5
    assert cw.describe_alarm_history(AlarmTypes=["CompositeAlarm"])["AlarmHistoryItems"] == []
    assert error_of(cw.describe_alarm_history, NextToken="nope")[:2] == ("InvalidNextToken", 400)


def test_enable_disable_and_delete(cw: Any) -> None:
    put(cw, "a")
    put(cw, "b")
    cw.disable_alarm_actions(AlarmNames=["a", "missing"])
    assert [x["ActionsEnabled"] for x in cw.describe_alarms()["MetricAlarms"]] == [False, True]
    cw.enable_alarm_actions(AlarmNames=["a"])
    assert [x["ActionsEnabled"] for x in cw.describe_alarms()["MetricAlarms"]] == [True, True]
    cw.delete_alarms(AlarmNames=["a", "never-existed"])
    assert names(cw.describe_alarms()) == ["b"]
    history = cw.describe_alarm_history(AlarmName="a")["AlarmHistoryItems"]
    assert history[0]["HistorySummary"] == 'Alarm "a" deleted'  # history outlives the alarm
    with pytest.raises(ClientError) as caught:
        cw.list_tags_for_resource(ResourceARN=arn("a"))
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_tags_on_alarm_arns(cw: Any) -> None:
    put(cw)
    cw.tag_resource(
        ResourceARN=arn("cpu-high"), Tags=[{"Key": "team", "Value": "web"}, {"Key": "tier", "Value": "1"}]
    )
    cw.tag_resource(ResourceARN=arn("cpu-high"), Tags=[{"Key": "team", "Value": "platform"}])
    assert cw.list_tags_for_resource(ResourceARN=arn("cpu-high"))["Tags"] == [
        {"Key": "team", "Value": "platform"},
        {"Key": "tier", "Value": "1"},
    ]
    cw.untag_resource(ResourceARN=arn("cpu-high"), TagKeys=["team", "absent"])
    assert cw.list_tags_for_resource(ResourceARN=arn("cpu-high"))["Tags"] == [{"Key": "tier", "Value": "1"}]
    code, status, _ = error_of(cw.tag_resource, ResourceARN=arn("nope"), Tags=[{"Key": "a", "Value": "b"}])
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = error_of(cw.list_tags_for_resource, ResourceARN="arn:aws:s3:::bucket")
    assert (code, status) == ("InvalidParameterValue", 400)
    code, _, message = error_of(
        cw.tag_resource, ResourceARN=arn("cpu-high"), Tags=[{"Key": "aws:x", "Value": "b"}]
    )
    assert code == "InvalidParameterValue" and "reserved" in message


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"Period": 45}, "ValidationError", "Period must be 10, 20, 30 or a multiple of 60"),
        (
            {"Period": 300, "EvaluationPeriods": 300, "DatapointsToAlarm": 1},
            "ValidationError",
            "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400) "
            "for alarms using period < 3600",
        ),
        (
            {"DatapointsToAlarm": 5},
            "ValidationError",
            "DatapointsToAlarm must be less than or equal to EvaluationPeriods",
        ),
        ({"ExtendedStatistic": "p90"}, "ValidationError", None),
        ({"TreatMissingData": "sometimes"}, "ValidationError", None),
        (
            {"AlarmActions": [f"arn:aws:sns:us-east-1:{ACCOUNT}:ops"]},
            "ValidationError",
            "Invalid region us-east-1 specified. Only eu-west-1 is supported.",
        ),
        ({"AlarmActions": ["not-an-arn"]}, "ValidationError", "Invalid arn syntax: not-an-arn"),
        ({"ComparisonOperator": "GreaterThanUpperThreshold"}, "ValidationError", None),
        (
            {"Metrics": [{"Id": "e1", "Expression": "SUM(METRICS())", "ReturnData": True}]},
            "InvalidParameterValue",
            None,
        ),
        ({"ThresholdMetricId": "ad1"}, "InvalidParameterValue", None),
    ],
)
def test_put_metric_alarm_refusals(cw: Any, changes: dict[str, Any], code: str, message: str | None) -> None:
    params: dict[str, Any] = {
        "AlarmName": "bad",
        "Namespace": "App",
        "MetricName": "Errors",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    params.update(changes)
    if "Metrics" in changes:
        for key in ("Namespace", "MetricName", "Statistic", "Period"):
            params.pop(key)
    got_code, status, got_message = error_of(cw.put_metric_alarm, **params)
    assert (got_code, status) == (code, 400)
    if message is not None:
        assert got_message == message
    assert cw.describe_alarms()["MetricAlarms"] == []  # nothing stored


def test_what_the_model_checks_is_checked_before_any_rule(raw: Any) -> None:
    code, status, _ = error_of(raw.put_metric_alarm, AlarmName="x" * 256, EvaluationPeriods=1)
    assert (code, status) == ("InvalidParameterValue", 400)
    code, status, _ = error_of(raw.set_alarm_state, AlarmName="a", StateValue="PANIC", StateReason="x")
    assert (code, status) == ("InvalidParameterValue", 400)
    code, status, message = error_of(
        raw.put_metric_alarm,
        AlarmName="a",
        Namespace="App",
        MetricName="M",
        Statistic="Sum",
        Period=60,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    assert (code, status) == ("MissingParameter", 400) and "evaluationPeriods" in message
    code, status, _ = error_of(raw.describe_alarms, MaxRecords=101)
    assert (code, status) == ("InvalidParameterValue", 400)
