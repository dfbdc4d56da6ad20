"""SSM Parameter Store through real clients (boto3 and the AWS CLI) against a live ecsbox."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from tests.contract.aws_clients import aws_client, error_of

REGION = "us-east-1"


@pytest.fixture()
def ssm(ecsbox_endpoint: str) -> Any:
    return aws_client("ssm", ecsbox_endpoint, REGION)


def test_put_get_overwrite_and_versions(ssm: Any) -> None:
    assert ssm.put_parameter(Name="/app/db/password", Value="s3cret", Type="SecureString")["Version"] == 1
    assert ssm.put_parameter(Name="/app/db/password", Value="n3w", Overwrite=True)["Tier"] == "Standard"
    got = ssm.get_parameter(Name="/app/db/password", WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Version"], got["Type"]) == ("n3w", 2, "SecureString")
    assert got["ARN"].endswith(":parameter/app/db/password") and got["LastModifiedDate"].tzinfo is not None
    assert ssm.get_parameter(Name="/app/db/password:1", WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    code, status, _ = error_of(ssm.put_parameter, Name="/app/db/password", Value="x", Type="String")
    assert (code, status) == ("ParameterAlreadyExists", 400)
    assert error_of(ssm.get_parameter, Name="/nope")[:2] == ("ParameterNotFound", 400)
    assert error_of(ssm.get_parameter, Name="/app/db/password:9")[0] == "ParameterVersionNotFound"
    assert error_of(ssm.put_parameter, Name="a/b", Value="x", Type="String")[0] == "ValidationException"
    assert error_of(ssm.put_parameter, Name="/x", Value="x", Type="Bogus")[0] == "ValidationException"


def test_get_parameters_and_by_path_with_a_paginator(ssm: Any) -> None:
    for index in range(15):
        ssm.put_parameter(Name=f"/svc/{index:02d}", Value=str(index), Type="String")
    ssm.put_parameter(Name="/svc/deep/x", Value="deep", Type="String")
    got = ssm.get_parameters(Names=["/svc/00", "/svc/zz"])
    assert [p["Name"] for p in got["Parameters"]] == ["/svc/00"] and got["InvalidParameters"] == ["/svc/zz"]
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/svc", PaginationConfig={"PageSize": 4}
    )
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    assert names == [f"/svc/{index:02d}" for index in range(15)]
    recursive = ssm.get_paginator("get_parameters_by_path").paginate(Path="/svc", Recursive=True)
    assert sum(len(page["Parameters"]) for page in recursive) == 16
    described = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/svc"]}]
    )
    assert sum(len(page["Parameters"]) for page in described) == 16
    deleted = ssm.delete_parameters(Names=["/svc/00", "/svc/none"])
    assert deleted == {**deleted, "DeletedParameters": ["/svc/00"], "InvalidParameters": ["/svc/none"]}
    ssm.delete_parameter(Name="/svc/01")
    assert error_of(ssm.delete_parameter, Name="/svc/01")[0] == "ParameterNotFound"


def test_tags(ssm: Any) -> None:
    ssm.put_parameter(Name="/t", Value="v", Type="String", Tags=[{"Key": "team", "Value": "core"}])
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId="/t", Tags=[{"Key": "env", "Value": "prod"}]
    )
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/t", TagKeys=["team"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t")["TagList"] == [
        {"Key": "env", "Value": "prod"}
    ]
    assert (
        error_of(ssm.list_tags_for_resource, ResourceType="Parameter", ResourceId="/no")[0]
        == "InvalidResourceId"
    )
    code, _, message = error_of(
        ssm.put_parameter, Name="/t", Value="w", Overwrite=True, Tags=[{"Key": "a", "Value": "b"}]
    )
    assert code == "ValidationException" and "tags and overwrite" in message


def test_cli_put_parameter(aws_env: dict[str, str]) -> None:
    def aws(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            ["aws", *args, "--output", "json"], env=aws_env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    assert aws("ssm", "put-parameter", "--name", "/cli/param", "--value", "hello", "--type", "String") == {
        "Version": 1,
        "Tier": "Standard",
    }
    got = aws("ssm", "get-parameter", "--name", "/cli/param")["Parameter"]
    assert got["Value"] == "hello" and got["ARN"].startswith("arn:aws:ssm:ap-northeast-1:")
