"""PutMetricAlarm's, SetAlarmState's and the alarm tag operations' rules beyond what the service model
checks (the wire layer has already checked required members, enumerations, ranges and lengths).
Pure: each check returns the value to store or raises :class:`MetricsRuleError` with AWS's code.

What ecsbox does not evaluate (metric math, anomaly detection bands, PromQL, warm-up periods, wall
clock windows, tag propagation) is refused with InvalidParameterValue saying so, never stored
and silently ignored.

>>> document, tags = check_alarm({"AlarmName": "cpu", "Namespace": "AWS/ECS",
...     "MetricName": "CPUUtilization", "Statistic": "Average", "Period": 60, "EvaluationPeriods": 3,
...     "Threshold": 70, "ComparisonOperator": "GreaterThanThreshold",
...     "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops"]}, ("123456789012", "us-east-1"))
>>> document["Threshold"], document["ActionsEnabled"], document["OKActions"], tags
(70.0, True, [], {})
>>> check_period(90, 1)
Traceback (most recent call last):
...
ecsbox.metrics.model.MetricsRuleError: Period must be 10, 20, 30 or a multiple of 60
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ecsbox.metrics.alarm_model import (
    BAND_OPERATORS,
    COMPARISONS,
    LOW_SAMPLE_OPTIONS,
    TREATMENTS,
)
from ecsbox.metrics.model import (
    MetricsRuleError,
    Partition,
    check_text,
    invalid_value,
    missing,
    validation,
)
from ecsbox.metrics.statistics import STANDARD, is_statistic, percentile_of

INVALID_FORMAT = "InvalidFormat"
MAX_TAGS = 50
DAY = 86_400
WEEK = 604_800
HOUR = 3_600

_ACTION_LISTS = ("OKActions", "AlarmActions", "InsufficientDataActions")
# What PutMetricAlarm stores as given (besides the action lists, ActionsEnabled and Threshold).
_KEPT = (
    "AlarmDescription",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "EvaluationWindow",
    "ActionConfiguration",
)
_REQUIRED = ("MetricName", "Namespace", "Period", "EvaluationPeriods", "ComparisonOperator", "Threshold")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_LAMBDA = re.compile(r"^function:[A-Za-z0-9_-]{1,140}(:[A-Za-z0-9_$-]{1,128})?$")
_EC2_ACTIONS = ("stop", "terminate", "reboot", "recover")
# Services whose ARNs CloudWatch takes as alarm actions (PutMetricAlarm's AlarmActions documentation).
_ACTION_SERVICES = ("sns", "autoscaling", "automate", "swf", "lambda", "ssm", "ssm-incidents", "aiops")


def _member(name: str) -> str:
    return name[0].lower() + name[1:]


def required(name: str) -> MetricsRuleError:
    """A member the model leaves optional that a metric alarm needs, worded as the wire layer words
    a missing member."""
    return missing(
        f"1 validation error detected: Value null at '{_member(name)}' failed to satisfy constraint: "
        "Member must not be null"
    )


def check_alarm_name(name: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise validation("AlarmName must not contain ASCII Control characters")
    return name


def check_period(period: int, evaluation_periods: int) -> None:
    """10, 20, 30 or a multiple of 60 seconds; at most a day of periods below an hour, a week above.

    >>> check_period(3600, 168), check_period(10, 8640)
    (None, None)
    >>> check_period(300, 289)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ecsbox.metrics.model.MetricsRuleError: Metrics cannot be checked across more than a day ...
    """
    if period not in (10, 20, 30) and period % 60 != 0:
        raise validation("Period must be 10, 20, 30 or a multiple of 60")
    total = period * evaluation_periods
    if period < HOUR and total > DAY:
        raise validation(
            "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400) "
            "for alarms using period < 3600"
        )
    if total > WEEK:
        raise validation(
            "Metrics cannot be checked across more than a week (EvaluationPeriods * Period must be <= 604800) "
            "for alarms using period >= 3600"
        )


def check_action(arn: str, region: str) -> str:
    """An alarm action ARN: well formed, of a service CloudWatch acts on, in the alarm's Region.

    >>> check_action("arn:aws:sns:us-east-1:123456789012:ops", "us-east-1")
    'arn:aws:sns:us-east-1:123456789012:ops'
    >>> check_action("arn:aws:sns:eu-west-1:123456789012:ops", "us-east-1")
    Traceback (most recent call last):
    ...
    ecsbox.metrics.model.MetricsRuleError: Invalid region eu-west-1 specified. Only us-east-1 is supported.
    """
    parts = arn.split(":", 5)
    bad = validation(f"Invalid arn syntax: {arn}")
    if (
        len(parts) != 6
        or parts[0] != "arn"
        or not parts[1].startswith("aws")
        or any(c.isspace() for c in arn)
    ):
        raise bad
    service, arn_region, account, resource = parts[2], parts[3], parts[4], parts[5]
    if service not in _ACTION_SERVICES or not resource:
        raise bad
    if service != "ssm-incidents" and not _REGION.match(arn_region):
        raise bad
    if service == "automate":
        if account != "ec2" or resource not in _EC2_ACTIONS:
            raise bad
    elif service != "ssm-incidents" and not _ACCOUNT.match(account):
        raise bad
    if service == "sns" and not _TOPIC.match(resource):
        raise bad
    if service == "lambda" and not _LAMBDA.match(resource):
        raise bad
    if service == "autoscaling" and not resource.startswith("scalingPolicy:"):
        raise bad
    if service in ("sns", "autoscaling", "automate", "lambda", "ssm") and arn_region != region:
        raise validation(f"Invalid region {arn_region} specified. Only {region} is supported.")
    return arn


def check_statistic(params: Mapping[str, Any]) -> None:
    statistic, extended = params.get("Statistic"), params.get("ExtendedStatistic")
    if statistic is not None and extended is not None:
        raise validation(
            "PutMetricAlarm request can not be made with both Statistic and ExtendedStatistic parameters. "
            "Only one of them should be present"
        )
    if statistic is None and extended is None:
        raise validation("PutMetricAlarm request should have a Statistic parameter")
    if extended is not None and (extended in STANDARD or not is_statistic(str(extended))):
        raise invalid_value(f"The value {extended} for parameter ExtendedStatistic is not supported.")
    option = params.get("EvaluateLowSampleCountPercentile")
    if option is not None:
        if option not in LOW_SAMPLE_OPTIONS:
            raise validation(
                "Supported options for EvaluateLowSampleCountPercentile are evaluate and ignore."
            )
        name = str(extended if extended is not None else statistic)
        if extended is None or percentile_of(name) is None:
            raise validation(
                f"Option evaluateLowSampleCountPercentile can not be applied with statistic {name}. "
                "This option is enabled only for percentile statistics."
            )


def _refuse_what_ecsbox_does_not_evaluate(params: Mapping[str, Any]) -> None:
    if params.get("EvaluationCriteria") is not None or params.get("EvaluationInterval") is not None:
        raise invalid_value("ecsbox does not evaluate PromQL alarms (EvaluationCriteria) yet.")
    if params.get("Metrics"):
        raise invalid_value(
            "ecsbox does not evaluate alarms on metric math or Metrics Insights queries (Metrics) yet; "
            "give MetricName, Namespace, Statistic and Period instead."
        )
    if params.get("ThresholdMetricId") is not None:
        raise invalid_value("ecsbox does not evaluate anomaly detection alarms (ThresholdMetricId) yet.")
    if params.get("WarmUpConfiguration") is not None:
        raise invalid_value("ecsbox does not implement alarm warm-up periods (WarmUpConfiguration) yet.")
    window = params.get("EvaluationWindow") or {}
    if window.get("WallClockWindow") is not None:
        raise invalid_value("ecsbox does not implement wall clock evaluation windows (WallClockWindow) yet.")
    propagation = (params.get("ActionConfiguration") or {}).get("AlarmTagsPropagation") or {}
    if propagation.get("Enabled"):
        raise invalid_value(
            "ecsbox does not put an alarm's tags in its notifications (AlarmTagsPropagation) yet."
        )


def check_alarm(params: Mapping[str, Any], partition: Partition) -> tuple[dict[str, Any], dict[str, str]]:
    """The document to store for a PutMetricAlarm request, and the tags it gives (applied only when
    the alarm is created)."""
    check_text(dict(params), "request")
    check_alarm_name(str(params["AlarmName"]))
    _refuse_what_ecsbox_does_not_evaluate(params)
    comparison = params.get("ComparisonOperator")
    if comparison in BAND_OPERATORS:
        raise validation(
            f"ComparisonOperator {comparison} is only valid for alarms based on anomaly detection models "
            "(ThresholdMetricId)."
        )
    for name in _REQUIRED:
        if params.get(name) is None:
            raise required(name)
    assert comparison in COMPARISONS  # the model's enumeration less the band operators
    threshold = float(params["Threshold"])
    if not math.isfinite(threshold):
        raise validation("PutMetricAlarm request should have a valid Threshold parameter")
    check_statistic(params)
    evaluation_periods = int(params["EvaluationPeriods"])
    check_period(int(params["Period"]), evaluation_periods)
    datapoints = params.get("DatapointsToAlarm")
    if datapoints is not None and int(datapoints) > evaluation_periods:
        raise validation("DatapointsToAlarm must be less than or equal to EvaluationPeriods")
    treatment = params.get("TreatMissingData")
    if treatment is not None and treatment not in TREATMENTS:
        raise validation(
            "Supported values for TreatMissingData are breaching, notBreaching, ignore, and missing."
        )
    dimensions = list(params.get("Dimensions") or [])
    names = [d["Name"] for d in dimensions]
    for name in names:
        if names.count(name) > 1:
            raise invalid_value(f"The dimension name {name} is given more than once.")
    document: dict[str, Any] = {key: params[key] for key in _KEPT if params.get(key) is not None}
    document["Dimensions"] = [{"Name": d["Name"], "Value": d["Value"]} for d in dimensions]
    document["Threshold"] = threshold
    document["ActionsEnabled"] = params.get("ActionsEnabled", True) is not False
    for key in _ACTION_LISTS:
        arns = [check_action(str(arn), partition[1]) for arn in params.get(key) or ()]
        document[key] = list(dict.fromkeys(arns))
    tags = check_tags(params.get("Tags") or [])
    return document, tags


def check_tags(tags: list[Mapping[str, Any]]) -> dict[str, str]:
    """Tags as a map: at most 50, none in the reserved ``aws:`` prefix.

    >>> check_tags([{"Key": "team", "Value": "core"}])
    {'team': 'core'}
    """
    result = {str(tag["Key"]): str(tag["Value"]) for tag in tags}
    if len(result) > MAX_TAGS:
        raise invalid_value(f"An alarm can have at most {MAX_TAGS} tags.")
    for key in result:
        if key.lower().startswith("aws:"):
            raise invalid_value("Tag keys beginning with 'aws:' are reserved for AWS use.")
    return result


MAX_REASON_DATA_DEPTH = 100  # arrays and objects inside one another; AWS's reason data nests 3 deep


def check_reason_data(text: str | None) -> str | None:
    """SetAlarmState's StateReasonData must be JSON: standard JSON (no NaN or Infinity, no number
    beyond a double), text that is Unicode, nested at most 100 deep (it goes into the alarm's
    history, its notifications and its events).

    >>> check_reason_data('{"note": "drill"}')
    '{"note": "drill"}'
    >>> check_reason_data("not json")
    Traceback (most recent call last):
    ...
    ecsbox.metrics.model.MetricsRuleError: StateReasonData is not valid JSON: Expecting value at line 1 column 1.
    >>> check_reason_data('{"value": NaN}')
    Traceback (most recent call last):
    ...
    ecsbox.metrics.model.MetricsRuleError: StateReasonData is not valid JSON: NaN is not a JSON value.
    >>> check_reason_data("[" * 101 + "]" * 101)
    Traceback (most recent call last):
    ...
    ecsbox.metrics.model.MetricsRuleError: StateReasonData is not valid JSON: it nests deeper than 100 levels.
    """
    if text is None:
        return None
    try:
        document = json.loads(text, parse_constant=_not_json, parse_float=_double)
    except json.JSONDecodeError as exc:
        raise _bad_reason_data(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise _bad_reason_data(str(exc)) from None
    except RecursionError:
        raise _bad_reason_data(f"it nests deeper than {MAX_REASON_DATA_DEPTH} levels") from None
    problem = _reason_data_problem(document)
    if problem is not None:
        raise _bad_reason_data(problem)
    return text


def _bad_reason_data(detail: str) -> MetricsRuleError:
    return MetricsRuleError(INVALID_FORMAT, f"StateReasonData is not valid JSON: {detail}.")


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _double(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text} is out of range")
    return number


def _reason_data_problem(document: Any) -> str | None:
    """What makes parsed reason data unusable (too deep, text that is not Unicode), or None. Walks
    the document without recursion."""
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "it holds a lone surrogate escape, which is no Unicode character"
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_REASON_DATA_DEPTH:
            return f"it nests deeper than {MAX_REASON_DATA_DEPTH} levels"
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        pending.extend((item, depth + 1) for item in items)
    return None
