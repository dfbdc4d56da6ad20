"""The texts an alarm sends: the SNS notification (as real alarm notifications are laid out), its
subject, the EventBridge state change event, the scaling action event and the history data."""

from __future__ import annotations

import datetime
import doctest
import json
from typing import Any

from ecsbox.metrics import alarm_messages
from ecsbox.metrics.alarm_messages import (
    configuration,
    created,
    notification,
    region_name,
    scaling_action_detail,
    state_change_detail,
    state_updated,
    subject,
    updated,
)
from ecsbox.metrics.alarm_model import AlarmRecord, StateInfo
from ecsbox.metrics.alarm_text import to_json


def at(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


def test_doctests() -> None:
    assert doctest.testmod(alarm_messages).failed == 0


DOCUMENT: dict[str, Any] = {
    "MetricName": "CPUUtilization",
    "Namespace": "AWS/RDS",
    "Statistic": "Average",
    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "database-1"}],
    "Period": 300,
    "EvaluationPeriods": 1,
    "DatapointsToAlarm": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "LessThanThreshold",
    "TreatMissingData": "missing",
    "OKActions": ["arn:aws:sns:ap-southeast-1:123456789012:laminar"],
    "AlarmActions": ["arn:aws:sns:ap-southeast-1:123456789012:laminar"],
    "InsufficientDataActions": [],
}


def record(**changes: Any) -> AlarmRecord:
    fields: dict[str, Any] = {
        "partition": ("123456789012", "ap-southeast-1"),
        "name": "my-alarm",
        "document": DOCUMENT,
        "actions_enabled": True,
        "configuration_updated": at("2022-08-26T03:45:34.563"),
        "state_value": "ALARM",
        "state_reason": "Threshold Crossed",
        "state_reason_data": None,
        "state_updated": at("2022-08-26T03:45:40"),
        "state_transitioned": at("2022-08-26T03:45:40"),
    }
    fields.update(changes)
    return AlarmRecord(**fields)


OK_REASON = (
    "Threshold Crossed: 1 out of the last 1 datapoints [3.6266666666666665 (26/08/22 03:40:00)] was not less "
    "than the threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition)."
)


def test_the_notification_is_laid_out_as_cloudwatch_sends_it() -> None:
    old = StateInfo("ALARM", "Threshold Crossed", None, at("2022-08-26T03:45:40"))
    new = StateInfo("OK", OK_REASON, '{"version":"1.0"}', at("2022-08-26T03:46:29.897"))
    message = to_json(notification(record(), old, new))
    assert message == (
        '{"AlarmName":"my-alarm","AlarmDescription":null,"AWSAccountId":"123456789012",'
        '"AlarmConfigurationUpdatedTimestamp":"2022-08-26T03:45:34.563+0000","NewStateValue":"OK",'
        '"NewStateReason":"' + OK_REASON + '","StateChangeTime":"2022-08-26T03:46:29.897+0000",'
        '"Region":"Asia Pacific (Singapore)",'
        '"AlarmArn":"arn:aws:cloudwatch:ap-southeast-1:123456789012:alarm:my-alarm",'
        '"OldStateValue":"ALARM","OKActions":["arn:aws:sns:ap-southeast-1:123456789012:laminar"],'
        '"AlarmActions":["arn:aws:sns:ap-southeast-1:123456789012:laminar"],"InsufficientDataActions":[],'
        '"Trigger":{"MetricName":"CPUUtilization","Namespace":"AWS/RDS","StatisticType":"Statistic",'
        '"Statistic":"AVERAGE","Unit":null,"Dimensions":[{"value":"database-1","name":"DBInstanceIdentifier"}],'
        '"Period":300,"EvaluationPeriods":1,"DatapointsToAlarm":1,"ComparisonOperator":"LessThanThreshold",'
        '"Threshold":1.0,"TreatMissingData":"missing","EvaluateLowSampleCountPercentile":""}}'
    )


def test_a_percentile_trigger_names_its_extended_statistic() -> None:
    document = {**DOCUMENT, "ExtendedStatistic": "p99", "TreatMissingData": None}
    del document["Statistic"]
    trigger = alarm_messages.trigger(document)
    assert (trigger["StatisticType"], trigger["ExtendedStatistic"]) == ("ExtendedStatistic", "p99")
    assert "Statistic" not in trigger
    assert (trigger["TreatMissingData"], trigger["EvaluateLowSampleCountPercentile"]) == ("", "")


