"""ECR repositories, policies, settings, tags and authorization tokens through real clients (boto3
and the AWS CLI) against a live ecsbox."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from tests.conftest import LiveServer, start_server
from tests.contract.aws_clients import aws_client, error_of

from ecsbox.ecr.tokens import verify_basic

REGION = "us-east-1"  # with the default account: the server's default partition
ACCOUNT = "000000000000"
OTHER_ACCOUNT = "111111111111"
NO_VALIDATION = Config(parameter_validation=False, retries={"max_attempts": 1})
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "pull", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}],
    }
)


@pytest.fixture()
def ecr(ecsbox_endpoint: str) -> Any:
    return aws_client("ecr", ecsbox_endpoint, REGION)


@pytest.fixture()
def port(ecsbox_endpoint: str) -> int:
    found = urlsplit(ecsbox_endpoint).port
    assert found is not None
    return found


def database(server: LiveServer) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(server.data_dir / "ecsbox.db", timeout=10))


def token_secret(server: LiveServer) -> bytes:
    with database(server) as conn:
        row = conn.execute("SELECT value FROM ecsbox_meta WHERE key = 'ecr_token_secret'").fetchone()
    return bytes.fromhex(row[0])


def names(ecr: Any, **params: Any) -> list[str]:
    return [r["repositoryName"] for r in ecr.describe_repositories(**params)["repositories"]]


def test_create_describe_delete(ecr: Any, port: int) -> None:
    created = ecr.create_repository(
        repositoryName="team/web",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        tags=[{"Key": "team", "Value": "core"}],
    )["repository"]
    assert created["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/web"
    assert created["registryId"] == ACCOUNT
    assert created["repositoryUri"] == f"localhost:{port}/team/web"
    assert abs(created["createdAt"].timestamp() - time.time()) < 60
    assert created["imageTagMutability"] == "IMMUTABLE"
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}
    api = ecr.create_repository(repositoryName="api")["repository"]
    assert (api["imageTagMutability"], api["imageScanningConfiguration"]) == (
        "MUTABLE",
        {"scanOnPush": False},
    )
    assert error_of(ecr.create_repository, repositoryName="api") == (
        "RepositoryAlreadyExistsException",
        400,
        f"The repository with name 'api' already exists in the registry with id '{ACCOUNT}'",
    )

    assert names(ecr) == ["api", "team/web"]
    described = ecr.describe_repositories(repositoryNames=["team/web"])["repositories"]
    assert described == [created]
    assert error_of(ecr.describe_repositories, repositoryNames=["api", "nope"]) == (
        "RepositoryNotFoundException",
        400,
        f"The repository with name 'nope' does not exist in the registry with id '{ACCOUNT}'",
    )

    deleted = ecr.delete_repository(repositoryName="api")["repository"]
    assert deleted == api
    assert names(ecr) == ["team/web"]
    assert error_of(ecr.delete_repository, repositoryName="api")[:2] == ("RepositoryNotFoundException", 400)
    # A name can be used again once deleted.
    assert ecr.create_repository(repositoryName="api")["repository"]["repositoryUri"] == api["repositoryUri"]


def test_paging_in_name_order(ecr: Any) -> None:
    for name in ("r3", "r0", "r4", "r1", "r2"):
        ecr.create_repository(repositoryName=name)
    first = ecr.describe_repositories(maxResults=2)
    assert [r["repositoryName"] for r in first["repositories"]] == ["r0", "r1"]
    second = ecr.describe_repositories(maxResults=2, nextToken=first["nextToken"])
    assert [r["repositoryName"] for r in second["repositories"]] == ["r2", "r3"]
    pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 2}))
    assert [[r["repositoryName"] for r in page["repositories"]] for page in pages] == [
        ["r0", "r1"],
        ["r2", "r3"],
        ["r4"],
    ]
    assert "nextToken" not in pages[-1]
    assert error_of(ecr.describe_repositories, nextToken="garbage")[:2] == ("InvalidParameterException", 400)
    assert error_of(ecr.describe_repositories, repositoryNames=["r0"], maxResults=1)[:2] == (
        "InvalidParameterException",
        400,
    )


def _add_image(server: LiveServer, repository: str) -> None:
    """An image in ``repository`` as the registry records a push: rows in every table a repository
    holds (the image operations are tested on their own)."""
    digest = "sha256:" + "ab" * 32
    key = (ACCOUNT, REGION, repository)
    with database(server) as conn, conn:
        conn.execute(
            "INSERT INTO ecr_images (account_id, region, repository, digest, media_type, manifest, "
            "size_bytes, pushed_at, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, digest, "application/vnd.oci.image.manifest.v1+json", b"{}", 2, time.time(), "{}"),
        )
        conn.execute(
            "INSERT INTO ecr_tags (account_id, region, repository, tag, digest, tagged_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (*key, "v1", digest, time.time()),
        )
        conn.execute(
            "INSERT INTO ecr_references (account_id, region, repository, digest, target, kind) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (*key, digest, "sha256:" + "cd" * 32, "blob"),
        )
        conn.execute(
            "INSERT INTO ecr_repository_blobs (account_id, region, repository, digest, size_bytes, linked_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (*key, "sha256:" + "cd" * 32, 2, time.time()),
        )


def _rows_held(server: LiveServer, repository: str) -> dict[str, int]:
    tables = ("ecr_images", "ecr_tags", "ecr_references", "ecr_repository_blobs", "ecr_lifecycle_previews")
    with database(server) as conn:
        return {
            table: conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE account_id = ? AND region = ? AND repository = ?",
                (ACCOUNT, REGION, repository),
            ).fetchone()[0]
            for table in tables
        }


def test_delete_refuses_a_repository_with_images_unless_forced(ecr: Any, ecsbox_server: LiveServer) -> None:
    arn = ecr.create_repository(repositoryName="full", tags=[{"Key": "k", "Value": "v"}])["repository"][
        "repositoryArn"
    ]
    ecr.create_repository(repositoryName="full-neighbour")
    _add_image(ecsbox_server, "full")
    _add_image(ecsbox_server, "full-neighbour")
    assert error_of(ecr.delete_repository, repositoryName="full") == (
        "RepositoryNotEmptyException",
        400,
        f"The repository with name 'full' in registry with id '{ACCOUNT}' cannot be deleted because "
        "it still contains images",
    )
    assert names(ecr) == ["full", "full-neighbour"]
    assert ecr.delete_repository(repositoryName="full", force=True)["repository"]["repositoryArn"] == arn
    assert names(ecr) == ["full-neighbour"]
    assert set(_rows_held(ecsbox_server, "full").values()) == {0}
    assert _rows_held(ecsbox_server, "full-neighbour")["ecr_images"] == 1
    with database(ecsbox_server) as conn:
        assert conn.execute("SELECT COUNT(*) FROM tags WHERE resource_arn = ?", (arn,)).fetchone()[0] == 0
    # Recreated, the name starts empty: no images, no tags, no policy.
    recreated = ecr.create_repository(repositoryName="full")["repository"]
    assert ecr.list_tags_for_resource(resourceArn=recreated["repositoryArn"])["tags"] == []
    ecr.delete_repository(repositoryName="full")


def test_repository_policy(ecr: Any) -> None:
    ecr.create_repository(repositoryName="web")
    not_found = (
        "RepositoryPolicyNotFoundException",
        400,
        f"Repository policy does not exist for the repository with name 'web' in the registry with id '{ACCOUNT}'",
    )
    assert error_of(ecr.get_repository_policy, repositoryName="web") == not_found
    assert error_of(ecr.delete_repository_policy, repositoryName="web") == not_found
    for bad in ("not json", '{"Version": "2012-10-17"}', "[]"):
        code, status, message = error_of(ecr.set_repository_policy, repositoryName="web", policyText=bad)
        assert (code, status) == ("InvalidParameterException", 400)
        assert "Invalid repository policy provided" in message
    assert error_of(ecr.get_repository_policy, repositoryName="web")[0] == "RepositoryPolicyNotFoundException"
    set_ = ecr.set_repository_policy(repositoryName="web", policyText=POLICY)
    assert (set_["registryId"], set_["repositoryName"], set_["policyText"]) == (ACCOUNT, "web", POLICY)
    assert ecr.get_repository_policy(repositoryName="web")["policyText"] == POLICY
    assert ecr.delete_repository_policy(repositoryName="web")["policyText"] == POLICY
    assert error_of(ecr.get_repository_policy, repositoryName="web") == not_found
    assert error_of(ecr.set_repository_policy, repositoryName="nope", policyText=POLICY)[0] == (
        "RepositoryNotFoundException"
    )


def test_tag_mutability_and_scanning(ecr: Any) -> None:
    ecr.create_repository(repositoryName="web")
    put = ecr.put_image_tag_mutability(repositoryName="web", imageTagMutability="IMMUTABLE")
    assert (put["registryId"], put["repositoryName"], put["imageTagMutability"]) == (
        ACCOUNT,
        "web",
        "IMMUTABLE",
    )
    filters = [{"filterType": "WILDCARD", "filter": "latest*"}]
    put = ecr.put_image_tag_mutability(
        repositoryName="web",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=filters,
    )
    assert put["imageTagMutabilityExclusionFilters"] == filters
    code, status, _ = error_of(
        ecr.put_image_tag_mutability, repositoryName="web", imageTagMutability="MUTABLE_WITH_EXCLUSION"
    )
    assert (code, status) == ("InvalidParameterException", 400)
    (described,) = ecr.describe_repositories(repositoryNames=["web"])["repositories"]
    assert described["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert described["imageTagMutabilityExclusionFilters"] == filters
    ecr.put_image_tag_mutability(repositoryName="web", imageTagMutability="MUTABLE")
    (described,) = ecr.describe_repositories(repositoryNames=["web"])["repositories"]
    assert described["imageTagMutability"] == "MUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in described

    scanned = ecr.put_image_scanning_configuration(
        repositoryName="web", imageScanningConfiguration={"scanOnPush": True}
    )
    assert scanned["imageScanningConfiguration"] == {"scanOnPush": True}
    (described,) = ecr.describe_repositories(repositoryNames=["web"])["repositories"]
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    assert error_of(
        ecr.put_image_scanning_configuration,
        repositoryName="nope",
        imageScanningConfiguration={"scanOnPush": True},
    )[0] == ("RepositoryNotFoundException")


def test_resource_tags(ecr: Any) -> None:
    arn = ecr.create_repository(repositoryName="web", tags=[{"Key": "a", "Value": "1"}])["repository"][
        "repositoryArn"
    ]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "one"}])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "a", "Value": "one"},
        {"Key": "b", "Value": "2"},
    ]
    ecr.untag_resource(resourceArn=arn, tagKeys=["a", "absent"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "b", "Value": "2"}]

    for bad_arn in ("invalid", "arn:aws:ecs:us-east-1:000000000000:cluster/web"):
        assert error_of(ecr.list_tags_for_resource, resourceArn=bad_arn) == (
            "InvalidParameterException",
            400,
            "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'",
        )
        assert error_of(ecr.tag_resource, resourceArn=bad_arn, tags=[])[0] == "InvalidParameterException"
    missing = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/nope"
    for call, params in (
        (ecr.list_tags_for_resource, {}),
        (ecr.tag_resource, {"tags": [{"Key": "k", "Value": "v"}]}),
        (ecr.untag_resource, {"tagKeys": ["k"]}),
    ):
        assert error_of(call, resourceArn=missing, **params)[:2] == ("RepositoryNotFoundException", 400)

    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]  # with "b": 51
    assert error_of(ecr.tag_resource, resourceArn=arn, tags=too_many)[:2] == ("TooManyTagsException", 400)
    assert error_of(ecr.tag_resource, resourceArn=arn, tags=[{"Key": "k" * 129, "Value": "v"}])[:2] == (
        "InvalidTagParameterException",
        400,
    )
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "b", "Value": "2"}]
    ecr.tag_resource(resourceArn=arn, tags=too_many[:49])  # exactly 50
    assert len(ecr.list_tags_for_resource(resourceArn=arn)["tags"]) == 50
    assert error_of(
        ecr.create_repository, repositoryName="many", tags=[*too_many, {"Key": "x", "Value": "y"}]
    )[0] == ("TooManyTagsException")
    assert names(ecr) == ["web"]


def test_registry_and_authorization_token(ecr: Any, port: int, ecsbox_server: LiveServer) -> None:
    assert ecr.describe_registry()["registryId"] == ACCOUNT
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": []}
    before = time.time()
    (data,) = ecr.get_authorization_token()["authorizationData"]
    assert data["proxyEndpoint"] == f"http://localhost:{port}"
    assert abs(data["expiresAt"].timestamp() - (before + 12 * 3600)) < 60
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password
    secret = token_secret(ecsbox_server)
    assert verify_basic(secret, "Basic " + data["authorizationToken"], time.time()) == (ACCOUNT, REGION)

    both = ecr.get_authorization_token(registryIds=[OTHER_ACCOUNT, ACCOUNT])["authorizationData"]
    assert [verify_basic(secret, "Basic " + d["authorizationToken"], time.time()) for d in both] == [
        (OTHER_ACCOUNT, REGION),
        (ACCOUNT, REGION),
    ]
    assert re.fullmatch(rf"http://127\.1\.\d+\.\d+:{port}", both[0]["proxyEndpoint"])
    # The other account's repositories live at the address its token was issued for.
    other = ecr.create_repository(registryId=OTHER_ACCOUNT, repositoryName="web")["repository"]
    assert other["repositoryUri"] == both[0]["proxyEndpoint"].removeprefix("http://") + "/web"
    assert other["repositoryArn"] == f"arn:aws:ecr:{REGION}:{OTHER_ACCOUNT}:repository/web"
    assert names(ecr) == []
    assert names(ecr, registryId=OTHER_ACCOUNT) == ["web"]


def test_each_partition_has_its_own_registry_address(ecsbox_endpoint: str, port: int) -> None:
    home = aws_client("ecr", ecsbox_endpoint, REGION)
    away = aws_client("ecr", ecsbox_endpoint, "eu-west-1")
    home_uri = home.create_repository(repositoryName="web")["repository"]["repositoryUri"]
    away_repo = away.create_repository(repositoryName="web")["repository"]
    assert home_uri == f"localhost:{port}/web"
    match = re.fullmatch(rf"(127\.1\.\d+\.\d+:{port})/web", away_repo["repositoryUri"])
    assert match, away_repo["repositoryUri"]
    assert away_repo["repositoryArn"] == f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/web"
    (token,) = away.get_authorization_token()["authorizationData"]
    assert token["proxyEndpoint"] == f"http://{match.group(1)}"
    assert names(away) == ["web"] and names(home) == ["web"]
    away.delete_repository(repositoryName="web")
    assert names(away) == [] and names(home) == ["web"]
    # The address stays the partition's (kept in the store), even with no repository left.
    assert away.create_repository(repositoryName="again")["repository"]["repositoryUri"].startswith(
        match.group(1) + "/"
    )


def test_aws_cli(aws_env: dict[str, str], ecsbox_server: LiveServer) -> None:
    def aws(*args: str) -> str:
        done = subprocess.run(["aws", *args], env=aws_env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    password = aws("ecr", "get-login-password")
    assert password.endswith("\n") and password.count("\n") == 1  # the password, and only it
    header = "Basic " + base64.b64encode(f"AWS:{password.strip()}".encode()).decode()
    region = aws_env["AWS_DEFAULT_REGION"]
    assert verify_basic(token_secret(ecsbox_server), header, time.time()) == (ACCOUNT, region)

    aws("ecr", "create-repository", "--repository-name", "cli/app", "--image-tag-mutability", "IMMUTABLE")
    described = json.loads(aws("ecr", "describe-repositories", "--output", "json"))["repositories"]
    assert [(r["repositoryName"], r["imageTagMutability"]) for r in described] == [("cli/app", "IMMUTABLE")]
    assert described[0]["repositoryArn"] == f"arn:aws:ecr:{region}:{ACCOUNT}:repository/cli/app"


def test_bad_input_answers_4xx_and_changes_nothing(ecsbox_endpoint: str) -> None:
    ecr = aws_client("ecr", ecsbox_endpoint, REGION)
    raw = _client_without_validation(ecsbox_endpoint)
    arn = ecr.create_repository(repositoryName="web", tags=[{"Key": "a", "Value": "1"}])["repository"][
        "repositoryArn"
    ]
    ecr.set_repository_policy(repositoryName="web", policyText=POLICY)
    before = ecr.describe_repositories()["repositories"]

    for call, params in (
        (raw.create_repository, {"repositoryName": "Web"}),
        (raw.create_repository, {"repositoryName": "w"}),
        (raw.create_repository, {"repositoryName": "web//app"}),
        (raw.create_repository, {"repositoryName": "x" * 257}),
        (raw.create_repository, {"repositoryName": "web2", "imageTagMutability": "SOMETIMES"}),
        (raw.create_repository, {"repositoryName": "web2", "registryId": "123"}),
        (raw.create_repository, {"repositoryName": "web2", "encryptionConfiguration": {}}),
        (
            raw.create_repository,
            {
                "repositoryName": "web2",
                "encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": "k"},
            },
        ),
        (raw.create_repository, {"repositoryName": "web2", "tags": [{"Key": "k"}]}),
        (raw.describe_repositories, {"maxResults": 0}),
        (raw.describe_repositories, {"maxResults": "ten"}),
        (raw.put_image_tag_mutability, {"repositoryName": "web", "imageTagMutability": "SOMETIMES"}),
        (raw.put_image_scanning_configuration, {"repositoryName": "web"}),
        (raw.set_repository_policy, {"repositoryName": "web", "policyText": "{"}),
        (raw.set_repository_policy, {"repositoryName": "web", "policyText": "x" * 10241}),
        (raw.tag_resource, {"resourceArn": arn, "tags": [{"Key": f"k{i}", "Value": "v"} for i in range(50)]}),
        (raw.untag_resource, {"resourceArn": arn}),
        (raw.get_authorization_token, {"registryIds": ["abc"]}),
    ):
        code, status, message = error_of(call, **params)
        assert 400 <= status < 500, (params, code, message)
        assert code in {"InvalidParameterException", "TooManyTagsException", "SerializationException"}, (
            params,
            code,
            message,
        )

    assert ecr.describe_repositories()["repositories"] == before
    assert ecr.get_repository_policy(repositoryName="web")["policyText"] == POLICY
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "a", "Value": "1"}]


def _client_without_validation(endpoint: str) -> Any:
    """A client that sends what it is given (botocore checks nothing on its side)."""
    return boto3.client(
        "ecr",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=NO_VALIDATION,
    )


def test_a_restart_keeps_tokens_and_registry_addresses(tmp_path: Path) -> None:
    """The token secret and each partition's address are kept in the data directory: a token
    issued before a restart still works after it, and URIs do not move."""
    server = start_server(tmp_path / "data")
    try:
        away = aws_client("ecr", server.endpoint, "eu-west-1")
        uri = away.create_repository(repositoryName="web")["repository"]["repositoryUri"]
        (token,) = away.get_authorization_token()["authorizationData"]
        secret = token_secret(server)
    finally:
        server.stop()
    server = start_server(tmp_path / "data")
    try:
        port = urlsplit(server.endpoint).port
        away = aws_client("ecr", server.endpoint, "eu-west-1")
        (described,) = away.describe_repositories()["repositories"]
        assert described["repositoryUri"].split(":")[0] == uri.split(":")[0]  # the port is a new one
        assert described["repositoryUri"] == f"{uri.split(':')[0]}:{port}/web"
        assert token_secret(server) == secret
        assert verify_basic(secret, "Basic " + token["authorizationToken"], time.time()) == (
            ACCOUNT,
            "eu-west-1",
        )
    finally:
        server.stop()
