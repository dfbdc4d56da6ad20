"""Bad input to CloudWatch metrics and alarms, against a live ecsbox: every refusal is a 4xx with the
code the model names, never a 500, never a server traceback, never a state change.

What broke before these tests: text with a lone surrogate (JSON can carry ``"\\ud800"``) reached the
database from the four metric operations; tampered NextTokens (nested past the parser, carrying a
lone surrogate, NaN or a number no database stores) reached the parser or the database;
StateReasonData nested a few hundred deep, or with NaN, or with a lone surrogate escape, passed the
check and broke the alarm's history; the operator endpoint choked on deeply nested JSON.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import LiveServer
from tests.contract.aws_clients import error_of

REGION = "us-east-1"
ACCOUNT = "000000000000"
NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1}, max_pool_connections=32)
TARGET = "GraniteServiceVersion20100801"
AUTH = (
    f"AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/monitoring/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=00"
)
MODEL = botocore.session.get_session().get_service_model("cloudwatch")


@pytest.fixture()
def no_tracebacks(ecsbox_server: LiveServer, ecsbox_endpoint: str) -> Iterator[str]:
    """The endpoint; after the test, the server must have logged no unhandled error."""
    before = len(ecsbox_server.output)
    yield ecsbox_endpoint
    logged = "".join(ecsbox_server.output[before:])
    assert "event=unhandled_error" not in logged and "Traceback" not in logged, logged[-3000:]


@pytest.fixture()
def cw(no_tracebacks: str) -> Any:
    return boto3.client(
        "cloudwatch",
        endpoint_url=no_tracebacks,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=NO_VALIDATION,
    )


def send_json(endpoint: str, operation: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """One JSON 1.0 request as sent (JSON can carry what no SDK would: a lone surrogate escape), and
    what botocore makes of the answer."""
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/",
            body=body,
            headers={
                "X-Amz-Target": f"{TARGET}.{operation}",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": AUTH,
                "X-Amz-Date": "20260101T000000Z",
            },
        )
        response = conn.getresponse()
        answer = {
            "status_code": response.status,
            "headers": dict(response.getheaders()),
            "body": response.read(),
        }
    finally:
        conn.close()
    shape = MODEL.operation_model(operation).output_shape if answer["status_code"] < 300 else None
    parsed: dict[str, Any] = create_parser("json").parse(answer, shape)
    return int(answer["status_code"]), parsed


def as_json(document: Any) -> bytes:
    return json.dumps(document).encode()  # ensure_ascii: "\ud800" travels as its escape


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def put_alarm(cw: Any, name: str = "cpu") -> None:
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="App",
        MetricName="Latency",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )


def tampered(token: str, change: Any) -> str:
    """A NextToken of ours with its key rewritten by ``change`` (ecsbox's tokens are base64 JSON)."""
    document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    document["k"] = change(document["k"])
    text = json.dumps(document)  # allow_nan: NaN and Infinity are written bare
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def forged(scope: str, key_text: str) -> str:
    return base64.urlsafe_b64encode(f'{{"s":"{scope}","k":{key_text}}}'.encode()).decode().rstrip("=")


# ---- lone surrogates ---------------------------------------------------------------------------------------

SURROGATE = "m\ud800"
METRIC_REQUESTS = [
    ("PutMetricData", {"Namespace": "App", "MetricData": [{"MetricName": SURROGATE, "Value": 1.0}]}, "MetricData"),
    (
        "GetMetricStatistics",
        {"Namespace": "App", "MetricName": SURROGATE, "StartTime": 1.7e9, "EndTime": 1.7e9 + 600, "Period": 60,
         "Statistics": ["Average"]},
        "MetricName",
    ),
    (
        "GetMetricData",
        {"StartTime": 1.7e9, "EndTime": 1.7e9 + 600, "MetricDataQueries": [
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": SURROGATE}, "Period": 60,
                                       "Stat": "Sum"}}]},
        "MetricDataQueries",
    ),
    ("ListMetrics", {"Namespace": SURROGATE}, "Namespace"),
    ("ListMetrics", {"MetricName": SURROGATE}, "MetricName"),
]  # fmt: skip


@pytest.mark.parametrize(("operation", "params", "member"), METRIC_REQUESTS)
def test_a_lone_surrogate_is_an_invalid_parameter_value(
    no_tracebacks: str, operation: str, params: dict[str, Any], member: str
) -> None:
    status, parsed = send_json(no_tracebacks, operation, as_json(params))
    assert status == 400, parsed
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    assert parsed["Error"]["Message"] == f"The parameter {member} contains invalid characters."


def test_a_refused_put_stores_nothing(no_tracebacks: str, cw: Any) -> None:
    data = [{"MetricName": "fine", "Value": 1.0}, {"MetricName": SURROGATE, "Value": 2.0}]
    status, _ = send_json(no_tracebacks, "PutMetricData", as_json({"Namespace": "App", "MetricData": data}))
    assert status == 400
    assert cw.list_metrics(Namespace="App")["Metrics"] == []


# ---- tampered NextTokens -------------------------------------------------------------------------------------

DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(
    "key_text", ['["\\ud800"]', DEEP, '["a", NaN]'], ids=["lone surrogate", "deeply nested", "NaN"]
)
def test_forged_describe_alarms_tokens_are_invalid_next_token(cw: Any, key_text: str) -> None:
    put_alarm(cw)
    code, status, message = error_of(cw.describe_alarms, NextToken=forged("DescribeAlarms", key_text))
    assert (code, status, message) == (
        "InvalidNextToken",
        400,
        "The value for parameter NextToken is invalid.",
    )


@pytest.mark.parametrize(
    "key_text",
    ["[NaN, NaN]", "[1700000000, 1e300]", "[1700000000, 99999999999999999999999]", "[-1e308, -9223372036854775809]",
     DEEP],
    ids=["NaN", "float id", "id past 64 bits", "past 64 bits", "deeply nested"],
)  # fmt: skip
def test_forged_alarm_history_tokens_are_invalid_next_token(cw: Any, key_text: str) -> None:
    put_alarm(cw)
    code, status, _ = error_of(
        cw.describe_alarm_history, NextToken=forged("DescribeAlarmHistory/0", key_text)
    )
    assert (code, status) == ("InvalidNextToken", 400)


def test_tampered_alarm_history_tokens_are_invalid_next_token(cw: Any) -> None:
    for name in ("a", "b", "c"):
        put_alarm(cw, name)
    token = cw.describe_alarm_history(MaxRecords=1)["NextToken"]
    assert cw.describe_alarm_history(MaxRecords=1, NextToken=token)["AlarmHistoryItems"]
    for change in (lambda k: [k[0], 1e300], lambda k: [k[0], 2**64], lambda k: [float("nan"), k[1]]):
        code, status, _ = error_of(cw.describe_alarm_history, MaxRecords=1, NextToken=tampered(token, change))
        assert (code, status) == ("InvalidNextToken", 400)


@pytest.mark.parametrize(
    "key_text", ['["App", "m", "\\ud800"]', DEEP], ids=["lone surrogate", "deeply nested"]
)
def test_forged_list_metrics_tokens_are_invalid_parameter_value(cw: Any, key_text: str) -> None:
    code, status, message = error_of(cw.list_metrics, NextToken=forged("ListMetrics", key_text))
    assert (code, status, message) == (
        "InvalidParameterValue",
        400,
        "The value for parameter NextToken is invalid.",
    )


def test_a_tampered_get_metric_data_token_is_invalid_next_token(cw: Any) -> None:
    moment = now().replace(second=0, microsecond=0) - datetime.timedelta(minutes=5)
    cw.put_metric_data(
        Namespace="App",
        MetricData=[
            {"MetricName": "Latency", "Value": float(i), "Timestamp": moment + datetime.timedelta(minutes=i)}
            for i in range(3)
        ],
    )
    request = {
        "MetricDataQueries": [
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Latency"}, "Period": 60,
                                       "Stat": "Sum"}}
        ],
        "StartTime": moment - datetime.timedelta(minutes=1),
        "EndTime": moment + datetime.timedelta(minutes=5),
        "MaxDatapoints": 1,
    }  # fmt: skip
    token = cw.get_metric_data(**request)["NextToken"]
    assert cw.get_metric_data(**request, NextToken=token)["MetricDataResults"][0]["Values"]
    # The same request, resuming "after" a timestamp no double holds, or in a query no database counts.
    for change in (
        lambda k: [k[0], k[1], 10**400],
        lambda k: [k[0], 2**70, k[2]],
        lambda k: [k[0], k[1], "x"],
    ):
        code, status, _ = error_of(cw.get_metric_data, **request, NextToken=tampered(token, change))
        assert (code, status) == ("InvalidNextToken", 400)


