"""TagResource, UntagResource and ListTagsForResource for clusters, task definitions and
capacity providers. The ARN must name a resource of the caller's account and region."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.aws.errors import AwsError
from ecsbox.core.ids import parse_arn
from ecsbox.ecs import repo
from ecsbox.ecs.handling import Deps, aws_errors
from ecsbox.ecs.model import CLUSTER_ACTIVE, PROVIDER_ACTIVE, invalid_parameter
from ecsbox.ecs.references import parse_task_definition
from ecsbox.ecs.tag_rules import check_tags

NOT_FOUND = "The specified resource is not found."


def _require_resource(conn: Connection, ctx: RequestContext, resource_arn: str, not_found_code: str) -> None:
    """Raise the error ECS gives unless ``resource_arn`` names an existing taggable resource here."""
    parts = parse_arn(resource_arn)
    if parts is None or parts["service"] != "ecs" or "/" not in parts["resource"]:
        raise invalid_parameter("The ARN provided is invalid.")
    kind, _, rest = parts["resource"].partition("/")
    ours = parts["account"] == ctx.account_id and parts["region"] == ctx.region
    if kind == "cluster":
        row = repo.get_cluster(conn, ctx.partition, rest) if ours else None
        if row is None or row.status != CLUSTER_ACTIVE:
            raise AwsError("ClusterNotFoundException", "Cluster not found.")
        return
    if kind == "task-definition":
        ref = parse_task_definition(resource_arn, ctx.account_id, ctx.region)
        found = (
            repo.get_task_definition(conn, ctx.partition, ref.family, ref.revision)
            if ours and ref.revision is not None
            else None
        )
        if found is None:
            raise AwsError(not_found_code, NOT_FOUND)
        return
    if kind == "capacity-provider":
        provider = repo.get_capacity_provider(conn, ctx.partition, rest) if ours else None
        if provider is None or provider.status != PROVIDER_ACTIVE:
            raise AwsError(not_found_code, NOT_FOUND)
        return
    raise AwsError(not_found_code, NOT_FOUND)


class Tagging:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store

    @aws_errors
    async def tag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource_arn = params["resourceArn"]

        def write(conn: Connection) -> None:
            _require_resource(conn, ctx, resource_arn, "ResourceNotFoundException")
            existing = [tag["key"] for tag in repo.get_tags(conn, resource_arn)]
            repo.put_tags(conn, resource_arn, check_tags(params.get("tags") or [], existing))

        await self.store.write(write)
        return {}

    @aws_errors
    async def untag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource_arn = params["resourceArn"]

        def write(conn: Connection) -> None:
            _require_resource(conn, ctx, resource_arn, "ResourceNotFoundException")
            repo.remove_tags(conn, resource_arn, list(params.get("tagKeys") or []))

        await self.store.write(write)
        return {}

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource_arn = params["resourceArn"]

        def read(conn: Connection) -> list[dict[str, str]]:
            _require_resource(conn, ctx, resource_arn, "InvalidParameterException")
            return repo.get_tags(conn, resource_arn)

        return {"tags": await self.store.read(read)}
