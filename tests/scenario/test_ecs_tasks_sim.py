"""Standalone tasks through their whole lifecycle on the simulated runtime (SEMANTICS §1.6, §1.7):
RunTask, StopTask, essential exits, pull failures, dependsOn ordering, a service replacing crashed
tasks. Each test drives ecsbox as a user would and checks what DescribeTasks and the engine show."""

from __future__ import annotations

from typing import Any

from tests.scenario.ecs_sim import AWSVPC, LABEL_CONTAINER, SimBox, app_containers, simulated


def app(name: str = "app", image: str = "app:1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "memory": 128, **extra}


def by_name(states: list[Any]) -> dict[str, Any]:
    return {s.labels[LABEL_CONTAINER]: s for s in states}


@simulated
async def test_run_task_reaches_running_with_every_lifecycle_timestamp(box: SimBox) -> None:
    task_definition = await box.register(
        "web",
        app(portMappings=[{"containerPort": 80}]),
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )
    box.clock.advance(1)
    answer = await box(
        "RunTask", taskDefinition=task_definition, launchType="FARGATE", networkConfiguration=AWSVPC
    )
    created = answer["tasks"][0]
    assert (created["lastStatus"], created["desiredStatus"]) == ("PROVISIONING", "RUNNING")

    await box.settle()
    task = await box.task(created["taskArn"])

    assert (task["lastStatus"], task["desiredStatus"]) == ("RUNNING", "RUNNING")
    for stamp in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "connectivityAt"):
        assert stamp in task, stamp
    assert task["createdAt"] <= task["pullStartedAt"] <= task["pullStoppedAt"] <= task["startedAt"]
    assert "stoppedAt" not in task and "stopCode" not in task
    assert task["launchType"] == "FARGATE" and task["connectivity"] == "CONNECTED"
    eni = task["attachments"][0]
    assert eni["type"] == "ElasticNetworkInterface" and eni["status"] == "ATTACHED"
    address = {d["name"]: d["value"] for d in eni["details"]}["privateIPv4Address"]

    [container] = task["containers"]
    assert container["lastStatus"] == "RUNNING"
    assert container["networkInterfaces"] == [{"attachmentId": eni["id"], "privateIpv4Address": address}]
    # What runs on the engine: the pause container holding the ENI and the app joined to it.
    running = await box.running_containers(task["taskArn"])
    assert {s.labels[LABEL_CONTAINER] for s in running} == {"app", "~internal~ecs~pause"}
    assert by_name(running)["app"].id == container["runtimeId"]
    assert by_name(running)["~internal~ecs~pause"].ip_address == address


@simulated
async def test_stop_task_stops_it_as_user_initiated(box: SimBox) -> None:
    task_definition = await box.register("web", app(), app("sidecar", image="sidecar:1", essential=False))
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]
    await box.settle()
    assert (await box.task(task_arn))["lastStatus"] == "RUNNING"

    box.clock.advance(30)
    answer = await box("StopTask", task=task_arn, reason="deploying elsewhere")
    assert answer["task"]["desiredStatus"] == "STOPPED"
    await box.settle()
    task = await box.task(task_arn)

    assert (task["lastStatus"], task["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "deploying elsewhere"
    assert task["startedAt"] < task["stoppingAt"] <= task["executionStoppedAt"] <= task["stoppedAt"]
    assert [c["lastStatus"] for c in task["containers"]] == ["STOPPED", "STOPPED"]
    assert [c["exitCode"] for c in task["containers"]] == [0, 0]
    assert await box.running_containers(task_arn) == []
    listed = await box("ListTasks", cluster="default", desiredStatus="STOPPED")
    assert listed["taskArns"] == [task_arn]


@simulated
async def test_an_essential_container_exit_stops_the_task(box: SimBox) -> None:
    box.runtime.script_image("batch:1", exit_after_s=20, exit_code=3)
    box.runtime.script_image("helper:1", exit_after_s=5, exit_code=0)
    task_definition = await box.register(
        "job", app(image="batch:1"), app("helper", image="helper:1", essential=False)
    )
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]

    await box.run_for(10)
    task = await box.task(task_arn)
    # The non-essential helper exited at 5 s: the task keeps running.
    assert task["lastStatus"] == "RUNNING"
    assert {c["name"]: c["lastStatus"] for c in task["containers"]} == {"app": "RUNNING", "helper": "STOPPED"}

    await box.settle()
    task = await box.task(task_arn)
    assert task["lastStatus"] == "STOPPED"
    assert task["stopCode"] == "EssentialContainerExited"
    assert task["stoppedReason"] == "Essential container in task exited"
    containers = {c["name"]: c for c in task["containers"]}
    assert containers["app"]["exitCode"] == 3 and containers["helper"]["exitCode"] == 0
    assert task["stoppedAt"] - task["startedAt"] >= 20


@simulated
async def test_an_image_that_cannot_be_pulled_fails_the_task(box: SimBox) -> None:
    box.runtime.script_image("ghcr.io/acme/missing:1", pull_error="manifest unknown")
    task_definition = await box.register("web", app(image="ghcr.io/acme/missing:1"))
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]

    await box.settle()
    task = await box.task(task_arn)

    assert (task["lastStatus"], task["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError")
    assert "manifest unknown" in task["stoppedReason"]
    assert "startedAt" not in task and "pullStartedAt" in task
    assert task["containers"][0]["reason"].startswith("CannotPullContainerError")
    assert await box.containers() == []


@simulated
async def test_depends_on_orders_the_containers(box: SimBox) -> None:
    box.runtime.script_image("migrate:1", exit_after_s=15, exit_code=0)
    box.runtime.script_image("db:1", health="healthy")
    task_definition = await box.register(
        "shop",
        app("migrate", image="migrate:1", essential=False),
        app("db", image="db:1", healthCheck={"command": ["CMD", "true"], "interval": 10}),
        app(
            "app",
            dependsOn=[
                {"containerName": "migrate", "condition": "SUCCESS"},
                {"containerName": "db", "condition": "HEALTHY"},
            ],
        ),
        app("proxy", image="proxy:1", dependsOn=[{"containerName": "app", "condition": "START"}]),
    )
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]
    started = box.clock.now()

    await box.run_for(5, step_s=1)
    # migrate runs, db is not healthy yet: app and proxy wait, the task is still ACTIVATING.
    task = await box.task(task_arn)
    assert task["lastStatus"] == "ACTIVATING"
    assert set(by_name(await box.containers())) == {"migrate", "db"}

    await box.settle(step_s=1)
    task = await box.task(task_arn)
    assert task["lastStatus"] == "RUNNING"
    states = by_name(app_containers(await box.containers()))
    migrate, db, main, proxy = states["migrate"], states["db"], states["app"], states["proxy"]
    assert migrate.exit_code == 0 and migrate.finished_at == started + 15
    assert main.started_at is not None and proxy.started_at is not None
    # SUCCESS: after migrate exited 0; HEALTHY: after db's first health check (10 s in).
    assert main.started_at >= migrate.finished_at
    assert main.started_at >= db.started_at + 10
    assert proxy.started_at >= main.started_at
    assert task["startedAt"] >= main.started_at


