"""Task definitions' ``secrets`` are resolved at start into the container's environment, and a
secret that cannot be resolved stops the task as ECS does."""

from __future__ import annotations

from tests.scenario.ecs_sim import SimBox, simulated

from ecsbox.ecs.taskspec import LABEL_TASK_ARN


def _environment_of(box: SimBox, task_arn: str) -> dict[str, str]:
    containers = [
        c for c in box.runtime._containers.values() if c.spec.labels.get(LABEL_TASK_ARN) == task_arn
    ]
    assert len(containers) == 1
    return dict(containers[0].spec.environment)


@simulated
async def test_a_parameter_becomes_the_containers_environment(box: SimBox) -> None:
    await box("PutParameter", Name="/app/db/password", Value="s3cret", Type="SecureString")
    container = {
        "name": "app",
        "image": "app:1",
        "memory": 128,
        "environment": [{"name": "PLAIN", "value": "visible"}],
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "/app/db/password"}],
    }
    task_definition = await box.register("web", container)
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]
    await box.settle()

    assert (await box.task(task_arn))["lastStatus"] == "RUNNING"
    environment = _environment_of(box, task_arn)
    assert environment["DB_PASSWORD"] == "s3cret"
    assert environment["PLAIN"] == "visible"
    # The value is in the environment only: the task description does not carry it.
    assert "s3cret" not in repr(await box.task(task_arn))


@simulated
async def test_a_missing_parameter_stops_the_task_before_it_starts(box: SimBox) -> None:
    container = {
        "name": "app",
        "image": "app:1",
        "memory": 128,
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "/app/missing"}],
    }
    task_definition = await box.register("web", container)
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]
    await box.settle()

    task = await box.task(task_arn)
    assert task["lastStatus"] == "STOPPED"
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets")
    assert "/app/missing" in task["stoppedReason"]
    assert "startedAt" not in task
