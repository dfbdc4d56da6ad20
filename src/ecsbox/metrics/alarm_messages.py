"""What an alarm tells the world, in CloudWatch's own shapes: the notification an SNS action publishes
(and its subject), the EventBridge "CloudWatch Alarm State Change" event, the "CloudWatch Alarm
Action" event a scaling policy action becomes, and DescribeAlarmHistory's HistoryData. Pure.

>>> region_name("us-east-1"), region_name("eu-west-1"), region_name("xx-test-1")
('US East (N. Virginia)', 'EU (Ireland)', 'xx-test-1')
>>> subject("ALARM", "cpu-high", "us-east-1")
'ALARM: "cpu-high" in US East (N. Virginia)'
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ecsbox.metrics.alarm_model import AlarmRecord, StateInfo
from ecsbox.metrics.alarm_text import aws_time

STATE_CHANGE = "CloudWatch Alarm State Change"
ALARM_ACTION = "CloudWatch Alarm Action"
SOURCE = "aws.cloudwatch"
SUBJECT_LIMIT = 100  # SNS subjects are shorter than 100 characters

# CloudWatch names Regions in its notifications as the AWS console once did ("EU (Ireland)", where
# botocore's endpoint data now says "Europe (Ireland)").
_REGIONS = {
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-east-2": "Asia Pacific (Taipei)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-southeast-5": "Asia Pacific (Malaysia)",
    "ap-southeast-7": "Asia Pacific (Thailand)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-central-1": "Middle East (UAE)",
    "me-south-1": "Middle East (Bahrain)",
    "mx-central-1": "Mexico (Central)",
    "sa-east-1": "South America (Sao Paulo)",
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "cn-north-1": "China (Beijing)",
    "cn-northwest-1": "China (Ningxia)",
    "us-gov-east-1": "AWS GovCloud (US-East)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
}


def region_name(region: str) -> str:
    return _REGIONS.get(region, region)


def subject(state: str, alarm_name: str, region: str) -> str:
    """The SNS subject of an alarm notification, cut to SNS's limit."""
    return f'{state}: "{alarm_name}" in {region_name(region)}'[: SUBJECT_LIMIT - 1]


def _dimensions_list(document: dict[str, Any]) -> list[dict[str, str]]:
    return [{"value": d["Value"], "name": d["Name"]} for d in document.get("Dimensions") or ()]


def trigger(document: dict[str, Any]) -> dict[str, Any]:
    """The notification's ``Trigger``: what the alarm watches and how."""
    extended = document.get("ExtendedStatistic")
    result: dict[str, Any] = {
        "MetricName": document["MetricName"],
        "Namespace": document["Namespace"],
        "StatisticType": "ExtendedStatistic" if extended is not None else "Statistic",
    }
    if extended is not None:
        result["ExtendedStatistic"] = extended
    else:
        result["Statistic"] = str(document["Statistic"]).upper()
    result["Unit"] = document.get("Unit")
    result["Dimensions"] = _dimensions_list(document)
    result["Period"] = document["Period"]
    result["EvaluationPeriods"] = document["EvaluationPeriods"]
    if document.get("DatapointsToAlarm") is not None:
        result["DatapointsToAlarm"] = document["DatapointsToAlarm"]
    result["ComparisonOperator"] = document["ComparisonOperator"]
    result["Threshold"] = document["Threshold"]
    result["TreatMissingData"] = document.get("TreatMissingData") or ""
    result["EvaluateLowSampleCountPercentile"] = document.get("EvaluateLowSampleCountPercentile") or ""
    return result


def notification(record: AlarmRecord, old: StateInfo, new: StateInfo) -> dict[str, Any]:
    """The JSON message an SNS alarm action publishes for a change from ``old`` to ``new``."""
    document = record.document
    return {
        "AlarmName": record.name,
        "AlarmDescription": document.get("AlarmDescription"),
        "AWSAccountId": record.partition[0],
        "AlarmConfigurationUpdatedTimestamp": aws_time(record.configuration_updated),
        "NewStateValue": new.value,
        "NewStateReason": new.reason,
        "StateChangeTime": aws_time(new.timestamp),
        "Region": region_name(record.partition[1]),
        "AlarmArn": record.arn,
        "OldStateValue": old.value,
        "OKActions": list(document.get("OKActions") or ()),
        "AlarmActions": list(document.get("AlarmActions") or ()),
        "InsufficientDataActions": list(document.get("InsufficientDataActions") or ()),
        "Trigger": trigger(document),
    }


def _event_state(state: StateInfo) -> dict[str, Any]:
    result: dict[str, Any] = {"value": state.value, "reason": state.reason}
    if state.reason_data is not None:
        result["reasonData"] = state.reason_data
    result["timestamp"] = aws_time(state.timestamp)
    return result


def state_change_detail(record: AlarmRecord, old: StateInfo, new: StateInfo) -> dict[str, Any]:
    """The ``detail`` of EventBridge's "CloudWatch Alarm State Change" event."""
    document = record.document
    stat: dict[str, Any] = {
        "metric": {
            "namespace": document["Namespace"],
            "name": document["MetricName"],
            "dimensions": {d["Name"]: d["Value"] for d in document.get("Dimensions") or ()},
        },
        "period": document["Period"],
        "stat": document.get("ExtendedStatistic") or document["Statistic"],
    }
    if document.get("Unit") is not None:
        stat["unit"] = document["Unit"]
    configuration: dict[str, Any] = {}
    if document.get("AlarmDescription") is not None:
        configuration["description"] = document["AlarmDescription"]
    metric_id = str(uuid.uuid5(uuid.NAMESPACE_URL, record.arn))
    configuration["metrics"] = [{"id": metric_id, "metricStat": stat, "returnData": True}]
    return {
        "alarmName": record.name,
        "state": _event_state(new),
        "previousState": _event_state(old),
        "configuration": configuration,
    }


