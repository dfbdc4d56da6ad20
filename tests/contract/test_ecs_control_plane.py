"""The ECS control plane through real clients (boto3 and the AWS CLI) against a live ecsbox."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

SEED = Path("/work/shared/seed")
REGION = "ap-northeast-1"


def seed(name: str) -> dict[str, Any]:
    return json.loads((SEED / name).read_text())


@pytest.fixture()
def ecs(ecsbox_endpoint: str) -> Any:
    return boto3.client(
        "ecs",
        endpoint_url=ecsbox_endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def aws(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["aws", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def error_of(call: Any, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_cli_registers_the_seed_and_describes_it_as_published(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    # AWS CLI v2 prints timestamps as ISO 8601 (as in the published file); v1 needs telling.
    config = tmp_path / "config"
    config.write_text("[default]\ncli_timestamp_format = iso8601\n")
    aws_env = {**aws_env, "AWS_CONFIG_FILE": str(config)}
    path = SEED / "task-definition.php-sample-fargate.json"
    for _ in range(2):
        aws(aws_env, "ecs", "register-task-definition", "--cli-input-json", f"file://{path}")
    got = aws(aws_env, "ecs", "describe-task-definition", "--task-definition", "php-sample-fargate")[
        "taskDefinition"
    ]
    published = seed("describe-task-definition.as-published.json")["taskDefinition"]

    assert list(got) == list(published)
    assert re.fullmatch(
        r"arn:aws:ecs:ap-northeast-1:\d{12}:task-definition/php-sample-fargate:2", got["taskDefinitionArn"]
    )
    assert got["revision"] == 2
    assert re.fullmatch(r"arn:aws:(iam|sts)::\d{12}:.+", got["registeredBy"])
    assert datetime.fromisoformat(got["registeredAt"]).tzinfo is not None
    for key in ("taskDefinitionArn", "revision", "registeredAt", "registeredBy"):
        got.pop(key), published.pop(key)
    # the seed's role ARNs are placeholders in the published file; everything else is identical
    assert (
        got.pop("taskRoleArn")
        == got.pop("executionRoleArn")
        == "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    )
    published.pop("taskRoleArn"), published.pop("executionRoleArn")
    assert got == published


def test_cli_takes_the_awslogs_example_and_the_seed_cluster(aws_env: dict[str, str]) -> None:
    example = aws(
        aws_env,
        "ecs",
        "register-task-definition",
        "--cli-input-json",
        f"file://{SEED / 'task-definition.awslogs-example.json'}",
    )["taskDefinition"]
    assert example["family"] == "awslogs-example" and example["revision"] == 1
    assert (
        example["containerDefinitions"]
        == seed("task-definition.awslogs-example.json")["containerDefinitions"]
    )

    cluster = aws(
        aws_env,
        "ecs",
        "create-cluster",
        "--cli-input-json",
        f"file://{SEED / 'cluster.fargate-cluster.json'}",
    )["cluster"]
    assert cluster["clusterName"] == "fargate-cluster" and cluster["status"] == "ACTIVE"
    assert cluster["capacityProviders"] == ["FARGATE_SPOT", "FARGATE"]
    described = aws(
        aws_env, "ecs", "describe-clusters", "--clusters", "fargate-cluster", "--include", "SETTINGS"
    )
    assert described["clusters"][0]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert described["failures"] == []


def test_task_definition_lifecycle_through_boto3(ecs: Any) -> None:
    containers = [{"name": "app", "image": "nginx", "memory": 64}]
    for _ in range(12):
        ecs.register_task_definition(
            family="web", containerDefinitions=containers, tags=[{"key": "team", "value": "web"}]
        )
    described = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])
    assert described["taskDefinition"]["revision"] == 12
    assert described["tags"] == [{"key": "team", "value": "web"}]
    assert isinstance(described["taskDefinition"]["registeredAt"], datetime)

    pages = ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix="web", PaginationConfig={"PageSize": 5}
    )
    arns = [arn for page in pages for arn in page["taskDefinitionArns"]]
    assert [int(a.rsplit(":", 1)[1]) for a in arns] == list(range(1, 13))

    ecs.deregister_task_definition(taskDefinition="web:12")
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 11
    result = ecs.delete_task_definitions(taskDefinitions=["web:12", "web:11"])
    assert [td["status"] for td in result["taskDefinitions"]] == ["DELETE_IN_PROGRESS"]
    assert len(result["failures"]) == 1 and result["failures"][0]["arn"].endswith("task-definition/web:11")
    assert (
        ecs.register_task_definition(family="web", containerDefinitions=containers)["taskDefinition"][
            "revision"
        ]
        == 13
    )


def test_errors_reach_the_client_with_ecs_codes(ecs: Any) -> None:
    request = seed("task-definition.php-sample-fargate.json") | {"memory": "4096"}
    code, status, message = error_of(ecs.register_task_definition, **request)
    assert (code, status) == ("ClientException", 400)
    assert message.startswith("No Fargate configuration exists for given values: 256 CPU, 4096 memory.")
    assert error_of(ecs.describe_task_definition, taskDefinition="ghost:1")[:2] == ("ClientException", 400)
    assert error_of(ecs.list_task_definitions, nextToken="not-a-token")[:2] == (
        "InvalidParameterException",
        400,
    )
    assert error_of(ecs.list_clusters, maxResults=1000)[:2] == ("InvalidParameterException", 400)
    assert error_of(ecs.delete_cluster, cluster="ghost")[:2] == ("ClusterNotFoundException", 400)


def test_clusters_providers_settings_and_tags_through_boto3(ecs: Any) -> None:
    strategy = seed("capacity-provider-strategy.base2-spot.json")["capacityProviderStrategy"]
    cluster = ecs.create_cluster(
        clusterName="c",
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=strategy,
    )["cluster"]
    assert cluster["defaultCapacityProviderStrategy"][0] == {
        "capacityProvider": "FARGATE",
        "weight": 1,
        "base": 2,
    }
    ecs.tag_resource(resourceArn=cluster["clusterArn"], tags=[{"key": "env", "value": "dev"}])
    assert ecs.list_tags_for_resource(resourceArn=cluster["clusterArn"])["tags"] == [
        {"key": "env", "value": "dev"}
    ]
    stats = ecs.describe_clusters(clusters=["c"], include=["STATISTICS"])["clusters"][0]["statistics"]
    assert {"name": "runningFargateTasksCount", "value": "0"} in stats

    providers = ecs.describe_capacity_providers()["capacityProviders"]
    assert [p["name"] for p in providers] == ["FARGATE", "FARGATE_SPOT"]
    asg = (
        "arn:aws:autoscaling:ap-northeast-1:123456789012:autoScalingGroup:"
        "0f7a2b1c-1111-2222-3333-444455556666:autoScalingGroupName/asg"
    )
    created = ecs.create_capacity_provider(
        name="asg-provider", autoScalingGroupProvider={"autoScalingGroupArn": asg}
    )
    assert (
        created["capacityProvider"]["autoScalingGroupProvider"]["managedScaling"]["instanceWarmupPeriod"]
        == 300
    )
    deleted = ecs.delete_capacity_provider(capacityProvider="asg-provider")["capacityProvider"]
    assert (deleted["status"], deleted["updateStatus"]) == ("INACTIVE", "DELETE_COMPLETE")

    ecs.put_account_setting_default(name="containerInsights", value="enabled")
    setting = ecs.list_account_settings(name="containerInsights", effectiveSettings=True)["settings"][0]
    assert setting["value"] == "enabled"
    assert ecs.delete_cluster(cluster="c")["cluster"]["status"] == "INACTIVE"
