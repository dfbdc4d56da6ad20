"""What the runtime shows, written into a task's record: container states, health, network
bindings and interfaces, lifecycle steps. Pure: the agent does the I/O and calls these."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ecsbox.ecs.task_repo import TaskRecord
from ecsbox.ecs.task_state import RUNNING, STOPPED, UNKNOWN, is_past, observe, task_health
from ecsbox.ecs.taskspec import TaskPlan
from ecsbox.runtime.port import ContainerSpec, ContainerState


def settled(record: TaskRecord, observed: dict[str, ContainerState]) -> bool:
    """Does the record already say what the runtime shows? A RUNNING task meant to run whose every
    container is as recorded (status and health) and whose pause container runs has nothing for
    the periodic pass to do; anything else (including what a lost event left behind) is driven.
    ``observed``: this server's containers by id."""
    if record.last_status != RUNNING or record.desired_status != RUNNING:
        return False
    pause = record.runtime.get("pause")
    if pause and (pause not in observed or observed[pause].status != "running"):
        return False
    containers: dict[str, str] = record.runtime.get("containers", {})
    for container in record.document.get("containers", []):
        container_id = containers.get(container["name"])
        if container_id is None:
            return False
        seen = observe(observed.get(container_id))
        if seen.last_status != container.get("lastStatus"):
            return False
        if seen.health != UNKNOWN and seen.health != container.get("healthStatus"):
            return False
    return True


def default_environment(record: TaskRecord) -> dict[str, str]:
    return {
        "AWS_DEFAULT_REGION": record.region,
        "AWS_REGION": record.region,
        "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE" if record.launch_type == "FARGATE" else "AWS_ECS_EC2",
    }


def eni_attachment(record: TaskRecord, address: str | None) -> dict[str, Any]:
    """The task's ENI as ECS reports it; the address is the pause container's on ecsbox's bridge."""
    vpc = ((record.runtime.get("networkConfiguration") or {}).get("awsvpcConfiguration")) or {}
    subnets = vpc.get("subnets") or ["subnet-local"]
    details = [
        {"name": "subnetId", "value": subnets[0]},
        {"name": "networkInterfaceId", "value": f"eni-{record.task_id[:17]}"},
        {"name": "macAddress", "value": "02:42:ac:11:00:02"},
    ]
    if address:
        details.append({"name": "privateIPv4Address", "value": address})
        details.append({"name": "privateDnsName", "value": f"ip-{address.replace('.', '-')}.ec2.internal"})
    return {
        "id": record.task_id[:8] + "-eni",
        "type": "ElasticNetworkInterface",
        "status": "ATTACHED",
        "details": details,
    }


def set_status(record: TaskRecord, status: str, **timestamps: Any) -> None:
    if not is_past(record.last_status, status) or record.last_status == status:
        record.last_status = status
    for key, value in timestamps.items():
        record.document[key] = value


def with_network(spec: ContainerSpec, network: str) -> ContainerSpec:
    return replace(spec, network=network)


def condition_met(condition: str, state: ContainerState | None) -> tuple[bool, bool]:
    """(met, can never be met) for a dependsOn condition on the dependency's current state."""
    observed = observe(state)
    if condition == "START":
        return observed.last_status in (RUNNING, STOPPED), False
    if condition == "COMPLETE":
        return observed.last_status == STOPPED, False
    if condition == "SUCCESS":
        if observed.last_status != STOPPED:
            return False, False
        return observed.exit_code == 0, observed.exit_code != 0
    if condition == "HEALTHY":
        if observed.last_status == STOPPED:
            return False, True
        return observed.health == "HEALTHY", observed.health == "UNHEALTHY"
    return True, False


def apply_container_states(
    record: TaskRecord,
    plan: TaskPlan,
    ids: dict[str, str],
    states: dict[str, ContainerState | None],
    pause_state: ContainerState | None,
) -> None:
    essential = {c.name for c in plan.containers if c.essential}
    checked = {c.name for c in plan.containers if c.has_health_check}
    address = pause_state.ip_address if pause_state is not None else None
    healths = []
    for container in record.document.get("containers", []):
        name = container["name"]
        if name not in ids:
            continue
        state = states.get(name)
        observed = observe(state)
        container["runtimeId"] = ids[name]
        container["lastStatus"] = observed.last_status
        if observed.exit_code is not None:
            container["exitCode"] = observed.exit_code
        if observed.reason:
            container["reason"] = observed.reason
        if name in checked:
            container["healthStatus"] = observed.health
        if state is not None and state.image_id:
            container["imageDigest"] = state.image_id
        published = (
            pause_state.ports if pause_state is not None else (state.ports if state is not None else ())
        )
        wanted = {int(m["containerPort"]) for m in port_mappings(record, name)}
        if published and wanted:
            container["networkBindings"] = [
                {
                    "bindIP": p.host_ip,
                    "containerPort": p.container_port,
                    "hostPort": p.host_port,
                    "protocol": p.protocol,
                }
                for p in published
                if p.container_port in wanted
            ]
        if address:
            container["networkInterfaces"] = [
                {"attachmentId": record.task_id[:8] + "-eni", "privateIpv4Address": address}
            ]
        if name in essential:
            healths.append(container.get("healthStatus", "UNKNOWN") if name in checked else "UNKNOWN")
    record.document["healthStatus"] = task_health(healths)


def port_mappings(record: TaskRecord, container_name: str) -> list[dict[str, Any]]:
    for container in record.runtime["taskDefinition"].get("containerDefinitions") or []:
        if container["name"] == container_name:
            return [m for m in container.get("portMappings") or [] if m.get("containerPort") is not None]
    return []
