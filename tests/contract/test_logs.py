"""CloudWatch Logs through real clients (boto3, and AWS CLI v2's ``aws logs tail`` where it is
installed) against a live ecsbox: every operation, AWS's error codes and messages, paging tokens,
PutLogEvents' limits and rejectedLogEventsInfo, GetLogEvents' tokens and filter patterns."""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import threading
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from tests.contract.aws_clients import aws_client, error_of

REGION = "eu-west-1"
ACCOUNT = "000000000000"
NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})
AWS_V2 = "/usr/bin/aws"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@pytest.fixture()
def logs(ecsbox_endpoint: str) -> Any:
    return aws_client("logs", ecsbox_endpoint, REGION)


def now_ms() -> int:
    return int(time.time() * 1000)


def group_arn(name: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def put(logs: Any, group: str, stream: str, messages: list[str], start: int | None = None) -> dict[str, Any]:
    base = now_ms() - len(messages) if start is None else start
    return logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(messages)],
    )


def group_names(logs: Any, **params: Any) -> list[str]:
    return [g["logGroupName"] for g in logs.describe_log_groups(**params)["logGroups"]]


# ---- log groups ------------------------------------------------------------------------------------


def test_create_describe_and_delete_log_groups(logs: Any) -> None:
    before = now_ms()
    logs.create_log_group(logGroupName="/ecs/web", tags={"team": "core"})
    logs.create_log_group(logGroupName="/ecs/api", kmsKeyId="alias/logs", logGroupClass="INFREQUENT_ACCESS")
    described = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    assert list(described) == ["/ecs/api", "/ecs/web"]  # ASCII order
    web = described["/ecs/web"]
    assert web["arn"] == group_arn("/ecs/web") + ":*"
    assert web["logGroupArn"] == group_arn("/ecs/web")
    assert before - 5_000 <= web["creationTime"] <= now_ms() + 5_000
    assert (web["storedBytes"], web["metricFilterCount"], web["logGroupClass"]) == (0, 0, "STANDARD")
    assert "retentionInDays" not in web
    assert described["/ecs/api"]["kmsKeyId"] == "alias/logs"
    assert described["/ecs/api"]["logGroupClass"] == "INFREQUENT_ACCESS"

    assert error_of(logs.create_log_group, logGroupName="/ecs/web") == (
        "ResourceAlreadyExistsException",
        400,
        "The specified log group already exists",
    )
    code, status, _ = error_of(logs.create_log_group, logGroupName="aws/mine")
    assert (code, status) == ("InvalidParameterException", 400)
    for bad in ("has space", "x" * 513, ""):
        assert (
            error_of(_unvalidated(logs).create_log_group, logGroupName=bad)[0] == "InvalidParameterException"
        )

    logs.delete_log_group(logGroupName="/ecs/api")
    assert group_names(logs) == ["/ecs/web"]
    assert error_of(logs.delete_log_group, logGroupName="/ecs/api") == (
        "ResourceNotFoundException",
        400,
        "The specified log group does not exist.",
    )


def test_groups_are_per_account_and_region(logs: Any, ecsbox_endpoint: str) -> None:
    logs.create_log_group(logGroupName="shared-name")
    other_region = aws_client("logs", ecsbox_endpoint, "us-west-2")
    assert group_names(other_region) == []
    other_region.create_log_group(logGroupName="shared-name")
    assert group_names(other_region) == ["shared-name"]


def test_describe_log_groups_filters_and_pages(logs: Any) -> None:
    names = [f"/app/{i:02d}" for i in range(7)] + ["/other/DataLogs", "/other/datalogs", "GroupDataLogs"]
    for name in names:
        logs.create_log_group(logGroupName=name)
    assert group_names(logs, logGroupNamePrefix="/app/") == names[:7]
    # logGroupNamePattern: a case-sensitive substring; only arn, creationTime and name come back.
    found = logs.describe_log_groups(logGroupNamePattern="DataLogs")["logGroups"]
    assert [g["logGroupName"] for g in found] == ["/other/DataLogs", "GroupDataLogs"]
    assert set(found[0]) == {"logGroupName", "creationTime", "arn"}
    assert group_names(logs, logGroupIdentifiers=["/app/03", group_arn("/app/05")]) == ["/app/03", "/app/05"]

    pages = list(logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["logGroups"]) for p in pages] == [3, 3, 3, 1]
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == sorted(names)

    code, _, message = error_of(logs.describe_log_groups, logGroupNamePrefix="/a", logGroupNamePattern="b")
    assert code == "InvalidParameterException" and "mutually exclusive" in message
    assert error_of(logs.describe_log_groups, nextToken="garbage")[0] == "InvalidParameterException"
    assert error_of(logs.describe_log_groups, limit=51)[0] == "InvalidParameterException"


