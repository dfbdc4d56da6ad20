"""The embedded metric format: which log events make which datapoints (the public EMF
specification), and which make none."""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest

from ecsbox.metrics import emf
from ecsbox.metrics.emf import emf_data, is_recordable

T_MS = 1_700_000_000_000
EVENT_MS = 1_700_000_999_000


def document(*directives: dict[str, Any], timestamp: Any = T_MS, **members: Any) -> str:
    metadata: dict[str, Any] = {"CloudWatchMetrics": list(directives)}
    if timestamp is not None:
        metadata["Timestamp"] = timestamp
    return json.dumps({"_aws": metadata, **members})


def directive(
    metrics: list[dict[str, Any]] | None = None,
    dimensions: Any = None,
    namespace: Any = "App",
) -> dict[str, Any]:
    return {
        "Namespace": namespace,
        "Dimensions": [["Service"]] if dimensions is None else dimensions,
        "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}] if metrics is None else metrics,
    }


def summary(message: str) -> list[tuple[Any, ...]]:
    return [
        (
            d.metric.namespace,
            d.metric.name,
            d.metric.dimensions,
            d.timestamp,
            d.sample_count,
            d.sum,
            d.minimum,
            d.maximum,
            d.unit,
            d.storage_resolution,
        )
        for d in emf_data(message, EVENT_MS)
    ]


def test_the_specification_example_makes_one_datapoint() -> None:
    message = json.dumps(
        {
            "_aws": {
                "Timestamp": 1574109732004,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "lambda-function-metrics",
                        "Dimensions": [["functionVersion"]],
                        "Metrics": [{"Name": "time", "Unit": "Milliseconds"}],
                    }
                ],
            },
            "functionVersion": "$LATEST",
            "time": 100,
            "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee",
        }
    )
    [datum] = emf_data(message, EVENT_MS)
    assert datum.metric.namespace == "lambda-function-metrics"
    assert datum.metric.name == "time"
    assert datum.metric.dimensions == (("functionVersion", "$LATEST"),)
    assert datum.timestamp == 1574109732.004
    assert (datum.sample_count, datum.sum, datum.unit, datum.storage_resolution) == (
        1.0,
        100.0,
        "Milliseconds",
        60,
    )
    assert datum.value_counts == ((100.0, 1.0),)


def test_every_dimension_set_makes_its_own_metric_for_every_definition() -> None:
    message = document(
        directive(
            metrics=[{"Name": "Latency", "Unit": "Milliseconds"}, {"Name": "Hits", "Unit": "Count"}],
            dimensions=[["Service"], ["Service", "Route"], []],
        ),
        Service="web",
        Route="/a",
        Latency=12,
        Hits=3,
    )
    got = [(d.metric.name, d.metric.dimensions) for d in emf_data(message, EVENT_MS)]
    assert got == [
        ("Latency", (("Service", "web"),)),
        ("Hits", (("Service", "web"),)),
        ("Latency", (("Route", "/a"), ("Service", "web"))),
        ("Hits", (("Route", "/a"), ("Service", "web"))),
        ("Latency", ()),
        ("Hits", ()),
    ]


def test_an_array_of_values_is_one_datum_with_every_value() -> None:
    message = document(directive(), Service="web", Latency=[5, 5, 20, 1.5])
    [datum] = emf_data(message, EVENT_MS)
    assert (datum.sample_count, datum.sum, datum.minimum, datum.maximum) == (4.0, 31.5, 1.5, 20.0)
    assert datum.value_counts == ((1.5, 1.0), (5.0, 2.0), (20.0, 1.0))


def test_unit_and_storage_resolution_default_to_none_and_60() -> None:
    message = document(
        directive(metrics=[{"Name": "Latency"}, {"Name": "Depth", "StorageResolution": 1}]),
        Service="web",
        Latency=1,
        Depth=2,
    )
    assert [(row[1], row[8], row[9]) for row in summary(message)] == [
        ("Latency", "None", 60),
        ("Depth", "None", 1),
    ]


def test_the_event_timestamp_stands_in_for_a_missing_timestamp() -> None:
    message = document(directive(), timestamp=None, Service="web", Latency=1)
    assert summary(message)[0][3] == EVENT_MS / 1000


def test_a_bad_directive_makes_nothing_but_its_neighbours_still_count() -> None:
    message = document(
        directive(dimensions=[["Missing"]]),
        directive(namespace="Other"),
        Service="web",
        Latency=7,
    )
    assert [(row[0], row[5]) for row in summary(message)] == [("Other", 7.0)]


def test_a_repeated_dimension_set_counts_once() -> None:
    message = document(directive(dimensions=[["Service"], ["Service"]]), Service="web", Latency=7)
    assert len(emf_data(message, EVENT_MS)) == 1


