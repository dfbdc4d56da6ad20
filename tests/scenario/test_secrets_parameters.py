"""SSM Parameter Store as a user drives it: handlers on a Store in a temp SQLite file, FakeClock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.scenario.test_secrets_support import ACCOUNT, PRINCIPAL, REGION, Caller, open_caller


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Caller]:
    yield from open_caller(tmp_path)


def test_put_get_and_overwrite_count_versions(box: Caller) -> None:
    assert box.ssm("PutParameter", Name="/app/db/host", Value="db.local", Type="String") == {
        "Version": 1,
        "Tier": "Standard",
    }
    box.clock.advance(10)
    assert box.ssm("PutParameter", Name="/app/db/host", Value="db2.local", Overwrite=True)["Version"] == 2
    got = box.ssm("GetParameter", Name="/app/db/host")["Parameter"]
    assert got == {
        "Name": "/app/db/host",
        "Type": "String",
        "Value": "db2.local",
        "Version": 2,
        "LastModifiedDate": box.clock.now(),
        "ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/host",
        "DataType": "text",
    }
    old = box.ssm("GetParameter", Name="/app/db/host:1")["Parameter"]
    assert (old["Value"], old["Version"], old["Selector"]) == ("db.local", 1, ":1")
    error = box.ssm_fails("GetParameter", Name="/app/db/host:7")
    assert error.code == "ParameterVersionNotFound"
    assert (
        error.message
        == "Systems Manager could not find version 7 of /app/db/host. Verify the version and try again."
    )


def test_put_without_overwrite_refuses_an_existing_name(box: Caller) -> None:
    box.ssm("PutParameter", Name="/app-param", Value="a", Type="String")
    for name in ("/app-param", "app-param"):  # at the top level, one parameter either way
        error = box.ssm_fails("PutParameter", Name=name, Value="b", Type="String")
        assert error.code == "ParameterAlreadyExists"
    assert box.ssm("GetParameter", Name="app-param")["Parameter"]["Name"] == "/app-param"


def test_create_rules(box: Caller) -> None:
    assert box.ssm_fails("PutParameter", Name="/x", Value="v").message == (
        "A parameter type is required when you create a parameter."
    )
    assert box.ssm_fails("PutParameter", Name="x/y", Value="v", Type="String").code == "ValidationException"
    too_long = box.ssm_fails("PutParameter", Name="/big", Value="v" * 4097, Type="String")
    assert too_long.code == "ValidationException" and too_long.message.startswith(
        "Standard tier parameters support a maximum parameter value of 4096 characters."
    )
    assert box.ssm("PutParameter", Name="/big", Value="v" * 4096, Type="String")["Version"] == 1
    assert box.ssm("PutParameter", Name="/bigger", Value="v" * 5000, Type="String", Tier="Advanced")[
        "Tier"
    ] == ("Advanced")
    assert (
        box.ssm("PutParameter", Name="/auto", Value="v" * 5000, Type="String", Tier="Intelligent-Tiering")[
            "Tier"
        ]
        == "Advanced"
    )
    box.ssm("PutParameter", Name="/p", Value="v", Type="String", Tags=[{"Key": "a", "Value": "1"}])
    error = box.ssm_fails(
        "PutParameter", Name="/p", Value="w", Overwrite=True, Tags=[{"Key": "a", "Value": "1"}]
    )
    assert (
        error.code == "ValidationException" and "tags and overwrite can't be used together" in error.message
    )
    mismatch = box.ssm_fails("PutParameter", Name="/n", Value="abc", Type="String", AllowedPattern=r"^\d+$")
    assert mismatch.code == "ParameterPatternMismatchException"
    unsupported = box.ssm_fails(
        "PutParameter", Name="/img", Value="ami-1", Type="String", DataType="aws:ec2:image"
    )
    assert unsupported.code == "ValidationException" and "ecsbox" in unsupported.message
    assert box.ssm("DescribeParameters")["Parameters"][0]["Name"] == "/auto"  # failed puts stored nothing


def test_secure_string_keeps_its_key_and_returns_the_stored_value(box: Caller) -> None:
    box.ssm("PutParameter", Name="/app/db/password", Value="s3cret", Type="SecureString", Description="db")
    for decrypt in (True, False):  # ecsbox has no KMS: the value is returned as stored
        assert box.ssm("GetParameter", Name="/app/db/password", WithDecryption=decrypt)["Parameter"][
            "Value"
        ] == ("s3cret")
    meta = box.ssm("DescribeParameters")["Parameters"][0]
    assert meta["KeyId"] == "alias/aws/ssm" and meta["Description"] == "db"
    assert meta["LastModifiedUser"] == PRINCIPAL and meta["Policies"] == []
    box.ssm("PutParameter", Name="/app/db/password", Value="n3w", Overwrite=True)
    meta = box.ssm("DescribeParameters")["Parameters"][0]
    assert (meta["Type"], meta["Version"], meta["Description"]) == ("SecureString", 2, "db")


def test_get_parameters_lists_the_missing_ones(box: Caller) -> None:
    box.ssm("PutParameter", Name="/a", Value="1", Type="String")
    box.ssm("PutParameter", Name="b", Value="2", Type="StringList")
    got = box.ssm(
        "GetParameters", Names=["/a", "/missing", "b", "/a:9", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/a"]
    )
    assert [p["Value"] for p in got["Parameters"]] == ["1", "2", "1"]
    assert got["InvalidParameters"] == ["/missing", "/a:9"]
    error = box.ssm_fails("GetParameter", Name="/missing")
    assert (error.code, error.message) == ("ParameterNotFound", "")


def test_get_parameters_by_path_one_level_recursive_and_paged(box: Caller) -> None:
    for name in ("/app/a", "/app/b", "/app/db/user", "/app/db/password", "/application/x", "/other"):
        box.ssm("PutParameter", Name=name, Value=name, Type="String")
    one_level = box.ssm("GetParametersByPath", Path="/app")["Parameters"]
    assert [p["Name"] for p in one_level] == ["/app/a", "/app/b"]
    names: list[str] = []
    token = None
    while True:
        page = box.ssm(
            "GetParametersByPath",
            Path="/app/",
            Recursive=True,
            MaxResults=3,
            **({"NextToken": token} if token else {}),
        )
        names += [p["Name"] for p in page["Parameters"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["/app/a", "/app/b", "/app/db/password", "/app/db/user"]
    assert [p["Name"] for p in box.ssm("GetParametersByPath", Path="/")["Parameters"]] == ["/other"]
    typed = box.ssm(
        "GetParametersByPath",
        Path="/app",
        Recursive=True,
        ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}],
    )
    assert typed["Parameters"] == []
    assert box.ssm_fails("GetParametersByPath", Path="/app", NextToken="bogus").code == "InvalidNextToken"
    assert box.ssm_fails("GetParametersByPath", Path="app").code == "ValidationException"


def test_describe_parameters_filters_and_pages(box: Caller) -> None:
    for index in range(12):
        box.ssm(
            "PutParameter",
            Name=f"/svc/p{index:02d}",
            Value="v",
            Type="String" if index % 2 else "SecureString",
        )
    first = box.ssm("DescribeParameters")
    assert len(first["Parameters"]) == 10 and "NextToken" in first
    rest = box.ssm("DescribeParameters", NextToken=first["NextToken"])
    assert [p["Name"] for p in rest["Parameters"]] == ["/svc/p10", "/svc/p11"] and "NextToken" not in rest
    secure = box.ssm(
        "DescribeParameters", ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}], MaxResults=50
    )
    assert len(secure["Parameters"]) == 6
    legacy = box.ssm("DescribeParameters", Filters=[{"Key": "Name", "Values": ["/svc/p0"]}], MaxResults=50)
    assert len(legacy["Parameters"]) == 10
    error = box.ssm_fails(
        "DescribeParameters",
        Filters=[{"Key": "Type", "Values": ["String"]}],
        ParameterFilters=[{"Key": "Type", "Values": ["String"]}],
    )
    assert error.message == "You can use either Filters or ParameterFilters in a single request."


def test_delete_and_tags(box: Caller) -> None:
    box.ssm("PutParameter", Name="/t", Value="v", Type="String", Tags=[{"Key": "team", "Value": "core"}])
    box.ssm(
        "AddTagsToResource", ResourceType="Parameter", ResourceId="/t", Tags=[{"Key": "env", "Value": "prod"}]
    )
    box.ssm(
        "AddTagsToResource", ResourceType="Parameter", ResourceId="t", Tags=[{"Key": "team", "Value": "ops"}]
    )
    assert box.ssm("ListTagsForResource", ResourceType="Parameter", ResourceId="/t")["TagList"] == [
        {"Key": "team", "Value": "ops"},
        {"Key": "env", "Value": "prod"},
    ]
    tagged = box.ssm("DescribeParameters", ParameterFilters=[{"Key": "tag:env", "Values": ["prod"]}])
    assert [p["Name"] for p in tagged["Parameters"]] == ["/t"]
    box.ssm("RemoveTagsFromResource", ResourceType="Parameter", ResourceId="/t", TagKeys=["team"])
    assert box.ssm("ListTagsForResource", ResourceType="Parameter", ResourceId="/t")["TagList"] == [
        {"Key": "env", "Value": "prod"}
    ]
    box.ssm("DeleteParameter", Name="/t")
    assert box.ssm_fails("DeleteParameter", Name="/t").code == "ParameterNotFound"
    assert (
        box.ssm_fails("ListTagsForResource", ResourceType="Parameter", ResourceId="/t").code
        == "InvalidResourceId"
    )
    box.ssm("PutParameter", Name="/t", Value="again", Type="String")  # recreated: version 1, no old tags
    assert box.ssm("GetParameter", Name="/t")["Parameter"]["Version"] == 1
    assert box.ssm("ListTagsForResource", ResourceType="Parameter", ResourceId="/t")["TagList"] == []
    assert box.ssm("DeleteParameters", Names=["/t", "/nope"]) == {
        "DeletedParameters": ["/t"],
        "InvalidParameters": ["/nope"],
    }


def test_only_the_last_hundred_versions_are_kept(box: Caller) -> None:
    box.ssm("PutParameter", Name="/v", Value="0", Type="String")
    for index in range(1, 101):
        box.ssm("PutParameter", Name="/v", Value=str(index), Overwrite=True)
    assert box.ssm("GetParameter", Name="/v")["Parameter"]["Version"] == 101
    assert box.ssm_fails("GetParameter", Name="/v:1").code == "ParameterVersionNotFound"
    assert box.ssm("GetParameter", Name="/v:2")["Parameter"]["Value"] == "1"


def test_partitions_are_separate(box: Caller) -> None:
    box.ssm("PutParameter", Name="/p", Value="tokyo", Type="String")
    other_region = box.as_(region="us-east-1")
    assert other_region.ssm_fails("GetParameter", Name="/p").code == "ParameterNotFound"
    other_region.ssm("PutParameter", Name="/p", Value="virginia", Type="String")
    assert box.ssm("GetParameter", Name="/p")["Parameter"]["Value"] == "tokyo"
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/p"
    assert other_region.ssm_fails("GetParameter", Name=arn).code == "ParameterNotFound"
    assert box.as_(account="999999999999").ssm("DescribeParameters")["Parameters"] == []


def test_state_survives_a_restart(tmp_path: Path) -> None:
    for box in open_caller(tmp_path):
        box.ssm("PutParameter", Name="/durable", Value="yes", Type="SecureString")
    for box in open_caller(tmp_path):
        assert box.ssm("GetParameter", Name="/durable", WithDecryption=True)["Parameter"]["Value"] == "yes"