def test_retention_policies(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    logs.put_retention_policy(logGroupName="g", retentionInDays=731)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 731
    code, status, message = error_of(logs.put_retention_policy, logGroupName="g", retentionInDays=2)
    assert (code, status) == ("InvalidParameterException", 400)
    assert "Value '2' at 'retentionInDays'" in message and "[1, 3, 5, 7, 14, 30" in message
    logs.delete_retention_policy(logGroupName="g")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    for call, params in (
        (logs.put_retention_policy, {"logGroupName": "nope", "retentionInDays": 1}),
        (logs.delete_retention_policy, {"logGroupName": "nope"}),
    ):
        assert error_of(call, **params)[0] == "ResourceNotFoundException"


def test_deletion_protection(logs: Any) -> None:
    logs.create_log_group(logGroupName="kept", deletionProtectionEnabled=True)
    logs.create_log_stream(logGroupName="kept", logStreamName="s")
    assert logs.describe_log_groups()["logGroups"][0]["deletionProtectionEnabled"] is True
    assert error_of(logs.delete_log_group, logGroupName="kept")[0] == "ValidationException"
    assert (
        error_of(logs.delete_log_stream, logGroupName="kept", logStreamName="s")[0] == "ValidationException"
    )
    logs.put_log_group_deletion_protection(logGroupIdentifier="kept", deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName="kept")


def test_tags_new_and_old_operations(logs: Any) -> None:
    logs.create_log_group(logGroupName="g", tags={"a": "1"})
    arn = group_arn("g")
    logs.tag_resource(resourceArn=arn, tags={"b": "2", "a": "one"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "one", "b": "2"}
    # The model's pattern for resourceArn has no "*": the older ARN form is refused.
    assert error_of(logs.list_tags_for_resource, resourceArn=arn + ":*")[0] == "InvalidParameterException"
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    logs.tag_log_group(logGroupName="g", tags={"c": "3"})
    assert logs.list_tags_log_group(logGroupName="g")["tags"] == {"b": "2", "c": "3"}
    logs.untag_log_group(logGroupName="g", tags=["b"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}

    too_many = {f"k{i}": "v" for i in range(50)}
    assert error_of(logs.tag_resource, resourceArn=arn, tags=too_many)[0] == "TooManyTagsException"
    assert error_of(logs.tag_resource, resourceArn=group_arn("nope"), tags={"a": "b"})[0] == (
        "ResourceNotFoundException"
    )
    assert error_of(logs.list_tags_for_resource, resourceArn="not-an-arn")[0] == "InvalidParameterException"
    assert error_of(logs.list_tags_log_group, logGroupName="nope")[0] == "ResourceNotFoundException"
    # Tags go with the group: a new group of the same name starts without them.
    logs.delete_log_group(logGroupName="g")
    logs.create_log_group(logGroupName="g")
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {}


# ---- log streams -----------------------------------------------------------------------------------


def test_create_describe_and_delete_streams(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    for name in ("web/app/3", "web/app/1", "web/app/2", "other"):
        logs.create_log_stream(logGroupName="g", logStreamName=name)
    base = now_ms() - 10_000
    put(logs, "g", "web/app/2", ["x"], start=base + 100)
    put(logs, "g", "web/app/3", ["x"], start=base + 200)
    put(logs, "g", "web/app/1", ["x", "y"], start=base + 300)

    def names(**params: Any) -> list[str]:
        return [
            s["logStreamName"] for s in logs.describe_log_streams(logGroupName="g", **params)["logStreams"]
        ]

    assert names() == ["other", "web/app/1", "web/app/2", "web/app/3"]
    assert names(descending=True) == ["web/app/3", "web/app/2", "web/app/1", "other"]
    assert names(logStreamNamePrefix="web/") == ["web/app/1", "web/app/2", "web/app/3"]
    assert names(orderBy="LastEventTime") == ["other", "web/app/2", "web/app/3", "web/app/1"]
    assert names(orderBy="LastEventTime", descending=True) == ["web/app/1", "web/app/3", "web/app/2", "other"]
    by_arn = logs.describe_log_streams(logGroupIdentifier=group_arn("g"), logStreamNamePrefix="web/app/1")
    stream = by_arn["logStreams"][0]
    assert stream["arn"] == group_arn("g") + ":log-stream:web/app/1"
    assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"]) == (base + 300, base + 301)
    assert stream["storedBytes"] == 0 and stream["lastIngestionTime"] >= stream["creationTime"]
    assert (
        "firstEventTimestamp"
        not in logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="other")["logStreams"][0]
    )

    assert error_of(
        logs.describe_log_streams, logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="w"
    ) == (
        "InvalidParameterException",
        400,
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
    )
    assert error_of(logs.create_log_stream, logGroupName="g", logStreamName="other") == (
        "ResourceAlreadyExistsException",
        400,
        "The specified log stream already exists",
    )
    assert error_of(logs.create_log_stream, logGroupName="nope", logStreamName="s")[2] == (
        "The specified log group does not exist."
    )
    assert error_of(_unvalidated(logs).create_log_stream, logGroupName="g", logStreamName="a:b")[0] == (
        "InvalidParameterException"
    )
    logs.delete_log_stream(logGroupName="g", logStreamName="web/app/1")
    assert "web/app/1" not in names()
    assert error_of(logs.delete_log_stream, logGroupName="g", logStreamName="web/app/1") == (
        "ResourceNotFoundException",
        400,
        "The specified log stream does not exist.",
    )
    assert logs.filter_log_events(logGroupName="g")["events"] != []
    assert "web/app/1" not in {e["logStreamName"] for e in logs.filter_log_events(logGroupName="g")["events"]}


def test_describe_log_streams_pages_in_both_orders(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    base = now_ms() - 100_000
    for i in range(11):
        logs.create_log_stream(logGroupName="g", logStreamName=f"s{i:02d}")
        put(logs, "g", f"s{i:02d}", ["m"], start=base + (i * 7919) % 11 * 1000)
    paginator = logs.get_paginator("describe_log_streams")
    for params in (
        {},
        {"descending": True},
        {"orderBy": "LastEventTime"},
        {"orderBy": "LastEventTime", "descending": True},
    ):
        pages = list(paginator.paginate(logGroupName="g", PaginationConfig={"PageSize": 4}, **params))
        assert [len(p["logStreams"]) for p in pages] == [4, 4, 3]
        whole = logs.describe_log_streams(logGroupName="g", **params)["logStreams"]
        assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == [
            s["logStreamName"] for s in whole
        ]


# ---- PutLogEvents ------------------------------------------------------------------------------------


def test_put_log_events_answers_and_limits(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    first = put(logs, "g", "s", ["one", "two"])
    assert first["nextSequenceToken"].isdigit() and "rejectedLogEventsInfo" not in first
    # The sequence token is ignored, whatever it is.
    second = logs.put_log_events(
        logGroupName="g",
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": "three"}],
        sequenceToken="not-the-right-one",
    )
    assert second["nextSequenceToken"] != first["nextSequenceToken"]

    assert error_of(
        logs.put_log_events,
        logGroupName="nope",
        logStreamName="s",
        logEvents=[{"timestamp": 1, "message": "x"}],
    ) == (
        "ResourceNotFoundException",
        400,
        "The specified log group does not exist.",
    )
    assert error_of(
        logs.put_log_events,
        logGroupName="g",
        logStreamName="nope",
        logEvents=[{"timestamp": 1, "message": "x"}],
    ) == (
        "ResourceNotFoundException",
        400,
        "The specified log stream does not exist.",
    )
    now = now_ms()
    assert error_of(
        logs.put_log_events,
        logGroupName="g",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
    ) == (
        "InvalidParameterException",
        400,
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    code, _, message = error_of(
        logs.put_log_events,
        logGroupName="g",
        logStreamName="s",
        logEvents=[{"timestamp": now - 25 * HOUR_MS, "message": "a"}, {"timestamp": now, "message": "b"}],
    )
    assert (code, message) == (
        "InvalidParameterException",
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
    )
    big = "x" * (1_048_576 // 2)
    code, _, message = error_of(
        logs.put_log_events,
        logGroupName="g",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": big}, {"timestamp": now, "message": big}],
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Upload too large: 1048628 bytes exceeds limit of 1048576",
    )
    too_many = [{"timestamp": now, "message": "x"}] * 10_001
    assert error_of(
        _unvalidated(logs).put_log_events, logGroupName="g", logStreamName="s", logEvents=too_many
    )[0] == ("InvalidParameterException")
    # Nothing of the refused batches was stored.
    stored = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in stored] == ["one", "two", "three"]


def test_rejected_log_events_info(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = now_ms()
    answer = logs.put_log_events(
        logGroupName="g",
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 15 * DAY_MS, "message": "too old"},
            {"timestamp": now - 1000, "message": "kept 1"},
            {"timestamp": now, "message": "kept 2"},
            {"timestamp": now + 3 * HOUR_MS, "message": "too new"},
        ],
    )
    # End indexes exclusive, the start index inclusive; the 24-hour span counts accepted events only.
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 3}
    logs.put_retention_policy(logGroupName="g", retentionInDays=1)
    answer = logs.put_log_events(
        logGroupName="g",
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 2 * DAY_MS, "message": "expired"},
            {"timestamp": now, "message": "kept 3"},
        ],
    )
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    everything_rejected = logs.put_log_events(
        logGroupName="g",
        logStreamName="s",
        logEvents=[{"timestamp": now + 3 * HOUR_MS, "message": "too new"}],
    )
    assert everything_rejected["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}
    stored = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in stored] == ["kept 1", "kept 2", "kept 3"]
    stored_bytes = logs.describe_log_groups()["logGroups"][0]["storedBytes"]
    assert stored_bytes == len("kept 1kept 2kept 3")


# ---- GetLogEvents ------------------------------------------------------------------------------------


def test_get_log_events_tokens_as_aws_hands_them_out(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    put(logs, "g", "s", [f"line {i:02d}" for i in range(25)])

    # The default: the newest events; tokens are never null.
    tail = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10)
    assert [e["message"] for e in tail["events"]] == [f"line {i:02d}" for i in range(15, 25)]
    assert tail["nextForwardToken"].startswith("f/") and tail["nextBackwardToken"].startswith("b/")

    # Forward from the head until the token repeats, as the SDKs' loops do.
    seen, token = [], None
    while True:
        params: dict[str, Any] = {
            "logGroupName": "g",
            "logStreamName": "s",
            "startFromHead": True,
            "limit": 7,
        }
        if token:
            params["nextToken"] = token
        got = logs.get_log_events(**params)
        seen += [e["message"] for e in got["events"]]
        if got["nextForwardToken"] == token:
            break
        token = got["nextForwardToken"]
    assert seen == [f"line {i:02d}" for i in range(25)]
    put(logs, "g", "s", ["late"])
    assert [
        e["message"]
        for e in logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=token)["events"]
    ] == ["late"]

    # Backward from the tail until the token repeats.
    seen, token = [], None
    while True:
        params = {"logGroupName": "g", "logStreamName": "s", "limit": 10}
        if token:
            params["nextToken"] = token
        got = logs.get_log_events(**params)
        seen = [e["message"] for e in got["events"]] + seen
        if got["nextBackwardToken"] == token:
            break
        token = got["nextBackwardToken"]
    assert seen == [f"line {i:02d}" for i in range(25)] + ["late"]
    assert error_of(logs.get_log_events, logGroupName="g", logStreamName="s", nextToken="f/garbage")[0] == (
        "InvalidParameterException"
    )


def test_get_log_events_through_the_aws_cli_pages_to_the_end(aws_env: dict[str, str], logs: Any) -> None:
    """``aws logs get-log-events`` (v1 in the venv) prints the tokens; a loop on them terminates."""
    logs_here = aws_client("logs", aws_env["AWS_ENDPOINT_URL"], aws_env["AWS_DEFAULT_REGION"])
    logs_here.create_log_group(logGroupName="cli")
    logs_here.create_log_stream(logGroupName="cli", logStreamName="s")
    put(logs_here, "cli", "s", ["a", "b", "c"])
    command = [
        "aws",
        "logs",
        "get-log-events",
        "--log-group-name",
        "cli",
        "--log-stream-name",
        "s",
        "--start-from-head",
    ]
    first = json.loads(
        subprocess.run(command, env=aws_env, capture_output=True, text=True, check=True, timeout=60).stdout
    )
    assert [e["message"] for e in first["events"]] == ["a", "b", "c"]
    again = json.loads(
        subprocess.run(
            [*command, "--next-token", first["nextForwardToken"]],
            env=aws_env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    assert again["events"] == [] and again["nextForwardToken"] == first["nextForwardToken"]


# ---- FilterLogEvents ----------------------------------------------------------------------------------

APP_EVENTS = {
    "web/app/1": [
        '{"level": "ERROR", "latency": 250, "path": "/items"}',
        '{"level": "INFO", "latency": 12, "path": "/items"}',
        "ERROR Exception: disk full",
    ],
    "web/app/2": [
        '{"level": "ERROR", "latency": 80, "path": "/health"}',
        "WARN slow request to /items",
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326',
    ],
    "worker/1": [
        "INFO job done",
        '127.0.0.1 - - [10/Oct/2000:13:56:00 -0700] "GET /index.html HTTP/1.0" 200 1024',
        "ERROR ARGUMENTS missing",
    ],
}


@pytest.fixture()
def app_logs(logs: Any) -> dict[str, int]:
    """The events above, interleaved in time across three streams: message → timestamp."""
    logs.create_log_group(logGroupName="/ecs/app")
    base = now_ms() - 60_000
    stamps: dict[str, int] = {}
    for column, stream in enumerate(APP_EVENTS):
        logs.create_log_stream(logGroupName="/ecs/app", logStreamName=stream)
        events = [
            {"timestamp": base + row * 10 + column, "message": m} for row, m in enumerate(APP_EVENTS[stream])
        ]
        logs.put_log_events(logGroupName="/ecs/app", logStreamName=stream, logEvents=events)
        stamps.update({e["message"]: e["timestamp"] for e in events})
    return stamps


def matching(logs: Any, pattern: str, **params: Any) -> list[str]:
    events = logs.filter_log_events(logGroupName="/ecs/app", filterPattern=pattern, **params)["events"]
    return [e["message"] for e in events]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", 9),
        ("ERROR", ["a1:0", "a2:0", "a1:2", "w:2"]),
        ("ERROR ARGUMENTS", ["w:2"]),
        ("?WARN ?Exception", ["a2:1", "a1:2"]),
        ("ERROR -Exception", ["a1:0", "a2:0", "w:2"]),
        ('"disk full"', ["a1:2"]),
        ('{ $.level = "ERROR" && $.latency > 200 }', ["a1:0"]),
        ('{ $.path = "/items" }', ["a1:0", "a1:1"]),
        ("[ip, id, user, timestamp, request, status_code = 4*, size]", ["a2:2"]),
        ("[ip, id, user, timestamp, request, status_code, size > 1000]", ["a2:2", "w:1"]),
    ],
)
def test_filter_patterns_across_streams(
    logs: Any, app_logs: dict[str, int], pattern: str, expected: Any
) -> None:
    short = {"web/app/1": "a1", "web/app/2": "a2", "worker/1": "w"}
    names = {m: f"{short[s]}:{i}" for s, ms in APP_EVENTS.items() for i, m in enumerate(ms)}
    found = matching(logs, pattern)
    if isinstance(expected, int):
        assert len(found) == expected
    else:
        # In time order across streams: rows interleave, streams in column order within a row.
        assert sorted(found, key=app_logs.__getitem__) == found
        assert [names[m] for m in found] == sorted(expected, key=lambda n: app_logs[_message(n, short)])


def _message(name: str, short: dict[str, str]) -> str:
    prefix, index = name.split(":")
    stream = next(s for s, p in short.items() if p == prefix)
    return APP_EVENTS[stream][int(index)]


def test_filter_log_events_members(logs: Any, app_logs: dict[str, int]) -> None:
    got = logs.filter_log_events(logGroupName="/ecs/app", filterPattern="ERROR", interleaved=False)
    assert got["searchedLogStreams"] == []
    first = got["events"][0]
    assert set(first) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert first["eventId"].isdigit() and len({e["eventId"] for e in got["events"]}) == len(got["events"])
    assert matching(logs, "ERROR", logStreamNames=["worker/1"]) == ["ERROR ARGUMENTS missing"]
    assert len(matching(logs, "ERROR", logStreamNamePrefix="web/")) == 3
    assert matching(logs, "ERROR", logStreamNames=["no-such-stream"]) == []
    stamp = app_logs["WARN slow request to /items"]
    assert matching(logs, "", startTime=stamp, endTime=stamp) == ["WARN slow request to /items"]
    by_arn = logs.filter_log_events(logGroupIdentifier=group_arn("/ecs/app"), filterPattern="WARN")["events"]
    assert [e["message"] for e in by_arn] == ["WARN slow request to /items"]
    newest_first = logs.filter_log_events(
        logGroupName="/ecs/app", startFromHead=False, startTime=now_ms() - HOUR_MS
    )
    assert [e["timestamp"] for e in newest_first["events"]] == sorted(app_logs.values(), reverse=True)

    assert (
        error_of(
            logs.filter_log_events, logGroupName="/ecs/app", logStreamNames=["a"], logStreamNamePrefix="b"
        )[0]
        == "InvalidParameterException"
    )
    assert error_of(logs.filter_log_events, logGroupName="/ecs/app", logGroupIdentifier="/ecs/app")[0] == (
        "InvalidParameterException"
    )
    code, _, message = error_of(logs.filter_log_events, logGroupName="/ecs/app", filterPattern="{ $.level = ")
    assert code == "InvalidParameterException" and message
    assert (
        error_of(logs.filter_log_events, logGroupName="nope")[2] == "The specified log group does not exist."
    )
    assert error_of(logs.filter_log_events, logGroupName="/ecs/app", nextToken="garbage")[0] == (
        "InvalidParameterException"
    )


def test_filter_log_events_pages_with_the_paginator(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    for stream in ("a", "b"):
        logs.create_log_stream(logGroupName="g", logStreamName=stream)
        put(logs, "g", stream, [f"{stream} {i:02d}" for i in range(30)])
    pages = list(
        logs.get_paginator("filter_log_events").paginate(logGroupName="g", PaginationConfig={"PageSize": 7})
    )
    events = [e for p in pages for e in p["events"]]
    assert len(events) == 60 and len(pages) == 9
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert "nextToken" not in pages[-1]


# ---- metric filters -----------------------------------------------------------------------------------


def test_metric_filters(logs: Any) -> None:
    logs.create_log_group(logGroupName="g")
    logs.create_log_group(logGroupName="h")
    errors = [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1", "defaultValue": 0}]
    latency = [
        {
            "metricName": "Latency",
            "metricNamespace": "App",
            "metricValue": "$.latency",
            "unit": "Milliseconds",
            "dimensions": {"Path": "$.path"},
        }
    ]
    logs.put_metric_filter(
        logGroupName="g", filterName="errors", filterPattern="ERROR", metricTransformations=errors
    )
    logs.put_metric_filter(
        logGroupName="g",
        filterName="latency",
        filterPattern="{ $.latency > 0 }",
        metricTransformations=latency,
    )
    logs.put_metric_filter(
        logGroupName="h",
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[{**errors[0], "metricNamespace": "Other"}],
    )
    described = logs.describe_metric_filters(logGroupName="g")["metricFilters"]
    assert [f["filterName"] for f in described] == ["errors", "latency"]
    assert described[1]["metricTransformations"] == latency
    assert described[0]["metricTransformations"] == [{**errors[0], "defaultValue": 0.0}]
    assert described[0]["logGroupName"] == "g" and described[0]["creationTime"] > 0
    assert [
        f["filterName"]
        for f in logs.describe_metric_filters(logGroupName="g", filterNamePrefix="lat")["metricFilters"]
    ] == ["latency"]
    everywhere = logs.describe_metric_filters(metricName="Errors", metricNamespace="App")["metricFilters"]
    assert [(f["logGroupName"], f["filterName"]) for f in everywhere] == [("g", "errors")]
    pages = list(logs.get_paginator("describe_metric_filters").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["metricFilters"]) for p in pages] == [2, 1]
    assert {g["logGroupName"]: g["metricFilterCount"] for g in logs.describe_log_groups()["logGroups"]} == {
        "g": 2,
        "h": 1,
    }

    # Put again replaces.
    logs.put_metric_filter(
        logGroupName="g", filterName="errors", filterPattern="FATAL", metricTransformations=errors
    )
    assert (
        logs.describe_metric_filters(logGroupName="g", filterNamePrefix="err")["metricFilters"][0][
            "filterPattern"
        ]
        == "FATAL"
    )

    assert (
        error_of(
            logs.put_metric_filter,
            logGroupName="g",
            filterName="bad",
            filterPattern="{ $.x = ",
            metricTransformations=errors,
        )[0]
        == "InvalidParameterException"
    )
    assert (
        error_of(
            logs.put_metric_filter,
            logGroupName="g",
            filterName="bad",
            filterPattern="ERROR",
            metricTransformations=[{**errors[0], "metricValue": "lots"}],
        )[0]
        == "InvalidParameterException"
    )
    assert (
        error_of(
            logs.put_metric_filter,
            logGroupName="nope",
            filterName="f",
            filterPattern="",
            metricTransformations=errors,
        )[0]
        == "ResourceNotFoundException"
    )
    assert error_of(logs.describe_metric_filters, metricName="Errors")[0] == "InvalidParameterException"
    assert error_of(logs.describe_metric_filters, logGroupName="nope")[0] == "ResourceNotFoundException"

    logs.delete_metric_filter(logGroupName="g", filterName="errors")
    assert (
        error_of(logs.delete_metric_filter, logGroupName="g", filterName="errors")[0]
        == "ResourceNotFoundException"
    )
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName="g")["metricFilters"]] == [
        "latency"
    ]


