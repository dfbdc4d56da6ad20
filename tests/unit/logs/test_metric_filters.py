"""Metric filters: what PutMetricFilter accepts, and the datapoints a filter makes of events."""

from __future__ import annotations

import pytest

import ecsbox.logs
from ecsbox.logs.metric_filter_ops import MatchAll, extracted_values, pattern_of
from ecsbox.logs.metric_filters import (
    MetricDatum,
    check_transformation,
    is_field_reference,
    json_path,
    metric_data,
)
from ecsbox.logs.model import LogsRuleError
from ecsbox.logs.patterns import compile_pattern

T = 1_700_000_000_000
ACCESS_LINE = '10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 404 2326'


def transformation(**extra: object) -> dict:
    return {"metricName": "Errors", "metricNamespace": "App", "metricValue": "1", **extra}


@pytest.mark.parametrize(
    ("text", "is_ref"),
    [("$.latency", True), ("$.a.b[0]", True), ("$bytes", True), ("$1", False), ("1", False), ("$", False)],
)
def test_field_references(text: str, is_ref: bool) -> None:
    assert is_field_reference(text) is is_ref


def test_check_transformation_keeps_what_describe_returns() -> None:
    assert check_transformation(transformation(defaultValue=0, unit="Count")) == {
        "metricName": "Errors",
        "metricNamespace": "App",
        "metricValue": "1",
        "defaultValue": 0.0,
        "unit": "Count",
    }
    assert check_transformation(transformation(metricValue="$.latency", dimensions={"Level": "$.level"}))[
        "dimensions"
    ] == {"Level": "$.level"}


@pytest.mark.parametrize(
    "bad",
    [
        transformation(metricValue="lots"),
        transformation(metricValue="$"),
        transformation(dimensions={"a": "$.a", "b": "$.b", "c": "$.c", "d": "$.d"}),
        transformation(dimensions={"a": "constant"}),
        transformation(dimensions={"a": "$.a"}, defaultValue=0),
    ],
)
def test_check_transformation_refuses(bad: dict) -> None:
    with pytest.raises(LogsRuleError) as caught:
        check_transformation(bad)
    assert caught.value.code == "InvalidParameterException"


def test_a_counting_filter_counts_matches_and_publishes_its_default_otherwise() -> None:
    pattern = compile_pattern("ERROR")
    counting = [transformation(defaultValue=0)]
    assert metric_data(pattern, counting, "ERROR disk full", T) == [MetricDatum("App", "Errors", 1.0, T)]
    assert metric_data(pattern, counting, "all good", T) == [MetricDatum("App", "Errors", 0.0, T)]
    assert metric_data(pattern, [transformation()], "all good", T) == []


def test_json_values_and_dimensions_come_from_the_event() -> None:
    pattern = compile_pattern('{ $.level = "ERROR" && $.latency > 200 }')
    latency = [
        {
            "metricName": "Latency",
            "metricNamespace": "App",
            "metricValue": "$.latency",
            "unit": "Milliseconds",
            "dimensions": {"Service": "$.service"},
        }
    ]
    event = '{"level": "ERROR", "latency": 250, "service": "web"}'
    assert metric_data(pattern, latency, event, T) == [
        MetricDatum("App", "Latency", 250.0, T, "Milliseconds", {"Service": "web"})
    ]
    # The event lacks the dimension's field: no datapoint, as CloudWatch Logs publishes none.
    assert metric_data(pattern, latency, '{"level": "ERROR", "latency": 250}', T) == []
    assert metric_data(pattern, latency, '{"level": "ERROR", "latency": 20, "service": "web"}', T) == []


def test_a_value_the_pattern_does_not_name_is_read_from_the_json_event() -> None:
    pattern = compile_pattern("{ $.status = 500 }")
    size = [transformation(metricValue="$.response.bytes")]
    assert [
        d.value for d in metric_data(pattern, size, '{"status": 500, "response": {"bytes": 1534}}', T)
    ] == [1534.0]
    assert metric_data(pattern, size, '{"status": 500, "response": {"bytes": "lots"}}', T) == []


def test_space_delimited_fields_give_values() -> None:
    pattern = compile_pattern("[ip, id, user, timestamp, request, status_code = 4*, size]")
    size = [transformation(metricName="Bytes", metricValue="$size", dimensions={"Status": "$status_code"})]
    assert metric_data(pattern, size, ACCESS_LINE, T) == [
        MetricDatum("App", "Bytes", 2326.0, T, "None", {"Status": "404"})
    ]


def test_json_path() -> None:
    assert json_path('{"a": {"b": [5, 6]}}', "a.b[1]") == 6
    assert json_path('{"a": 1}', "b") is None
    assert json_path("not json", "a") is None


def test_test_metric_filter_extracts_fields() -> None:
    pattern = pattern_of("[ip, id, user, timestamp, request, status_code = 4*, size]")
    values = extracted_values(pattern, ACCESS_LINE)
    assert values["$status_code"] == "404" and values["$size"] == "2326" and values["$ip"] == "10.0.0.1"
    json_pattern = pattern_of('{ $.level = "ERROR" }')
    assert extracted_values(json_pattern, '{"level": "ERROR", "other": 1}') == {"$.level": "ERROR"}
    assert isinstance(pattern_of("  "), MatchAll)
    with pytest.raises(LogsRuleError) as caught:
        pattern_of("{ $.level = ")
    assert caught.value.code == "InvalidParameterException"


def test_the_package_surface() -> None:
    assert sorted(ecsbox.logs.__all__) == [
        "ContainerLogs",
        "ForwardServer",
        "LogIngest",
        "LogsHousekeeping",
        "LogsHousekeepingReport",
        "LogsRuleError",
        "MetricDatum",
        "MetricSink",
        "logs_operations",
        "metric_data",
        "register",
    ]
    for name in ecsbox.logs.__all__:
        assert getattr(ecsbox.logs, name) is not None
