"""MetricStore and the four metric operations on a real store (SQLite in a temp dir) with a FakeClock:
what is put is read back per period, by unit, as percentiles, paged, listed."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.clock import FakeClock
from ecsbox.metrics.api import metric_operations
from ecsbox.metrics.metric_store import MetricStore
from ecsbox.metrics.model import Datum, MetricId
from ecsbox.store import Store
from ecsbox.store.schema import metric_points, metric_series

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PARTITION = (ACCOUNT, REGION)
START = 1_700_000_040.0  # a whole minute: 1_700_000_040 = 28_333_334 * 60


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class CloudWatch:
    def __init__(self, store: Store, clock: FakeClock, runner: asyncio.Runner) -> None:
        self.store, self.clock, self.runner = store, clock, runner
        self.metrics = MetricStore(store, clock)
        self.handlers = metric_operations(store, clock, self.metrics)

    def __call__(self, operation: str, account: str = ACCOUNT, **params: Any) -> dict[str, Any]:
        ctx = RequestContext(account, REGION, "cloudwatch", operation, "req-1")
        return self.runner.run(self.handlers[operation](ctx, copy.deepcopy(params)))

    def fails(self, operation: str, **params: Any) -> AwsError:
        with pytest.raises(AwsError) as caught:
            self(operation, **params)
        return caught.value

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)

    def put(self, name: str, *data: dict[str, Any], namespace: str = "App") -> None:
        self("PutMetricData", Namespace=namespace, MetricData=[{"MetricName": name, **d} for d in data])

    def stats(
        self, name: str, start: float, end: float, period: int = 60, **params: Any
    ) -> list[dict[str, Any]]:
        params.setdefault("Statistics", ["SampleCount", "Sum", "Minimum", "Maximum", "Average"])
        got = self(
            "GetMetricStatistics",
            Namespace=params.pop("Namespace", "App"),
            MetricName=name,
            StartTime=at(start),
            EndTime=at(end),
            Period=period,
            **params,
        )
        assert got["Label"] == name
        return list(got["Datapoints"])


@pytest.fixture
def cw(tmp_path: Path) -> Iterator[CloudWatch]:
    store = Store(f"sqlite:///{tmp_path / 'ecsbox.db'}")
    store.open()
    try:
        with asyncio.Runner() as runner:
            yield CloudWatch(store, FakeClock(START), runner)
    finally:
        store.close()


def count(cw: CloudWatch, table: Any) -> int:
    return int(
        cw.store.read_now(lambda conn: conn.execute(select(func.count()).select_from(table)).scalar_one())
    )


# ---- MetricStore -------------------------------------------------------------------------------------


def test_put_then_buckets_aggregate_per_period_counted_from_start(cw: CloudWatch) -> None:
    metric = MetricId.of("App", "Latency", {"Service": "web"})
    data = [
        Datum.single(metric, START + offset, value) for offset, value in ((0, 1.0), (30, 3.0), (70, 10.0))
    ]
    cw.run(cw.metrics.put(PARTITION, data))
    buckets = cw.run(cw.metrics.buckets(PARTITION, metric, 60, START, START + 180))
    assert [(b.start, b.sample_count, b.sum, b.minimum, b.maximum) for b in buckets] == [
        (START, 2.0, 4.0, 1.0, 3.0),
        (START + 60, 1.0, 10.0, 10.0, 10.0),
    ]
    assert buckets[0].value_counts == ((1.0, 1.0), (3.0, 1.0))
    # counted from a start that is not a period boundary (standard-resolution points are stored at
    # the start of their minute, so the two first ones lie before it)
    shifted = cw.run(cw.metrics.buckets(PARTITION, metric, 60, START + 30, START + 180))
    assert [(b.start, b.sum) for b in shifted] == [(START + 30, 10.0)]


def test_buckets_of_another_partition_or_metric_are_empty(cw: CloudWatch) -> None:
    metric = MetricId.of("App", "Latency")
    cw.run(cw.metrics.put(PARTITION, [Datum.single(metric, START, 1.0)]))
    assert cw.run(cw.metrics.buckets(("999999999999", REGION), metric, 60, START, START + 60)) == []
    assert cw.run(cw.metrics.buckets(PARTITION, MetricId.of("App", "Other"), 60, START, START + 60)) == []
    assert (
        cw.run(
            cw.metrics.buckets(PARTITION, MetricId.of("App", "Latency", {"a": "b"}), 60, START, START + 60)
        )
        == []
    )


def test_a_statistic_set_in_a_period_means_no_raw_values_for_it(cw: CloudWatch) -> None:
    metric = MetricId.of("App", "Latency")
    cw.run(
        cw.metrics.put(
            PARTITION,
            [Datum.single(metric, START, 1.0), Datum(metric, START + 1, 4.0, 10.0, 1.0, 4.0)],
        )
    )
    [bucket] = cw.run(cw.metrics.buckets(PARTITION, metric, 60, START, START + 60))
    assert (bucket.sample_count, bucket.sum, bucket.value_counts) == (5.0, 11.0, None)
    [fast] = cw.run(cw.metrics.buckets(PARTITION, metric, 60, START, START + 60, values=False))
    assert fast.value_counts is None and fast.sum == 11.0


def test_unit_filter_and_one_bucket_per_unit(cw: CloudWatch) -> None:
    metric = MetricId.of("App", "Size")
    cw.run(
        cw.metrics.put(
            PARTITION,
            [
                Datum.single(metric, START, 1.0, unit="Bytes"),
                Datum.single(metric, START + 5, 2.0, unit="Kilobytes"),
            ],
        )
    )
    [merged] = cw.run(cw.metrics.buckets(PARTITION, metric, 60, START, START + 60))
    assert merged.sample_count == 2.0
    [only] = cw.run(cw.metrics.buckets(PARTITION, metric, 60, START, START + 60, "Kilobytes"))
    assert (only.unit, only.sum) == ("Kilobytes", 2.0)
    by_unit = cw.run(cw.metrics.buckets_by_unit(PARTITION, metric, 60, START, START + 60))
    assert [(b.unit, b.sum) for b in by_unit] == [("Bytes", 1.0), ("Kilobytes", 2.0)]


def test_one_series_row_per_metric_and_last_put_follows_the_clock(cw: CloudWatch) -> None:
    metric = MetricId.of("App", "Hits", {"b": "2", "a": "1"})
    cw.run(cw.metrics.put(PARTITION, [Datum.single(metric, START, 1.0)] * 3))
    cw.clock.advance(120)
    cw.run(cw.metrics.put(PARTITION, [Datum.single(metric, START + 120, 1.0)]))
    assert count(cw, metric_series) == 1 and count(cw, metric_points) == 4
    last_put = cw.store.read_now(lambda conn: conn.execute(select(metric_series.c.last_put)).scalar_one())
    assert last_put == START + 120


def test_a_cached_series_id_survives_a_state_reset(cw: CloudWatch) -> None:
    metric = MetricId.of("App", "Hits")
    cw.run(cw.metrics.put(PARTITION, [Datum.single(metric, START, 1.0)]))
    cw.run(cw.store.reset())
    cw.run(cw.metrics.put(PARTITION, [Datum.single(metric, START + 1, 5.0)]))
    [bucket] = cw.run(cw.metrics.buckets(PARTITION, metric, 60, START, START + 60))
    assert bucket.sum == 5.0 and count(cw, metric_series) == 1


def test_high_resolution_points_keep_their_second_standard_ones_their_minute(cw: CloudWatch) -> None:
    fine, coarse = MetricId.of("App", "Fine"), MetricId.of("App", "Coarse")
    cw.run(
        cw.metrics.put(
            PARTITION,
            [
                Datum.single(fine, START + 12.7, 1.0, storage_resolution=1),
                Datum.single(coarse, START + 12.7, 1.0),
            ],
        )
    )
    assert [b.start for b in cw.run(cw.metrics.buckets(PARTITION, fine, 1, START, START + 60))] == [
        START + 12
    ]
    assert [b.start for b in cw.run(cw.metrics.buckets(PARTITION, coarse, 1, START, START + 60))] == [START]


# ---- GetMetricStatistics ------------------------------------------------------------------------------


def test_get_metric_statistics_answers_each_period_with_the_statistics_asked(cw: CloudWatch) -> None:
    cw.put(
        "Latency",
        {"Values": [10.0, 20.0, 30.0], "Timestamp": at(START)},
        {"Value": 100.0, "Timestamp": at(START + 60)},
    )
    points = cw.stats("Latency", START, START + 120, Statistics=["Average", "Maximum"], Unit="None")
    assert points == [
        {"Timestamp": START, "Unit": "None", "Average": 20.0, "Maximum": 30.0},
        {"Timestamp": START + 60, "Unit": "None", "Average": 100.0, "Maximum": 100.0},
    ]


def test_percentiles_come_as_extended_statistics(cw: CloudWatch) -> None:
    cw.put("Latency", {"Values": [float(v) for v in range(1, 101)], "Timestamp": at(START)})
    [point] = cw.stats("Latency", START, START + 60, Statistics=[], ExtendedStatistics=["p50", "p99", "p100"])
    assert point["ExtendedStatistics"] == {"p50": 50.0, "p99": 99.0, "p100": 100.0}
    assert "Average" not in point


def test_without_a_unit_each_unit_answers_its_own_datapoint(cw: CloudWatch) -> None:
    cw.put(
        "Size",
        {"Value": 1.0, "Unit": "Bytes", "Timestamp": at(START)},
        {"Value": 2.0, "Unit": "Count", "Timestamp": at(START)},
    )
    points = cw.stats("Size", START, START + 60, Statistics=["Sum"])
    assert sorted((p["Unit"], p["Sum"]) for p in points) == [("Bytes", 1.0), ("Count", 2.0)]
    assert cw.stats("Size", START, START + 60, Statistics=["Sum"], Unit="Seconds") == []


def test_dimensions_must_match_exactly(cw: CloudWatch) -> None:
    dims = [{"Name": "ClusterName", "Value": "c"}, {"Name": "ServiceName", "Value": "web"}]
    cw.put("CPU", {"Value": 5.0, "Dimensions": dims, "Timestamp": at(START)})
    assert cw.stats("CPU", START, START + 60, Dimensions=list(reversed(dims)))[0]["Sum"] == 5.0
    assert cw.stats("CPU", START, START + 60, Dimensions=dims[:1]) == []
    assert cw.stats("CPU", START, START + 60) == []


def test_start_is_rounded_down_to_the_minute(cw: CloudWatch) -> None:
    cw.put("Hits", {"Value": 1.0, "Timestamp": at(START + 5)})
    [point] = cw.stats("Hits", START + 20, START + 60)
    assert point["Timestamp"] == START


def test_old_data_needs_a_coarse_enough_period(cw: CloudWatch) -> None:
    cw.put("Hits", {"Value": 1.0, "StorageResolution": 1, "Timestamp": at(START)})
    assert [p["Sum"] for p in cw.stats("Hits", START, START + 10, period=10)] == [1.0]
    cw.clock.advance(4 * 3600)  # now more than 3 hours old: 10-second periods answer nothing
    assert cw.stats("Hits", START, START + 10, period=10) == []
    assert [p["Sum"] for p in cw.stats("Hits", START, START + 60, period=60)] == [1.0]


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (
            {"Statistics": []},
            "InvalidParameterCombination",
            "Must specify either Statistics or ExtendedStatistics.",
        ),
        (
            {"Statistics": ["Sum"], "ExtendedStatistics": ["p99"]},
            "InvalidParameterCombination",
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.",
        ),
        (
            {"Statistics": [], "ExtendedStatistics": ["p101"]},
            "InvalidParameterValue",
            "The value p101 for parameter ExtendedStatistics.member.1 is not supported.",
        ),
        (
            {"Period": 45},
            "InvalidParameterValue",
            "The parameter Period must be a value in the set [ 1, 5, 10, 20, 30 ] or a multiple of 60.",
        ),
        (
            {"EndTime": at(START)},
            "InvalidParameterValue",
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            {"EndTime": at(START + 1441 * 60)},
            "InvalidParameterCombination",
            "You have requested up to 1441 datapoints, which exceeds the limit of 1440. You may reduce the "
            "datapoints requested by increasing Period, or decreasing the time range.",
        ),
    ],
)
def test_get_metric_statistics_refuses_what_aws_refuses(
    cw: CloudWatch, params: dict[str, Any], code: str, message: str
) -> None:
    request = {
        "Namespace": "App",
        "MetricName": "m",
        "StartTime": at(START),
        "EndTime": at(START + 60),
        "Period": 60,
        "Statistics": ["Sum"],
        **params,
    }
    error = cw.fails("GetMetricStatistics", **request)
    assert (error.code, error.message) == (code, message)


def test_exactly_1440_datapoints_are_allowed(cw: CloudWatch) -> None:
    assert cw.stats("m", START, START + 1440 * 60) == []


# ---- GetMetricData -------------------------------------------------------------------------------------


def stat_query(query_id: str, name: str, stat: str, period: int = 60, **extra: Any) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {"Metric": {"Namespace": "App", "MetricName": name}, "Period": period, "Stat": stat},
        **extra,
    }


def test_get_metric_data_answers_every_returned_query_newest_first(cw: CloudWatch) -> None:
    for minute in range(3):
        cw.put("Latency", {"Values": [1.0, 2.0, 3.0 + minute], "Timestamp": at(START + 60 * minute)})
    got = cw(
        "GetMetricData",
        MetricDataQueries=[
            stat_query("avg", "Latency", "Average"),
            stat_query("top", "Latency", "p99", Label="slowest"),
            stat_query("hidden", "Latency", "Sum", ReturnData=False),
        ],
        StartTime=at(START),
        EndTime=at(START + 180),
    )
    avg, top = got["MetricDataResults"]
    assert (avg["Id"], avg["Label"], avg["StatusCode"]) == ("avg", "Latency Average", "Complete")
    assert avg["Timestamps"] == [START + 120, START + 60, START]
    assert avg["Values"] == [pytest.approx(8 / 3), pytest.approx(7 / 3), 2.0]
    assert (top["Label"], top["Values"]) == ("slowest", [5.0, 4.0, 3.0])
    assert "NextToken" not in got


def test_get_metric_data_ascending_and_paged(cw: CloudWatch) -> None:
    for minute in range(5):
        cw.put("Hits", {"Value": float(minute), "Timestamp": at(START + 60 * minute)})
    request = {
        "MetricDataQueries": [stat_query("a", "Hits", "Sum"), stat_query("b", "Hits", "SampleCount")],
        "StartTime": at(START),
        "EndTime": at(START + 300),
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": 3,
    }
    seen: dict[str, list[float]] = {"a": [], "b": []}
    statuses = []
    token = None
    for _ in range(10):
        got = cw("GetMetricData", **request, **({"NextToken": token} if token else {}))
        for result in got["MetricDataResults"]:
            seen[result["Id"]].extend(result["Values"])
            statuses.append(result["StatusCode"])
            assert result["Timestamps"] == sorted(result["Timestamps"])
        token = got.get("NextToken")
        if token is None:
            break
    assert seen == {"a": [0.0, 1.0, 2.0, 3.0, 4.0], "b": [1.0] * 5}
    assert statuses[0] == "PartialData" and statuses[-1] == "Complete"


def test_a_token_from_another_request_is_refused(cw: CloudWatch) -> None:
    cw.put("Hits", {"Value": 1.0, "Timestamp": at(START)}, {"Value": 1.0, "Timestamp": at(START + 60)})
    request = {
        "MetricDataQueries": [stat_query("a", "Hits", "Sum")],
        "StartTime": at(START),
        "EndTime": at(START + 120),
    }
    token = cw("GetMetricData", **request, MaxDatapoints=1)["NextToken"]
    error = cw.fails("GetMetricData", **{**request, "EndTime": at(START + 180)}, NextToken=token)
    assert error.code == "InvalidNextToken"
    assert cw.fails("GetMetricData", **request, NextToken="garbage").code == "InvalidNextToken"


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        (
            [stat_query("M1", "m", "Sum")],
            "The value M1 for parameter MetricDataQueries.member.1.Id is not matching the expected pattern "
            "^[a-z][a-zA-Z0-9_]*$.",
        ),
        (
            [stat_query("a", "m", "Sum"), stat_query("a", "m", "Sum")],
            "The value a for parameter MetricDataQueries.member.2.Id is not unique.",
        ),
        (
            [stat_query("a", "m", "Sum", period=45)],
            "The parameter MetricDataQueries.member.1.MetricStat.Period must be a value in the set "
            "[ 1, 5, 10, 20, 30 ] or a multiple of 60.",
        ),
        (
            [stat_query("a", "m", "Median")],
            "The value Median for parameter MetricDataQueries.member.1.MetricStat.Stat is not supported.",
        ),
        (
            [{"Id": "e", "Expression": "SUM(METRICS())"}],
            "The parameter MetricDataQueries.member.1.Expression is not supported: ecsbox does not evaluate "
            "metric math or SEARCH expressions yet; use MetricStat queries.",
        ),
        ([{"Id": "e"}], "The parameter MetricDataQueries.member.1.MetricStat is required."),
        (
            [stat_query("a", "m", "Sum")] * 501,
            "The collection MetricDataQueries must not have a size greater than 500.",
        ),
    ],
)
def test_get_metric_data_refuses_bad_queries_with_validation_error(
    cw: CloudWatch, queries: list[dict[str, Any]], message: str
) -> None:
    error = cw.fails("GetMetricData", MetricDataQueries=queries, StartTime=at(START), EndTime=at(START + 60))
    assert (error.code, error.message) == ("ValidationError", message)


def test_get_metric_data_trimmed_statistics(cw: CloudWatch) -> None:
    cw.put("Latency", {"Values": [1.0, 2.0, 3.0, 4.0, 100.0], "Timestamp": at(START)})
    got = cw(
        "GetMetricData",
        MetricDataQueries=[
            stat_query("t", "Latency", "tm80"),
            stat_query("c", "Latency", "TC(:3)"),
            stat_query("i", "Latency", "IQM"),
        ],
        StartTime=at(START),
        EndTime=at(START + 60),
    )
    # tm80: the mean of values up to p80 (4); TC(:3): how many are at most 3; IQM: TM(25%:75%),
    # the mean of values above p25 (2) up to p75 (4)
    assert [r["Values"] for r in got["MetricDataResults"]] == [[2.5], [3.0], [3.5]]


def test_another_accounts_metric_is_forbidden(cw: CloudWatch) -> None:
    got = cw(
        "GetMetricData",
        MetricDataQueries=[stat_query("a", "m", "Sum", AccountId="111111111111")],
        StartTime=at(START),
        EndTime=at(START + 60),
    )
    assert got["MetricDataResults"][0]["StatusCode"] == "Forbidden"


# ---- ListMetrics ------------------------------------------------------------------------------------------


def listed(cw: CloudWatch, **params: Any) -> list[tuple[str, str, list[tuple[str, str]]]]:
    got = cw("ListMetrics", **params)
    return [
        (m["Namespace"], m["MetricName"], [(d["Name"], d["Value"]) for d in m["Dimensions"]])
        for m in got["Metrics"]
    ]


def test_list_metrics_filters_by_namespace_name_and_dimensions(cw: CloudWatch) -> None:
    cw.put(
        "CPU",
        {
            "Value": 1.0,
            "Dimensions": [{"Name": "ClusterName", "Value": "c"}, {"Name": "ServiceName", "Value": "web"}],
        },
    )
    cw.put("CPU", {"Value": 1.0, "Dimensions": [{"Name": "ClusterName", "Value": "c"}]})
    cw.put("Mem", {"Value": 1.0})
    cw.put("Other", {"Value": 1.0}, namespace="Else")
    assert [m[:2] for m in listed(cw)] == [("App", "CPU"), ("App", "CPU"), ("App", "Mem"), ("Else", "Other")]
    assert [m[1] for m in listed(cw, Namespace="App", MetricName="Mem")] == ["Mem"]
    assert listed(cw, Dimensions=[{"Name": "ServiceName"}]) == [
        ("App", "CPU", [("ClusterName", "c"), ("ServiceName", "web")])
    ]
    assert len(listed(cw, Dimensions=[{"Name": "ClusterName", "Value": "c"}])) == 2
    assert listed(cw, Dimensions=[{"Name": "ClusterName", "Value": "x"}]) == []
    assert listed(cw, OwningAccount="999999999999") == []
    got = cw("ListMetrics", Namespace="Else", IncludeLinkedAccounts=True)
    assert got["OwningAccounts"] == [ACCOUNT]


def test_list_metrics_shows_two_weeks_and_recently_active_three_hours(cw: CloudWatch) -> None:
    cw.put("Old", {"Value": 1.0})
    cw.clock.advance(4 * 3600)
    cw.put("New", {"Value": 1.0})
    assert [m[1] for m in listed(cw)] == ["New", "Old"]
    assert [m[1] for m in listed(cw, RecentlyActive="PT3H")] == ["New"]
    cw.clock.advance(14 * 86_400 - 3600)
    assert [m[1] for m in listed(cw)] == ["New"]


def test_list_metrics_pages_of_500(cw: CloudWatch) -> None:
    for chunk in range(3):
        cw.put(
            "m",
            *[
                {"Value": 1.0, "Dimensions": [{"Name": "i", "Value": f"{chunk * 400 + i:04d}"}]}
                for i in range(400)
            ],
        )
    names: list[str] = []
    token = None
    pages = 0
    while True:
        got = cw("ListMetrics", **({"NextToken": token} if token else {}))
        pages += 1
        assert len(got["Metrics"]) <= 500
        names.extend(m["Dimensions"][0]["Value"] for m in got["Metrics"])
        token = got.get("NextToken")
        if not token:
            break
    assert names == [f"{i:04d}" for i in range(1200)] and pages == 3
    error = cw.fails("ListMetrics", NextToken="nope")
    assert (error.code, error.message) == (
        "InvalidParameterValue",
        "The value for parameter NextToken is invalid.",
    )


def test_put_metric_data_stores_nothing_of_a_bad_request(cw: CloudWatch) -> None:
    error = cw.fails(
        "PutMetricData",
        Namespace="App",
        MetricData=[{"MetricName": "ok", "Value": 1.0}, {"MetricName": "bad", "Value": float("nan")}],
    )
    assert (error.code, error.message) == (
        "InvalidParameterValue",
        "The value NaN for parameter MetricData.member.2.Value is invalid.",
    )
    assert count(cw, metric_points) == 0 and listed(cw) == []
