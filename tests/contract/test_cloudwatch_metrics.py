"""CloudWatch metrics through real clients against a live ecsbox: boto3 (its default protocol, and
rpc-v2-cbor, JSON 1.0 and query sent explicitly, signed and parsed by botocore) and AWS CLI v2 (query).
Put then read back, every refusal with AWS's code and words, ListMetrics and GetMetricData paging."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from tests.contract.aws_clients import aws_client, error_of

REGION = "eu-west-1"
NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})
AWS_V2 = "/usr/bin/aws"
PROTOCOLS = ("smithy-rpc-v2-cbor", "json", "query")
EXCLUSIVE = "are mutually exclusive and you have specified both."
# botocore gzips PutMetricData bodies over 10 KB; see test_a_large_put_compressed_by_boto3_is_stored
UNCOMPRESSED = Config(disable_request_compression=True)


@pytest.fixture()
def cw(ecsbox_endpoint: str) -> Any:
    return boto3.client(
        "cloudwatch",
        endpoint_url=ecsbox_endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=UNCOMPRESSED,
    )


@pytest.fixture()
def raw_cw(ecsbox_endpoint: str) -> Any:
    """A client that sends what it is given (no client-side checks), so the server's are seen."""
    return boto3.client(
        "cloudwatch",
        endpoint_url=ecsbox_endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=NO_VALIDATION.merge(UNCOMPRESSED),
    )


