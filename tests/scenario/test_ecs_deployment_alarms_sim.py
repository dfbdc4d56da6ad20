"""Deployment alarms on the simulated runtime (SEMANTICS §1.3): a CloudWatch alarm that goes into
ALARM during a rolling deployment fails it (and rolls it back when asked); one that stays OK lets
it complete after the bake time. The alarms are the scheduler's fake reader (``box.alarms``)."""

from __future__ import annotations

from typing import Any

from tests.scenario.ecs_sim import SimBox, in_flight, simulated

from ecsbox.aws.errors import AwsError
from ecsbox.ecs import AlarmReading
from ecsbox.ecs.deployment_alarms import REASON_ALARMS

ALARM_NAME = "web-5xx"
EVALUATION_S = 180.0  # Period 60 x EvaluationPeriods 3: the bake time ecsbox derives


def app(image: str) -> dict[str, Any]:
    return {"name": "app", "image": image, "memory": 128}


def set_alarm(box: SimBox, state: str) -> None:
    box.alarms.states[ALARM_NAME] = AlarmReading(state, EVALUATION_S)


async def primary(box: SimBox) -> dict[str, Any]:
    return dict(next(d for d in (await box.service("web"))["deployments"] if d["status"] == "PRIMARY"))


async def completed(box: SimBox) -> bool:
    return bool((await primary(box))["rolloutState"] == "COMPLETED")


async def serving(box: SimBox, desired: int = 4) -> float:
    """Create the service on web:1 with the alarm OK; wait until that first deployment COMPLETED."""
    set_alarm(box, "OK")
    v1 = await box.register("web", app("web:1"))
    await box(
        "CreateService",
        serviceName="web",
        taskDefinition=v1,
        desiredCount=desired,
        deploymentConfiguration={"alarms": {"alarmNames": [ALARM_NAME], "enable": True, "rollback": True}},
    )
    return await box.until(lambda: completed(box), limit_s=900, step_s=5)


async def update_to(box: SimBox, image: str, rollback: bool = True) -> str:
    definition = await box.register("web", app(image))
    answer = await box(
        "UpdateService",
        service="web",
        taskDefinition=definition,
        deploymentConfiguration={
            "alarms": {"alarmNames": [ALARM_NAME], "enable": True, "rollback": rollback}
        },
    )
    return str(answer["service"]["deployments"][0]["id"])