def test_test_metric_filter(logs: Any) -> None:
    got = logs.test_metric_filter(
        filterPattern="[ip, id, user, timestamp, request, status_code = 4*, size]",
        logEventMessages=[
            '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326',
            '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
        ],
    )
    assert len(got["matches"]) == 1
    match = got["matches"][0]
    assert match["eventNumber"] == 1
    assert match["extractedValues"]["$status_code"] == "404" and match["extractedValues"]["$size"] == "2326"
    assert logs.test_metric_filter(filterPattern="ERROR", logEventMessages=["ok", "ERROR x"])["matches"] == [
        {"eventNumber": 2, "eventMessage": "ERROR x", "extractedValues": {}}
    ]
    assert error_of(logs.test_metric_filter, filterPattern="{ $.a = ", logEventMessages=["x"])[0] == (
        "InvalidParameterException"
    )


# ---- robustness -------------------------------------------------------------------------------------------


def _unvalidated(logs: Any) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=logs.meta.endpoint_url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=NO_VALIDATION,
    )


def _raw(endpoint: str, target: str, body: bytes) -> tuple[int, bytes]:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {
        "X-Amz-Target": f"Logs_20140328.{target}",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/logs/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00"
        ),
        "X-Amz-Date": "20260101T000000Z",
    }
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_burst_of_malformed_requests_gets_4xx_and_changes_nothing(logs: Any, ecsbox_endpoint: str) -> None:
    logs.create_log_group(logGroupName="keep")
    logs.create_log_stream(logGroupName="keep", logStreamName="s")
    put(logs, "keep", "s", ["kept"])
    before = (logs.describe_log_groups()["logGroups"], logs.filter_log_events(logGroupName="keep")["events"])
    # Every operation but the deletes (a body naming "keep" would rightly delete it).
    operations = [
        "CreateLogGroup", "DescribeLogGroups", "PutRetentionPolicy", "CreateLogStream", "DescribeLogStreams",
        "PutLogEvents", "GetLogEvents", "FilterLogEvents", "PutMetricFilter", "DescribeMetricFilters",
        "TestMetricFilter", "TagResource", "ListTagsForResource",
    ]  # fmt: skip
    bodies = [
        b"{",
        b"[]",
        b'"x"',
        b"\xff\xfe\x00",
        b"1e999999",
        b"{}",
        b'{"logGroupName": 5}',
        b'{"logGroupName": "keep", "logStreamName": "s", "logEvents": [null]}',
        b'{"logGroupName": "keep", "logStreamName": "s", "logEvents": [{"timestamp": "x", "message": "m"}]}',
        b'{"logGroupName": "keep", "logStreamName": "s", "logEvents": [{"timestamp": -1, "message": "m"}]}',
        b'{"logGroupName": "keep", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": ""}]}',
        b'{"logGroupName": "keep", "logStreamName": "s", "nextToken": "f/' + b"9" * 56 + b'"}',
        b'{"logGroupName": "keep", "logStreamName": "s", "nextToken": "b/\\u0000"}',
        b'{"logGroupName": "keep", "nextToken": "eyJzIjoiRmlsdGVyTG9nRXZlbnRzIiwiayI6WzEsMiwzXX0"}',
        b'{"logGroupName": "keep", "filterPattern": "{ $.a = \\"\\ud800\\" }"}',
        b'{"logGroupName": "keep", "logStreamName": "\\ud800"}',
        b'{"logGroupName": "keep", "logStreamNamePrefix": "\\udfff", "orderBy": "LastEventTime"}',
        b'{"logGroupName": "keep", "retentionInDays": 99999999999}',
        b'{"logGroupName": "keep", "limit": 0}',
        b'{"logGroupName": "keep", "startTime": 99999999999999999999}',
        b'{"logGroupIdentifier": "arn:aws:logs:x:1:log-group:keep"}',
        b'{"resourceArn": "arn:aws:logs:eu-west-1:000000000000:destination:d", "tags": {"a": "b"}}',
        b'{"filterPattern": "[a, b", "logEventMessages": ["x"]}',
        b'{"logGroupName": "keep", "filterName": "f", "filterPattern": "x",'
        b' "metricTransformations": [{"metricName": "m", "metricNamespace": "n", "metricValue": "$"}]}',
    ]
    rng = random.Random(11)
    requests = [(op, body) for op in operations for body in bodies]
    requests += [
        (rng.choice(operations), bytes(rng.randrange(256) for _ in range(rng.randrange(1, 48))))
        for _ in range(100)
    ]
    requests += [
        ("DeleteLogGroup", b'{"logGroupName": "\\ud800"}'),
        ("DeleteLogGroup", b'{"logGroupName": "keep!"}'),
        ("DeleteLogStream", b'{"logGroupName": "keep", "logStreamName": "s*"}'),
        ("DeleteLogStream", b'{"logGroupName": "keep"}'),
    ]
    assert len(requests) > 400
    for operation, body in requests:
        status, payload = _raw(ecsbox_endpoint, operation, body)
        if status == 200:
            continue  # a well-formed read, or a body that happens to be valid (e.g. DescribeLogGroups {})
        assert 400 <= status < 500, (operation, body[:80], status, payload)
        assert b"__type" in payload, payload
    after = (logs.describe_log_groups()["logGroups"], logs.filter_log_events(logGroupName="keep")["events"])
    assert [g["logGroupName"] for g in after[0]] == [g["logGroupName"] for g in before[0]]
    assert [e["message"] for e in after[1]] == [e["message"] for e in before[1]]