def minute_ago(minutes: int = 0) -> datetime:
    """The start of the current minute, ``minutes`` minutes back."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes)


def call_over(endpoint: str, operation: str, params: dict[str, Any], protocol: str) -> dict[str, Any]:
    """One CloudWatch operation over a chosen protocol, serialised, signed and parsed by botocore."""
    model = botocore.session.get_session().get_service_model("cloudwatch")
    operation_model = model.operation_model(operation)
    request_dict = create_serializer(protocol, include_validation=False).serialize_to_request(
        params, operation_model
    )
    request = AWSRequest(
        method=request_dict["method"],
        url=endpoint + request_dict["url_path"],
        data=request_dict["body"],
        headers=request_dict["headers"],
    )
    SigV4Auth(Credentials("test", "test"), model.signing_name, REGION).add_auth(request)
    prepared = request.prepare()
    response = urllib3.PoolManager().request(
        prepared.method, prepared.url, body=prepared.body, headers=dict(prepared.headers)
    )
    http_response = {"status_code": response.status, "headers": dict(response.headers), "body": response.data}
    output_shape = operation_model.output_shape if response.status < 300 else None
    parsed: dict[str, Any] = create_parser(protocol).parse(http_response, output_shape)
    return parsed


# ---- put, then read back -----------------------------------------------------------------------------


def test_put_then_read_back_with_every_read(cw: Any) -> None:
    at = minute_ago(2)
    dims = [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "web"}]
    cw.put_metric_data(
        Namespace="MyApp",
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": at,
                "Values": [10, 20, 30],
                "Counts": [1, 2, 1],
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Timestamp": at + timedelta(minutes=1),
                "Value": 50,
                "Unit": "Milliseconds",
            },
        ],
    )
    got = cw.get_metric_statistics(
        Namespace="MyApp",
        MetricName="Latency",
        Dimensions=list(reversed(dims)),
        StartTime=at,
        EndTime=at + timedelta(minutes=2),
        Period=60,
        Statistics=["SampleCount", "Average", "Maximum"],
    )
    assert got["Label"] == "Latency"
    points = sorted(got["Datapoints"], key=lambda p: p["Timestamp"])
    assert [(p["Timestamp"], p["SampleCount"], p["Average"], p["Maximum"], p["Unit"]) for p in points] == [
        (at, 4.0, 20.0, 30.0, "Milliseconds"),
        (at + timedelta(minutes=1), 1.0, 50.0, 50.0, "Milliseconds"),
    ]
    percentiles = cw.get_metric_statistics(
        Namespace="MyApp",
        MetricName="Latency",
        Dimensions=dims,
        StartTime=at,
        EndTime=at + timedelta(minutes=1),
        Period=60,
        ExtendedStatistics=["p50", "p99"],
    )["Datapoints"]
    assert percentiles[0]["ExtendedStatistics"] == {"p50": 20.0, "p99": 30.0}

    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "avg",
                "MetricStat": {
                    "Metric": {"Namespace": "MyApp", "MetricName": "Latency", "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Average",
                },
            },
            {
                "Id": "p90",
                "MetricStat": {
                    "Metric": {"Namespace": "MyApp", "MetricName": "Latency", "Dimensions": dims},
                    "Period": 120,
                    "Stat": "p90",
                },
                "Label": "tail",
            },
        ],
        StartTime=at,
        EndTime=at + timedelta(minutes=2),
    )["MetricDataResults"]
    assert [(r["Id"], r["Timestamps"], r["Values"], r["StatusCode"]) for r in data] == [
        ("avg", [at + timedelta(minutes=1), at], [50.0, 20.0], "Complete"),
        ("p90", [at], [50.0], "Complete"),
    ]
    assert data[1]["Label"] == "tail"

    metrics = cw.list_metrics(Namespace="MyApp")["Metrics"]
    assert metrics == [{"Namespace": "MyApp", "MetricName": "Latency", "Dimensions": dims}]


def test_metrics_belong_to_their_region(cw: Any, ecsbox_endpoint: str) -> None:
    cw.put_metric_data(Namespace="MyApp", MetricData=[{"MetricName": "Here", "Value": 1}])
    assert [m["MetricName"] for m in cw.list_metrics()["Metrics"]] == ["Here"]
    elsewhere = aws_client("cloudwatch", ecsbox_endpoint, "us-west-2")
    assert elsewhere.list_metrics()["Metrics"] == []


def test_unit_filter_and_a_datapoint_per_unit(cw: Any) -> None:
    at = minute_ago(1)
    cw.put_metric_data(
        Namespace="MyApp",
        MetricData=[
            {"MetricName": "Size", "Timestamp": at, "Value": 1, "Unit": "Bytes"},
            {"MetricName": "Size", "Timestamp": at, "Value": 2, "Unit": "Kilobytes"},
        ],
    )
    request = {
        "Namespace": "MyApp",
        "MetricName": "Size",
        "StartTime": at,
        "EndTime": at + timedelta(minutes=1),
        "Period": 60,
        "Statistics": ["Sum"],
    }
    assert sorted((p["Unit"], p["Sum"]) for p in cw.get_metric_statistics(**request)["Datapoints"]) == [
        ("Bytes", 1.0),
        ("Kilobytes", 2.0),
    ]
    assert [p["Sum"] for p in cw.get_metric_statistics(**request, Unit="Kilobytes")["Datapoints"]] == [2.0]
    assert cw.get_metric_statistics(**request, Unit="Seconds")["Datapoints"] == []


# ---- refusals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("datum", "code", "message"),
    [
        (
            {"MetricName": "m", "Value": 1, "Values": [1]},
            "InvalidParameterCombination",
            "The parameters MetricData.member.1.Value and MetricData.member.1.Values " + EXCLUSIVE,
        ),
        (
            {
                "MetricName": "m",
                "Value": 1,
                "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
            },
            "InvalidParameterCombination",
            "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues " + EXCLUSIVE,
        ),
        (
            {"MetricName": "m", "Values": [1, 2], "Counts": [1]},
            "InvalidParameterValue",
            "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.",
        ),
        (
            {"MetricName": "m", "Values": list(range(151))},
            "InvalidParameterValue",
            "The collection MetricData.member.1.Values must not have a size greater than 150.",
        ),
        (
            {"MetricName": "m", "Value": 2.0**400},
            "InvalidParameterValue",
            f"The value {2.0**400!r} for parameter MetricData.member.1.Value is invalid.",
        ),
        (
            {"MetricName": "m", "Value": 1, "StorageResolution": 5},
            "InvalidParameterValue",
            "The value 5 for parameter MetricData.member.1.StorageResolution is invalid.",
        ),
        (
            {"MetricName": "m", "Value": 1, "Timestamp": datetime.now(UTC) - timedelta(days=15)},
            "InvalidParameterValue",
            "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.",
        ),
        (
            {"MetricName": "m", "Value": 1, "Timestamp": datetime.now(UTC) + timedelta(hours=3)},
            "InvalidParameterValue",
            "The parameter MetricData.member.1.Timestamp must specify a time no more than two hours in the future.",
        ),
        (
            {"MetricName": "m", "Value": 1, "Dimensions": [{"Name": ":bad", "Value": "v"}]},
            "InvalidParameterValue",
            "The value :bad for parameter MetricData.member.1.Dimensions.member.1.Name is invalid.",
        ),
        (
            {
                "MetricName": "m",
                "Value": 1,
                "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)],
            },
            "InvalidParameterValue",
            None,
        ),
        ({"MetricName": "m", "Value": 1, "Unit": "Furlongs"}, "InvalidParameterValue", None),
        ({"Value": 1}, "MissingParameter", None),
    ],
)
def test_put_metric_data_refusals(raw_cw: Any, datum: dict[str, Any], code: str, message: str | None) -> None:
    got_code, status, got_message = error_of(raw_cw.put_metric_data, Namespace="MyApp", MetricData=[datum])
    assert (got_code, status) == (code, 400)
    if message is not None:
        assert got_message == message
    assert raw_cw.list_metrics()["Metrics"] == []


def test_put_metric_data_namespace_and_size_refusals(raw_cw: Any) -> None:
    assert error_of(
        raw_cw.put_metric_data, Namespace="AWS/ECS", MetricData=[{"MetricName": "m", "Value": 1}]
    ) == (
        "InvalidParameterValue",
        400,
        "The value AWS/ECS for parameter Namespace is invalid.",
    )
    assert error_of(
        raw_cw.put_metric_data, Namespace="MyApp", MetricData=[{"MetricName": "m", "Value": 1}] * 1001
    )[0] == ("InvalidParameterValue")
    assert error_of(raw_cw.put_metric_data, MetricData=[{"MetricName": "m", "Value": 1}])[:2] == (
        "MissingParameter",
        400,
    )


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (
            {"Statistics": None},
            "InvalidParameterCombination",
            "Must specify either Statistics or ExtendedStatistics.",
        ),
        (
            {"ExtendedStatistics": ["p99"]},
            "InvalidParameterCombination",
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.",
        ),
        (
            {"Statistics": None, "ExtendedStatistics": ["p200"]},
            "InvalidParameterValue",
            "The value p200 for parameter ExtendedStatistics.member.1 is not supported.",
        ),
        (
            {"Period": 45},
            "InvalidParameterValue",
            "The parameter Period must be a value in the set [ 1, 5, 10, 20, 30 ] or a multiple of 60.",
        ),
        ({"Period": 0}, "InvalidParameterValue", None),
        (
            {"EndTime": minute_ago(10)},
            "InvalidParameterValue",
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
        (
            # Both ends from one reading of the clock: a minute boundary between them would change the count.
            {"StartTime": (_base := minute_ago(0)) - timedelta(minutes=1441), "EndTime": _base},
            "InvalidParameterCombination",
            "You have requested up to 1441 datapoints, which exceeds the limit of 1440. You may reduce the "
            "datapoints requested by increasing Period, or decreasing the time range.",
        ),
        ({"Statistics": ["Median"]}, "InvalidParameterValue", None),
    ],
)
def test_get_metric_statistics_refusals(
    raw_cw: Any, params: dict[str, Any], code: str, message: str | None
) -> None:
    request = {
        "Namespace": "MyApp",
        "MetricName": "m",
        "StartTime": minute_ago(10),
        "EndTime": minute_ago(0),
        "Period": 60,
        "Statistics": ["Sum"],
        **params,
    }
    request = {k: v for k, v in request.items() if v is not None}
    got_code, status, got_message = error_of(raw_cw.get_metric_statistics, **request)
    assert (got_code, status) == (code, 400)
    if message is not None:
        assert got_message == message


def test_get_metric_data_refusals(raw_cw: Any) -> None:
    window = {"StartTime": minute_ago(10), "EndTime": minute_ago(0)}
    stat = {"Metric": {"Namespace": "MyApp", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}
    assert error_of(
        raw_cw.get_metric_data, MetricDataQueries=[{"Id": "Bad", "MetricStat": stat}], **window
    ) == (
        "ValidationError",
        400,
        "The value Bad for parameter MetricDataQueries.member.1.Id is not matching the expected pattern "
        "^[a-z][a-zA-Z0-9_]*$.",
    )
    code, status, message = error_of(
        raw_cw.get_metric_data, MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}], **window
    )
    assert (code, status) == ("ValidationError", 400) and "does not evaluate metric math" in message
    assert (
        error_of(raw_cw.get_metric_data, MetricDataQueries=[{"Id": "a", "MetricStat": stat}] * 2, **window)[0]
        == "ValidationError"
    )
    assert error_of(
        raw_cw.get_metric_data,
        MetricDataQueries=[{"Id": "a", "MetricStat": stat}],
        NextToken="nope",
        **window,
    )[:2] == (
        "InvalidNextToken",
        400,
    )


# ---- paging ----------------------------------------------------------------------------------------------


def test_list_metrics_pages_through_every_metric(cw: Any) -> None:
    for chunk in range(2):
        cw.put_metric_data(
            Namespace="Many",
            MetricData=[
                {
                    "MetricName": "m",
                    "Value": 1,
                    "Dimensions": [{"Name": "i", "Value": f"{chunk * 350 + i:04d}"}],
                }
                for i in range(350)
            ],
        )
    pages = list(cw.get_paginator("list_metrics").paginate(Namespace="Many"))
    assert [len(p["Metrics"]) for p in pages] == [500, 200]
    values = [m["Dimensions"][0]["Value"] for p in pages for m in p["Metrics"]]
    assert values == [f"{i:04d}" for i in range(700)]
    assert len(cw.list_metrics(Dimensions=[{"Name": "i", "Value": "0042"}])["Metrics"]) == 1
    assert cw.list_metrics(Namespace="Many", RecentlyActive="PT3H")["Metrics"][0]["MetricName"] == "m"


def test_get_metric_data_pages_by_max_datapoints(cw: Any) -> None:
    start = minute_ago(6)
    cw.put_metric_data(
        Namespace="MyApp",
        MetricData=[
            {"MetricName": "Hits", "Timestamp": start + timedelta(minutes=i), "Value": float(i)}
            for i in range(6)
        ],
    )
    stat = {"Metric": {"Namespace": "MyApp", "MetricName": "Hits"}, "Period": 60, "Stat": "Sum"}
    pages = list(
        cw.get_paginator("get_metric_data").paginate(
            MetricDataQueries=[
                {"Id": "a", "MetricStat": stat},
                {"Id": "b", "MetricStat": {**stat, "Stat": "SampleCount"}},
            ],
            StartTime=start,
            EndTime=start + timedelta(minutes=6),
            ScanBy="TimestampAscending",
            MaxDatapoints=4,
        )
    )
    assert len(pages) == 3
    values: dict[str, list[float]] = {"a": [], "b": []}
    for p in pages:
        for r in p["MetricDataResults"]:
            values[r["Id"]].extend(r["Values"])
    assert values == {"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0] * 6}
    assert pages[0]["MetricDataResults"][0]["StatusCode"] == "PartialData"


# ---- every protocol --------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_puts_reads_lists_and_refuses(ecsbox_endpoint: str, protocol: str) -> None:
    at = minute_ago(1)
    put = call_over(
        ecsbox_endpoint,
        "PutMetricData",
        {
            "Namespace": "Wire",
            "MetricData": [{"MetricName": protocol, "Timestamp": at, "Values": [1.0, 3.0], "Unit": "Count"}],
        },
        protocol,
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200, put
    stats = call_over(
        ecsbox_endpoint,
        "GetMetricStatistics",
        {
            "Namespace": "Wire",
            "MetricName": protocol,
            "StartTime": at,
            "EndTime": at + timedelta(minutes=1),
            "Period": 60,
            "Statistics": ["Average", "SampleCount"],
        },
        protocol,
    )
    assert [(p["Timestamp"], p["Average"], p["SampleCount"], p["Unit"]) for p in stats["Datapoints"]] == [
        (at, 2.0, 2.0, "Count")
    ]
    listed = call_over(
        ecsbox_endpoint, "ListMetrics", {"Namespace": "Wire", "MetricName": protocol}, protocol
    )
    assert [m["MetricName"] for m in listed["Metrics"]] == [protocol]
    data = call_over(
        ecsbox_endpoint,
        "GetMetricData",
        {
            "MetricDataQueries": [
                {
                    "Id": "q",
                    "MetricStat": {
                        "Metric": {"Namespace": "Wire", "MetricName": protocol},
                        "Period": 60,
                        "Stat": "p50",
                    },
                }
            ],
            "StartTime": at,
            "EndTime": at + timedelta(minutes=1),
        },
        protocol,
    )
    assert data["MetricDataResults"][0]["Values"] == [1.0]
    refused = call_over(
        ecsbox_endpoint,
        "PutMetricData",
        {"Namespace": "AWS/Wire", "MetricData": [{"MetricName": "m", "Value": 1.0}]},
        protocol,
    )
    assert (refused["Error"]["Code"], refused["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidParameterValue",
        400,
    )
    combination = call_over(
        ecsbox_endpoint,
        "GetMetricStatistics",
        {
            "Namespace": "Wire",
            "MetricName": protocol,
            "StartTime": at,
            "EndTime": at + timedelta(minutes=1),
            "Period": 60,
        },
        protocol,
    )
    assert combination["Error"]["Code"] == "InvalidParameterCombination"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_nan_is_invalid_parameter_value(ecsbox_endpoint: str, protocol: str) -> None:
    refused = call_over(
        ecsbox_endpoint,
        "PutMetricData",
        {"Namespace": "Wire", "MetricData": [{"MetricName": "m", "Value": float("nan")}]},
        protocol,
    )
    assert (refused["Error"]["Code"], refused["Error"]["Message"]) == (
        "InvalidParameterValue",
        "The value NaN for parameter MetricData.member.1.Value is invalid.",
    )


def test_nan_over_json_is_invalid_parameter_value(ecsbox_endpoint: str) -> None:
    refused = call_over(
        ecsbox_endpoint,
        "PutMetricData",
        {"Namespace": "Wire", "MetricData": [{"MetricName": "m", "Value": float("nan")}]},
        "json",
    )
    assert refused["Error"]["Code"] == "InvalidParameterValue"


def test_a_large_put_compressed_by_boto3_is_stored(ecsbox_endpoint: str) -> None:
    cw = aws_client("cloudwatch", ecsbox_endpoint, REGION)
    cw.put_metric_data(
        Namespace="Big",
        MetricData=[
            {
                "MetricName": "m",
                "Values": [float(v) for v in range(150)],
                "Dimensions": [{"Name": "i", "Value": str(i)}],
            }
            for i in range(20)
        ],
    )
    assert len(cw.list_metrics(Namespace="Big")["Metrics"]) == 20


# ---- AWS CLI v2 ---------------------------------------------------------------------------------------------


def aws(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    return subprocess.run(
        [AWS_V2, "--endpoint-url", endpoint, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.skipif(not os.path.exists(AWS_V2), reason="AWS CLI v2 is not installed")
def test_aws_cli_puts_lists_and_reads(ecsbox_endpoint: str) -> None:
    at = minute_ago(1)
    put = aws(
        ecsbox_endpoint,
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "Cli",
        "--metric-name",
        "Hits",
        "--value",
        "3",
        "--unit",
        "Count",
        "--dimensions",
        "Service=web",
        "--timestamp",
        at.isoformat(),
    )
    assert put.returncode == 0, put.stderr
    listed = json.loads(aws(ecsbox_endpoint, "cloudwatch", "list-metrics", "--namespace", "Cli").stdout)
    assert listed["Metrics"] == [
        {"Namespace": "Cli", "MetricName": "Hits", "Dimensions": [{"Name": "Service", "Value": "web"}]}
    ]
    stats = aws(
        ecsbox_endpoint,
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "Cli",
        "--metric-name",
        "Hits",
        "--dimensions",
        "Name=Service,Value=web",
        "--start-time",
        at.isoformat(),
        "--end-time",
        (at + timedelta(minutes=1)).isoformat(),
        "--period",
        "60",
        "--statistics",
        "Sum",
    )
    assert stats.returncode == 0, stats.stderr
    [point] = json.loads(stats.stdout)["Datapoints"]
    assert (point["Sum"], point["Unit"]) == (3.0, "Count")
    refused = aws(
        ecsbox_endpoint,
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "AWS/Cli",
        "--metric-name",
        "m",
        "--value",
        "1",
    )
    assert refused.returncode != 0
    assert (
        "(InvalidParameterValue)" in refused.stderr
        and "The value AWS/Cli for parameter Namespace is invalid." in refused.stderr
    )