@simulated
async def test_a_failed_success_dependency_fails_the_task(box: SimBox) -> None:
    box.runtime.script_image("migrate:2", exit_after_s=3, exit_code=1)
    task_definition = await box.register(
        "shop",
        app("migrate", image="migrate:2", essential=False),
        app("app", dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]),
    )
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]

    await box.settle(step_s=1)
    task = await box.task(task_arn)

    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "TaskFailedToStart"
    assert "migrate did not meet condition SUCCESS" in task["stoppedReason"]
    assert "app" not in by_name(await box.containers())  # never created


@simulated
async def test_a_service_keeps_its_desired_count_after_crashes(box: SimBox) -> None:
    task_definition = await box.register("web", app())
    await box("CreateService", serviceName="web", taskDefinition=task_definition, desiredCount=3)
    await box.settle()
    first = [t for t in await box.tasks("web") if t.last_status == "RUNNING"]
    assert len(first) == 3

    for victim in first[:2]:
        box.runtime.crash(victim.runtime["containers"]["app"], exit_code=137)
    await box.settle()

    service = await box.service("web")
    assert (service["runningCount"], service["pendingCount"], service["desiredCount"]) == (3, 0, 3)
    tasks = await box.tasks("web")
    assert len(tasks) == 5
    crashed = [t for t in tasks if t.last_status == "STOPPED"]
    assert {t.task_arn for t in crashed} == {t.task_arn for t in first[:2]}
    assert {t.document["stopCode"] for t in crashed} == {"EssentialContainerExited"}
    assert len(app_containers(await box.running_containers())) == 3
    messages = await box.event_messages("web")
    assert sum("has started 1 tasks" in m or "has started 2 tasks" in m for m in messages) >= 1
    # Tasks that died after RUNNING never throttle the service.
    assert not any("unable to consistently start tasks" in m for m in messages)
    assert messages[-1] == "(service web) has reached a steady state."


@simulated
async def test_a_dependency_that_never_gets_healthy_times_out(box: SimBox) -> None:
    box.runtime.script_image("db:slow", health=None)  # the health check never concludes
    task_definition = await box.register(
        "shop",
        app("db", image="db:slow", healthCheck={"command": ["CMD", "true"]}),
        app("app", startTimeout=60, dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]),
    )
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]

    await box.run_for(55, step_s=5)
    assert (await box.task(task_arn))["lastStatus"] == "ACTIVATING"
    await box.settle(step_s=5)
    task = await box.task(task_arn)

    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("ContainerRuntimeTimeoutError: app waited too long for db")
    assert 60 <= task["stoppedAt"] - task["createdAt"] <= 70
    assert await box.running_containers() == []


@simulated
async def test_a_stopped_task_is_forgotten_after_an_hour_with_its_containers(box: SimBox) -> None:
    task_definition = await box.register("web", app())
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]
    await box.settle()
    await box("StopTask", task=task_arn)
    await box.settle()
    assert len(await box.containers()) == 1  # exited, kept for `docker logs` while the task is describable

    await box.run_for(3600, step_s=300)

    answer = await box("DescribeTasks", cluster="default", tasks=[task_arn])
    assert answer["tasks"] == [] and answer["failures"][0]["reason"] == "MISSING"
    assert await box.containers() == []
