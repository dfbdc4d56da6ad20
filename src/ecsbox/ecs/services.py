"""CreateService, UpdateService, DeleteService, DescribeServices, ListServices: the service
records and their deployments. Keeping the tasks is the scheduler's work
(:mod:`ecsbox.ecs.scheduler`), which the handlers wake."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.ids import arn
from ecsbox.ecs import paging, repo, service_repo
from ecsbox.ecs.capacity import resolve_strategy
from ecsbox.ecs.circuit_breaker import Trip
from ecsbox.ecs.deployment import DeploymentView
from ecsbox.ecs.deployment_alarms import check_config as check_alarms_config
from ecsbox.ecs.handling import Deps, aws_errors, caller_arn, in_model_order
from ecsbox.ecs.model import client_error, invalid_parameter
from ecsbox.ecs.references import parse_named, parse_task_definition
from ecsbox.ecs.service_repo import ServiceRecord
from ecsbox.ecs.tasks import resolve_cluster

MAX_DESCRIBE = 10
LIST_PAGE = 10
LIST_MAX = 100
DEFAULT_MAX_PERCENT = 200
DEFAULT_MIN_HEALTHY_PERCENT = 100


def service_arn(region: str, account_id: str, cluster: str, name: str) -> str:
    return arn("ecs", region, account_id, f"service/{cluster}/{name}")


def new_deployment_id() -> str:
    """``ecs-svc/`` and 19 digits, as ECS names deployments."""
    return "ecs-svc/" + str(secrets.randbelow(9 * 10**18) + 10**18)


def deployment_document(
    deployment_id: str,
    task_definition_arn: str,
    service: dict[str, Any],
    now: float,
    reason: str | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition_arn,
        "desiredCount": service["desiredCount"],
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }
    for key in (
        "launchType",
        "capacityProviderStrategy",
        "platformVersion",
        "platformFamily",
        "networkConfiguration",
    ):
        if key in service:
            document[key] = service[key]
    return document


def _task_definition(conn: Connection, ctx: RequestContext, text: str) -> dict[str, Any]:
    ref = parse_task_definition(text, ctx.account_id, ctx.region)
    row = None if ref.foreign else repo.get_task_definition(conn, ctx.partition, ref.family, ref.revision)
    if row is None:
        raise client_error("TaskDefinition not found.")
    if row.status != "ACTIVE":
        raise client_error("TaskDefinition is inactive")
    return row.document


MAX_TASKS_PER_SERVICE = 5000  # ECS's quota of tasks per service


def _check_desired(desired: int) -> None:
    if desired < 0:
        raise invalid_parameter("desiredCount cannot be negative.")
    if desired > MAX_TASKS_PER_SERVICE:
        raise invalid_parameter(
            f"desiredCount cannot be greater than {MAX_TASKS_PER_SERVICE}, the tasks per service quota."
        )


def _deployment_configuration(
    params: dict[str, Any], current: dict[str, Any] | None = None
) -> dict[str, Any]:
    config = dict(current or {})
    config.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
    config.setdefault("maximumPercent", DEFAULT_MAX_PERCENT)
    config.setdefault("minimumHealthyPercent", DEFAULT_MIN_HEALTHY_PERCENT)
    config.update(params.get("deploymentConfiguration") or {})
    if config["maximumPercent"] < config["minimumHealthyPercent"] or config["maximumPercent"] < 1:
        raise invalid_parameter("maximumPercent must be greater than minimumHealthyPercent.")
    problem = check_alarms_config(config.get("alarms"))
    if problem is not None:
        raise invalid_parameter(problem)
    return config


def _check_launch(definition: dict[str, Any], service: dict[str, Any]) -> None:
    if service.get("launchType") == "FARGATE" and "FARGATE" not in (definition.get("compatibilities") or []):
        raise client_error("Task definition does not support launch_type FARGATE.")
    if definition.get("networkMode") == "awsvpc" or service.get("launchType") == "FARGATE":
        vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
        if not vpc or not vpc.get("subnets"):
            raise invalid_parameter(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )


def present(record: ServiceRecord) -> dict[str, Any]:
    document = dict(record.document)
    document["status"] = record.status
    return in_model_order("Service", document)


class Services:
    def __init__(self, deps: Deps, wake: Callable[[str], None]) -> None:
        self.store = deps.store
        self.clock = deps.clock
        self.wake = wake

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        name = params["serviceName"]
        if params.get("schedulingStrategy", "REPLICA") != "REPLICA":
            raise invalid_parameter("ecsbox runs REPLICA services; DAEMON services need container instances.")
        controller = (params.get("deploymentController") or {}).get("type", "ECS")
        if controller != "ECS":
            raise invalid_parameter(f"The {controller} deployment controller is not supported by ecsbox yet.")
        desired = params.get("desiredCount")
        if desired is None:
            raise invalid_parameter(
                "desiredCount is required for services with the REPLICA scheduling strategy."
            )
        _check_desired(desired)

        def write(conn: Connection) -> ServiceRecord:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            existing = service_repo.find_service(conn, ctx.partition, cluster.name, name)
            if existing is not None and existing.status != "INACTIVE":
                raise invalid_parameter("Creation of service was not idempotent.")
            definition = _task_definition(conn, ctx, params["taskDefinition"])
            resolved = resolve_strategy(
                params.get("launchType"),
                params.get("capacityProviderStrategy"),
                cluster.document.get("defaultCapacityProviderStrategy"),
            )
            this_arn = service_arn(ctx.region, ctx.account_id, cluster.name, name)
            document: dict[str, Any] = {
                "serviceArn": this_arn,
                "serviceName": name,
                "clusterArn": cluster.document["clusterArn"],
                "loadBalancers": list(params.get("loadBalancers") or []),
                "serviceRegistries": list(params.get("serviceRegistries") or []),
                "status": "ACTIVE",
                "desiredCount": desired,
                "runningCount": 0,
                "pendingCount": 0,
                "taskDefinition": definition["taskDefinitionArn"],
                "deploymentConfiguration": _deployment_configuration(params),
                "events": [],
                "createdAt": now,
                "placementConstraints": list(params.get("placementConstraints") or []),
                "placementStrategy": list(params.get("placementStrategy") or []),
                "schedulingStrategy": "REPLICA",
                "deploymentController": {"type": "ECS"},
                "createdBy": caller_arn(ctx),
                "enableECSManagedTags": bool(params.get("enableECSManagedTags")),
                "propagateTags": params.get("propagateTags") or "NONE",
                "enableExecuteCommand": bool(params.get("enableExecuteCommand")),
                "availabilityZoneRebalancing": params.get("availabilityZoneRebalancing") or "ENABLED",
            }
            if resolved.launch_type:
                document["launchType"] = resolved.launch_type
            else:
                document["capacityProviderStrategy"] = [
                    {"capacityProvider": s.capacity_provider, "weight": s.weight, "base": s.base}
                    for s in resolved.strategy
                ]
            if document.get("launchType") == "FARGATE" or any(
                s.capacity_provider.startswith("FARGATE") for s in resolved.strategy
            ):
                document["platformVersion"] = params.get("platformVersion") or "LATEST"
                document["platformFamily"] = "Linux"
            if params.get("networkConfiguration"):
                document["networkConfiguration"] = params["networkConfiguration"]
            if params.get("healthCheckGracePeriodSeconds") is not None:
                document["healthCheckGracePeriodSeconds"] = params["healthCheckGracePeriodSeconds"]
            if params.get("role"):
                document["roleArn"] = params["role"]
            _check_launch(definition, document)
            deployment_id = new_deployment_id()
            document["deployments"] = [
                deployment_document(deployment_id, definition["taskDefinitionArn"], document, now)
            ]
            service_repo.delete_inactive(conn, ctx.partition, cluster.name, name)
            record = ServiceRecord(
                this_arn,
                ctx.account_id,
                ctx.region,
                cluster.name,
                name,
                "ACTIVE",
                now,
                document,
                {"deployments": {deployment_id: {}}},
            )
            service_repo.insert_service(conn, record)
            if params.get("tags"):
                repo.put_tags(conn, this_arn, params["tags"])
            return record

        record = await self.store.write(write)
        self.wake(record.service_arn)
        return {"service": present(record)}

    @aws_errors
    async def update(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()

        def write(conn: Connection) -> ServiceRecord:
            record = _find_sync(conn, ctx, params.get("cluster"), params["service"])
            if record.status != "ACTIVE":
                raise ServiceNotActive()
            document = record.document
            new_deployment = bool(params.get("forceNewDeployment"))
            if params.get("desiredCount") is not None:
                _check_desired(params["desiredCount"])
                document["desiredCount"] = params["desiredCount"]
            if params.get("taskDefinition"):
                definition = _task_definition(conn, ctx, params["taskDefinition"])
                if definition["taskDefinitionArn"] != document["taskDefinition"]:
                    new_deployment = True
                document["taskDefinition"] = definition["taskDefinitionArn"]
            else:
                ref = document["taskDefinition"].rsplit("/", 1)[-1]
                definition = _task_definition(conn, ctx, ref)
            if params.get("deploymentConfiguration"):
                document["deploymentConfiguration"] = _deployment_configuration(
                    params, document.get("deploymentConfiguration")
                )
            if params.get("networkConfiguration"):
                document["networkConfiguration"] = params["networkConfiguration"]
                new_deployment = True
            if params.get("capacityProviderStrategy"):
                cluster = resolve_cluster(conn, ctx, params.get("cluster"))
                resolved = resolve_strategy(
                    None,
                    params["capacityProviderStrategy"],
                    cluster.document.get("defaultCapacityProviderStrategy"),
                )
                document.pop("launchType", None)
                document["capacityProviderStrategy"] = [
                    {"capacityProvider": s.capacity_provider, "weight": s.weight, "base": s.base}
                    for s in resolved.strategy
                ]
                new_deployment = True
            if params.get("healthCheckGracePeriodSeconds") is not None:
                document["healthCheckGracePeriodSeconds"] = params["healthCheckGracePeriodSeconds"]
            _check_launch(definition, document)
            if new_deployment:
                start_deployment(record, document["taskDefinition"], now)
            else:
                for deployment in document["deployments"]:
                    if deployment["status"] == "PRIMARY":
                        deployment["desiredCount"] = document["desiredCount"]
                        deployment["updatedAt"] = now
            service_repo.save_service(conn, record)
            return record

        record = await self.store.write(write)
        self.wake(record.service_arn)
        return {"service": present(record)}

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def write(conn: Connection) -> ServiceRecord:
            record = _find_sync(conn, ctx, params.get("cluster"), params["service"])
            if record.status != "ACTIVE":
                raise ServiceNotActive()
            if record.document["desiredCount"] > 0 and not params.get("force"):
                raise invalid_parameter("The service cannot be stopped while it is scaled above 0.")
            record.status = "DRAINING"
            record.document["status"] = "DRAINING"
            record.document["desiredCount"] = 0
            service_repo.save_service(conn, record)
            return record

        record = await self.store.write(write)
        self.wake(record.service_arn)
        return {"service": present(record)}

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = list(params.get("services") or [])
        if not wanted:
            raise invalid_parameter("Services cannot be empty.")
        if len(wanted) > MAX_DESCRIBE:
            raise invalid_parameter(f"Services cannot have more than {MAX_DESCRIBE} elements")
        include_tags = "TAGS" in (params.get("include") or [])

        def read(conn: Connection) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            found, failures = [], []
            for text in wanted:
                name = parse_named(text, "service", ctx.account_id, ctx.region)
                if name is not None and "/" in name:
                    name = name.rsplit("/", 1)[-1]
                record = service_repo.find_service(conn, ctx.partition, cluster.name, name) if name else None
                if record is None:
                    failures.append(
                        {
                            "arn": text
                            if text.startswith("arn:")
                            else service_arn(ctx.region, ctx.account_id, cluster.name, text),
                            "reason": "MISSING",
                        }
                    )
                    continue
                document = present(record)
                if include_tags:
                    document["tags"] = repo.get_tags(conn, record.service_arn)
                found.append(document)
            return found, failures

        found, failures = await self.store.read(read)
        return {"services": found, "failures": failures}

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = paging.page_size(params.get("maxResults"), LIST_PAGE, LIST_MAX)
        after: str | None = None
        if params.get("nextToken"):
            key = paging.decode_token(params["nextToken"], "ListServices")
            if len(key) != 1 or not isinstance(key[0], str):
                raise invalid_parameter(paging.INVALID_TOKEN)
            after = key[0]

        def read(conn: Connection) -> list[str]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            records = service_repo.list_services(conn, ctx.partition, cluster.name)
            wanted_type = params.get("launchType")
            arns = [
                r.service_arn
                for r in records
                if (not wanted_type or r.document.get("launchType") == wanted_type)
                and (after is None or r.service_arn > after)
            ]
            return arns

        arns = await self.store.read(read)
        result: dict[str, Any] = {"serviceArns": arns[:limit]}
        if len(arns) > limit:
            result["nextToken"] = paging.encode_token("ListServices", [arns[limit - 1]])
        return result


def ServiceNotActive() -> AwsError:
    return AwsError("ServiceNotActiveException", "Service was not ACTIVE.")


def _find_sync(conn: Connection, ctx: RequestContext, cluster_text: str | None, text: str) -> ServiceRecord:
    cluster = resolve_cluster(conn, ctx, cluster_text)
    name = parse_named(text, "service", ctx.account_id, ctx.region)
    if name is not None and "/" in name:
        name = name.rsplit("/", 1)[-1]
    record = service_repo.find_service(conn, ctx.partition, cluster.name, name) if name else None
    if record is None or record.status == "INACTIVE":
        raise AwsError("ServiceNotFoundException", "Service not found.")
    return record


def start_deployment(
    record: ServiceRecord, task_definition_arn: str, now: float, reason: str | None = None
) -> str:
    """A new PRIMARY deployment; the old primary (and any other still with tasks) becomes ACTIVE."""
    document = record.document
    for deployment in document["deployments"]:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
            deployment["updatedAt"] = now
    deployment_id = new_deployment_id()
    document["deployments"].insert(
        0, deployment_document(deployment_id, task_definition_arn, document, now, reason)
    )
    record.scheduler.setdefault("deployments", {})[deployment_id] = {}
    record.scheduler["backoff"] = {}
    return deployment_id


def deployment_views(deployments: Iterable[Mapping[str, Any]]) -> list[DeploymentView]:
    """The pure reconcilers' view of the service document's ``deployments``."""
    return [
        DeploymentView(d["id"], d["status"], d["taskDefinition"], d["rolloutState"], float(d["createdAt"]))
        for d in deployments
    ]


def apply_trip(
    record: ServiceRecord,
    deployment: dict[str, Any],
    on_trip: Callable[[DeploymentView, Sequence[DeploymentView]], Trip],
    now: float,
    messages: list[str],
) -> None:
    """A tripped watcher (circuit breaker or deployment alarms) fails ``deployment``, the service's
    PRIMARY one: ``on_trip(failed, deployments)`` says how; its events go to ``messages`` and, with a
    rollback, a new deployment back to the last COMPLETED one starts."""
    document = record.document
    views = deployment_views(document["deployments"])
    failed = next(v for v in views if v.id == deployment["id"])
    trip = on_trip(failed, views)
    deployment["rolloutState"] = "FAILED"
    deployment["rolloutStateReason"] = trip.failed_update.rollout_state_reason
    deployment["updatedAt"] = now
    messages.extend(trip.events)
    if trip.rollback_task_definition:
        document["taskDefinition"] = trip.rollback_task_definition
        start_deployment(record, trip.rollback_task_definition, now, trip.rollback_reason)
