"""Secrets Manager through real clients (boto3 and the AWS CLI) against a live ecsbox."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
from tests.contract.aws_clients import aws_client, error_of

REGION = "us-east-1"


@pytest.fixture()
def sm(ecsbox_endpoint: str) -> Any:
    return aws_client("secretsmanager", ecsbox_endpoint, REGION)


def test_create_get_put_and_stages(sm: Any) -> None:
    created = sm.create_secret(
        Name="prod/db", SecretString='{"password":"p1"}', Tags=[{"Key": "team", "Value": "core"}]
    )
    assert re.fullmatch(
        r"arn:aws:secretsmanager:us-east-1:\d{12}:secret:prod/db-[A-Za-z0-9]{6}", created["ARN"]
    )
    assert len(created["VersionId"]) == 36  # the SDK's idempotency token became the version id
    got = sm.get_secret_value(SecretId=created["ARN"])
    assert got["SecretString"] == '{"password":"p1"}' and got["VersionStages"] == ["AWSCURRENT"]
    assert got["CreatedDate"].tzinfo is not None
    put = sm.put_secret_value(SecretId="prod/db", SecretString='{"password":"p2"}')
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert (
        sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPREVIOUS")["SecretString"]
        == '{"password":"p1"}'
    )
    described = sm.describe_secret(SecretId=created["ARN"][:-7])
    assert described["VersionIdsToStages"][put["VersionId"]] == ["AWSCURRENT"]
    assert described["Tags"] == [{"Key": "team", "Value": "core"}]
    code, status, message = error_of(sm.create_secret, Name="prod/db", SecretString="x")
    assert (code, status, message) == (
        "ResourceExistsException",
        400,
        "The operation failed because the secret prod/db already exists.",
    )
    assert error_of(sm.get_secret_value, SecretId="nope")[:2] == ("ResourceNotFoundException", 400)
    binary = sm.create_secret(Name="bin", SecretBinary=b"\x00\xff")
    assert sm.get_secret_value(SecretId=binary["ARN"])["SecretBinary"] == b"\x00\xff"


def test_update_list_tags_delete_restore(sm: Any) -> None:
    for name in ("a", "b", "c"):
        sm.create_secret(Name=name, SecretString=name)
    sm.update_secret(SecretId="a", Description="first", SecretString="a2")
    assert sm.get_secret_value(SecretId="a")["SecretString"] == "a2"
    sm.tag_resource(SecretId="b", Tags=[{"Key": "env", "Value": "prod"}])
    sm.untag_resource(SecretId="b", TagKeys=["env"])
    pages = sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 2})
    assert [s["Name"] for page in pages for s in page["SecretList"]] == ["a", "b", "c"]
    deleted = sm.delete_secret(SecretId="c", RecoveryWindowInDays=7)
    assert deleted["DeletionDate"].tzinfo is not None
    code, _, message = error_of(sm.get_secret_value, SecretId="c")
    assert (code, message) == (
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["a", "b"]
    assert len(sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]) == 3
    sm.restore_secret(SecretId="c")
    assert sm.get_secret_value(SecretId="c")["SecretString"] == "c"
    assert error_of(sm.delete_secret, SecretId="c", RecoveryWindowInDays=31)[0] == "InvalidParameterException"
    sm.delete_secret(SecretId="c", ForceDeleteWithoutRecovery=True)
    assert error_of(sm.describe_secret, SecretId="c")[0] == "ResourceNotFoundException"


def test_cli_get_secret_value(aws_env: dict[str, str]) -> None:
    def aws(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            ["aws", *args, "--output", "json"], env=aws_env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    created = aws(
        "secretsmanager", "create-secret", "--name", "cli/secret", "--secret-string", '{"user":"u"}'
    )
    got = aws("secretsmanager", "get-secret-value", "--secret-id", "cli/secret")
    assert got["ARN"] == created["ARN"] and got["SecretString"] == '{"user":"u"}'
    assert got["VersionStages"] == ["AWSCURRENT"] and got["VersionId"] == created["VersionId"]
