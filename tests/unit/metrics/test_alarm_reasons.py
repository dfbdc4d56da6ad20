"""StateReason and StateReasonData exactly as CloudWatch writes them. The first cases reproduce state
reasons and reason data published by real alarms (DescribeAlarms output and EventBridge events quoted
in public repositories), from the same configuration, datapoints and query time."""

from __future__ import annotations

import datetime
import doctest
import json

import pytest

from ecsbox.metrics import alarm_text
from ecsbox.metrics.alarm_model import AlarmConfig
from ecsbox.metrics.alarm_text import aws_time, java_double, reason_time, to_json
from ecsbox.metrics.alarms import Datapoint, evaluate, evaluation_range, range_starts, window_end


def test_doctests() -> None:
    assert doctest.testmod(alarm_text).failed == 0


def at(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


def alarm(**fields: object) -> AlarmConfig:
    document: dict[str, object] = {
        "Namespace": "AWS/EC2",
        "MetricName": "CPUUtilization",
        "Statistic": "Average",
    }
    document.update(fields)
    return AlarmConfig.from_document("a", document)


def test_an_ec2_alarm_without_datapoints_to_alarm() -> None:
    # AWS/EC2 CPUUtilization, Period 300, EvaluationPeriods 1, GreaterThanThreshold 80, no
    # DatapointsToAlarm; evaluated at 20:30:30.531 with only the 20:20 period holding data (3 samples).
    config = alarm(Period=300, EvaluationPeriods=1, Threshold=80.0, ComparisonOperator="GreaterThanThreshold")
    now = at("2024-07-23T20:30:30.531")
    starts = range_starts(window_end(now, 300), 300, evaluation_range(1))
    points = [
        Datapoint(s, 7.122636236757979, 3.0) if s == at("2024-07-23T20:20:00") else Datapoint(s)
        for s in starts
    ]
    outcome = evaluate(config, points, now)
    assert outcome.state == "OK"
    assert outcome.reason == (
        "Threshold Crossed: 1 datapoint [7.122636236757979 (23/07/24 20:20:00)] was not greater than the "
        "threshold (80.0)."
    )
    assert outcome.reason_data == (
        '{"version":"1.0","queryDate":"2024-07-23T20:30:30.531+0000","startDate":"2024-07-23T20:20:00.000+0000",'
        '"statistic":"Average","period":300,"recentDatapoints":[7.122636236757979],"threshold":80.0,'
        '"evaluatedDatapoints":[{"timestamp":"2024-07-23T20:20:00.000+0000","sampleCount":3.0,'
        '"value":7.122636236757979}]}'
    )


def test_an_alarm_with_datapoints_to_alarm_going_to_ok() -> None:
    config = alarm(
        Period=300,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=90.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="missing",
    )
    now = at("2024-09-19T06:01:18.043")
    starts = range_starts(window_end(now, 300), 300, evaluation_range(1))
    assert starts[-1] == at("2024-09-19T05:56:00")  # a sliding window: 05:56 to 06:01
    points = [Datapoint(s) for s in starts[:-1]] + [Datapoint(starts[-1], 1.0166666666666666, 1.0)]
    outcome = evaluate(config, points, now)
    assert outcome.reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0166666666666666 (19/09/24 05:56:00)] was not "
        "greater than or equal to the threshold (90.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )
    assert outcome.reason_data == (
        '{"version":"1.0","queryDate":"2024-09-19T06:01:18.043+0000","startDate":"2024-09-19T05:56:00.000+0000",'
        '"statistic":"Average","period":300,"recentDatapoints":[1.0166666666666666],"threshold":90.0,'
        '"evaluatedDatapoints":[{"timestamp":"2024-09-19T05:56:00.000+0000","sampleCount":1.0,'
        '"value":1.0166666666666666}]}'
    )


