"""Interrupting a Fargate Spot task as AWS reclaims capacity (SEMANTICS §3.2): the notice, SIGTERM
at once, SIGKILL after the stop timeout, and the service's replacement."""

from __future__ import annotations

import pytest
from tests.scenario.ecs_sim import AWSVPC, SimBox, simulated

from ecsbox.ecs.spot import NotInterruptible, interrupt_spot_task


async def _spot_service(box: SimBox, image: str = "app:1", stop_timeout: int = 200) -> list[dict]:
    await box(
        "PutClusterCapacityProviders",
        cluster="default",
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[],
    )
    task_definition = await box.register(
        "spot",
        {"name": "app", "image": image, "memory": 128, "stopTimeout": stop_timeout},
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )
    await box(
        "CreateService",
        serviceName="web",
        taskDefinition=task_definition,
        desiredCount=2,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        networkConfiguration=AWSVPC,
    )
    await box.settle()
    arns = (await box("ListTasks", cluster="default", serviceName="web"))["taskArns"]
    return [await box.task(arn) for arn in arns]


@simulated
async def test_an_interrupted_spot_task_gets_the_notice_and_is_replaced(box: SimBox) -> None:
    box.runtime.script_image("app:1", ignore_stop_signal=True)
    tasks = await _spot_service(box)
    assert [t["capacityProviderName"] for t in tasks] == ["FARGATE_SPOT", "FARGATE_SPOT"]
    victim = tasks[0]["taskArn"]

    answer = await interrupt_spot_task(box.store, box.process.agent.wake, victim)
    assert answer["stopCode"] == "TerminationNotice"
    task = await box.task(victim)
    # The notice: still RUNNING, desired STOPPED, with AWS's reason.
    assert (task["lastStatus"], task["desiredStatus"]) == ("RUNNING", "STOPPED")
    assert task["stoppedReason"] == "Your Spot Task was interrupted."

    # SIGTERM is ignored by this app; SIGKILL comes after min(stopTimeout, 120 s) on Fargate.
    await box.run_for(110)
    assert (await box.task(victim))["lastStatus"] != "STOPPED"
    await box.run_for(30)
    task = await box.task(victim)
    assert task["lastStatus"] == "STOPPED"
    assert task["containers"][0]["exitCode"] == 137

    await box.settle()
    running = (await box("ListTasks", cluster="default", serviceName="web"))["taskArns"]
    assert len(running) == 2 and victim not in running
    assert {(await box.task(arn))["capacityProviderName"] for arn in running} == {"FARGATE_SPOT"}


@simulated
async def test_only_a_spot_task_can_be_interrupted(box: SimBox) -> None:
    task_definition = await box.register("plain", {"name": "app", "image": "app:1", "memory": 128})
    task_arn = (await box("RunTask", taskDefinition=task_definition))["tasks"][0]["taskArn"]
    await box.settle()
    with pytest.raises(NotInterruptible):
        await interrupt_spot_task(box.store, box.process.agent.wake, task_arn)
    assert (await box.task(task_arn))["desiredStatus"] == "RUNNING"
