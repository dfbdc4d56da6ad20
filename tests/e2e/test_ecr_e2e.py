"""ECR end to end: the real docker CLI and skopeo push to and pull from ecsbox's registry with
tokens from the real AWS CLI, and a task runs from a pushed image named as the seed names it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import docker
import docker.errors
import pytest
from tests.e2e.ecs_helpers import REGION, Box, aws_environment, unique

from ecsbox.runtime.images import build_image_with_client

pytestmark = pytest.mark.e2e

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
DEFAULT_REGION = "us-east-1"  # the default partition's registry is localhost:<port>


@dataclass
class Registry:
    """ecsbox's registry as a user meets it: an ECR client, the docker CLI with a config
    directory of its own (no credentials until :meth:`login`), and the host to push to."""

    endpoint: str
    ecr: Any
    docker_config: Path
    docker: docker.APIClient

    def cli(
        self, *args: str, stdin: str | None = None, config: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "--config", str(config or self.docker_config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def password(self, region: str = DEFAULT_REGION) -> str:
        """What ``aws ecr get-login-password`` prints (the real CLI)."""
        env = {**aws_environment(self.endpoint), "AWS_DEFAULT_REGION": region}
        done = subprocess.run(
            ["aws", "ecr", "get-login-password"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def login(self, host: str, region: str = DEFAULT_REGION) -> None:
        done = self.cli("login", "-u", "AWS", "--password-stdin", host, stdin=self.password(region))
        assert done.returncode == 0, done.stderr
        assert "Login Succeeded" in done.stdout


def ecr_client(endpoint: str, region: str = DEFAULT_REGION) -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture()
def registry(box: Box, tmp_path: Path) -> Iterator[Registry]:
    config = tmp_path / "docker-config"
    config.mkdir()
    yield Registry(box.endpoint, ecr_client(box.endpoint), config, box.docker)


@pytest.fixture()
def layered_image(
    docker_client: docker.APIClient, busybox_image: str
) -> Iterator[tuple[str, dict[str, bytes]]]:
    """A multi-layer image: busybox and three layers of random bytes."""
    tag = f"ecsbox-test/layers:{uuid.uuid4().hex[:8]}"
    files = {name: (os.urandom(512 * 1024), 0o644) for name in ("a", "b", "c")}
    dockerfile = f"FROM {busybox_image}\nCOPY a /a\nCOPY b /b\nCOPY c /c\n"
    build_image_with_client(docker_client, tag, files, dockerfile, labels={"ecsbox.test": "1"})
    try:
        yield tag, {name: content for name, (content, _) in files.items()}
    finally:
        _remove_image(docker_client, tag)


def _remove_image(client: docker.APIClient, tag: str) -> None:
    try:
        client.remove_image(tag, force=True)
    except docker.errors.APIError:
        pass


def _push_target(repository_uri: str, tag: str) -> str:
    return f"{repository_uri}:{tag}"


def test_docker_login_push_pull_of_a_multi_layer_image(
    registry: Registry, layered_image: tuple[str, dict[str, bytes]]
) -> None:
    source, contents = layered_image
    name = unique("e2e/app")
    uri = registry.ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    host = uri.split("/", 1)[0]
    assert urlsplit(f"//{host}").hostname == "localhost"  # the default partition: localhost:<port>
    target = _push_target(uri, "v1")
    registry.docker.tag(source, target)
    try:
        refused = registry.cli("push", target)
        assert refused.returncode != 0
        assert "no basic auth credentials" in refused.stderr or "unauthorized" in refused.stderr.lower()

        registry.login(host)
        pushed = registry.cli("push", target)
        assert pushed.returncode == 0, pushed.stderr
        details = registry.ecr.describe_images(repositoryName=name)["imageDetails"]
        assert [d["imageTags"] for d in details] == [["v1"]]
        assert details[0]["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert details[0]["imageSizeInBytes"] > 3 * 512 * 1024  # the random layers compress to no less
        digest = details[0]["imageDigest"]
        assert digest in pushed.stdout

        _remove_image(registry.docker, target)
        pulled = registry.cli("pull", target)
        assert pulled.returncode == 0, pulled.stderr
        assert digest in pulled.stdout
        ran = registry.cli("run", "--rm", target, "md5sum", "/a", "/b", "/c")
        assert ran.returncode == 0, ran.stderr
        for name_, content in contents.items():
            assert f"{hashlib.md5(content).hexdigest()}  /{name_}" in ran.stdout
        assert registry.ecr.describe_images(repositoryName=name)["imageDetails"][0].get(
            "lastRecordedPullTime"
        )

        # Without credentials nothing comes out either.
        _remove_image(registry.docker, target)
        empty = registry.docker_config.parent / "no-credentials"
        empty.mkdir()
        anonymous = registry.cli("pull", target, config=empty)
        assert anonymous.returncode != 0
        missing = registry.cli("pull", _push_target(uri, "no-such-tag"))
        assert missing.returncode != 0 and "not found" in missing.stderr.lower()
    finally:
        _remove_image(registry.docker, target)


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (apt-get install skopeo)")
def test_skopeo_copies_to_and_from_the_registry(
    registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    name = unique("e2e/skopeo")
    uri = registry.ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    creds = f"AWS:{registry.password()}"
    target = f"docker://{uri}:copied"

    def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=180, check=False)

    refused = skopeo("copy", "--dest-tls-verify=false", f"docker-daemon:{busybox_image}", target)
    assert refused.returncode != 0
    copied = skopeo(
        "copy", "--dest-tls-verify=false", "--dest-creds", creds, f"docker-daemon:{busybox_image}", target
    )
    assert copied.returncode == 0, copied.stderr
    inspected = skopeo("inspect", "--tls-verify=false", "--creds", creds, target)
    assert inspected.returncode == 0, inspected.stderr
    digest = json.loads(inspected.stdout)["Digest"]
    details = registry.ecr.describe_images(repositoryName=name)["imageDetails"]
    assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(digest, ["copied"])]
    back = skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, target, f"dir:{tmp_path / 'copy'}")
    assert back.returncode == 0, back.stderr
    assert (tmp_path / "copy" / "manifest.json").exists()
    tags = skopeo("list-tags", "--tls-verify=false", "--creds", creds, f"docker://{uri}")
    assert tags.returncode == 0, tags.stderr
    assert json.loads(tags.stdout)["Tags"] == ["copied"]


def test_the_seed_task_definition_runs_from_an_image_pushed_to_ecsbox(
    box: Box, registry: Registry, web_image: str
) -> None:
    seed = json.loads((SEED / "task-definition.php-sample-fargate.json").read_text())
    image = seed["containerDefinitions"][0]["image"]
    assert image == "xxxx.dkr.ecr.ap-northeast-1.amazonaws.com/test:latest"  # unchanged from the seed
    ecr = ecr_client(box.endpoint, REGION)  # the seed's region: a partition with an address of its own
    uri = ecr.create_repository(repositoryName="test")["repository"]["repositoryUri"]
    host = uri.split("/", 1)[0]
    assert urlsplit(f"//{host}").hostname.startswith("127.1.")
    target = f"{uri}:latest"
    registry.docker.tag(web_image, target)
    cluster = unique("ecr-seed")
    try:
        registry.login(host, REGION)
        pushed = registry.cli("push", target)
        assert pushed.returncode == 0, pushed.stderr
        _remove_image(registry.docker, target)  # the task must pull it from the registry

        box.ecs.create_cluster(clusterName=cluster)
        options = seed["containerDefinitions"][0]["logConfiguration"]["options"]
        logs = boto3.client(
            "logs",
            endpoint_url=box.endpoint,
            region_name=options["awslogs-region"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        logs.create_log_group(logGroupName=options["awslogs-group"])  # as the ECS console does
        seed.pop("compatibilities", None)
        arn = box.ecs.register_task_definition(**seed)["taskDefinition"]["taskDefinitionArn"]
        task = box.ecs.run_task(
            cluster=cluster,
            taskDefinition=arn,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0e2e0000000000001"]}},
        )["tasks"][0]
        running = box.wait_task(cluster, task["taskArn"], "RUNNING", timeout=90)
        assert running["containers"][0]["image"] == image
        containers = box.task_containers(task["taskArn"])
        app = next(c for name, c in containers.items() if not name.startswith("~internal"))
        assert app["Image"] == target
        assert ecr.describe_images(repositoryName="test")["imageDetails"][0].get("lastRecordedPullTime")
    finally:
        box.cleanup(cluster)
        _remove_image(registry.docker, target)


def test_a_task_whose_ecr_image_was_never_pushed_stops_with_the_pull_error(box: Box) -> None:
    ecr_client(box.endpoint, REGION).create_repository(repositoryName="empty")
    cluster = unique("ecr-missing")
    box.ecs.create_cluster(clusterName=cluster)
    try:
        arn = box.ecs.register_task_definition(
            family="missing",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/empty:v9",
                    "memory": 64,
                    "essential": True,
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        task = box.ecs.run_task(cluster=cluster, taskDefinition=arn, launchType="EC2")["tasks"][0]
        stopped = box.wait_task(cluster, task["taskArn"], "STOPPED", timeout=60)
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert stopped["stoppedReason"].startswith("CannotPullContainerError")
    finally:
        box.cleanup(cluster)


def test_the_base_endpoint_challenges_until_a_token_is_shown(registry: Registry) -> None:
    uri = registry.ecr.create_repository(repositoryName=unique("e2e/base"))["repository"]["repositoryUri"]
    request = urllib.request.Request(f"http://{uri.split('/')[0]}/v2/")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith('Basic realm="http://')
    token = registry.ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert base64.b64decode(token).decode().startswith("AWS:")
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as answered:
        assert answered.status == 200
        assert answered.headers["Docker-Distribution-API-Version"] == "registry/2.0"