@pytest.mark.parametrize(
    ("why", "message"),
    [
        ("plain text", "GET /index.html 200"),
        ("not JSON", '{"_aws": {"CloudWatchMetrics": ['),
        ("a JSON array", '[{"_aws": {}}]'),
        ("text around the JSON", "INFO " + document(directive(), Service="web", Latency=1)),
        ("no _aws", json.dumps({"Latency": 1, "note": "_aws"})),
        ("_aws not an object", json.dumps({"_aws": [1]})),
        ("no CloudWatchMetrics", json.dumps({"_aws": {"Timestamp": T_MS}})),
        ("CloudWatchMetrics not an array", json.dumps({"_aws": {"CloudWatchMetrics": {}}})),
        ("Timestamp a string", document(directive(), timestamp="1700000000000", Service="web", Latency=1)),
        ("Timestamp negative", document(directive(), timestamp=-1, Service="web", Latency=1)),
        ("Timestamp a boolean", document(directive(), timestamp=True, Service="web", Latency=1)),
        (
            "Container Insights performance event (top-level CloudWatchMetrics)",
            json.dumps(
                {
                    "Version": "0",
                    "Type": "Task",
                    "ClusterName": "c",
                    "CpuUtilized": 12.5,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": "ECS/ContainerInsights",
                            "Metrics": [{"Name": "CpuUtilized", "Unit": "None"}],
                            "Dimensions": [["ClusterName"]],
                        }
                    ],
                }
            ),
        ),
    ],
)
def test_what_is_not_an_emf_document_makes_nothing(why: str, message: str) -> None:
    assert emf_data(message, EVENT_MS) == [], why


@pytest.mark.parametrize(
    ("why", "directive_", "members"),
    [
        ("no namespace", {**directive(), "Namespace": None}, {}),
        ("empty namespace", directive(namespace=""), {}),
        ("namespace over 255 characters", directive(namespace="n" * 256), {}),
        ("AWS/ namespace", directive(namespace="AWS/ECS"), {}),
        ("no Dimensions", {k: v for k, v in directive().items() if k != "Dimensions"}, {}),
        ("Dimensions empty", directive(dimensions=[]), {}),
        ("Dimensions not nested", directive(dimensions=["Service"]), {}),
        (
            "31 dimension keys",
            directive(dimensions=[[f"k{i}" for i in range(31)]]),
            {f"k{i}": "v" for i in range(31)},
        ),
        ("dimension value missing", directive(dimensions=[["Route"]]), {}),
        ("dimension value a number", directive(dimensions=[["Route"]]), {"Route": 5}),
        ("dimension value empty", directive(dimensions=[["Route"]]), {"Route": ""}),
        ("dimension value over 1024", directive(dimensions=[["Route"]]), {"Route": "r" * 1025}),
        ("dimension key not a string", directive(dimensions=[[5]]), {}),
        ("no Metrics", {k: v for k, v in directive().items() if k != "Metrics"}, {}),
        ("101 metrics", directive(metrics=[{"Name": "Latency"}] * 101), {}),
        ("metric without Name", directive(metrics=[{"Unit": "Count"}]), {}),
        ("metric name over 255", directive(metrics=[{"Name": "L" * 256}]), {"L" * 256: 1}),
        ("unknown unit", directive(metrics=[{"Name": "Latency", "Unit": "Furlongs"}]), {}),
        ("storage resolution 30", directive(metrics=[{"Name": "Latency", "StorageResolution": 30}]), {}),
        ("storage resolution true", directive(metrics=[{"Name": "Latency", "StorageResolution": True}]), {}),
        ("metric value missing", directive(metrics=[{"Name": "Nope"}]), {}),
        ("metric value a string", directive(), {"Latency": "12"}),
        ("metric value a boolean", directive(), {"Latency": True}),
        ("metric value an object", directive(), {"Latency": {"v": 1}}),
        ("metric value an empty array", directive(), {"Latency": []}),
        ("101 values", directive(), {"Latency": list(range(101))}),
        ("a string among the values", directive(), {"Latency": [1, "2"]}),
        ("value beyond 2^360", directive(), {"Latency": 1e109}),
        ("integer beyond a float", directive(), {"Latency": 10**400}),
    ],
)
def test_a_directive_that_breaks_a_rule_makes_nothing(
    why: str, directive_: dict[str, Any], members: dict[str, Any]
) -> None:
    message = document(directive_, **{"Service": "web", "Latency": 12, **members})
    assert emf_data(message, EVENT_MS) == [], why


def test_nan_and_infinity_tokens_are_not_json() -> None:
    for token in ("NaN", "Infinity", "-Infinity"):
        message = document(directive(), Service="web", Latency=0).replace(
            '"Latency": 0', f'"Latency": {token}'
        )
        assert emf_data(message, EVENT_MS) == []


def test_limits_at_the_edge_still_count() -> None:
    keys = [f"k{i}" for i in range(30)]
    message = document(
        directive(metrics=[{"Name": "Latency"}] * 100, dimensions=[keys]),
        **{key: "v" for key in keys},
        Latency=list(range(100)),
    )
    data = emf_data(message, EVENT_MS)
    assert len(data) == 100 and len(data[0].metric.dimensions) == 30 and data[0].sample_count == 100


@pytest.mark.parametrize(
    ("value", "recordable"),
    [
        (0.0, True),
        (-5.5, True),
        (2.0**360, True),
        (-(2.0**360), True),
        (2.0**361, False),
        (float("inf"), False),
        (float("nan"), False),
    ],
)
def test_recordable_values(value: float, recordable: bool) -> None:
    assert is_recordable(value) is recordable


def test_worked_examples() -> None:
    result = doctest.testmod(emf)
    assert result.attempted > 0 and result.failed == 0