def test_two_of_two_going_to_alarm_lists_the_newest_datapoint_first() -> None:
    config = alarm(
        Namespace="AWS/RDS",
        Period=300,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    points = [
        Datapoint(at("2022-01-17T14:37:00"), 11.488333333333333, 5.0),
        Datapoint(at("2022-01-17T14:42:00"), 15.398333333333332, 5.0),
    ]
    outcome = evaluate(config, points, at("2022-01-17T14:48:42.271"))
    assert outcome.state == "ALARM"
    assert outcome.reason == (
        "Threshold Crossed: 2 out of the last 2 datapoints [15.398333333333332 (17/01/22 14:42:00), "
        "11.488333333333333 (17/01/22 14:37:00)] were greater than the threshold (10.0) "
        "(minimum 2 datapoints for OK -> ALARM transition)."
    )
    assert outcome.reason_data == (
        '{"version":"1.0","queryDate":"2022-01-17T14:48:42.271+0000","startDate":"2022-01-17T14:37:00.000+0000",'
        '"statistic":"Average","period":300,"recentDatapoints":[11.488333333333333,15.398333333333332],'
        '"threshold":10.0,"evaluatedDatapoints":[{"timestamp":"2022-01-17T14:42:00.000+0000","sampleCount":5.0,'
        '"value":15.398333333333332},{"timestamp":"2022-01-17T14:37:00.000+0000","sampleCount":5.0,'
        '"value":11.488333333333333}]}'
    )


def test_insufficient_data_names_the_unknown_datapoints() -> None:
    config = alarm(
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    now = at("2024-10-26T18:38:52.499")
    starts = range_starts(window_end(now, 60), 60, evaluation_range(1))
    outcome = evaluate(config, [Datapoint(s) for s in starts], now)
    assert outcome.state == "INSUFFICIENT_DATA"
    assert outcome.reason == "Insufficient Data: 1 datapoint was unknown."
    assert outcome.reason_data == (
        '{"version":"1.0","queryDate":"2024-10-26T18:38:52.499+0000","statistic":"Sum","period":60,'
        '"recentDatapoints":[],"threshold":1.0,"evaluatedDatapoints":[{"timestamp":"2024-10-26T18:37:00.000+0000"}]}'
    )


def _run(text: str, **fields: object) -> tuple[str | None, str]:
    config = alarm(
        Statistic="Sum", Period=60, Threshold=1.0, ComparisonOperator="GreaterThanThreshold", **fields
    )
    now = at("2024-11-28T10:05:30")
    marks = text.split()
    starts = range_starts(window_end(now, 60), 60, len(marks))
    values = {"0": 0.0, "X": 5.0, "-": None}
    outcome = evaluate(
        config, [Datapoint(s, values[m], 1.0) for s, m in zip(starts, marks, strict=True)], now
    )
    return outcome.state, outcome.reason


@pytest.mark.parametrize(
    ("text", "fields", "state", "reason"),
    [
        (
            "- - - -",
            {"EvaluationPeriods": 2, "TreatMissingData": "breaching"},
            "ALARM",
            "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated "
            "as [Breaching].",
        ),
        (
            "- - -",
            {"EvaluationPeriods": 1, "TreatMissingData": "notBreaching"},
            "OK",
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
            "[NonBreaching].",
        ),
        (  # the real point does not breach; the alarm fires on the gaps alone
            "- - 0 - -",
            {"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "TreatMissingData": "breaching"},
            "ALARM",
            "Threshold Crossed: 1 datapoint was received for 3 periods and 2 missing datapoints were treated as "
            "[Breaching].",
        ),
        (
            "- - X - -",
            {"EvaluationPeriods": 3, "DatapointsToAlarm": 3, "TreatMissingData": "breaching"},
            "ALARM",
            "Threshold Crossed: 1 out of the last 3 datapoints [5.0 (28/11/24 10:02:00)] was greater than the "
            "threshold (1.0) and 2 missing datapoints were treated as [Breaching] (minimum 3 datapoints for OK "
            "-> ALARM transition).",
        ),
        (  # treated as missing: the alarm keeps evaluating the last data after the metric stopped
            "X - - - -",
            {"EvaluationPeriods": 3, "DatapointsToAlarm": 3},
            "ALARM",
            "Threshold Crossed: 1 out of the last 3 datapoints [5.0 (28/11/24 10:00:00)] was greater than the "
            "threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition).",
        ),
        (
            "- - - - X",
            {"EvaluationPeriods": 3, "DatapointsToAlarm": 3},
            "INSUFFICIENT_DATA",
            "Insufficient Data: 2 datapoints were unknown.",
        ),
        (
            "- X 0 X",
            {"EvaluationPeriods": 3},
            "OK",
            "Threshold Crossed: 1 datapoint [0.0 (28/11/24 10:03:00)] was not greater than the threshold (1.0).",
        ),
        (
            "- - X X X",
            {"EvaluationPeriods": 3},
            "ALARM",
            "Threshold Crossed: 3 datapoints [5.0 (28/11/24 10:04:00), 5.0 (28/11/24 10:03:00), "
            "5.0 (28/11/24 10:02:00)] were greater than the threshold (1.0).",
        ),
        (  # M of N going to OK needs N - M + 1 non-breaching datapoints
            "- - X 0 0 0 X",
            {"EvaluationPeriods": 5, "DatapointsToAlarm": 3},
            "OK",
            "Threshold Crossed: 3 out of the last 5 datapoints [0.0 (28/11/24 10:03:00), 0.0 (28/11/24 10:02:00), "
            "0.0 (28/11/24 10:01:00)] were not greater than the threshold (1.0) (minimum 3 datapoints for "
            "ALARM -> OK transition).",
        ),
    ],
)
def test_state_reasons(text: str, fields: dict[str, object], state: str, reason: str) -> None:
    assert _run(text, **fields) == (state, reason)


def test_filled_datapoints_appear_in_the_reason_data_with_their_time_only() -> None:
    config = alarm(
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",
        Unit="Count",
    )
    now = at("2024-11-28T10:05:30")
    starts = range_starts(window_end(now, 60), 60, 4)
    points = [
        Datapoint(starts[0]),
        Datapoint(starts[1], 0.0, 2.0),
        Datapoint(starts[2]),
        Datapoint(starts[3]),
    ]
    outcome = evaluate(config, points, now)
    assert outcome.state == "OK"
    assert outcome.reason_data is not None
    data = json.loads(outcome.reason_data)
    assert data["unit"] == "Count" and data["startDate"] == "2024-11-28T10:02:00.000+0000"
    assert data["evaluatedDatapoints"] == [
        {"timestamp": "2024-11-28T10:04:00.000+0000"},
        {"timestamp": "2024-11-28T10:02:00.000+0000", "sampleCount": 2.0, "value": 0.0},
    ]


def test_percentile_alarms_name_their_extended_statistic() -> None:
    config = AlarmConfig.from_document(
        "p",
        {
            "Namespace": "App",
            "MetricName": "Latency",
            "ExtendedStatistic": "p99",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 250.0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    outcome = evaluate(config, [Datapoint(600.0, 300.0, 2000.0)], 700.0)
    assert outcome.reason_data is not None and json.loads(outcome.reason_data)["extendedStatistic"] == "p99"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (70, "70.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.004, "0.004"),
        (0.001, "0.001"),
        (0.0009, "9.0E-4"),
        (9_999_999.0, "9999999.0"),
        (10_000_000.0, "1.0E7"),
        (-12_345_678.9, "-1.23456789E7"),
        (1e21, "1.0E21"),
        (float("inf"), "Infinity"),
    ],
)
def test_doubles_print_as_java_prints_them(value: float, text: str) -> None:
    assert java_double(value) == text


def test_times() -> None:
    assert aws_time(0.0) == "1970-01-01T00:00:00.000+0000"
    assert aws_time(at("2024-02-17T11:53:08.431")) == "2024-02-17T11:53:08.431+0000"
    assert reason_time(at("2019-11-21T04:17:00")) == "21/11/19 04:17:00"


def test_json_keeps_integers_and_prints_doubles_the_java_way() -> None:
    assert to_json({"a": [1, 1.0, None, True, "é"]}) == '{"a":[1,1.0,null,true,"é"]}'
    with pytest.raises(TypeError):
        to_json({"a": object()})
