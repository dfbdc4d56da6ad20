"""Services on the simulated runtime (SEMANTICS §1.2-1.5, §3.1): rolling deployments inside their
bounds, the start throttle, the circuit breaker's rollback, the capacity provider split, DeleteService
and an ecsbox restart in the middle of a deployment. Bounds are checked after every step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.scenario.ecs_sim import (
    AWSVPC,
    LABEL_CONTAINER,
    LABEL_TASK_ARN,
    SimBox,
    app_containers,
    in_flight,
    is_healthy,
    max_tasks,
    min_healthy,
    simulated,
)

from ecsbox.ecs.backoff import throttle_delay

HEALTH_CHECK = {"command": ["CMD", "true"], "interval": 10, "retries": 2}


def app(image: str, **extra: Any) -> dict[str, Any]:
    return {"name": "app", "image": image, "memory": 128, **extra}


@dataclass
class Bounds:
    """Checks a service's rolling bounds after every step; remembers the extremes it saw."""

    service_name: str
    desired: int
    minimum_healthy_percent: int
    maximum_percent: int
    steady: bool = False
    most_in_flight: int = 0
    fewest_healthy: int = 10**6
    samples: list[tuple[float, int, int]] = field(default_factory=list)

    async def __call__(self, box: SimBox) -> None:
        tasks = await box.tasks(self.service_name)
        now = box.clock.now()
        flying = sum(1 for t in tasks if in_flight(t))
        healthy = sum(1 for t in tasks if is_healthy(t, now))
        # Containers of the service that run on the engine: nothing more than maxTasks either.
        arns = {t.task_arn for t in tasks}
        running_apps = {
            c.labels[LABEL_TASK_ARN]
            for c in app_containers(await box.running_containers())
            if c.labels[LABEL_TASK_ARN] in arns
        }
        ceiling = max_tasks(self.desired, self.maximum_percent)
        assert flying <= ceiling, f"{flying} tasks in flight > maxTasks {ceiling}"
        assert len(running_apps) <= ceiling, f"{len(running_apps)} tasks running on the engine > {ceiling}"
        self.steady = self.steady or healthy >= self.desired
        if self.steady:
            floor = min_healthy(self.desired, self.minimum_healthy_percent)
            assert healthy >= floor, f"{healthy} healthy tasks < minHealthy {floor}"
            self.fewest_healthy = min(self.fewest_healthy, healthy)
        self.most_in_flight = max(self.most_in_flight, flying)
        self.samples.append((now, flying, healthy))


async def task_definitions(box: SimBox, service: dict[str, Any]) -> list[str]:
    """The task definitions of the service's tasks that run now."""
    return sorted(
        t.document["taskDefinitionArn"] for t in await box.tasks(service["serviceName"]) if in_flight(t)
    )


async def rolling_update(box: SimBox, minimum: int, maximum: int, health_check: bool) -> Bounds:
    extra = {"healthCheck": HEALTH_CHECK} if health_check else {}
    v1 = await box.register("web", app("web:1", **extra))
    v2 = await box.register("web", app("web:2", **extra))
    await box(
        "CreateService",
        serviceName="web",
        taskDefinition=v1,
        desiredCount=4,
        deploymentConfiguration={"minimumHealthyPercent": minimum, "maximumPercent": maximum},
    )
    bounds = Bounds("web", 4, minimum, maximum)
    box.checks.append(bounds)
    await box.settle()
    assert bounds.steady
    first = await box.service("web")
    assert first["deployments"][0]["rolloutState"] == "COMPLETED"

    await box("UpdateService", service="web", taskDefinition=v2)
    await box.settle()

    service = await box.service("web")
    [deployment] = service["deployments"]
    assert deployment["status"] == "PRIMARY" and deployment["rolloutState"] == "COMPLETED"
    assert deployment["taskDefinition"] == v2 and deployment["id"] != first["deployments"][0]["id"]
    assert (service["runningCount"], service["pendingCount"]) == (4, 0)
    assert await task_definitions(box, service) == [v2] * 4
    running = app_containers(await box.running_containers())
    assert sorted(c.image for c in running) == ["web:2"] * 4
    stopped_v1 = [t for t in await box.tasks("web") if t.document["taskDefinitionArn"] == v1]
    assert len(stopped_v1) == 4
    assert {t.document["stopCode"] for t in stopped_v1} == {"ServiceSchedulerInitiated"}
    assert {t.last_status for t in stopped_v1} == {"STOPPED"}
    messages = await box.event_messages("web")
    assert f"(service web) (deployment {deployment['id']}) deployment completed." in messages
    assert messages[-1] == "(service web) has reached a steady state."
    return bounds


@simulated
async def test_rolling_update_at_200_100_starts_all_new_tasks_before_stopping_old(box: SimBox) -> None:
    bounds = await rolling_update(box, minimum=100, maximum=200, health_check=True)
    # It used the room maximumPercent gives (8 in flight) and never went below 4 healthy.
    assert bounds.most_in_flight == 8
    assert bounds.fewest_healthy == 4


