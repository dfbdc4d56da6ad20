"""ListContainerInstances, DescribeContainerInstances, PutAttributes, DeleteAttributes,
ListAttributes: the local machine as a container instance of every cluster."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.ecs import task_repo
from ecsbox.ecs.handling import Deps, aws_errors
from ecsbox.ecs.local_instance import Machine, instance_arn, instance_document, instance_id
from ecsbox.ecs.model import invalid_parameter
from ecsbox.ecs.tasks import resolve_cluster
from ecsbox.store.schema import ecs_attributes

MachineInfo = Callable[[], Awaitable[Machine | None]]
TARGET_TYPE = "container-instance"
MAX_ATTRIBUTES = 10
NAME_RE = re.compile(r"^[a-zA-Z0-9_.\-/]{1,128}$")
VALUE_RE = re.compile(r"^[a-zA-Z0-9_.\-/:() @]{1,128}$")


def _custom(conn: Connection, ctx: RequestContext, cluster: str, target_id: str) -> list[dict[str, str]]:
    a = ecs_attributes.c
    rows = conn.execute(
        select(a.name, a.value)
        .where(
            a.account_id == ctx.account_id,
            a.region == ctx.region,
            a.cluster == cluster,
            a.target_id == target_id,
        )
        .order_by(a.name)
    ).all()
    return [{"name": name, "value": value} for name, value in rows]


class ContainerInstances:
    def __init__(self, deps: Deps, machine: MachineInfo, server_id: str) -> None:
        self.store = deps.store
        self.clock = deps.clock
        self.machine = machine
        self.server_id = server_id

    def _matches(self, ctx: RequestContext, cluster: str, text: str) -> bool:
        wanted = instance_arn(ctx.region, ctx.account_id, cluster, self.server_id)
        return text in (wanted, instance_id(self.server_id, cluster))

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("filter"):
            raise invalid_parameter("ecsbox does not evaluate cluster query language filters yet.")
        machine = await self.machine()

        def read(conn: Connection) -> str:
            return resolve_cluster(conn, ctx, params.get("cluster")).name

        cluster = await self.store.read(read)
        if machine is None or params.get("status") not in (None, "ACTIVE"):
            return {"containerInstanceArns": []}
        return {"containerInstanceArns": [instance_arn(ctx.region, ctx.account_id, cluster, self.server_id)]}

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = list(params.get("containerInstances") or [])
        if not wanted:
            raise invalid_parameter("containerInstances can not be empty.")
        machine = await self.machine()

        def read(conn: Connection) -> dict[str, Any]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            found, failures = [], []
            for text in wanted:
                if machine is None or not self._matches(ctx, cluster.name, text):
                    failures.append({"arn": text, "reason": "MISSING"})
                    continue
                reservations, running, pending = task_repo.ec2_reservations(conn, ctx.partition, cluster.name)
                target = instance_arn(ctx.region, ctx.account_id, cluster.name, self.server_id)
                found.append(
                    instance_document(
                        region=ctx.region,
                        account_id=ctx.account_id,
                        cluster=cluster.name,
                        server_id=self.server_id,
                        machine=machine,
                        reservations=reservations,
                        running=running,
                        pending=pending,
                        custom_attributes=_custom(conn, ctx, cluster.name, target),
                        registered_at=float(cluster.document.get("createdAt", 0) or 0) or self.clock.now(),
                    )
                )
            return {"containerInstances": found, "failures": failures}

        return await self.store.read(read)

    def _target(self, ctx: RequestContext, cluster: str, attribute: dict[str, Any]) -> str:
        if attribute.get("targetType", TARGET_TYPE) != TARGET_TYPE:
            raise invalid_parameter("targetType must be container-instance.")
        target = attribute.get("targetId")
        if not target or not self._matches(ctx, cluster, target):
            raise AwsError("TargetNotFoundException", f"Could not find {target}.")
        return instance_arn(ctx.region, ctx.account_id, cluster, self.server_id)

    @staticmethod
    def _check(attribute: dict[str, Any]) -> None:
        if not NAME_RE.match(attribute.get("name", "")):
            raise invalid_parameter(
                "Attribute name is invalid: up to 128 letters, numbers, hyphens, underscores, "
                "periods and forward slashes."
            )
        value = attribute.get("value")
        if value is not None and not VALUE_RE.match(value):
            raise invalid_parameter("Attribute value is invalid.")

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        attributes = list(params.get("attributes") or [])
        if not attributes:
            raise invalid_parameter("attributes can not be empty.")
        if len(attributes) > MAX_ATTRIBUTES:
            raise AwsError(
                "AttributeLimitExceededException", "You can apply up to 10 custom attributes per resource."
            )
        for attribute in attributes:
            self._check(attribute)

        def write(conn: Connection) -> list[dict[str, Any]]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster")).name
            stored = []
            for attribute in attributes:
                target = self._target(ctx, cluster, attribute)
                key = and_(
                    ecs_attributes.c.account_id == ctx.account_id,
                    ecs_attributes.c.region == ctx.region,
                    ecs_attributes.c.cluster == cluster,
                    ecs_attributes.c.target_id == target,
                    ecs_attributes.c.name == attribute["name"],
                )
                conn.execute(delete(ecs_attributes).where(key))
                conn.execute(
                    insert(ecs_attributes).values(
                        account_id=ctx.account_id,
                        region=ctx.region,
                        cluster=cluster,
                        target_id=target,
                        name=attribute["name"],
                        value=attribute.get("value"),
                    )
                )
                stored.append({**attribute, "targetType": TARGET_TYPE, "targetId": target})
            return stored

        return {"attributes": await self.store.write(write)}

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        attributes = list(params.get("attributes") or [])

        def write(conn: Connection) -> list[dict[str, Any]]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster")).name
            for attribute in attributes:
                target = self._target(ctx, cluster, attribute)
                conn.execute(
                    delete(ecs_attributes).where(
                        ecs_attributes.c.account_id == ctx.account_id,
                        ecs_attributes.c.region == ctx.region,
                        ecs_attributes.c.cluster == cluster,
                        ecs_attributes.c.target_id == target,
                        ecs_attributes.c.name == attribute["name"],
                    )
                )
            return attributes

        return {"attributes": await self.store.write(write)}

    @aws_errors
    async def list_attributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("targetType") != TARGET_TYPE:
            raise invalid_parameter("targetType must be container-instance.")
        machine = await self.machine()

        def read(conn: Connection) -> list[dict[str, Any]]:
            cluster = resolve_cluster(conn, ctx, params.get("cluster"))
            if machine is None:
                return []
            target = instance_arn(ctx.region, ctx.account_id, cluster.name, self.server_id)
            document = instance_document(
                region=ctx.region,
                account_id=ctx.account_id,
                cluster=cluster.name,
                server_id=self.server_id,
                machine=machine,
                reservations=[],
                running=0,
                pending=0,
                custom_attributes=_custom(conn, ctx, cluster.name, target),
                registered_at=0.0,
            )
            found = []
            for attribute in document["attributes"]:
                if params.get("attributeName") and attribute["name"] != params["attributeName"]:
                    continue
                if params.get("attributeValue") and attribute.get("value") != params["attributeValue"]:
                    continue
                found.append({**attribute, "targetType": TARGET_TYPE, "targetId": target})
            return found

        return {"attributes": await self.store.read(read)}
