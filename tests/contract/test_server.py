"""The server as a user runs it: loopback only, durable across restarts, strict when keys are set."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.conftest import start_server

SEED = Path(os.environ.get("ECSBOX_SEED_DIR", Path(__file__).resolve().parents[3] / "shared" / "seed"))
PHP_SAMPLE = SEED / "task-definition.php-sample-fargate.json"


def _cli_env(endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def aws(endpoint: str, *args: str) -> dict:
    result = subprocess.run(
        ["aws", *args, "--output", "json"], env=_cli_env(endpoint), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port``, read from /proc/net (Linux)."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not Path(PHP_SAMPLE).exists(), reason="seed documents not beside the checkout")
def test_seed_definition_registers_twice_and_survives_a_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        first = aws(
            server.endpoint, "ecs", "register-task-definition", "--cli-input-json", f"file://{PHP_SAMPLE}"
        )
        second = aws(
            server.endpoint, "ecs", "register-task-definition", "--cli-input-json", f"file://{PHP_SAMPLE}"
        )
        assert first["taskDefinition"]["revision"] == 1
        assert second["taskDefinition"]["revision"] == 2
        assert second["taskDefinition"]["family"] == "php-sample-fargate"
    finally:
        assert server.stop() == 0
    again = start_server(tmp_path / "data")
    try:
        described = aws(
            again.endpoint, "ecs", "describe-task-definition", "--task-definition", "php-sample-fargate"
        )
        assert described["taskDefinition"]["revision"] == 2
        assert (
            described["taskDefinition"]["containerDefinitions"]
            == second["taskDefinition"]["containerDefinitions"]
        )
        third = aws(
            again.endpoint, "ecs", "register-task-definition", "--cli-input-json", f"file://{PHP_SAMPLE}"
        )
        assert third["taskDefinition"]["revision"] == 3
    finally:
        again.stop()
        again.remove_docker_leftovers()


def test_listens_on_loopback_only_and_reset_is_off_by_default(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        port = int(server.endpoint.rsplit(":", 1)[1])
        addresses = _listening_addresses(port)
        assert addresses, "no listening socket found"
        loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
        assert addresses <= loopback, addresses
        request = urllib.request.Request(f"{server.endpoint}/_ecsbox/state/reset", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 404
        with urllib.request.urlopen(f"{server.endpoint}/_ecsbox/health", timeout=5) as response:
            health = json.load(response)
        assert health["services"]["ecs"]["state"] == "running"
        assert set(health["services"]) >= {"ecs", "ecr", "cloudwatch", "logs", "xray", "elbv2", "sts"}
    finally:
        server.stop()
        server.remove_docker_leftovers()


def test_strict_signatures_when_access_keys_are_configured(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"ECSBOX_ACCESS_KEYS": "AKIDGOOD:s3cret:111122223333"})
    try:

        def ecs(key: str, secret: str):
            return boto3.client(
                "ecs",
                endpoint_url=server.endpoint,
                region_name="eu-west-1",
                aws_access_key_id=key,
                aws_secret_access_key=secret,
            )

        arn = ecs("AKIDGOOD", "s3cret").create_cluster(clusterName="strict")["cluster"]["clusterArn"]
        assert arn == "arn:aws:ecs:eu-west-1:111122223333:cluster/strict"
        for key, secret, code in (
            ("AKIDGOOD", "wrong", "SignatureDoesNotMatch"),
            ("AKIDNOPE", "s3cret", "UnrecognizedClientException"),
        ):
            with pytest.raises(ClientError) as info:
                ecs(key, secret).list_clusters()
            assert info.value.response["Error"]["Code"] == code
            assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    finally:
        server.stop()
        server.remove_docker_leftovers()


def test_accounts_and_regions_are_partitions(ecsbox_endpoint: str) -> None:
    def ecs(key: str, region: str):
        return boto3.client(
            "ecs",
            endpoint_url=ecsbox_endpoint,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key="x",
        )

    ecs("test", "us-east-1").create_cluster(clusterName="mine")
    assert ecs("test", "us-east-1").list_clusters()["clusterArns"] == [
        "arn:aws:ecs:us-east-1:000000000000:cluster/mine"
    ]
    assert ecs("test", "eu-west-1").list_clusters()["clusterArns"] == []
    assert ecs("111122223333", "us-east-1").list_clusters()["clusterArns"] == []


def test_a_tls_hello_on_the_plain_http_port_is_refused_quietly(tmp_path: Path) -> None:
    """The docker CLI tries HTTPS first at every registry login, push and pull: the 400 it gets
    is expected and leaves no warning in ecsbox's output."""
    import socket

    server = start_server(tmp_path / "data")
    try:
        port = server.endpoint.rsplit(":", 1)[1]
        with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as sock:
            sock.sendall(
                b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32)
            )  # a TLS ClientHello's start
            answer = sock.recv(1024)
        assert answer.startswith(b"HTTP/1.1 400")
    finally:
        server.stop()
    assert not any("Invalid HTTP request" in line for line in server.output)
