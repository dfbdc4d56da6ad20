"""RunTask, StopTask, DescribeTasks, ListTasks: the task records. Running them is the agent's work
(:mod:`ecsbox.ecs.agent`), which the handlers wake."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.ids import arn
from ecsbox.ecs import paging, repo, task_repo
from ecsbox.ecs.capacity import resolve_strategy
from ecsbox.ecs.handling import Deps, aws_errors, in_model_order
from ecsbox.ecs.local_instance import Machine, does_not_fit, instance_arn, task_reservation
from ecsbox.ecs.model import DEFAULT_CLUSTER_NAME, client_error, invalid_parameter
from ecsbox.ecs.references import parse_named, parse_task_definition
from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.ecs.task_state import PROVISIONING, STOPPED, USER_INITIATED

MAX_RUN_COUNT = 10
MAX_DESCRIBE = 100
LIST_PAGE = 100
DEFAULT_STOP_REASON = "Task stopped by user"
FARGATE_PLATFORM_VERSION = "1.4.0"


def task_arn(region: str, account_id: str, cluster: str, task_id: str) -> str:
    return arn("ecs", region, account_id, f"task/{cluster}/{task_id}")


def container_arn(region: str, account_id: str, cluster: str, task_id: str) -> str:
    return arn("ecs", region, account_id, f"container/{cluster}/{task_id}/{uuid.uuid4()}")


class ClusterNotFound(AwsError):
    def __init__(self) -> None:
        super().__init__("ClusterNotFoundException", "Cluster not found.")


def resolve_cluster(conn: Connection, ctx: RequestContext, text: str | None) -> repo.ClusterRow:
    name = parse_named(text or DEFAULT_CLUSTER_NAME, "cluster", ctx.account_id, ctx.region)
    row = repo.get_cluster(conn, ctx.partition, name) if name else None
    if row is None or row.status != "ACTIVE":
        raise ClusterNotFound()
    return row


def launch_choice(params: dict[str, Any], cluster: dict[str, Any]) -> tuple[str, str | None]:
    """(launchType, capacityProviderName) for a task, by the precedence
    :func:`ecsbox.ecs.capacity.resolve_strategy` decides: the strategy's first provider with a
    weight or a base; EC2 for a strategy that gives none."""
    resolved = resolve_strategy(
        params.get("launchType"),
        params.get("capacityProviderStrategy"),
        cluster.get("defaultCapacityProviderStrategy"),
    )
    if resolved.launch_type:
        return resolved.launch_type, None
    for share in resolved.strategy:
        if share.base or share.weight:
            provider = share.capacity_provider
            return ("FARGATE" if provider.startswith("FARGATE") else "EC2"), provider
    return "EC2", None


def new_task_document(
    ctx: RequestContext,
    cluster: repo.ClusterRow,
    definition: dict[str, Any],
    task_id: str,
    params: dict[str, Any],
    launch_type: str,
    capacity_provider: str | None,
    now: float,
) -> dict[str, Any]:
    cluster_name = cluster.name
    this_arn = task_arn(ctx.region, ctx.account_id, cluster_name, task_id)
    overrides = params.get("overrides") or {}
    container_overrides = {o.get("name"): o for o in overrides.get("containerOverrides") or []}
    containers = []
    for container in definition.get("containerDefinitions") or []:
        doc: dict[str, Any] = {
            "containerArn": container_arn(ctx.region, ctx.account_id, cluster_name, task_id),
            "taskArn": this_arn,
            "name": container["name"],
            "image": container["image"],
            "lastStatus": "PENDING",
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "cpu": str(container.get("cpu", 0)),
        }
        override = container_overrides.get(container["name"]) or {}
        if override.get("memory") or container.get("memory"):
            doc["memory"] = str(override.get("memory") or container.get("memory"))
        if override.get("memoryReservation") or container.get("memoryReservation"):
            doc["memoryReservation"] = str(
                override.get("memoryReservation") or container.get("memoryReservation")
            )
        containers.append(doc)
    document: dict[str, Any] = {
        "taskArn": this_arn,
        "clusterArn": cluster.document["clusterArn"],
        "taskDefinitionArn": definition["taskDefinitionArn"],
        "overrides": {
            "containerOverrides": overrides.get("containerOverrides")
            or [{"name": c["name"]} for c in definition.get("containerDefinitions") or []],
            "inferenceAcceleratorOverrides": [],
            **{k: v for k, v in overrides.items() if k not in ("containerOverrides",)},
        },
        "lastStatus": PROVISIONING,
        "desiredStatus": "RUNNING",
        "containers": containers,
        "version": 1,
        "createdAt": now,
        "group": params.get("group") or f"family:{definition['family']}",
        "launchType": launch_type,
        "availabilityZone": f"{ctx.region}a",
        "healthStatus": "UNKNOWN",
        "tags": list(params.get("tags") or []),
        "enableExecuteCommand": bool(params.get("enableExecuteCommand")),
        "attachments": [],
    }
    cpu = overrides.get("cpu") or definition.get("cpu")
    memory = overrides.get("memory") or definition.get("memory")
    if cpu:
        document["cpu"] = str(cpu)
    if memory:
        document["memory"] = str(memory)
    if params.get("startedBy"):
        document["startedBy"] = params["startedBy"]
    if capacity_provider:
        document["capacityProviderName"] = capacity_provider
    if launch_type == "FARGATE":
        document["platformVersion"] = params.get("platformVersion") or FARGATE_PLATFORM_VERSION
        document["platformFamily"] = "Linux"
        document["ephemeralStorage"] = {"sizeInGiB": 20}
    return document


def _check_network(definition: dict[str, Any], params: dict[str, Any], launch_type: str) -> None:
    mode = definition.get("networkMode")
    if launch_type == "FARGATE" and "FARGATE" not in (definition.get("compatibilities") or []):
        raise client_error("Task definition does not support launch_type FARGATE.")
    if mode == "awsvpc" or launch_type == "FARGATE":
        vpc = (params.get("networkConfiguration") or {}).get("awsvpcConfiguration")
        if not vpc:
            raise invalid_parameter(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        if not vpc.get("subnets"):
            raise invalid_parameter("subnets can not be empty.")


def present(record: TaskRecord, include_tags: bool) -> dict[str, Any]:
    document = dict(record.document)
    if not include_tags:
        document.pop("tags", None)
    return in_model_order("Task", document)


class Tasks:
    def __init__(
        self,
        deps: Deps,
        wake: Callable[[str], None],
        machine: Callable[[], Awaitable[Machine | None]] | None = None,
        server_id: str = "",
    ) -> None:
        self.store = deps.store
        self.clock = deps.clock
        self.wake = wake
        self.machine = machine
        self.server_id = server_id

    async def create_tasks(
        self,
        ctx: RequestContext,
        params: dict[str, Any],
        count: int,
        service_name: str | None = None,
    ) -> tuple[list[TaskRecord], list[dict[str, str]]]:
        """Record ``count`` new tasks (PROVISIONING, desired RUNNING) and wake the agent; EC2 tasks
        that do not fit on the local container instance come back as failures instead."""
        now = self.clock.now()
        machine = await self.machine() if self.machine is not None else None
        failures: list[dict[str, str]] = []

        def write(conn: Connection) -> list[TaskRecord]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            ref = parse_task_definition(params["taskDefinition"], ctx.account_id, ctx.region)
            row = (
                None
                if ref.foreign
                else repo.get_task_definition(conn, ctx.partition, ref.family, ref.revision)
            )
            if row is None:
                raise client_error("TaskDefinition not found.")
            if row.status != "ACTIVE":
                raise client_error("TaskDefinition is inactive")
            launch_type, provider = launch_choice(params, cluster.document)
            _check_network(row.document, params, launch_type)
            reservations: list[tuple[int, int]] = []
            instance = ""
            if launch_type == "EC2" and self.machine is not None:  # without a provider: records only
                if machine is None:
                    raise invalid_parameter("No Container Instances were found in your cluster.")
                reservations = task_repo.ec2_reservations(conn, ctx.partition, cluster.name)[0]
                instance = instance_arn(ctx.region, ctx.account_id, cluster.name, self.server_id)
            wanted = task_reservation(row.document, params.get("overrides"))
            created = []
            for _ in range(count):
                if launch_type == "EC2" and machine is not None:
                    reason = does_not_fit(machine, reservations, wanted)
                    if reason is not None:
                        failures.append({"arn": instance, "reason": reason})
                        continue
                    reservations.append(wanted)
                task_id = secrets.token_hex(16)
                document = new_task_document(
                    ctx, cluster, row.document, task_id, params, launch_type, provider, now
                )
                if instance:
                    document["containerInstanceArn"] = instance
                record = new_task_record(
                    ctx.account_id,
                    ctx.region,
                    cluster.name,
                    task_id,
                    row.family,
                    row.document,
                    document,
                    launch_type,
                    now,
                    params.get("networkConfiguration"),
                    service_name,
                    params.get("startedBy"),
                )
                task_repo.insert_task(conn, record)
                if params.get("tags"):
                    repo.put_tags(conn, record.task_arn, params["tags"])
                created.append(record)
            return created

        records = await self.store.write(write)
        for record in records:
            self.wake(record.task_arn)
        return records, failures

    @aws_errors
    async def run(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        count = int(params.get("count") or 1)
        if not 1 <= count <= MAX_RUN_COUNT:
            raise invalid_parameter(f"Count must be between 1 and {MAX_RUN_COUNT}.")
        records, failures = await self.create_tasks(ctx, params, count)
        return {"tasks": [present(r, include_tags=True) for r in records], "failures": failures}

    @aws_errors
    async def start(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """StartTask: one task on each named container instance. The only instance is this
        machine, so each entry must name it (ARN or id); others come back as MISSING failures."""
        instances = list(params.get("containerInstances") or [])
        if not 1 <= len(instances) <= MAX_RUN_COUNT:
            raise invalid_parameter(f"containerInstances must name between 1 and {MAX_RUN_COUNT} instances.")
        cluster = await self.store.read(lambda conn: resolve_cluster(conn, ctx, params.get("cluster")))
        ours = instance_arn(ctx.region, ctx.account_id, cluster.name, self.server_id)
        local = [text for text in instances if text in (ours, ours.rsplit("/", 1)[-1])]
        failures = [{"arn": text, "reason": "MISSING"} for text in instances if text not in local]
        records: list[TaskRecord] = []
        if local:
            run = {k: v for k, v in params.items() if k != "containerInstances"}
            records, placement_failures = await self.create_tasks(
                ctx, {**run, "launchType": "EC2"}, len(local)
            )
            failures.extend(placement_failures)
        return {"tasks": [present(r, include_tags=True) for r in records], "failures": failures}

    @aws_errors
    async def stop(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        reason = params.get("reason") or DEFAULT_STOP_REASON
        record = await self.stop_task(ctx, params.get("cluster"), params["task"], USER_INITIATED, reason)
        return {"task": present(record, include_tags=False)}

    async def stop_task(
        self, ctx: RequestContext, cluster_text: str | None, task_text: str, stop_code: str, reason: str
    ) -> TaskRecord:
        def write(conn: Connection) -> TaskRecord:
            cluster = resolve_cluster(conn, ctx, cluster_text)
            record = self._find(conn, ctx, cluster.name, task_text)
            if record is None:
                raise invalid_parameter("The referenced task was not found.")
            if record.desired_status != STOPPED:
                mark_stopping(record, stop_code, reason)
                task_repo.save_task(conn, record)
                repo.clear_tags(conn, record.task_arn)  # StopTask deletes the task's tags
            return record

        record = await self.store.write(write)
        self.wake(record.task_arn)
        return record

    @staticmethod
    def _find(conn: Connection, ctx: RequestContext, cluster: str, text: str) -> TaskRecord | None:
        task_id = text
        if text.startswith("arn:"):
            name = parse_named(text, "task", ctx.account_id, ctx.region)
            if name is None:
                return None
            task_id = name.rsplit("/", 1)[-1]
        return task_repo.find_task(conn, ctx.partition, cluster, task_id)

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = list(params.get("tasks") or [])
        if not wanted:
            raise invalid_parameter("Tasks cannot be empty.")
        if len(wanted) > MAX_DESCRIBE:
            raise invalid_parameter(f"Tasks cannot have more than {MAX_DESCRIBE} elements")
        include_tags = "TAGS" in (params.get("include") or [])

        def read(conn: Connection) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            found, failures = [], []
            for text in wanted:
                record = self._find(conn, ctx, cluster.name, text)
                if record is None:
                    failures.append(
                        {
                            "arn": text
                            if text.startswith("arn:")
                            else task_arn(ctx.region, ctx.account_id, cluster.name, text),
                            "reason": "MISSING",
                        }
                    )
                    continue
                document = present(record, include_tags=False)
                if include_tags:
                    document["tags"] = repo.get_tags(conn, record.task_arn)
                found.append(document)
            return found, failures

        found, failures = await self.store.read(read)
        return {"tasks": found, "failures": failures}

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = paging.page_size(params.get("maxResults"), LIST_PAGE, LIST_PAGE)
        after: str | None = None
        if params.get("nextToken"):
            key = paging.decode_token(params["nextToken"], "ListTasks")
            if len(key) != 1 or not isinstance(key[0], str):
                raise invalid_parameter(paging.INVALID_TOKEN)
            after = key[0]
        desired = params.get("desiredStatus") or "RUNNING"

        def read(conn: Connection) -> list[str]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            wanted_instance = params.get("containerInstance")
            if wanted_instance:
                ours = instance_arn(ctx.region, ctx.account_id, cluster.name, self.server_id)
                if wanted_instance not in (ours, ours.rsplit("/", 1)[-1]):
                    return []
                launch: str | None = "EC2"  # only EC2 tasks run on a container instance
                if params.get("launchType") not in (None, launch):
                    return []
            else:
                launch = params.get("launchType")
            family = params.get("family")
            return task_repo.list_task_arns(
                conn,
                ctx.partition,
                cluster.name,
                desired_status="RUNNING" if desired == "PENDING" else desired,
                family=family,
                started_by=params.get("startedBy"),
                service_name=params.get("serviceName"),
                launch_type=launch,
                after=after,
                limit=limit + 1,
            )

        arns = await self.store.read(read)
        result: dict[str, Any] = {"taskArns": arns[:limit]}
        if len(arns) > limit:
            result["nextToken"] = paging.encode_token("ListTasks", [arns[limit - 1]])
        return result


def new_task_record(
    account_id: str,
    region: str,
    cluster: str,
    task_id: str,
    family: str,
    definition: dict[str, Any],
    document: dict[str, Any],
    launch_type: str,
    now: float,
    network_configuration: dict[str, Any] | None,
    service_name: str | None = None,
    started_by: str | None = None,
    deployment_id: str | None = None,
) -> TaskRecord:
    """A new task as the store keeps it: PROVISIONING, meant to run, with what the agent needs to
    run it (its task definition, network configuration and, for a service's task, deployment)."""
    runtime: dict[str, Any] = {"taskDefinition": definition, "networkConfiguration": network_configuration}
    if deployment_id:
        runtime["deploymentId"] = deployment_id
    return TaskRecord(
        task_arn=document["taskArn"],
        account_id=account_id,
        region=region,
        cluster=cluster,
        task_id=task_id,
        desired_status="RUNNING",
        last_status=PROVISIONING,
        family=family,
        launch_type=launch_type,
        created_at=now,
        document=document,
        runtime=runtime,
        service_name=service_name,
        started_by=started_by,
        group_name=document["group"],
    )


def mark_stopping(record: TaskRecord, stop_code: str, reason: str) -> None:
    """Ask for the task to stop: desired STOPPED with why; the agent does the rest."""
    record.desired_status = STOPPED
    record.document["desiredStatus"] = STOPPED
    record.document.setdefault("stopCode", stop_code)
    record.document.setdefault("stoppedReason", reason)
    record.document["version"] = int(record.document.get("version", 1)) + 1
