"""AddTagsToResource, ListTagsForResource and RemoveTagsFromResource for parameters (the only
SSM resource ecsbox keeps). Tags live in the shared tags table under the parameter's ARN."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.secrets import repo
from ecsbox.secrets.arns import parameter_arn, parse_parameter_arn
from ecsbox.secrets.handling import Deps, aws_errors
from ecsbox.secrets.model import MAX_PARAMETER_TAGS, SecretsRuleError
from ecsbox.secrets.names import parameter_key
from ecsbox.secrets.parameters import tag_map, too_many_tags


def _parameter_arn(conn: Connection, ctx: RequestContext, resource_type: str, resource_id: str) -> str:
    """The ARN of the parameter a tagging call names; InvalidResourceId when there is none."""
    if resource_type != "Parameter":
        raise SecretsRuleError(
            "InvalidResourceType",
            f"ecsbox keeps tags only for Parameter resources, not {resource_type}.",
        )
    key = parameter_key(resource_id.strip())
    if resource_id.startswith("arn:"):
        arn = parse_parameter_arn(resource_id)
        key = arn.key if arn is not None and (arn.account_id, arn.region) == ctx.partition else ""
    row = repo.get_parameter(conn, ctx.partition, key) if key else None
    if row is None:
        raise SecretsRuleError("InvalidResourceId", "")
    return parameter_arn(ctx.region, ctx.account_id, row.name)


class ParameterTags:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store

    @aws_errors
    async def add(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        new_tags = tag_map(params["Tags"])

        def write(conn: Connection) -> None:
            arn = _parameter_arn(conn, ctx, params["ResourceType"], params["ResourceId"])
            if len(set(repo.get_tags(conn, arn)) | set(new_tags)) > MAX_PARAMETER_TAGS:
                raise too_many_tags()
            repo.put_tags(conn, arn, new_tags)

        await self.store.write(write)
        return {}

    @aws_errors
    async def remove(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def write(conn: Connection) -> None:
            arn = _parameter_arn(conn, ctx, params["ResourceType"], params["ResourceId"])
            repo.remove_tags(conn, arn, list(params["TagKeys"]))

        await self.store.write(write)
        return {}

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def read(conn: Connection) -> list[dict[str, str]]:
            arn = _parameter_arn(conn, ctx, params["ResourceType"], params["ResourceId"])
            return [{"Key": key, "Value": value} for key, value in repo.get_tags(conn, arn).items()]

        return {"TagList": await self.store.read(read)}
