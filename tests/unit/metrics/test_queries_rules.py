"""GetMetricData's query rules, labels and paging, and GetMetricStatistics' datapoints (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.metrics.metric_data import Result, StatQuery, labels, page, parse_queries
from ecsbox.metrics.model import Bucket, MetricId, MetricsRuleError
from ecsbox.metrics.statistics_ops import check_statistics, datapoint

ID_RULE = "is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$."
PERIOD_RULE = "must be a value in the set [ 1, 5, 10, 20, 30 ] or a multiple of 60."


def query(query_id: str = "m1", **stat: Any) -> dict[str, Any]:
    metric_stat = {
        "Metric": {"Namespace": "App", "MetricName": "Latency"},
        "Period": 60,
        "Stat": "Average",
        **stat,
    }
    return {"Id": query_id, "MetricStat": metric_stat}


def test_parse_queries_reads_metric_stat() -> None:
    dims = [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}]
    [q] = parse_queries(
        [
            {
                **query(Unit="Seconds", Period=300),
                "Label": "L",
                "ReturnData": False,
                "AccountId": "000000000000",
            }
        ],
        account_id="000000000000",
    )
    assert (q.period, q.unit, q.label, q.returns, q.account_id) == (300, "Seconds", "L", False, None)
    [d] = parse_queries(
        [
            {
                "Id": "x",
                "MetricStat": {
                    **query()["MetricStat"],
                    "Metric": {"Namespace": "App", "MetricName": "m", "Dimensions": dims},
                },
            }
        ],
        "0",
    )
    assert d.metric == MetricId.of("App", "m", {"A": "1", "B": "2"})
    [other] = parse_queries([{**query(), "AccountId": "111111111111"}], account_id="000000000000")
    assert other.account_id == "111111111111"


@pytest.mark.parametrize(
    ("queries", "code", "message"),
    [
        ([], "MissingParameter", "The parameter MetricDataQueries is required."),
        (
            [query("1a")],
            "ValidationError",
            "The value 1a for parameter MetricDataQueries.member.1.Id " + ID_RULE,
        ),
        (
            [query("a-b")],
            "ValidationError",
            "The value a-b for parameter MetricDataQueries.member.1.Id " + ID_RULE,
        ),
        (
            [{**query(), "Expression": "m1 * 2"}],
            "ValidationError",
            "The parameters MetricDataQueries.member.1.MetricStat and MetricDataQueries.member.1.Expression "
            "are mutually exclusive and you have specified both.",
        ),
        (
            [{"Id": "a", "MetricStat": {"Metric": {"MetricName": "m"}, "Period": 60, "Stat": "Sum"}}],
            "ValidationError",
            "The parameter MetricDataQueries.member.1.MetricStat.Metric.Namespace is required.",
        ),
        (
            [query(Period=7)],
            "ValidationError",
            "The parameter MetricDataQueries.member.1.MetricStat.Period " + PERIOD_RULE,
        ),
        (
            [query(Stat="p101")],
            "ValidationError",
            "The value p101 for parameter MetricDataQueries.member.1.MetricStat.Stat is not supported.",
        ),
    ],
)
def test_parse_queries_refuses(queries: list[dict[str, Any]], code: str, message: str) -> None:
    with pytest.raises(MetricsRuleError) as caught:
        parse_queries(queries, "0")
    assert (caught.value.code, caught.value.message) == (code, message)


def test_labels_tell_queries_apart_only_when_needed() -> None:
    m = MetricId.of("App", "Latency")
    one = StatQuery("a", m, 60, "Average", None, None, True, None)
    assert labels([one]) == ["Latency"]
    assert labels([one, StatQuery("b", m, 300, "Average", None, None, True, None)]) == [
        "Latency 60",
        "Latency 300",
    ]


def test_page_with_an_empty_result_and_no_room_left() -> None:
    results = [Result("a", "A", [(1.0, 1.0)]), Result("b", "B", []), Result("c", "C", [(1.0, 2.0)])]
    first, resume = page(results, 1, False, None)
    assert [r["Id"] for r in first] == ["a", "b"] and resume is not None and resume.query == 2
    second, resume = page(results, 1, False, resume)
    assert [(r["Id"], r["Values"], r["StatusCode"]) for r in second] == [
        ("c", [2.0], "Complete")
    ] and resume is None


@given(
    st.lists(st.lists(st.integers(0, 10_000), max_size=30, unique=True), min_size=1, max_size=5),
    st.integers(1, 40),
    st.booleans(),
)
def test_pages_hold_every_point_once_and_never_more_than_asked(
    series: list[list[int]], max_datapoints: int, descending: bool
) -> None:
    results = [
        Result(f"q{i}", f"Q{i}", [(float(t), float(t)) for t in sorted(ts, reverse=descending)])
        for i, ts in enumerate(series)
    ]
    seen: dict[str, list[float]] = {r.id: [] for r in results}
    resume = None
    for _ in range(1_000):
        answered, resume = page(results, max_datapoints, descending, resume)
        assert sum(len(r["Timestamps"]) for r in answered) <= max_datapoints
        for r in answered:
            seen[r["Id"]].extend(r["Timestamps"])
        if resume is None:
            break
    assert seen == {r.id: [t for t, _ in r.points] for r in results}


def test_check_statistics_and_datapoint() -> None:
    check_statistics(["Sum"], [])
    check_statistics([], ["p99.9"])
    with pytest.raises(MetricsRuleError):
        check_statistics([], ["tm90"])
    stat_set = Bucket(0.0, 3.0, 6.0, 1.0, 3.0, "Count", None)
    assert datapoint(stat_set, [], ["p50"]) == {"Timestamp": 0.0, "Unit": "Count", "ExtendedStatistics": {}}
