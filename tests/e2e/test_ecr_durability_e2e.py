"""ECR over time and through crashes, end to end: lifecycle policies expire real images on a
server whose clock runs a day per second, garbage collection frees the disk, and a push cut
short by ``kill -9`` leaves nothing half-made and can be retried."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import docker
import docker.errors
import pytest
from tests.conftest import LiveServer, start_server
from tests.e2e.ecs_helpers import aws_environment, wait_for

from ecsbox.runtime.images import build_image_with_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REGION = "us-east-1"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"
DAY_PER_SECOND = "86400"


def _ecr(endpoint: str) -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


class User:
    """A user of one ecsbox: the AWS CLI, boto3 and a docker CLI with a config of its own."""

    def __init__(self, server: LiveServer, config: Path, client: docker.APIClient) -> None:
        self.server = server
        self.config = config
        self.docker = client
        self.ecr = _ecr(server.endpoint)
        self.made: list[str] = []

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "--config", str(self.config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def login(self, host: str) -> None:
        env = {**aws_environment(self.server.endpoint), "AWS_DEFAULT_REGION": REGION}
        password = subprocess.run(
            ["aws", "ecr", "get-login-password"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        done = self.cli("login", "-u", "AWS", "--password-stdin", host, stdin=password)
        assert done.returncode == 0, done.stderr

    def image(self, base: str, tag: str, megabytes: float = 0.25) -> str:
        """A fresh image of its own: ``base`` plus a layer of random bytes."""
        files = {"blob": (os.urandom(int(megabytes * 1024 * 1024)), 0o644)}
        build_image_with_client(
            self.docker, tag, files, f"FROM {base}\nCOPY blob /blob\n", labels={"ecsbox.test": "1"}
        )
        self.made.append(tag)
        return tag

    def push(self, source: str, target: str) -> str:
        """Push ``source`` as ``target``; its digest."""
        self.docker.tag(source, target)
        self.made.append(target)
        pushed = self.cli("push", target)
        assert pushed.returncode == 0, pushed.stderr
        return pushed.stdout.strip().rsplit("digest: ", 1)[1].split()[0]

    def pull(self, reference: str) -> subprocess.CompletedProcess[str]:
        for image in (reference,):
            try:
                self.docker.remove_image(image, force=True)
            except docker.errors.APIError:
                pass
        pulled = self.cli("pull", reference)
        self.made.append(reference)
        return pulled

    def cleanup(self) -> None:
        for image in self.made:
            try:
                self.docker.remove_image(image, force=True)
            except Exception:  # a slow engine leaves a test image behind, no more
                pass


def blob_files(data_dir: Path) -> dict[str, Path]:
    root = data_dir / "registry" / "blobs" / "sha256"
    return {f"sha256:{path.name}": path for path in root.glob("*/*")} if root.exists() else {}


@pytest.fixture()
def user_of(tmp_path: Path, docker_client: docker.APIClient) -> Iterator[Any]:
    users: list[User] = []
    servers: list[LiveServer] = []

    def make(*extra: str, env: dict[str, str] | None = None, data: str = "data") -> User:
        server = start_server(tmp_path / data, *extra, env=env)
        servers.append(server)
        config = tmp_path / f"docker-config-{len(users)}"
        config.mkdir(exist_ok=True)
        user = User(server, config, docker_client)
        users.append(user)
        return user

    make.servers = servers  # type: ignore[attr-defined]
    try:
        yield make
    finally:
        for user in users:
            user.cleanup()
        for server in servers:
            if server.process.poll() is None:
                server.stop()
            server.remove_docker_leftovers()


def test_lifecycle_policies_expire_images_as_days_pass_and_gc_frees_the_disk(
    user_of: Any, busybox_image: str
) -> None:
    """Both seed policies, a day per second: after ten days the images they select are gone
    (pulls fail), the others still pull, and their blobs left the disk."""
    user: User = user_of("--time-scale", DAY_PER_SECOND, env={"ECSBOX_REGISTRY_GC_GRACE_S": "0"})
    ecr = user.ecr
    untagged_uri = ecr.create_repository(repositoryName="cleanup/untagged")["repository"]["repositoryUri"]
    staged_uri = ecr.create_repository(repositoryName="cleanup/staged")["repository"]["repositoryUri"]
    host = untagged_uri.split("/", 1)[0]
    assert urlsplit(f"//{host}").hostname == "localhost"
    user.login(host)

    # untagged-10-days: `latest` moves on, so the first image becomes untagged.
    first = user.push(user.image(busybox_image, "ecsbox-test/lc:first"), f"{untagged_uri}:latest")
    second = user.push(user.image(busybox_image, "ecsbox-test/lc:second"), f"{untagged_uri}:latest")
    # prod-stage-dev: an image tagged stage-1 and dev-1 (rule 2 takes images with both), one tagged
    # only stage-2 (rule 2 needs both), one prod-1 (100 days: it stays).
    staged = user.push(user.image(busybox_image, "ecsbox-test/lc:staged"), f"{staged_uri}:stage-1")
    user.push(f"{staged_uri}:stage-1", f"{staged_uri}:dev-1")
    only_stage = user.push(user.image(busybox_image, "ecsbox-test/lc:only-stage"), f"{staged_uri}:stage-2")
    prod = user.push(user.image(busybox_image, "ecsbox-test/lc:prod"), f"{staged_uri}:prod-1")
    pushed_at = {
        d["imageDigest"]: d["imagePushedAt"]
        for d in ecr.describe_images(repositoryName="cleanup/untagged")["imageDetails"]
    }
    blobs_before = blob_files(user.server.data_dir)

    for name, seed in (("cleanup/untagged", "untagged-10-days"), ("cleanup/staged", "prod-stage-dev")):
        text = (SEED / f"lifecycle-policy.{seed}.json").read_text()
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=text)
    # Nothing is ten days old yet: the preview selects nothing.
    ecr.start_lifecycle_policy_preview(repositoryName="cleanup/untagged")
    assert ecr.get_lifecycle_policy_preview(repositoryName="cleanup/untagged")["previewResults"] == []

    started = time.monotonic()

    def digests(name: str) -> set[str]:
        return {d["imageDigest"] for d in ecr.describe_images(repositoryName=name)["imageDetails"]}

    wait_for("the untagged image to expire", lambda: first not in digests("cleanup/untagged"), timeout=40)
    wait_for("stage-1/dev-1 to expire", lambda: staged not in digests("cleanup/staged"), timeout=20)
    waited = time.monotonic() - started
    assert digests("cleanup/untagged") == {second}
    assert digests("cleanup/staged") == {only_stage, prod}
    # Ten days, counted from the first push, passed in about ten seconds of wall-clock time.
    now = ecr.get_lifecycle_policy(repositoryName="cleanup/untagged")["lastEvaluatedAt"]
    assert (now - pushed_at[first]).total_seconds() >= 10 * 86400
    assert waited < 30

    assert user.pull(f"{untagged_uri}@{first}").returncode != 0
    assert user.pull(f"{staged_uri}:stage-1").returncode != 0
    for kept in (f"{untagged_uri}:latest", f"{staged_uri}:stage-2", f"{staged_uri}:prod-1"):
        pulled = user.pull(kept)
        assert pulled.returncode == 0, pulled.stderr

    # Garbage collection ran after the expiry: the expired images' own layers left the disk.
    def freed() -> bool:
        return len(blob_files(user.server.data_dir)) < len(blobs_before)

    wait_for("garbage collection", freed, timeout=20)
    left = blob_files(user.server.data_dir)
    kept_manifests = [
        json.loads(image["imageManifest"])
        for name in ("cleanup/untagged", "cleanup/staged")
        for image in ecr.batch_get_image(
            repositoryName=name, imageIds=[{"imageDigest": d} for d in digests(name)]
        )["images"]
    ]
    for manifest in kept_manifests:  # everything a surviving image needs is still there
        for blob in [manifest["config"], *manifest["layers"]]:
            assert blob["digest"] in left


def test_a_push_cut_short_by_kill_9_leaves_nothing_half_made_and_can_be_retried(
    user_of: Any, busybox_image: str
) -> None:
    user: User = user_of()
    uri = user.ecr.create_repository(repositoryName="crash/app")["repository"]["repositoryUri"]
    host = uri.split("/", 1)[0]
    port = urlsplit(f"//{host}").port
    user.login(host)
    source = user.image(busybox_image, "ecsbox-test/crash:big", megabytes=64)
    target = f"{uri}:v1"
    user.docker.tag(source, target)
    user.made.append(target)
    push = subprocess.Popen(
        ["docker", "--config", str(user.config), "push", target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    uploads = user.server.data_dir / "registry" / "uploads"

    def uploading() -> bool:
        return any(path.is_file() and path.stat().st_size > 1024 * 1024 for path in uploads.glob("*"))

    try:
        wait_for("an upload under way", uploading, timeout=120, interval=0.05)
        user.server.process.kill()  # kill -9, mid-upload
        user.server.process.wait(timeout=10)
        push.wait(timeout=120)
    finally:
        if push.poll() is None:
            push.kill()

    # Nothing visible is partial: every blob under its final name has exactly its digest's bytes.
    for digest, path in blob_files(user.server.data_dir).items():
        assert "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() == digest

    restarted = start_server(user.server.data_dir, "--port", str(port))
    user_of.servers.append(restarted)
    ecr = _ecr(restarted.endpoint)
    assert ecr.describe_images(repositoryName="crash/app")["imageDetails"] == []  # no manifest either
    retried = user.cli("push", target)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    details = ecr.describe_images(repositoryName="crash/app")["imageDetails"]
    assert [d["imageTags"] for d in details] == [["v1"]]
    pulled = user.pull(target)
    assert pulled.returncode == 0, pulled.stderr
