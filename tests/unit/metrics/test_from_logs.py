"""Metrics from log events: metric filter datapoints and EMF documents become datapoints written
through a MetricWriter (a fake here: what it is given is what CloudWatch would store)."""

from __future__ import annotations

import asyncio
import doctest
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from ecsbox.logs import MetricDatum
from ecsbox.metrics import from_logs
from ecsbox.metrics.from_logs import filter_datum, fold, log_data, write_log_metrics
from ecsbox.metrics.model import Datum, MetricId, Partition

PARTITION = ("123456789012", "eu-west-1")
T_MS = 1_700_000_000_000  # 20 s into its minute
MINUTE_START = 1_699_999_980.0  # the minute T_MS falls in


class FakeWriter:
    def __init__(self) -> None:
        self.calls: list[tuple[Partition, list[Datum]]] = []

    async def put(self, partition: Partition, data: Sequence[Datum]) -> None:
        self.calls.append((partition, list(data)))


@dataclass(frozen=True)
class OtherDatum:
    """Any object with MetricDatum's attributes will do: metrics does not import logs."""

    namespace: str
    name: str
    value: float
    timestamp_ms: int
    unit: str = "None"
    dimensions: dict[str, str] = field(default_factory=dict)


def emf_line(value: float, timestamp_ms: int = T_MS) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "App",
                        "Dimensions": [["Route"]],
                        "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}],
                    }
                ],
            },
            "Route": "/a",
            "Latency": value,
        }
    )


def test_a_metric_filter_datum_becomes_a_datum_in_seconds() -> None:
    datum = filter_datum(MetricDatum("App", "Errors", 1.0, T_MS + 1500, "Count", {"Status": "500"}))
    assert datum == Datum(
        MetricId.of("App", "Errors", {"Status": "500"}),
        1_700_000_001.5,
        1.0,
        1.0,
        1.0,
        1.0,
        "Count",
        60,
        ((1.0, 1.0),),
    )


def test_what_cloudwatch_could_not_record_is_dropped() -> None:
    assert filter_datum(MetricDatum("App", "Big", 1e200, T_MS)) is None
    assert filter_datum(MetricDatum("App", "Errors", 1.0, T_MS, dimensions={"Path": "p" * 1025})) is None
    assert filter_datum(OtherDatum("App", "Errors", 2.0, T_MS)) is not None


def test_values_of_one_metric_in_one_minute_fold_into_one_datum() -> None:
    filters = [MetricDatum("App", "Errors", 1.0, T_MS + offset, "Count") for offset in (0, 10_000, 39_999)]
    [datum] = log_data([], filters)
    assert (datum.timestamp, datum.sample_count, datum.sum, datum.unit) == (MINUTE_START, 3.0, 3.0, "Count")
    assert datum.value_counts == ((1.0, 3.0),)
    # The next minute is another datum; so is another unit.
    more = [
        *filters,
        MetricDatum("App", "Errors", 1.0, T_MS + 40_000, "Count"),
        MetricDatum("App", "Errors", 1.0, T_MS, "None"),
    ]
    assert sorted((d.timestamp, d.unit, d.sample_count) for d in log_data([], more)) == [
        (MINUTE_START, "Count", 3.0),
        (MINUTE_START, "None", 1.0),
        (MINUTE_START + 60, "Count", 1.0),
    ]


def test_high_resolution_values_fold_by_the_second() -> None:
    metric = MetricId.of("App", "Depth")
    data = [
        Datum.single(metric, 100.2, 1.0, storage_resolution=1),
        Datum.single(metric, 100.9, 3.0, storage_resolution=1),
        Datum.single(metric, 101.0, 5.0, storage_resolution=1),
    ]
    assert [(d.timestamp, d.sample_count, d.minimum, d.maximum) for d in fold(data)] == [
        (100.0, 2.0, 1.0, 3.0),
        (101.0, 1.0, 5.0, 5.0),
    ]


def test_folding_a_statistic_set_keeps_no_values() -> None:
    metric = MetricId.of("App", "Load")
    statistic_set = Datum(metric, 60.0, 10.0, 50.0, 1.0, 9.0)
    [datum] = fold([statistic_set, Datum.single(metric, 61.0, 2.0)])
    assert (datum.sample_count, datum.sum, datum.minimum, datum.maximum, datum.value_counts) == (
        11.0,
        52.0,
        1.0,
        9.0,
        None,
    )


def test_emf_events_and_filter_data_are_written_in_one_call() -> None:
    writer = FakeWriter()
    events = [(T_MS, emf_line(12)), (T_MS + 1000, "plain text"), (T_MS + 2000, emf_line(30))]
    filters = [MetricDatum("App", "Lines", 1.0, T_MS + i * 1000) for i in range(3)]
    asyncio.run(write_log_metrics(writer, PARTITION, events, filters))
    [(partition, data)] = writer.calls
    assert partition == PARTITION
    by_name = {d.metric.name: d for d in data}
    assert set(by_name) == {"Lines", "Latency"}
    assert by_name["Lines"].sample_count == 3.0
    latency = by_name["Latency"]
    assert latency.metric == MetricId.of("App", "Latency", {"Route": "/a"})
    assert (latency.sample_count, latency.sum, latency.unit, latency.value_counts) == (
        2.0,
        42.0,
        "Milliseconds",
        ((12.0, 1.0), (30.0, 1.0)),
    )


def test_a_batch_that_makes_nothing_writes_nothing() -> None:
    writer = FakeWriter()
    asyncio.run(write_log_metrics(writer, PARTITION, [(T_MS, "hello"), (T_MS, '{"_aws": 1}')], []))
    assert writer.calls == []


def test_worked_examples() -> None:
    result = doctest.testmod(from_logs)
    assert result.attempted > 0 and result.failed == 0