# ---- aws logs tail (AWS CLI v2) ---------------------------------------------------------------------


def _aws_v2(aws_env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    if (
        not os.path.exists(AWS_V2)
        or b"aws-cli/2" not in subprocess.run([AWS_V2, "--version"], capture_output=True).stdout
    ):
        pytest.skip("AWS CLI v2 is not installed at /usr/bin/aws")
    env = {**aws_env, "AWS_DEFAULT_REGION": REGION}
    return [AWS_V2, "--endpoint-url", aws_env["AWS_ENDPOINT_URL"], "--region", REGION, "--no-cli-pager"], env


def test_aws_logs_tail_prints_the_events(aws_env: dict[str, str], logs: Any) -> None:
    aws, env = _aws_v2(aws_env)
    logs.create_log_group(logGroupName="/ecs/tail")
    for stream in ("a", "b"):
        logs.create_log_stream(logGroupName="/ecs/tail", logStreamName=stream)
    base = now_ms() - 30 * 60_000
    put(logs, "/ecs/tail", "a", ["first from a"], start=base)
    put(logs, "/ecs/tail", "b", ["first from b"], start=base + 1)
    put(logs, "/ecs/tail", "a", ["ERROR from a"], start=base + 2)
    put(logs, "/ecs/tail", "a", ["two hours ago"], start=now_ms() - 2 * HOUR_MS)
    done = subprocess.run(
        [*aws, "logs", "tail", "/ecs/tail", "--since", "1h", "--format", "short"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [line.split(" ", 1)[1] for line in done.stdout.splitlines()]
    assert lines == ["first from a", "first from b", "ERROR from a"]
    detailed = subprocess.run(
        [*aws, "logs", "tail", "/ecs/tail", "--since", "1h", "--filter-pattern", "ERROR"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert detailed.returncode == 0, detailed.stderr
    assert [line.split(" ", 2)[1:] for line in detailed.stdout.splitlines()] == [["a", "ERROR from a"]]


def test_aws_logs_tail_follow_shows_new_events(aws_env: dict[str, str], logs: Any) -> None:
    aws, env = _aws_v2(aws_env)
    logs.create_log_group(logGroupName="/ecs/follow")
    logs.create_log_stream(logGroupName="/ecs/follow", logStreamName="s")
    put(logs, "/ecs/follow", "s", ["already there"])
    follower = subprocess.Popen(
        [*aws, "logs", "tail", "/ecs/follow", "--follow", "--since", "5m", "--format", "short"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.append(line.rstrip("\n").split(" ", 1)[-1])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _wait_for(lambda: lines == ["already there"], 30)
        put(logs, "/ecs/follow", "s", ["new one", "and another"])
        # The CLI polls every 5 seconds: the new events show up once, and the old one never again.
        _wait_for(lambda: lines == ["already there", "new one", "and another"], 30)
        time.sleep(6)
        assert lines == ["already there", "new one", "and another"]
    finally:
        follower.kill()
        follower.wait(timeout=10)


def _wait_for(condition: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_every_operation_is_registered(ecsbox_endpoint: str) -> None:
    implemented = {
        "CreateLogGroup", "DescribeLogGroups", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy",
        "PutLogGroupDeletionProtection", "TagResource", "UntagResource", "ListTagsForResource", "TagLogGroup",
        "UntagLogGroup", "ListTagsLogGroup", "CreateLogStream", "DescribeLogStreams", "DeleteLogStream",
        "PutLogEvents", "GetLogEvents", "FilterLogEvents", "PutMetricFilter", "DescribeMetricFilters",
        "DeleteMetricFilter", "TestMetricFilter",
    }  # fmt: skip
    with urllib.request.urlopen(f"{ecsbox_endpoint}/_ecsbox/health", timeout=10) as response:
        health = json.loads(response.read())
    assert health["services"]["logs"] == {"state": "running", "operations": len(implemented)}
