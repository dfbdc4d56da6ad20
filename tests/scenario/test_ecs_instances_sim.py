"""The local machine is a container instance of every cluster: EC2 tasks are placed on it and
take its resources; a task that does not fit fails with ECS's reason."""

from __future__ import annotations

from tests.scenario.ecs_sim import SimBox, simulated


@simulated
async def test_ec2_tasks_use_the_local_instance_until_it_is_full(box: SimBox) -> None:
    info = await box.runtime.info()
    memory_mib = info.memory_bytes // (1024 * 1024)
    instances = (await box("ListContainerInstances", cluster="default"))["containerInstanceArns"]
    assert len(instances) == 1
    half = memory_mib // 2
    task_definition = await box.register("big", {"name": "app", "image": "app:1", "memory": half})

    first = await box("RunTask", taskDefinition=task_definition, launchType="EC2", count=2)
    assert len(first["tasks"]) == 2 and first["failures"] == []
    assert first["tasks"][0]["containerInstanceArn"] == instances[0]
    third = await box("RunTask", taskDefinition=task_definition, launchType="EC2")
    assert third["tasks"] == []
    assert third["failures"] == [{"arn": instances[0], "reason": "RESOURCE:MEMORY"}]

    await box.settle()
    described = await box("DescribeContainerInstances", cluster="default", containerInstances=instances)
    instance = described["containerInstances"][0]
    assert instance["runningTasksCount"] == 2
    left = {
        r["name"]: r["integerValue"] for r in instance["remainingResources"] if r["name"] in ("CPU", "MEMORY")
    }
    assert left["MEMORY"] == memory_mib - 2 * half


@simulated
async def test_custom_attributes_on_the_instance(box: SimBox) -> None:
    instance = (await box("ListContainerInstances", cluster="default"))["containerInstanceArns"][0]
    await box(
        "PutAttributes",
        cluster="default",
        attributes=[
            {"name": "stack", "value": "prod", "targetType": "container-instance", "targetId": instance}
        ],
    )
    listed = await box(
        "ListAttributes", cluster="default", targetType="container-instance", attributeName="stack"
    )
    assert listed["attributes"] == [
        {"name": "stack", "value": "prod", "targetType": "container-instance", "targetId": instance}
    ]


@simulated
async def test_start_task_on_the_local_instance(box: SimBox) -> None:
    instance = (await box("ListContainerInstances", cluster="default"))["containerInstanceArns"][0]
    task_definition = await box.register("small", {"name": "app", "image": "app:1", "memory": 64})
    answer = await box(
        "StartTask", taskDefinition=task_definition, containerInstances=[instance, "elsewhere"]
    )
    assert [t["containerInstanceArn"] for t in answer["tasks"]] == [instance]
    assert answer["failures"] == [{"arn": "elsewhere", "reason": "MISSING"}]
    await box.settle()
    listed = await box("ListTasks", cluster="default", containerInstance=instance)
    assert listed["taskArns"] == [answer["tasks"][0]["taskArn"]]
    assert (await box("ListTasks", cluster="default", containerInstance="another"))["taskArns"] == []


@simulated
async def test_an_ec2_service_runs_what_fits_and_says_why_not_the_rest(box: SimBox) -> None:
    info = await box.runtime.info()
    third = info.memory_bytes // (1024 * 1024) // 3
    task_definition = await box.register("wide", {"name": "app", "image": "app:1", "memory": third})
    await box(
        "CreateService", serviceName="wide", taskDefinition=task_definition, desiredCount=4, launchType="EC2"
    )
    await box.run_for(30)

    service = (await box("DescribeServices", cluster="default", services=["wide"]))["services"][0]
    assert service["runningCount"] == 3  # the fourth does not fit on this machine
    messages = [event["message"] for event in service["events"]]
    assert any(
        m.startswith(
            "(service wide) was unable to place a task because no container instance met all of its "
            "requirements. The closest matching container-instance "
        )
        and "insufficient memory" in m
        for m in messages
    ), messages