def test_subjects_and_region_names() -> None:
    assert subject("OK", "my-alarm", "ap-southeast-1") == 'OK: "my-alarm" in Asia Pacific (Singapore)'
    assert subject("INSUFFICIENT_DATA", "x", "eu-central-1") == 'INSUFFICIENT_DATA: "x" in EU (Frankfurt)'
    assert len(subject("ALARM", "a" * 255, "us-east-1")) == 99
    assert region_name("us-west-2") == "US West (Oregon)"


def test_the_eventbridge_state_change_detail() -> None:
    old = StateInfo("OK", "fine", None, at("2022-08-26T03:45:40"))
    new = StateInfo("ALARM", "broken", '{"version":"1.0"}', at("2022-08-26T03:50:00.5"))
    detail = state_change_detail(record(document={**DOCUMENT, "AlarmDescription": "db cpu"}), old, new)
    metric = detail["configuration"]["metrics"][0]
    assert detail["alarmName"] == "my-alarm"
    assert detail["state"] == {
        "value": "ALARM",
        "reason": "broken",
        "reasonData": '{"version":"1.0"}',
        "timestamp": "2022-08-26T03:50:00.500+0000",
    }
    assert detail["previousState"] == {
        "value": "OK",
        "reason": "fine",
        "timestamp": "2022-08-26T03:45:40.000+0000",
    }
    assert detail["configuration"]["description"] == "db cpu"
    assert metric["metricStat"] == {
        "metric": {
            "namespace": "AWS/RDS",
            "name": "CPUUtilization",
            "dimensions": {"DBInstanceIdentifier": "database-1"},
        },
        "period": 300,
        "stat": "Average",
    }
    assert metric["returnData"] is True and len(metric["id"]) == 36


def test_the_scaling_action_detail_carries_the_breach() -> None:
    old = StateInfo("OK", "fine", None, 0.0)
    new = StateInfo("ALARM", "broken", '{"recentDatapoints":[80.0]}', 60.0)
    message = {**notification(record(), old, new), "NewStateReasonData": new.reason_data}
    policy = "arn:aws:autoscaling:ap-southeast-1:123456789012:scalingPolicy:1:resource/ecs/service/c/s:policyName/up"
    detail = scaling_action_detail(message, policy, repeat=True)
    assert detail["policyArn"] == policy and detail["repeat"] is True
    assert detail["state"]["reasonData"] == '{"recentDatapoints":[80.0]}'
    assert (detail["threshold"], detail["comparisonOperator"]) == (1.0, "LessThanThreshold")
    assert detail["previousState"] == {"value": "OK"}


def test_history_data() -> None:
    summary, data = created(record(state_value="INSUFFICIENT_DATA"))
    assert summary == 'Alarm "my-alarm" created'
    assert data["type"] == "Create" and data["createdAlarm"]["okactions"] == DOCUMENT["OKActions"]
    assert data["createdAlarm"]["dimensions"] == [{"value": "database-1", "name": "DBInstanceIdentifier"}]
    before = record()
    after = record(
        document={**DOCUMENT, "Threshold": 2.0}, configuration_updated=before.configuration_updated + 5
    )
    summary, data = updated(before, after)
    assert summary == 'Alarm "my-alarm" updated'
    assert data["originalUpdatedFields"] == {"threshold": 1.0}
    assert data["updatedAlarm"] == configuration(after)
    summary, data = state_updated(
        StateInfo("OK", "fine", None, 0.0), StateInfo("ALARM", "broken", '{"version":"1.0"}', 1.0)
    )
    assert summary == "Alarm updated from OK to ALARM"
    assert data == {
        "version": "1.0",
        "oldState": {"stateValue": "OK", "stateReason": "fine"},
        "newState": {"stateValue": "ALARM", "stateReason": "broken", "stateReasonData": {"version": "1.0"}},
    }
    # Reason data that is JSON but was set by hand keeps its shape; history stays valid JSON.
    assert json.loads(
        to_json(state_updated(StateInfo("OK", "", "[1]", 0.0), StateInfo("OK", "", None, 0.0))[1])
    )