class Deployments:
    """Remembers every deployment's latest view after every round (a failed deployment that rolled
    back may be gone by the end of the instant it failed in)."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, Any]] = {}

    async def __call__(self, box: SimBox) -> None:
        answer = await box("DescribeServices", cluster="default", services=["web"])
        for service in answer["services"]:
            for deployment in service["deployments"]:
                self.seen[deployment["id"]] = deployment


async def running_images(box: SimBox) -> list[str]:
    return sorted(
        t.runtime["taskDefinition"]["containerDefinitions"][0]["image"]
        for t in await box.tasks("web")
        if in_flight(t)
    )


@simulated
async def test_an_alarm_during_the_rollout_fails_it_and_rolls_back(box: SimBox) -> None:
    await serving(box)
    first = await primary(box)
    failed_id = await update_to(box, "web:2")

    async def new_task_running() -> bool:
        return any(
            t.last_status == "RUNNING" and t.runtime.get("deploymentId") == failed_id
            for t in await box.tasks("web")
        )

    await box.until(new_task_running, step_s=1)
    deployments = Deployments()
    box.checks.append(deployments)
    set_alarm(box, "ALARM")
    await box.step(1)

    service = await box.service("web")
    failed = deployments.seen[failed_id]
    assert (failed["status"], failed["rolloutState"], failed["rolloutStateReason"]) == (
        "ACTIVE",
        "FAILED",
        REASON_ALARMS,
    )
    rollback = service["deployments"][0]
    assert rollback["status"] == "PRIMARY" and rollback["id"] not in (failed_id, first["id"])
    assert rollback["taskDefinition"] == first["taskDefinition"] == service["taskDefinition"]
    assert rollback["rolloutState"] == "IN_PROGRESS"
    assert (
        rollback["rolloutStateReason"]
        == f"ECS deployment alarms: rolling back to deploymentId {first['id']}."
    )
    messages = await box.event_messages("web")
    assert (
        f"(service web) (deployment {failed_id}) deployment failed: alarm(s) detected: {ALARM_NAME}."
        in messages
    )
    assert f"(service web) (deployment {failed_id}) rolling back to deployment {first['id']}." in messages

    # The alarm keeps firing: it was firing when the rollback started, so it does not fail the
    # rollback, which completes after its bake time with only web:1 running.
    await box.until(lambda: completed(box), limit_s=900, step_s=5)
    service = await box.service("web")
    assert [d["id"] for d in service["deployments"]] == [rollback["id"]]
    assert await running_images(box) == ["web:1"] * 4
    crashed = [t for t in await box.tasks("web") if t.runtime.get("deploymentId") == failed_id]
    assert crashed and {t.last_status for t in crashed} == {"STOPPED"}


@simulated
async def test_an_alarm_that_stays_ok_lets_the_rollout_complete_after_the_bake_time(box: SimBox) -> None:
    await serving(box)
    first_id = (await primary(box))["id"]
    new_id = await update_to(box, "web:2")

    async def rolled_out() -> bool:
        deployments = {d["id"]: d for d in (await box.service("web"))["deployments"]}
        new, old = deployments[new_id], deployments.get(first_id)
        return new["runningCount"] == 4 and old is not None and old["runningCount"] + old["pendingCount"] == 0

    await box.until(rolled_out, step_s=1)
    rolled_out_at = box.clock.now()
    baking = await box.service("web")
    # Baking: the new deployment is still IN_PROGRESS and the old one still listed (nothing left).
    assert [(d["id"], d["status"], d["rolloutState"]) for d in baking["deployments"]] == [
        (new_id, "PRIMARY", "IN_PROGRESS"),
        (first_id, "ACTIVE", "COMPLETED"),
    ]
    assert baking["deployments"][1]["desiredCount"] == 0

    waited = await box.until(lambda: completed(box), limit_s=600, step_s=5)
    assert EVALUATION_S - 5 <= waited <= EVALUATION_S + 10, waited
    assert box.clock.now() - rolled_out_at >= EVALUATION_S - 5
    service = await box.service("web")
    assert [(d["id"], d["rolloutState"]) for d in service["deployments"]] == [(new_id, "COMPLETED")]
    assert await running_images(box) == ["web:2"] * 4
    messages = await box.event_messages("web")
    assert f"(service web) (deployment {new_id}) deployment completed." in messages
    assert not any("deployment failed" in m for m in messages)


@simulated
async def test_an_alarm_during_the_bake_time_still_fails_the_deployment(box: SimBox) -> None:
    await serving(box)
    first_id = (await primary(box))["id"]
    new_id = await update_to(box, "web:2")

    async def old_drained() -> bool:
        deployments = {d["id"]: d for d in (await box.service("web"))["deployments"]}
        return deployments[first_id]["runningCount"] == 0 and deployments[new_id]["runningCount"] == 4

    await box.until(old_drained, step_s=1)
    await box.run_for(60, step_s=5)  # well inside the 180 s bake
    assert (await primary(box))["rolloutState"] == "IN_PROGRESS"
    deployments = Deployments()
    box.checks.append(deployments)
    set_alarm(box, "ALARM")
    await box.step(1)
    assert deployments.seen[new_id]["rolloutState"] == "FAILED"
    assert (await primary(box))[
        "rolloutStateReason"
    ] == f"ECS deployment alarms: rolling back to deploymentId {first_id}."
    await box.until(lambda: completed(box), limit_s=900, step_s=5)
    assert await running_images(box) == ["web:1"] * 4


@simulated
async def test_without_rollback_the_deployment_fails_and_stays(box: SimBox) -> None:
    await serving(box, desired=2)
    first_id = (await primary(box))["id"]
    failed_id = await update_to(box, "web:2", rollback=False)

    async def new_task_running() -> bool:
        return any(
            t.last_status == "RUNNING" and t.runtime.get("deploymentId") == failed_id
            for t in await box.tasks("web")
        )

    await box.until(new_task_running, step_s=1)
    launched = len([t for t in await box.tasks("web") if t.runtime.get("deploymentId") == failed_id])
    set_alarm(box, "ALARM")
    await box.run_for(300, step_s=5)

    service = await box.service("web")
    assert [(d["id"], d["status"], d["rolloutState"]) for d in service["deployments"]] == [
        (failed_id, "PRIMARY", "FAILED"),
        (first_id, "ACTIVE", "COMPLETED"),
    ]
    assert service["deployments"][0]["rolloutStateReason"] == REASON_ALARMS
    assert service["taskDefinition"].endswith("web:2")
    messages = await box.event_messages("web")
    assert (
        f"(service web) (deployment {failed_id}) deployment failed: alarm(s) detected: {ALARM_NAME}."
        in messages
    )
    assert not any("rolling back" in m for m in messages)
    # A FAILED deployment launches nothing more.
    assert len([t for t in await box.tasks("web") if t.runtime.get("deploymentId") == failed_id]) == launched


@simulated
async def test_an_alarm_already_firing_when_the_deployment_starts_is_ignored_until_it_recovers(
    box: SimBox,
) -> None:
    await serving(box, desired=2)
    set_alarm(box, "ALARM")
    new_id = await update_to(box, "web:2")
    await box.until(lambda: completed(box), limit_s=900, step_s=5)
    assert (await primary(box))["id"] == new_id

    # Next deployment: firing at the start, then OK, then ALARM again → that counts.
    third_id = await update_to(box, "web:3")
    deployments = Deployments()
    box.checks.append(deployments)
    await box.step(1)
    set_alarm(box, "OK")
    await box.step(1)
    assert deployments.seen[third_id]["rolloutState"] == "IN_PROGRESS"
    set_alarm(box, "ALARM")
    await box.step(1)
    assert deployments.seen[third_id]["rolloutState"] == "FAILED"


@simulated
async def test_alarms_that_do_not_exist_are_skipped_and_bake_nothing(box: SimBox) -> None:
    v1 = await box.register("web", app("web:1"))
    await box(
        "CreateService",
        serviceName="web",
        taskDefinition=v1,
        desiredCount=1,
        deploymentConfiguration={"alarms": {"alarmNames": ["nowhere"], "enable": True, "rollback": True}},
    )
    waited = await box.until(lambda: completed(box), limit_s=300, step_s=5)
    assert waited <= 60  # RUNNING + 40 s to count as healthy; no bake
    assert box.alarms.reads > 0


@simulated
async def test_the_alarms_configuration_is_checked_and_described(box: SimBox) -> None:
    v1 = await box.register("web", app("web:1"))
    for alarms, message in [
        ({"alarmNames": [], "enable": True, "rollback": False}, "alarmNames must name at least one"),
        ({"alarmNames": ["x" * 256], "enable": True, "rollback": False}, "1 to 255 characters"),
        ({"alarmNames": [f"a{i}" for i in range(101)], "enable": False, "rollback": False}, "at most 100"),
    ]:
        try:
            await box(
                "CreateService",
                serviceName="web",
                taskDefinition=v1,
                desiredCount=1,
                deploymentConfiguration={"alarms": alarms},
            )
        except AwsError as error:
            assert error.code == "InvalidParameterException" and message in error.message
        else:
            raise AssertionError(f"accepted {alarms}")
    assert (await box("ListServices"))["serviceArns"] == []

    alarms = {"alarmNames": [ALARM_NAME, "web-latency"], "enable": False, "rollback": True}
    await box(
        "CreateService",
        serviceName="web",
        taskDefinition=v1,
        desiredCount=1,
        deploymentConfiguration={"alarms": alarms},
    )
    assert (await box.service("web"))["deploymentConfiguration"]["alarms"] == alarms
    # Disabled: an alarm in ALARM changes nothing and the deployment completes without a bake.
    box.alarms.states[ALARM_NAME] = AlarmReading("ALARM", 600)
    waited = await box.until(lambda: completed(box), limit_s=300, step_s=5)
    assert waited <= 60
