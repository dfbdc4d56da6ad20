"""RegisterTaskDefinition's rules as a pure function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ecsbox.ecs
from ecsbox.ecs.model import EcsRuleError
from ecsbox.ecs.taskdef_rules import build_task_definition

SEED = Path("/work/shared/seed")


def seed(name: str) -> dict[str, Any]:
    return json.loads((SEED / name).read_text())


def test_the_document_is_kept_as_sent() -> None:
    request = seed("task-definition.php-sample-fargate.json")
    definition = build_task_definition(request)
    for key, value in request.items():
        assert definition[key] == value  # empty lists included
    assert definition["containerDefinitions"][0]["environment"] == []


def test_tags_are_not_part_of_the_document() -> None:
    request = seed("task-definition.awslogs-example.json") | {"tags": [{"key": "a", "value": "b"}]}
    assert "tags" not in build_task_definition(request)


def test_the_request_is_not_mutated() -> None:
    request = seed("task-definition.php-sample-fargate.json") | {"cpu": "0.25 vCPU", "memory": "0.5GB"}
    before = json.dumps(request)
    assert build_task_definition(request)["cpu"] == "256"
    assert json.dumps(request) == before


def fails(request: dict[str, Any]) -> str:
    with pytest.raises(EcsRuleError) as caught:
        build_task_definition(request)
    assert caught.value.code == "ClientException"
    return caught.value.message


BASE: dict[str, Any] = {"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "memory": 64}]}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"family": "bad family"}, "Family name is invalid"),
        ({"family": "x" * 256}, "Family name is invalid"),
        (
            {"containerDefinitions": [{"name": "a b", "image": "x", "memory": 1}]},
            "Container name 'a b' is invalid",
        ),
        (
            {"containerDefinitions": [{"image": "x", "memory": 1}]},
            "Container.name should not be null or empty.",
        ),
        (
            {"containerDefinitions": [{"name": f"c{i}", "image": "x", "memory": 1} for i in range(11)]},
            "Too many",
        ),
        ({"cpu": "64"}, "Invalid 'cpu' setting for task"),
        (
            {"cpu": "128", "containerDefinitions": [{"name": "a", "image": "x", "memory": 64, "cpu": 256}]},
            "The sum of all container 'cpu' values",
        ),
        (
            {
                "networkMode": "awsvpc",
                "containerDefinitions": [{"name": "a", "image": "x", "memory": 64, "links": ["b"]}],
            },
            "Links are not supported when networkMode=awsvpc.",
        ),
        (
            {
                "containerDefinitions": [
                    {
                        "name": "a",
                        "image": "x",
                        "memory": 64,
                        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
                    }
                ]
            },
            "Log driver awslogs requires options: awslogs-region",
        ),
        ({"requiresCompatibilities": ["EXTERNAL"], "networkMode": "awsvpc"}, "EXTERNAL"),
        (
            {
                "requiresCompatibilities": ["FARGATE"],
                "networkMode": "awsvpc",
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [{"name": "a", "image": "1.dkr.ecr.us-east-1.amazonaws.com/x"}],
            },
            "Fargate requires task definition to have execution role ARN to support ECR images.",
        ),
    ],
)
def test_rules(change: dict[str, Any], fragment: str) -> None:
    assert fragment in fails({**BASE, **change})


def test_host_mode_ports_must_match() -> None:
    container = {
        "name": "a",
        "image": "x",
        "memory": 64,
        "portMappings": [{"containerPort": 80, "hostPort": 81}],
    }
    assert "networkMode=host" in fails({**BASE, "networkMode": "host", "containerDefinitions": [container]})
    container["portMappings"] = [{"containerPort": 80, "hostPort": 81}]
    build_task_definition({**BASE, "networkMode": "bridge", "containerDefinitions": [container]})


def test_package_surface() -> None:
    assert ecsbox.ecs.__all__ == [
        "TASK_CHANGED",
        "AlarmReading",
        "ServiceScheduler",
        "TaskAgent",
        "monitoring_snapshot",
        "operations",
        "register",
    ]
    registered: list[str] = []

    class Registry:
        def register(self, service: str, operation: str, handler: Any) -> None:
            assert service == "ecs" and callable(handler)
            registered.append(operation)

    ecsbox.ecs.register(Registry(), store=None, clock=None)  # type: ignore[arg-type]
    assert len(registered) == 39 and {"RegisterTaskDefinition", "RunTask", "CreateService"} <= set(registered)


@pytest.mark.parametrize(
    ("definition", "reach"),
    [
        ({"containerDefinitions": [{"name": "a"}]}, []),
        (
            {"networkMode": "host", "containerDefinitions": [{"privileged": True}]},
            ["networkMode host", "privileged container"],
        ),
        (
            {
                "pidMode": "host",
                "volumes": [{"name": "root", "host": {"sourcePath": "/"}}],
                "containerDefinitions": [],
            },
            ["pidMode host", "host volume"],
        ),
        ({"volumes": [{"name": "scratch", "host": {}}], "containerDefinitions": []}, []),
    ],
)
def test_host_reach(definition: dict, reach: list[str]) -> None:
    from ecsbox.ecs.taskdef_rules import host_reach

    assert host_reach(definition) == reach