def scaling_action_detail(message: dict[str, Any], policy_arn: str, repeat: bool) -> dict[str, Any]:
    """The ``detail`` of the "CloudWatch Alarm Action" event that invoking a scaling policy becomes:
    which alarm, in which state (with its reason data, for the breach size), and which policy.
    ``repeat`` marks an invocation while the alarm stays in its state (Auto Scaling actions are
    invoked on every evaluation, not only on transitions)."""
    detail: dict[str, Any] = {
        "alarmName": message["AlarmName"],
        "alarmArn": message["AlarmArn"],
        "policyArn": policy_arn,
        "state": {
            "value": message["NewStateValue"],
            "reason": message["NewStateReason"],
            "timestamp": message["StateChangeTime"],
        },
        "previousState": {"value": message["OldStateValue"]},
        "threshold": message["Trigger"]["Threshold"],
        "comparisonOperator": message["Trigger"]["ComparisonOperator"],
        "repeat": repeat,
    }
    if message.get("NewStateReasonData") is not None:
        detail["state"]["reasonData"] = message["NewStateReasonData"]
    return detail


# ---- DescribeAlarmHistory's items ---------------------------------------------------------------------


def configuration(record: AlarmRecord) -> dict[str, Any]:
    """The alarm as a ConfigurationUpdate history item shows it (CloudWatch's camelCase names)."""
    document = record.document
    result: dict[str, Any] = {"alarmName": record.name}
    if document.get("AlarmDescription") is not None:
        result["alarmDescription"] = document["AlarmDescription"]
    result["alarmArn"] = record.arn
    result["alarmConfigurationUpdatedTimestamp"] = aws_time(record.configuration_updated)
    result["namespace"] = document["Namespace"]
    result["metricName"] = document["MetricName"]
    if document.get("ExtendedStatistic") is not None:
        result["extendedStatistic"] = document["ExtendedStatistic"]
    else:
        result["statistic"] = document["Statistic"]
    result["period"] = document["Period"]
    if document.get("Unit") is not None:
        result["unit"] = document["Unit"]
    result["dimensions"] = _dimensions_list(document)
    result["threshold"] = document["Threshold"]
    result["comparisonOperator"] = document["ComparisonOperator"]
    result["evaluationPeriods"] = document["EvaluationPeriods"]
    for key in ("DatapointsToAlarm", "TreatMissingData", "EvaluateLowSampleCountPercentile"):
        if document.get(key) is not None:
            result[key[0].lower() + key[1:]] = document[key]
    result["stateValue"] = record.state_value
    result["stateUpdatedTimestamp"] = aws_time(record.state_updated)
    result["actionsEnabled"] = record.actions_enabled
    result["alarmActions"] = list(document.get("AlarmActions") or ())
    result["insufficientDataActions"] = list(document.get("InsufficientDataActions") or ())
    result["okactions"] = list(document.get("OKActions") or ())
    return result


def created(record: AlarmRecord) -> tuple[str, dict[str, Any]]:
    """The summary and data of the item PutMetricAlarm writes when it creates an alarm."""
    return f'Alarm "{record.name}" created', {
        "version": "1.0",
        "type": "Create",
        "createdAlarm": configuration(record),
    }


def updated(before: AlarmRecord, after: AlarmRecord) -> tuple[str, dict[str, Any]]:
    """The item an update writes; ``originalUpdatedFields`` holds the old values of what changed."""
    old, new = configuration(before), configuration(after)
    changed = {key: old.get(key) for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)}
    changed.pop("alarmConfigurationUpdatedTimestamp", None)
    return f'Alarm "{after.name}" updated', {
        "version": "1.0",
        "type": "Update",
        "updatedAlarm": new,
        "originalUpdatedFields": changed,
    }


def deleted(record: AlarmRecord) -> tuple[str, dict[str, Any]]:
    return f'Alarm "{record.name}" deleted', {
        "version": "1.0",
        "type": "Delete",
        "deletedAlarm": configuration(record),
    }


def _history_state(state: StateInfo) -> dict[str, Any]:
    result: dict[str, Any] = {"stateValue": state.value, "stateReason": state.reason}
    if state.reason_data is not None:
        try:
            result["stateReasonData"] = json.loads(state.reason_data)
        except ValueError:
            result["stateReasonData"] = state.reason_data
    return result


def state_updated(old: StateInfo, new: StateInfo) -> tuple[str, dict[str, Any]]:
    """The StateUpdate item: ``Alarm updated from OK to ALARM`` with both states."""
    return f"Alarm updated from {old.value} to {new.value}", {
        "version": "1.0",
        "oldState": _history_state(old),
        "newState": _history_state(new),
    }


def action_succeeded(
    action_arn: str, state_changed_ms: int, published: str | None
) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {
        "actionState": "Succeeded",
        "stateUpdateTimestamp": state_changed_ms,
        "notificationResource": action_arn,
    }
    if published is not None:
        data["publishedMessage"] = published
    return f"Successfully executed action {action_arn}", data


def action_failed(action_arn: str, state_changed_ms: int, error: str) -> tuple[str, dict[str, Any]]:
    return f'Failed to execute action {action_arn}. Received error: "{error}"', {
        "actionState": "Failed",
        "stateUpdateTimestamp": state_changed_ms,
        "notificationResource": action_arn,
        "error": error,
    }
