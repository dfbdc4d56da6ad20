"""compatibilities and requiresAttributes as pure functions of a definition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecsbox.ecs.compat import compatibilities, fargate_obstacles, is_ecr_image, requires_attributes
from ecsbox.ecs.taskdef_rules import build_task_definition

SEED = Path("/work/shared/seed")
CAP = "com.amazonaws.ecs.capability."


def seed(name: str) -> dict[str, Any]:
    return json.loads((SEED / name).read_text())


def names(definition: dict[str, Any]) -> list[str]:
    return [a["name"] for a in requires_attributes(definition)]


def test_seed_fargate_definition_matches_published_output() -> None:
    published = seed("describe-task-definition.as-published.json")["taskDefinition"]
    definition = build_task_definition(seed("task-definition.php-sample-fargate.json"))
    assert definition["requiresAttributes"] == published["requiresAttributes"]
    assert definition["compatibilities"] == published["compatibilities"]


def test_seed_awslogs_example() -> None:
    definition = build_task_definition(seed("task-definition.awslogs-example.json"))
    assert names(definition) == [f"{CAP}logging-driver.awslogs", f"{CAP}docker-remote-api.1.18"]
    assert definition["compatibilities"] == ["EXTERNAL", "EC2"]


BASE: dict[str, Any] = {
    "family": "f",
    "containerDefinitions": [{"name": "a", "image": "nginx", "memory": 128}],
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def with_container(**changes: Any) -> dict[str, Any]:
    return {**BASE, "containerDefinitions": [{**BASE["containerDefinitions"][0], **changes}]}


ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (BASE, []),
        (with_container(image=ECR), [f"{CAP}ecr-auth"]),
        ({**with_container(image=ECR), "executionRoleArn": ROLE}, ["ecs.capability.execution-role-ecr-pull"]),
        (with_(taskRoleArn=ROLE), [f"{CAP}task-iam-role"]),
        (
            with_(taskRoleArn=ROLE, networkMode="host"),
            [f"{CAP}task-iam-role", f"{CAP}task-iam-role-network-host"],
        ),
        (with_(taskRoleArn=ROLE, networkMode="awsvpc"), ["ecs.capability.task-eni"]),
        (with_container(healthCheck={"command": ["CMD", "true"]}), ["ecs.capability.container-health-check"]),
        (
            with_container(secrets=[{"name": "A", "valueFrom": "/param"}]),
            ["ecs.capability.secrets.ssm.environment-variables"],
        ),
        (
            with_container(
                secrets=[{"name": "A", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:x"}]
            ),
            ["ecs.capability.secrets.asm.environment-variables"],
        ),
        (
            with_container(environmentFiles=[{"value": "arn:aws:s3:::b/x.env", "type": "s3"}]),
            ["ecs.capability.env-files.s3"],
        ),
        (
            with_container(ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 2}]),
            [f"{CAP}docker-remote-api.1.18"],
        ),
        (
            with_container(logConfiguration={"logDriver": "json-file"}),
            [f"{CAP}docker-remote-api.1.18", f"{CAP}logging-driver.json-file"],
        ),
        (
            with_container(dependsOn=[{"containerName": "b", "condition": "START"}]),
            ["ecs.capability.container-ordering"],
        ),
        (with_(ephemeralStorage={"sizeInGiB": 30}), ["ecs.capability.extensible-ephemeral-storage"]),
    ],
)
def test_requires_attributes_table(definition: dict[str, Any], expected: list[str]) -> None:
    assert names(definition) == expected


def test_order_follows_aws_print_order() -> None:
    definition = {
        "family": "f",
        "networkMode": "awsvpc",
        "executionRoleArn": ROLE,
        "taskRoleArn": ROLE,
        "containerDefinitions": [
            {
                "name": "a",
                "image": ECR,
                "memory": 128,
                "healthCheck": {"command": ["CMD", "true"]},
                "secrets": [{"name": "A", "valueFrom": "/p"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {}},
            }
        ],
    }
    assert names(definition) == [
        f"{CAP}logging-driver.awslogs",
        "ecs.capability.execution-role-awslogs",
        "ecs.capability.container-health-check",
        "ecs.capability.execution-role-ecr-pull",
        "ecs.capability.secrets.ssm.environment-variables",
        f"{CAP}docker-remote-api.1.18",
        "ecs.capability.task-eni",
    ]


FARGATE_READY = with_(networkMode="awsvpc", cpu="256", memory="512")


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (BASE, ["EXTERNAL", "EC2"]),
        (with_(networkMode="awsvpc"), ["EC2"]),
        (FARGATE_READY, ["EC2", "FARGATE"]),
        ({**FARGATE_READY, "memory": "4096"}, ["EC2"]),
        (
            {**FARGATE_READY, "requiresCompatibilities": ["MANAGED_INSTANCES"]},
            ["EC2", "FARGATE", "MANAGED_INSTANCES"],
        ),
        (with_(cpu="256", memory="512"), ["EXTERNAL", "EC2"]),
        ({**FARGATE_READY, "containerDefinitions": [{"name": "a", "image": ECR}]}, ["EC2"]),
        ({**FARGATE_READY, "pidMode": "host"}, ["EC2"]),
        ({**FARGATE_READY, "volumes": [{"name": "v", "host": {"sourcePath": "/data"}}]}, ["EC2"]),
        ({**FARGATE_READY, "volumes": [{"name": "v", "host": {}}]}, ["EC2", "FARGATE"]),
    ],
)
def test_compatibilities_table(definition: dict[str, Any], expected: list[str]) -> None:
    assert compatibilities(definition) == expected


def test_fargate_obstacles_name_the_first_problem_ecs_reports() -> None:
    assert fargate_obstacles(FARGATE_READY) == []
    assert fargate_obstacles(BASE)[0] == "Fargate only supports network mode 'awsvpc'."


@pytest.mark.parametrize(
    ("image", "ecr"),
    [
        (ECR, True),
        ("xxxx.dkr.ecr.ap-northeast-1.amazonaws.com/test:latest", True),
        ("nginx", False),
        ("public.ecr.aws/nginx/nginx:latest", False),
        ("1.dkr.ecr.cn-north-1.amazonaws.com.cn/x", True),
    ],
)
def test_ecr_images(image: str, ecr: bool) -> None:
    assert is_ecr_image(image) is ecr
