"""Log events become CloudWatch metrics on a live ecsbox, as on AWS: a metric filter's matches and
an embedded-metric-format event, put with PutLogEvents, are read back with GetMetricStatistics."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.contract.aws_clients import aws_client

REGION = "eu-central-1"


@pytest.fixture()
def clients(ecsbox_endpoint: str) -> tuple[Any, Any]:
    return aws_client("logs", ecsbox_endpoint, REGION), aws_client("cloudwatch", ecsbox_endpoint, REGION)


def sums(
    cloudwatch: Any, namespace: str, name: str, dimensions: list[dict[str, str]] | None = None
) -> list[float]:
    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions or [],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=600,
        Statistics=["Sum", "SampleCount"],
    )
    return [point["Sum"] for point in answer["Datapoints"]]


def wait_for_sum(cloudwatch: Any, namespace: str, name: str, **kwargs: Any) -> list[float]:
    deadline = time.monotonic() + 10
    while True:
        found = sums(cloudwatch, namespace, name, **kwargs)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_metric_filter_counts_matching_events(clients: tuple[Any, Any]) -> None:
    logs, cloudwatch = clients
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="s")
    logs.put_metric_filter(
        logGroupName="app",
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1"}],
    )
    now_ms = int(time.time() * 1000)
    messages = ["ERROR one", "ok", "ERROR two", "fine", "ERROR three"]
    logs.put_log_events(
        logGroupName="app",
        logStreamName="s",
        logEvents=[{"timestamp": now_ms + i, "message": m} for i, m in enumerate(messages)],
    )
    assert wait_for_sum(cloudwatch, "App", "Errors") == [3.0]
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace="App")["Metrics"]] == ["Errors"]


def test_an_embedded_metric_format_event_becomes_datapoints(clients: tuple[Any, Any]) -> None:
    logs, cloudwatch = clients
    logs.create_log_group(logGroupName="emf")
    logs.create_log_stream(logGroupName="emf", logStreamName="s")
    now_ms = int(time.time() * 1000)
    document = {
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Shop",
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}],
                }
            ],
        },
        "Service": "cart",
        "Latency": [12.0, 30.0],
    }
    not_emf = {"CloudWatchMetrics": document["_aws"]["CloudWatchMetrics"], "Latency": 99.0, "Service": "cart"}
    logs.put_log_events(
        logGroupName="emf",
        logStreamName="s",
        logEvents=[
            {"timestamp": now_ms, "message": json.dumps(document)},
            {"timestamp": now_ms, "message": json.dumps(not_emf)},  # a top-level directive is not EMF
        ],
    )
    service = [{"Name": "Service", "Value": "cart"}]
    assert wait_for_sum(cloudwatch, "Shop", "Latency", dimensions=service) == [42.0]
    # The event itself is stored too, as AWS does.
    events = logs.get_log_events(logGroupName="emf", logStreamName="s")["events"]
    assert len(events) == 2
