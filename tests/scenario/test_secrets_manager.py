"""Secrets Manager, and resolving ECS secrets[].valueFrom, as a user drives them: handlers on a
Store in a temp SQLite file, FakeClock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.scenario.test_secrets_support import ACCOUNT, REGION, Caller, open_caller

from ecsbox.secrets import SecretNotFound, resolve_secret_reference

TOKEN_1 = "11111111-1111-4111-8111-111111111111"
TOKEN_2 = "22222222-2222-4222-8222-222222222222"
DAY = 86400


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Caller]:
    yield from open_caller(tmp_path)


def test_create_and_get_by_name_full_and_partial_arn(box: Caller) -> None:
    created = box.sm(
        "CreateSecret", Name="prod/db", SecretString='{"password":"p1"}', ClientRequestToken=TOKEN_1
    )
    assert re.fullmatch(
        rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-[A-Za-z0-9]{{6}}", created["ARN"]
    )
    assert created == {"ARN": created["ARN"], "Name": "prod/db", "VersionId": TOKEN_1}
    partial = created["ARN"][:-7]
    for secret_id in ("prod/db", created["ARN"], partial):
        got = box.sm("GetSecretValue", SecretId=secret_id)
        assert got == {
            "ARN": created["ARN"],
            "Name": "prod/db",
            "VersionId": TOKEN_1,
            "SecretString": '{"password":"p1"}',
            "VersionStages": ["AWSCURRENT"],
            "CreatedDate": box.clock.now(),
        }
    wrong_suffix = created["ARN"][:-6] + "zzzzzz"
    error = box.sm_fails("GetSecretValue", SecretId=wrong_suffix)
    assert (error.code, error.message) == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    )


def test_create_is_idempotent_per_request_token(box: Caller) -> None:
    first = box.sm("CreateSecret", Name="s", SecretString="v", ClientRequestToken=TOKEN_1)
    assert box.sm("CreateSecret", Name="s", SecretString="v", ClientRequestToken=TOKEN_1) == first
    error = box.sm_fails("CreateSecret", Name="s", SecretString="v", ClientRequestToken=TOKEN_2)
    assert (error.code, error.message) == (
        "ResourceExistsException",
        "The operation failed because the secret s already exists.",
    )
    assert box.sm_fails("CreateSecret", Name="bad name", SecretString="v").code == "InvalidParameterException"
    both = box.sm_fails("CreateSecret", Name="b", SecretString="v", SecretBinary=b"v")
    assert both.code == "InvalidParameterException"


def test_a_secret_without_a_value_has_no_current_version(box: Caller) -> None:
    created = box.sm("CreateSecret", Name="empty")
    assert "VersionId" not in created
    error = box.sm_fails("GetSecretValue", SecretId="empty")
    assert (
        error.message == "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"
    )
    assert "VersionIdsToStages" not in box.sm("DescribeSecret", SecretId="empty")


def test_put_value_moves_current_and_previous(box: Caller) -> None:
    box.sm("CreateSecret", Name="s", SecretString="v1", ClientRequestToken=TOKEN_1)
    box.clock.advance(60)
    put = box.sm("PutSecretValue", SecretId="s", SecretString="v2", ClientRequestToken=TOKEN_2)
    assert (put["VersionId"], put["VersionStages"]) == (TOKEN_2, ["AWSCURRENT"])
    assert box.sm("GetSecretValue", SecretId="s")["SecretString"] == "v2"
    previous = box.sm("GetSecretValue", SecretId="s", VersionStage="AWSPREVIOUS")
    assert (previous["SecretString"], previous["VersionId"]) == ("v1", TOKEN_1)
    assert box.sm("GetSecretValue", SecretId="s", VersionId=TOKEN_1)["VersionStages"] == ["AWSPREVIOUS"]
    assert box.sm("DescribeSecret", SecretId="s")["VersionIdsToStages"] == {
        TOKEN_1: ["AWSPREVIOUS"],
        TOKEN_2: ["AWSCURRENT"],
    }
    assert (
        box.sm("PutSecretValue", SecretId="s", SecretString="v2", ClientRequestToken=TOKEN_2) == put
    )  # retry
    assert box.sm_fails(
        "PutSecretValue", SecretId="s", SecretString="v3", ClientRequestToken=TOKEN_2
    ).code == ("ResourceExistsException")
    v3 = box.sm("PutSecretValue", SecretId="s", SecretString="v3")["VersionId"]
    assert box.sm("DescribeSecret", SecretId="s")["VersionIdsToStages"] == {
        TOKEN_2: ["AWSPREVIOUS"],
        v3: ["AWSCURRENT"],
    }
    pending = box.sm("PutSecretValue", SecretId="s", SecretString="v4", VersionStages=["AWSPENDING"])
    assert box.sm("GetSecretValue", SecretId="s")["SecretString"] == "v3"
    assert (
        box.sm("GetSecretValue", SecretId="s", VersionStage="AWSPENDING")["VersionId"] == pending["VersionId"]
    )
    mismatch = box.sm_fails("GetSecretValue", SecretId="s", VersionId=TOKEN_2, VersionStage="AWSCURRENT")
    assert mismatch.code == "InvalidRequestException"
    assert (
        box.sm_fails("GetSecretValue", SecretId="s", VersionId="9" * 36).code == "ResourceNotFoundException"
    )
    assert box.sm_fails("PutSecretValue", SecretId="s").code == "InvalidRequestException"


def test_binary_secrets(box: Caller) -> None:
    box.sm("CreateSecret", Name="bin", SecretBinary=b"\x00\x01\xff")
    got = box.sm("GetSecretValue", SecretId="bin")
    assert got["SecretBinary"] == b"\x00\x01\xff" and "SecretString" not in got


def test_update_describe_and_list(box: Caller) -> None:
    box.sm(
        "CreateSecret",
        Name="a",
        SecretString="1",
        Description="first",
        Tags=[{"Key": "team", "Value": "core"}],
    )
    box.clock.advance(5)
    updated = box.sm("UpdateSecret", SecretId="a", Description="changed")
    assert "VersionId" not in updated
    with_value = box.sm("UpdateSecret", SecretId="a", SecretString="2", KmsKeyId="alias/mine")
    assert box.sm("GetSecretValue", SecretId="a")["VersionId"] == with_value["VersionId"]
    described = box.sm("DescribeSecret", SecretId="a")
    assert described["Description"] == "changed" and described["KmsKeyId"] == "alias/mine"
    assert described["Tags"] == [{"Key": "team", "Value": "core"}]
    assert described["LastChangedDate"] == box.clock.now() and described["CreatedDate"] == box.clock.now() - 5
    assert described["LastAccessedDate"] == box.clock.now() - box.clock.now() % DAY
    for name in ("b", "c", "d"):
        box.sm("CreateSecret", Name=name, SecretString="x")
    names: list[str] = []
    token = None
    while True:
        page = box.sm("ListSecrets", MaxResults=3, **({"NextToken": token} if token else {}))
        names += [entry["Name"] for entry in page["SecretList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["a", "b", "c", "d"]
    newest_first = box.sm("ListSecrets", SortOrder="desc")["SecretList"]
    assert [entry["Name"] for entry in newest_first] == ["d", "c", "b", "a"]
    tagged = box.sm("ListSecrets", Filters=[{"Key": "tag-key", "Values": ["team"]}])["SecretList"]
    assert [entry["Name"] for entry in tagged] == ["a"]
    assert "SecretVersionsToStages" in tagged[0]
    assert box.sm_fails("ListSecrets", NextToken="nope").code == "InvalidNextTokenException"


def test_delete_restore_and_the_recovery_window(box: Caller) -> None:
    created = box.sm("CreateSecret", Name="d", SecretString="v")
    assert (
        box.sm_fails("DeleteSecret", SecretId="d", RecoveryWindowInDays=3).code == "InvalidParameterException"
    )
    both = box.sm_fails("DeleteSecret", SecretId="d", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert both.code == "InvalidParameterException"
    deleted = box.sm("DeleteSecret", SecretId="d", RecoveryWindowInDays=7)
    assert deleted == {"ARN": created["ARN"], "Name": "d", "DeletionDate": box.clock.now() + 7 * DAY}
    error = box.sm_fails("GetSecretValue", SecretId="d")
    assert (error.code, error.message) == (
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.",
    )
    assert box.sm_fails("PutSecretValue", SecretId="d", SecretString="w").code == "InvalidRequestException"
    assert box.sm("DescribeSecret", SecretId="d")["DeletedDate"] == deleted["DeletionDate"]
    assert box.sm("ListSecrets")["SecretList"] == []
    assert [e["Name"] for e in box.sm("ListSecrets", IncludePlannedDeletion=True)["SecretList"]] == ["d"]
    assert box.sm_fails("CreateSecret", Name="d", SecretString="v").code == "InvalidRequestException"
    assert box.sm("RestoreSecret", SecretId="d") == {"ARN": created["ARN"], "Name": "d"}
    assert box.sm("GetSecretValue", SecretId="d")["SecretString"] == "v"
    box.sm("DeleteSecret", SecretId="d")  # default window: 30 days
    box.clock.advance(30 * DAY - 1)
    assert box.sm("DescribeSecret", SecretId="d")["Name"] == "d"
    box.clock.advance(1)
    assert box.sm_fails("DescribeSecret", SecretId="d").code == "ResourceNotFoundException"
    recreated = box.sm("CreateSecret", Name="d", SecretString="new")
    assert recreated["ARN"] != created["ARN"]


def test_force_delete_is_immediate_and_quiet_about_missing_secrets(box: Caller) -> None:
    box.sm("CreateSecret", Name="f", SecretString="v", Tags=[{"Key": "k", "Value": "v"}])
    assert (
        box.sm("DeleteSecret", SecretId="f", ForceDeleteWithoutRecovery=True)["DeletionDate"]
        == box.clock.now()
    )
    assert box.sm_fails("DescribeSecret", SecretId="f").code == "ResourceNotFoundException"
    assert box.sm("DeleteSecret", SecretId="ghost", ForceDeleteWithoutRecovery=True)["Name"] == "ghost"
    assert box.sm_fails("DeleteSecret", SecretId="ghost").code == "ResourceNotFoundException"
    box.sm("CreateSecret", Name="f", SecretString="v2")
    assert "Tags" not in box.sm("DescribeSecret", SecretId="f")  # tags went with the old secret


def test_tag_and_untag(box: Caller) -> None:
    box.sm("CreateSecret", Name="t", SecretString="v")
    box.sm("TagResource", SecretId="t", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    box.sm("TagResource", SecretId="t", Tags=[{"Key": "a", "Value": "3"}])
    box.sm("UntagResource", SecretId="t", TagKeys=["b"])
    assert box.sm("DescribeSecret", SecretId="t")["Tags"] == [{"Key": "a", "Value": "3"}]
    assert box.sm_fails("TagResource", SecretId="nope", Tags=[]).code == "ResourceNotFoundException"


def test_partitions_are_separate(box: Caller) -> None:
    created = box.sm("CreateSecret", Name="p", SecretString="tokyo")
    other = box.as_(region="us-east-1")
    assert other.sm_fails("GetSecretValue", SecretId="p").code == "ResourceNotFoundException"
    assert other.sm_fails("GetSecretValue", SecretId=created["ARN"]).code == "ResourceNotFoundException"
    other.sm("CreateSecret", Name="p", SecretString="virginia")
    assert box.sm("GetSecretValue", SecretId="p")["SecretString"] == "tokyo"


# ---- ECS secrets[].valueFrom ---------------------------------------------------------------------


def resolve(box: Caller, value_from: str, region: str = REGION) -> str:
    result: str = box.run(
        resolve_secret_reference(box.store, ACCOUNT, region, value_from, now=box.clock.now())
    )
    return result


def unresolved(box: Caller, value_from: str, region: str = REGION) -> str:
    with pytest.raises(SecretNotFound) as caught:
        resolve(box, value_from, region)
    return caught.value.message


def test_resolves_parameters_by_name_and_arn(box: Caller) -> None:
    box.ssm("PutParameter", Name="/app/db/password", Value="pw", Type="SecureString")
    box.ssm("PutParameter", Name="app-param", Value="a,b", Type="StringList")
    box.ssm("PutParameter", Name="/app/db/password", Value="pw2", Overwrite=True)
    assert resolve(box, "/app/db/password") == "pw2"
    assert resolve(box, "/app/db/password:1") == "pw"
    assert resolve(box, "app-param") == "a,b"
    assert resolve(box, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/password") == "pw2"
    assert resolve(box, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app-param") == "a,b"
    assert unresolved(box, "/app/db/nope") == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        "failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
        "invalid ssm parameters: /app/db/nope"
    )
    # a name is looked up in the task's own region; an ARN picks its own
    assert unresolved(box, "/app/db/password", region="us-east-1").endswith(
        "invalid ssm parameters: /app/db/password"
    )
    assert (
        resolve(box, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/password", region="us-east-1") == "pw2"
    )


def test_resolves_secrets_with_json_keys_stages_and_versions(box: Caller) -> None:
    arn = box.sm(
        "CreateSecret",
        Name="db",
        SecretString=json.dumps({"password": "p1", "port": 5432}),
        ClientRequestToken=TOKEN_1,
    )["ARN"]
    box.sm(
        "PutSecretValue",
        SecretId="db",
        SecretString=json.dumps({"password": "p2"}),
        ClientRequestToken=TOKEN_2,
    )
    assert resolve(box, arn) == '{"password": "p2"}'
    assert resolve(box, f"{arn}:password::") == "p2"
    assert resolve(box, f"{arn}:password:AWSPREVIOUS:") == "p1"
    assert resolve(box, f"{arn}:port::{TOKEN_1}") == "5432"
    assert resolve(box, f"{arn[:-7]}:password::") == "p2"  # partial ARN
    assert unresolved(box, f"{arn}:user::").endswith(
        "unable to retrieve secret from asm: service call has been retried 1 time(s): "
        "retrieved secret from Secrets Manager did not contain json key user"
    )
    missing = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:gone-AbCdEf"
    assert unresolved(box, missing) == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        "failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch "
        f"secret {missing} from secrets manager: ResourceNotFoundException: "
        "Secrets Manager can't find the specified secret."
    )
    box.sm("DeleteSecret", SecretId="db")
    assert "marked for deletion" in unresolved(box, f"{arn}:password::")
    other_region = arn.replace(REGION, "us-east-1")
    assert "can't find the specified secret" in unresolved(box, other_region)