# ---- SetAlarmState's StateReasonData ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason_data", "detail"),
    [
        ('"\\ud800"', "it holds a lone surrogate escape, which is no Unicode character"),
        ("[" * 600 + "]" * 600, "it nests deeper than 100 levels"),
        ("[" * 1999 + "]" * 1999, "it nests deeper than 100 levels"),
        ('{"value": NaN}', "NaN is not a JSON value"),
        ('{"value": -Infinity}', "-Infinity is not a JSON value"),
        ('{"value": 1e400}', "the number 1e400 is out of range"),
        ('{"value": ', "Expecting value at line 1 column 11"),
    ],
)
def test_state_reason_data_that_is_not_json_is_invalid_format(cw: Any, reason_data: str, detail: str) -> None:
    put_alarm(cw)
    cw.set_alarm_state(AlarmName="cpu", StateValue="OK", StateReason="calm")
    history_before = cw.describe_alarm_history(AlarmName="cpu")["AlarmHistoryItems"]
    code, status, message = error_of(
        cw.set_alarm_state,
        AlarmName="cpu",
        StateValue="ALARM",
        StateReason="drill",
        StateReasonData=reason_data,
    )
    assert (code, status) == ("InvalidFormat", 400)
    assert message == f"StateReasonData is not valid JSON: {detail}."
    (alarm,) = cw.describe_alarms(AlarmNames=["cpu"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("OK", "calm")
    assert cw.describe_alarm_history(AlarmName="cpu")["AlarmHistoryItems"] == history_before


def test_state_reason_data_nested_100_deep_goes_into_the_history(cw: Any) -> None:
    put_alarm(cw)
    nested = "[" * 100 + "]" * 100
    cw.set_alarm_state(AlarmName="cpu", StateValue="ALARM", StateReason="drill", StateReasonData=nested)
    (alarm,) = cw.describe_alarms(AlarmNames=["cpu"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReasonData"]) == ("ALARM", nested)
    (update,) = cw.describe_alarm_history(AlarmName="cpu", HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert json.loads(update["HistoryData"])["newState"]["stateReasonData"] == json.loads(nested)


# ---- the operator endpoint -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000], ids=["arrays", "objects"])
def test_the_top_endpoint_refuses_deeply_nested_json(no_tracebacks: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{no_tracebacks}/_ecsbox/metrics/top",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert json.loads(refused.value.read()) == {"error": "the body must be a JSON object"}


# ---- concurrency -------------------------------------------------------------------------------------------------


def test_twenty_threads_on_the_same_alarms_and_series(cw: Any) -> None:
    names = ["c1", "c2", "c3"]
    statuses: list[int] = []
    put_samples = [0]
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(15):
            action = rng.choice(["put", "delete", "set", "data", "data"])
            name = rng.choice(names)
            try:
                if action == "put":
                    put_alarm(cw, name)
                elif action == "delete":
                    cw.delete_alarms(AlarmNames=[name])
                elif action == "set":
                    cw.set_alarm_state(
                        AlarmName=name, StateValue=rng.choice(["OK", "ALARM"]), StateReason="race"
                    )
                else:
                    cw.put_metric_data(Namespace="Race", MetricData=[{"MetricName": "m", "Value": 1.0}] * 10)
                    with lock:
                        put_samples[0] += 10
                status = 200
            except ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                assert error.response["Error"]["Code"] == "ResourceNotFound", (
                    error.response
                )  # a deleted alarm
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == 20 * 15 and set(statuses) <= {200, 404}
    (point,) = cw.get_metric_statistics(
        Namespace="Race",
        MetricName="m",
        StartTime=now() - datetime.timedelta(hours=1),
        EndTime=now() + datetime.timedelta(minutes=5),
        Period=3600 * 2,
        Statistics=["SampleCount", "Sum"],
    )["Datapoints"]
    assert point["SampleCount"] == point["Sum"] == put_samples[0]
    for alarm in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]:
        assert alarm["StateValue"] in ("OK", "ALARM", "INSUFFICIENT_DATA")
        history = cw.describe_alarm_history(AlarmName=alarm["AlarmName"])["AlarmHistoryItems"]
        assert history and all(json.loads(item["HistoryData"]) for item in history)


# ---- a property: no input makes a 5xx ----------------------------------------------------------------------------

OPERATIONS = [
    "PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics", "PutMetricAlarm", "DescribeAlarms",
    "DescribeAlarmsForMetric", "DescribeAlarmHistory", "SetAlarmState", "EnableAlarmActions", "DisableAlarmActions",
    "DeleteAlarms", "TagResource", "UntagResource", "ListTagsForResource",
]  # fmt: skip
TEXT = st.one_of(
    st.sampled_from(
        ["", "a", "\ud800", "cpu", "App", "Average", "p99", "TM(10%:90%)", "ALARM", "x" * 300, "[" * 2000,
         '{"a": NaN}', "arn:aws:cloudwatch:us-east-1:000000000000:alarm:cpu", "arn:aws:sns:us-east-1:000000000000:t"]
    ),
    st.text(max_size=20),
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from([0, -1, 60, 2**31 - 1, 2**63, 1e308]),
)
WRONG = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, st.lists(st.integers(), max_size=2))


def values_for(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if depth > 5:
        return st.none()
    if kind == "structure":
        return st.fixed_dictionaries(
            {}, optional={n: values_for(m, depth + 1) for n, m in shape.members.items()}
        )
    if kind == "list":
        return st.lists(values_for(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(TEXT, values_for(shape.value, depth + 1), max_size=2)
    if kind == "string":
        return st.one_of(st.sampled_from(shape.enum), TEXT) if shape.enum else TEXT
    if kind in ("integer", "long", "double", "float"):
        return NUMBERS
    if kind == "timestamp":
        return st.one_of(
            st.floats(min_value=-1e12, max_value=1e12), st.sampled_from([-62135596800, 253402300799])
        )
    if kind == "boolean":
        return st.booleans()
    return TEXT


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    operation = draw(st.sampled_from(OPERATIONS))
    members = MODEL.operation_model(operation).input_shape.members
    optional = {
        name: st.one_of(values_for(member, 1), values_for(member, 1), WRONG)
        for name, member in members.items()
    }
    return operation, draw(st.fixed_dictionaries({}, optional=optional))


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(request=requests())
def test_no_input_makes_a_server_error(no_tracebacks: str, request: tuple[str, dict[str, Any]]) -> None:
    operation, params = request
    status, parsed = send_json(no_tracebacks, operation, json.dumps(params).encode())
    assert status < 500, (operation, params, parsed)