@simulated
async def test_rolling_update_at_100_50_stops_half_first(box: SimBox) -> None:
    bounds = await rolling_update(box, minimum=50, maximum=100, health_check=False)
    assert bounds.most_in_flight == 4
    assert bounds.fewest_healthy == 2


@simulated
async def test_tasks_that_never_run_are_retried_with_a_progressive_back_off(box: SimBox) -> None:
    box.runtime.script_image("web:broken", pull_error="pull access denied")
    broken = await box.register("web", app("web:broken"))
    await box("CreateService", serviceName="web", taskDefinition=broken, desiredCount=1)

    await box.run_for(1200, step_s=5)
    tasks = await box.tasks("web")

    # Replay what the user sees (one task at a time: each created after the previous one stopped)
    # against the documented throttle: no task started before the throttle allowed it, nor much later.
    failures, last_failure, gaps = 0, None, []
    for task in tasks:
        if last_failure is not None:
            allowed = last_failure + throttle_delay(failures)
            assert task.created_at >= allowed, (
                f"task started at {task.created_at}, throttle allowed {allowed}"
            )
            assert task.created_at <= allowed + 5  # the next step after it is allowed
            gaps.append(task.created_at - last_failure)
        if task.last_status == "STOPPED":
            failures, last_failure = failures + 1, float(task.document["stoppedAt"])
    assert {t.document["stopCode"] for t in tasks if t.last_status == "STOPPED"} == {"TaskFailedToStart"}
    assert gaps[:7] == [0, 0, 30, 60, 120, 240, 480]
    assert len(tasks) <= 9  # 1200 s: 0, 0, 30, 60, 120, 240, 480 → then 900 s
    messages = await box.event_messages("web")
    impaired = "(service web) is unable to consistently start tasks successfully."
    assert impaired in messages

    # The image gets fixed: the next allowed launch runs, and the throttle is lifted.
    box.runtime.script_image("web:broken")
    last_failure = max(float(t.document["stoppedAt"]) for t in await box.tasks("web"))

    async def running() -> bool:
        return bool((await box.service("web"))["runningCount"])

    await box.until(running, limit_s=900, step_s=5)
    started = [t for t in await box.tasks("web") if t.last_status == "RUNNING"]
    assert started[0].created_at >= last_failure + throttle_delay(len(tasks))
    await box.settle()
    assert (await box.service("web"))["deployments"][0]["rolloutState"] == "COMPLETED"


@simulated
async def test_update_service_lifts_the_throttle(box: SimBox) -> None:
    box.runtime.script_image("web:broken", pull_error="pull access denied")
    broken = await box.register("web", app("web:broken"))
    fixed = await box.register("web", app("web:2"))
    await box("CreateService", serviceName="web", taskDefinition=broken, desiredCount=1)
    await box.run_for(200, step_s=5)  # 5 failures so far: the next launch is 120 s away
    launched = len(await box.tasks("web"))

    await box("UpdateService", service="web", taskDefinition=fixed)
    await box.run_for(5, step_s=5)

    tasks = await box.tasks("web")
    assert len(tasks) == launched + 1
    assert tasks[-1].document["taskDefinitionArn"] == fixed and tasks[-1].last_status == "RUNNING"


