"""PutMetricData's rules (ecsbox.metrics.limits): what a datum may carry and what is stored of it."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.metrics.limits import (
    MAX_DATA,
    TOO_NEW_S,
    TOO_OLD_S,
    data_of,
    is_valid_dimension_name,
    is_valid_value,
    statistic_set_values,
    value_counts_of,
)
from ecsbox.metrics.model import MetricId, MetricsRuleError

NOW = 1_700_000_000.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def refused(data: list[dict[str, Any]], namespace: str = "App", **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(MetricsRuleError) as caught:
        data_of(namespace, data, NOW, **kwargs)
    return caught.value.code, caught.value.message


def test_a_single_value_is_one_sample_with_its_raw_value() -> None:
    [datum] = data_of("App", [{"MetricName": "Latency", "Value": 12.5, "Unit": "Milliseconds"}], NOW)
    assert datum.metric == MetricId("App", "Latency")
    assert (datum.timestamp, datum.sample_count, datum.sum, datum.minimum, datum.maximum) == (
        NOW,
        1,
        12.5,
        12.5,
        12.5,
    )
    assert (datum.unit, datum.storage_resolution, datum.value_counts) == ("Milliseconds", 60, ((12.5, 1.0),))


def test_values_and_counts_become_one_distribution() -> None:
    [datum] = data_of(
        "App",
        [{"MetricName": "m", "Values": [5.0, 1.0, 5.0], "Counts": [2.0, 1.0, 1.0], "StorageResolution": 1}],
        NOW,
    )
    assert (datum.sample_count, datum.sum, datum.minimum, datum.maximum) == (4.0, 16.0, 1.0, 5.0)
    assert datum.value_counts == ((1.0, 1.0), (5.0, 3.0))
    assert datum.storage_resolution == 1


def test_values_without_counts_count_once_each() -> None:
    [datum] = data_of("App", [{"MetricName": "m", "Values": [1.0, 2.0, 3.0]}], NOW)
    assert datum.sample_count == 3.0 and datum.value_counts == ((1.0, 1.0), (2.0, 1.0), (3.0, 1.0))


def test_statistic_sets_keep_raw_values_only_when_they_tell_them() -> None:
    spread, single, equal = data_of(
        "App",
        [
            {"MetricName": "m", "StatisticValues": {"SampleCount": 3, "Sum": 6, "Minimum": 1, "Maximum": 3}},
            {"MetricName": "m", "StatisticValues": {"SampleCount": 1, "Sum": 4, "Minimum": 4, "Maximum": 4}},
            {"MetricName": "m", "StatisticValues": {"SampleCount": 5, "Sum": 10, "Minimum": 2, "Maximum": 2}},
        ],
        NOW,
    )
    assert spread.value_counts is None and spread.sample_count == 3.0
    assert single.value_counts == ((4.0, 1.0),)
    assert equal.value_counts == ((2.0, 5.0),)


def test_dimensions_are_part_of_the_metric_in_any_order() -> None:
    a, b = data_of(
        "App",
        [
            {
                "MetricName": "m",
                "Value": 1,
                "Dimensions": [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}],
            },
            {
                "MetricName": "m",
                "Value": 1,
                "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}],
            },
        ],
        NOW,
    )
    assert a.metric == b.metric and a.metric.dimensions == (("A", "1"), ("B", "2"))


def test_timestamp_given_is_kept_and_a_missing_one_is_now() -> None:
    given_at, defaulted = data_of(
        "App",
        [{"MetricName": "m", "Value": 1, "Timestamp": at(NOW - 3600)}, {"MetricName": "m", "Value": 1}],
        NOW,
    )
    assert (given_at.timestamp, defaulted.timestamp) == (NOW - 3600, NOW)


def test_all_counts_zero_stores_nothing() -> None:
    assert data_of("App", [{"MetricName": "m", "Values": [1.0, 2.0], "Counts": [0.0, 0.0]}], NOW) == []


def test_entity_metric_data_is_stored_like_metric_data() -> None:
    stored = data_of(
        "App",
        [],
        NOW,
        entity_metric_data=[
            {
                "Entity": {"KeyAttributes": {"Type": "Service"}},
                "MetricData": [{"MetricName": "e", "Value": 2.0}],
            }
        ],
    )
    assert [d.metric.name for d in stored] == ["e"]


@pytest.mark.parametrize(
    ("datum", "code", "message"),
    [
        (
            {"MetricName": "m", "Value": float("nan")},
            "InvalidParameterValue",
            "The value NaN for parameter MetricData.member.1.Value is invalid.",
        ),
        (
            {"MetricName": "m", "Value": float("inf")},
            "InvalidParameterValue",
            "The value Infinity for parameter MetricData.member.1.Value is invalid.",
        ),
        (
            {"MetricName": "m", "Value": 2.0**361},
            "InvalidParameterValue",
            f"The value {2.0**361!r} for parameter MetricData.member.1.Value is invalid.",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Values": [1.0]},
            "InvalidParameterCombination",
            "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive "
            "and you have specified both.",
        ),
        (
            {
                "MetricName": "m",
                "Value": 1.0,
                "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
            },
            "InvalidParameterCombination",
            "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually "
            "exclusive and you have specified both.",
        ),
        (
            {
                "MetricName": "m",
                "Values": [1.0],
                "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
            },
            "InvalidParameterCombination",
            "The parameters MetricData.member.1.StatisticValues and MetricData.member.1.Values are mutually "
            "exclusive and you have specified both.",
        ),
        (
            {"MetricName": "m"},
            "InvalidParameterCombination",
            "At least one of the parameters MetricData.member.1.Value, MetricData.member.1.StatisticValues and "
            "MetricData.member.1.Values must be specified.",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Counts": [1.0]},
            "InvalidParameterCombination",
            "The parameter MetricData.member.1.Counts must be used together with MetricData.member.1.Values.",
        ),
        (
            {"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]},
            "InvalidParameterValue",
            "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.",
        ),
        (
            {"MetricName": "m", "Values": [float(i) for i in range(151)]},
            "InvalidParameterValue",
            "The collection MetricData.member.1.Values must not have a size greater than 150.",
        ),
        (
            {"MetricName": "m", "Values": [1.0, float("nan")]},
            "InvalidParameterValue",
            "The value NaN for parameter MetricData.member.1.Values is invalid.",
        ),
        (
            {"MetricName": "m", "Values": [1.0], "Counts": [-1.0]},
            "InvalidParameterValue",
            "The value -1.0 for parameter MetricData.member.1.Counts is invalid.",
        ),
        (
            {"MetricName": "m", "StatisticValues": {"SampleCount": 0, "Sum": 1, "Minimum": 1, "Maximum": 1}},
            "InvalidParameterValue",
            "The value 0 for parameter MetricData.member.1.StatisticValues.SampleCount is invalid.",
        ),
        (
            {"MetricName": "m", "StatisticValues": {"SampleCount": 2, "Sum": 1, "Minimum": 3, "Maximum": 1}},
            "InvalidParameterValue",
            "The parameter MetricData.member.1.StatisticValues.Minimum must be less than or equal to "
            "MetricData.member.1.StatisticValues.Maximum.",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "StorageResolution": 10},
            "InvalidParameterValue",
            "The value 10 for parameter MetricData.member.1.StorageResolution is invalid.",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Timestamp": at(NOW - TOO_OLD_S - 1)},
            "InvalidParameterValue",
            "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Timestamp": at(NOW + TOO_NEW_S + 1)},
            "InvalidParameterValue",
            "The parameter MetricData.member.1.Timestamp must specify a time no more than two hours in the future.",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": ":x", "Value": "v"}]},
            "InvalidParameterValue",
            "The value :x for parameter MetricData.member.1.Dimensions.member.1.Name is invalid.",
        ),
        (
            {"MetricName": "m", "Value": 1.0, "Dimensions": [{"Name": "n", "Value": "caf\u00e9"}]},
            "InvalidParameterValue",
            "The value caf\u00e9 for parameter MetricData.member.1.Dimensions.member.1.Value is invalid.",
        ),
        (
            {
                "MetricName": "m",
                "Value": 1.0,
                "Dimensions": [{"Name": "n", "Value": "a"}, {"Name": "n", "Value": "b"}],
            },
            "InvalidParameterValue",
            "The parameter MetricData.member.1.Dimensions.member.2.Name has the value n, which another "
            "dimension of the datum has.",
        ),
        (
            {
                "MetricName": "m",
                "Value": 1.0,
                "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)],
            },
            "InvalidParameterValue",
            "The collection MetricData.member.1.Dimensions must not have a size greater than 30.",
        ),
    ],
)
def test_a_broken_rule_is_answered_with_awss_code_and_words(
    datum: dict[str, Any], code: str, message: str
) -> None:
    assert refused([datum]) == (code, message)


def test_every_bad_timestamp_is_listed_one_per_line() -> None:
    old = {"MetricName": "m", "Value": 1.0, "Timestamp": at(NOW - TOO_OLD_S - 60)}
    code, message = refused([old, {"MetricName": "m", "Value": 1.0}, old])
    assert code == "InvalidParameterValue"
    assert message.splitlines() == [
        "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.",
        "The parameter MetricData.member.3.Timestamp must specify a time within the past two weeks.",
    ]


def test_namespace_of_aws_and_too_many_data_and_no_data() -> None:
    assert refused([{"MetricName": "m", "Value": 1.0}], namespace="AWS/ECS") == (
        "InvalidParameterValue",
        "The value AWS/ECS for parameter Namespace is invalid.",
    )
    assert refused([{"MetricName": "m", "Value": 1.0}] * (MAX_DATA + 1))[1] == (
        "The collection MetricData must not have a size greater than 1000."
    )
    assert refused([]) == ("MissingParameter", "The parameter MetricData is required.")


def test_a_thousand_data_are_accepted() -> None:
    assert len(data_of("App", [{"MetricName": "m", "Value": 1.0}] * MAX_DATA, NOW)) == MAX_DATA


@pytest.mark.parametrize(
    ("value", "valid"),
    [(0.0, True), (1e-100, True), (-(2.0**360), True), (2.0**-361, False), (True, False), ("1", False)],
)
def test_value_range(value: Any, valid: bool) -> None:
    assert is_valid_value(value) is valid


@pytest.mark.parametrize(
    ("name", "valid"), [("InstanceId", True), ("a:b", True), (":a", False), ("", False), ("\x01a", False)]
)
def test_dimension_names(name: str, valid: bool) -> None:
    assert is_valid_dimension_name(name) is valid


@given(
    st.lists(
        st.tuples(st.integers(-50, 50).map(float), st.integers(0, 5).map(float)), min_size=1, max_size=30
    )
)
def test_values_and_counts_keep_every_sample(pairs: list[tuple[float, float]]) -> None:
    merged = value_counts_of([v for v, _ in pairs], [c for _, c in pairs])
    assert sum(c for _, c in merged) == sum(c for _, c in pairs)
    assert math.isclose(sum(v * c for v, c in merged), sum(v * c for v, c in pairs), abs_tol=1e-9)
    assert [v for v, _ in merged] == sorted({v for v, c in pairs if c > 0})


def test_statistic_set_values_table() -> None:
    assert statistic_set_values(1.0, 3.0, 3.0, 3.0) == ((3.0, 1.0),)
    assert statistic_set_values(3.0, 6.0, 2.0, 2.0) == ((2.0, 3.0),)
    assert statistic_set_values(3.0, 6.0, 1.0, 3.0) is None
