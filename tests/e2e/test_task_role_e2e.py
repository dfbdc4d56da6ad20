"""Task roles end to end: an unchanged boto3 inside a task's container, with no configuration at all,
finds ecsbox, the task's region and the task role's credentials, and its call succeeds; the same
call unsigned, or signed with made-up keys, is refused.

The image is Debian bookworm with python3 and boto3 (tests/support/python_image.py), built once per
engine. Two ecsbox servers: the session's (on root/Linux it routes 169.254.170.2 and containers
fetch credentials from it, unless another ecsbox on this host holds that address already) and one
with ``ECSBOX_CONTAINER_LINK_LOCAL=0``, whose containers get the credentials as environment
variables.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from tests.conftest import LiveServer, start_server
from tests.e2e.ecs_helpers import Box, ecs_client, remove_server_containers, server_id, unique
from tests.support.python_image import ImageUnavailable, python_image

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROLE = "arn:aws:iam::000000000000:role/app-task-role"

# The app: boto3 as an application uses it, no endpoint, region or credentials in the code.
CALLS_ECS = """
import json, os, urllib.request
import boto3
session = boto3.Session()
creds = session.get_credentials()
task = json.load(urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=10))
print(json.dumps({
    "clusters": boto3.client("ecs").list_clusters()["clusterArns"],
    "region": session.region_name,
    "credential_method": creds.method,
    "metadata_task": task["TaskARN"],
    "env": sorted(k for k in os.environ if k.startswith(("AWS_", "ECS_"))),
}))
"""

# The same call without the task's credentials: unsigned, and signed with keys ecsbox never issued.
REFUSED = """
import json
import boto3, botocore
from botocore.config import Config
results = {}
clients = {
    "unsigned": boto3.client("ecs", config=Config(signature_version=botocore.UNSIGNED)),
    "made_up_keys": boto3.client("ecs", aws_access_key_id="test", aws_secret_access_key="test"),
}
for name, client in clients.items():
    try:
        client.list_clusters()
        results[name] = "accepted"
    except botocore.exceptions.ClientError as error:
        results[name] = error.response["Error"]["Code"]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def python(docker_client: docker.APIClient) -> str:
    try:
        return python_image(client=docker_client)
    except ImageUnavailable as exc:
        pytest.skip(f"cannot build the python test image here: {exc}")


@pytest.fixture(scope="module")
def environment_server(docker_client: docker.APIClient) -> Iterator[LiveServer]:
    """An ecsbox that keeps off 169.254.170.2: credentials go into the containers' environment."""
    with tempfile.TemporaryDirectory(prefix="ecsbox-task-role-") as tmp:
        server = start_server(Path(tmp) / "data", env={"ECSBOX_CONTAINER_LINK_LOCAL": "0"})
        try:
            yield server
        finally:
            server.stop()
            remove_server_containers(docker_client, server_id(server.data_dir))


def box_for(server: LiveServer, client: docker.APIClient) -> Box:
    return Box(server.endpoint, server_id(server.data_dir), ecs_client(server.endpoint), client)


def run_script(box: Box, image: str, script: str, **task_definition: Any) -> tuple[dict[str, Any], str]:
    """Run ``python3 -c script`` as a one-container task until it stops: (its task, its output)."""
    cluster = unique("e2e-role")
    box.ecs.create_cluster(clusterName=cluster)
    try:
        definition = box.ecs.register_task_definition(
            family=unique("role"),
            containerDefinitions=[
                {"name": "app", "image": image, "command": ["python3", "-c", script], "memoryReservation": 64}
            ],
            **task_definition,
        )["taskDefinition"]["taskDefinitionArn"]
        answer = box.ecs.run_task(cluster=cluster, taskDefinition=definition)
        assert answer["failures"] == [], answer["failures"]
        task_arn = answer["tasks"][0]["taskArn"]
        task = box.wait_task(cluster, task_arn, "STOPPED", timeout=90)
        container_id = box.task_containers(task_arn)["app"]["Id"]
        output = box.docker.logs(container_id, stdout=True, stderr=True).decode(errors="replace")
        return task, output
    finally:
        box.cleanup(cluster)


def last_json(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, f"the container printed no result:\n{output}"
    return dict(json.loads(lines[-1]))


def assert_sdk_call_succeeded(box: Box, task: dict[str, Any], output: str) -> dict[str, Any]:
    assert task["containers"][0].get("exitCode") == 0, output
    result = last_json(output)
    assert result["region"] == "ap-northeast-1"
    assert result["metadata_task"] == task["taskArn"]
    # It saw the caller's own account's clusters: the call really reached ecsbox as the task.
    assert task["clusterArn"] in result["clusters"]
    return result


def test_boto3_in_a_task_uses_the_task_role_with_no_configuration(
    ecsbox_server: LiveServer, ecsbox_endpoint: str, docker_client: docker.APIClient, python: str
) -> None:
    box = box_for(ecsbox_server, docker_client)
    task, output = run_script(box, python, CALLS_ECS, taskRoleArn=ROLE)
    result = assert_sdk_call_succeeded(box, task, output)
    if any("link_local=True" in line for line in ecsbox_server.output):
        # As on ECS: the SDK fetched them from 169.254.170.2; no secret in the environment.
        assert result["credential_method"] == "container-role"
        assert "AWS_SECRET_ACCESS_KEY" not in result["env"]
    else:
        assert result["credential_method"] == "env"


def test_credentials_in_the_environment_where_169_254_170_2_is_not_routed(
    environment_server: LiveServer, docker_client: docker.APIClient, python: str
) -> None:
    box = box_for(environment_server, docker_client)
    task, output = run_script(box, python, CALLS_ECS, taskRoleArn=ROLE)
    result = assert_sdk_call_succeeded(box, task, output)
    assert result["credential_method"] == "env"
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in result["env"]


def test_without_the_task_credentials_the_call_is_refused(
    ecsbox_server: LiveServer, ecsbox_endpoint: str, docker_client: docker.APIClient, python: str
) -> None:
    box = box_for(ecsbox_server, docker_client)
    task, output = run_script(box, python, REFUSED, taskRoleArn=ROLE)
    assert task["containers"][0].get("exitCode") == 0, output
    assert last_json(output) == {
        "unsigned": "MissingAuthenticationTokenException",
        # The operator's lenient mode is not on this listener: unknown keys are unknown.
        "made_up_keys": "UnrecognizedClientException",
    }


def test_a_task_without_a_role_gets_no_credentials(
    ecsbox_server: LiveServer, ecsbox_endpoint: str, docker_client: docker.APIClient, python: str
) -> None:
    box = box_for(ecsbox_server, docker_client)
    script = (
        "import boto3, botocore\n"
        "try:\n    boto3.client('ecs').list_clusters(); print('accepted')\n"
        "except botocore.exceptions.NoCredentialsError:\n    print('no credentials')\n"
    )
    task, output = run_script(box, python, script)
    assert task["containers"][0].get("exitCode") == 0, output
    assert output.strip().splitlines()[-1] == "no credentials"