@simulated
async def test_circuit_breaker_rolls_back_to_the_last_completed_deployment(box: SimBox) -> None:
    box.runtime.script_image("web:crashing", exit_after_s=0, exit_code=1)
    good = await box.register("web", app("web:1"))
    bad = await box.register("web", app("web:crashing"))
    await box(
        "CreateService",
        serviceName="web",
        taskDefinition=good,
        desiredCount=4,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    bounds = Bounds("web", 4, 100, 200)
    box.checks.append(bounds)
    await box.settle()
    completed = (await box.service("web"))["deployments"][0]
    assert completed["rolloutState"] == "COMPLETED"

    updated = await box("UpdateService", service="web", taskDefinition=bad)
    failed_id = updated["service"]["deployments"][0]["id"]
    await box.settle()
    service = await box.service("web")

    # The failed deployment is gone, a rollback deployment of the good definition completed.
    [rollback] = service["deployments"]
    assert rollback["id"] not in (failed_id, completed["id"])
    assert rollback["taskDefinition"] == good and service["taskDefinition"] == good
    assert rollback["rolloutState"] == "COMPLETED"
    assert await task_definitions(box, service) == [good] * 4
    messages = await box.event_messages("web")
    assert f"(service web) (deployment {failed_id}) deployment failed: tasks failed to start." in messages
    assert f"(service web) (deployment {failed_id}) rolling back to deployment {completed['id']}." in messages
    crashed = [t for t in await box.tasks("web") if t.document["taskDefinitionArn"] == bad]
    # maxPercent 200 let the first wave start 4 at once; the breaker (threshold max(3, ceil(0.5 * 4))
    # = 3) tripped on them, and the failed deployment started no second wave.
    assert len(crashed) == 4
    assert {t.document["stopCode"] for t in crashed} == {"EssentialContainerExited"}
    assert bounds.fewest_healthy == 4  # the good tasks kept serving throughout


async def provider_counts(box: SimBox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in await box.tasks("web"):
        if in_flight(task):
            provider = task.document["capacityProviderName"]
            counts[provider] = counts.get(provider, 0) + 1
    return counts


@simulated
async def test_capacity_provider_base_and_weight_split_holds_while_scaling(box: SimBox) -> None:
    await box(
        "PutClusterCapacityProviders",
        cluster="default",
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[],
    )
    task_definition = await box.register(
        "web",
        app("web:1"),
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
    )
    await box(
        "CreateService",
        serviceName="web",
        taskDefinition=task_definition,
        desiredCount=6,
        networkConfiguration=AWSVPC,
        capacityProviderStrategy=[
            {"capacityProvider": "FARGATE", "base": 2, "weight": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 1},
        ],
    )
    await box.settle()
    assert await provider_counts(box) == {"FARGATE": 4, "FARGATE_SPOT": 2}
    assert {t.launch_type for t in await box.tasks("web")} == {"FARGATE"}

    await box("UpdateService", service="web", desiredCount=10)
    await box.settle()
    assert await provider_counts(box) == {"FARGATE": 6, "FARGATE_SPOT": 4}

    await box("UpdateService", service="web", desiredCount=4)
    await box.settle()
    assert await provider_counts(box) == {"FARGATE": 3, "FARGATE_SPOT": 1}
    assert (await box.service("web"))["runningCount"] == 4


@simulated
async def test_delete_service_with_force_drains_it_to_inactive(box: SimBox) -> None:
    task_definition = await box.register("web", app("web:1"))
    await box("CreateService", serviceName="web", taskDefinition=task_definition, desiredCount=3)
    await box.settle()
    assert len(app_containers(await box.running_containers())) == 3

    deleted = await box("DeleteService", service="web", force=True)
    assert deleted["service"]["status"] == "DRAINING"
    await box.settle()

    service = await box.service("web")
    assert service["status"] == "INACTIVE"
    assert (service["desiredCount"], service["runningCount"], service["pendingCount"]) == (0, 0, 0)
    assert (await box("ListServices", cluster="default"))["serviceArns"] == []
    tasks = await box.tasks("web")
    assert len(tasks) == 3 and {t.last_status for t in tasks} == {"STOPPED"}
    assert {t.document["stopCode"] for t in tasks} == {"ServiceSchedulerInitiated"}
    assert await box.running_containers() == []
    await box.run_for(3600, step_s=600)  # and once the stopped tasks expire, nothing is left
    assert await box.containers() == []


@simulated
async def test_a_restarted_ecsbox_finishes_the_deployment_without_strays(box: SimBox) -> None:
    v1 = await box.register("web", app("web:1"), {"name": "log", "image": "log:1", "memory": 32})
    v2 = await box.register("web", app("web:2"), {"name": "log", "image": "log:1", "memory": 32})
    await box("CreateService", serviceName="web", taskDefinition=v1, desiredCount=4)
    bounds = Bounds("web", 4, 100, 200)
    box.checks.append(bounds)
    await box.settle()

    await box("UpdateService", service="web", taskDefinition=v2)
    # The scheduler records 4 new tasks (maxPercent 200); the agent launches them (2 containers
    # each) and the process dies creating the 5th container: some new tasks have containers, some
    # have none, none is RUNNING yet.
    box.die_at_create(5)
    [arn] = [s["serviceArn"] for s in (await box("DescribeServices", services=["web"]))["services"]]
    await box.process.scheduler.tick(arn)
    await box.process.agent.idle()
    assert box.process.dead
    await box.restart()
    half_done = [t for t in await box.tasks("web") if t.document["taskDefinitionArn"] == v2]
    assert len(half_done) == 4 and not any(t.last_status == "RUNNING" for t in half_done)
    assert len([c for c in await box.containers() if c.image == "web:2"]) >= 1

    await box.settle()

    service = await box.service("web")
    [deployment] = service["deployments"]
    assert deployment["taskDefinition"] == v2 and deployment["rolloutState"] == "COMPLETED"
    tasks = await box.tasks("web")
    assert await task_definitions(box, service) == [v2] * 4
    # The engine holds exactly the containers of the tasks the store says run: one per container
    # definition, none twice, none of a task ecsbox does not know.
    live = {t.task_arn for t in tasks if t.last_status == "RUNNING"}
    running = await box.running_containers()
    pairs = [(c.labels[LABEL_TASK_ARN], c.labels[LABEL_CONTAINER]) for c in running]
    assert len(pairs) == len(set(pairs)) == 8
    assert {arn for arn, _ in pairs} == live
    for task in tasks:
        if task.task_arn in live:
            ids = set(task.runtime["containers"].values())
            assert {c.id for c in running if c.labels[LABEL_TASK_ARN] == task.task_arn} == ids
    known = {t.task_arn for t in tasks}
    assert {c.labels[LABEL_TASK_ARN] for c in await box.containers()} <= known
