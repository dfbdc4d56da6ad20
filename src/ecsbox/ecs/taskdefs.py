"""Task definition operations: Register, Describe, List, ListFamilies, Deregister, Delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.ecs import handling, paging, repo
from ecsbox.ecs.handling import Deps, aws_errors, caller_arn
from ecsbox.ecs.model import (
    TASK_DEFINITION_ACTIVE,
    TASK_DEFINITION_DELETE_IN_PROGRESS,
    TASK_DEFINITION_INACTIVE,
    Document,
    client_error,
    invalid_parameter,
)
from ecsbox.ecs.references import TaskDefinitionRef, parse_task_definition, task_definition_arn
from ecsbox.ecs.tag_rules import check_tags
from ecsbox.ecs.taskdef_rules import build_task_definition, host_reach

NOT_FOUND = "Unable to describe task definition."
MAX_DELETE = 10
LIST_PAGE = 100


def in_model_order(document: Document) -> Document:
    return handling.in_model_order("TaskDefinition", document)


def _require_revision(ref: TaskDefinitionRef) -> int:
    if ref.revision is None:
        raise client_error("Revision is missing.")
    return ref.revision


class TaskDefinitions:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.clock = deps.clock

    @aws_errors
    async def register(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        definition = build_task_definition(params)
        reach = host_reach(definition)
        if reach and ":assumed-role/" in ctx.principal_arn:
            # A task's own role (calls from inside a container) must not register a way out of
            # the container: ecsbox drives Docker, so that would be root on the host.
            raise client_error(
                "A task role cannot register a task definition that reaches the host ("
                + ", ".join(reach)
                + "); register it with the operator's credentials."
            )
        new_tags = check_tags(params.get("tags") or [])
        family = definition["family"]
        registered_at = self.clock.now()
        registered_by = caller_arn(ctx)

        def write(conn: Connection) -> Document:
            revision = repo.next_revision(conn, ctx.partition, family)
            arn = task_definition_arn(ctx.region, ctx.account_id, family, revision)
            document = in_model_order(
                {
                    **definition,
                    "taskDefinitionArn": arn,
                    "revision": revision,
                    "status": TASK_DEFINITION_ACTIVE,
                    "registeredAt": registered_at,
                    "registeredBy": registered_by,
                }
            )
            row = repo.TaskDefinitionRow(family, revision, TASK_DEFINITION_ACTIVE, document)
            repo.insert_task_definition(conn, ctx.partition, row, registered_at)
            repo.put_tags(conn, arn, new_tags)
            return document

        document = await self.store.write(write)
        result: dict[str, Any] = {"taskDefinition": document}
        if new_tags:
            result["tags"] = new_tags
        return result

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_task_definition(params["taskDefinition"], ctx.account_id, ctx.region)
        if ref.foreign:
            raise client_error(NOT_FOUND)

        def read(conn: Connection) -> tuple[repo.TaskDefinitionRow | None, list[dict[str, str]]]:
            row = repo.get_task_definition(conn, ctx.partition, ref.family, ref.revision)
            found_tags = repo.get_tags(conn, row.document["taskDefinitionArn"]) if row else []
            return row, found_tags

        row, found_tags = await self.store.read(read)
        if row is None:
            raise client_error(NOT_FOUND)
        result: dict[str, Any] = {"taskDefinition": row.document}
        if "TAGS" in (params.get("include") or []):
            result["tags"] = found_tags
        return result

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        family = params.get("familyPrefix")
        status = params.get("status") or TASK_DEFINITION_ACTIVE
        ascending = (params.get("sort") or "ASC") == "ASC"
        limit = paging.page_size(params.get("maxResults"), LIST_PAGE, LIST_PAGE)
        scope = f"ListTaskDefinitions|{family or ''}|{status}|{ascending}"
        after: tuple[str, int] | None = None
        if params.get("nextToken"):
            key = paging.decode_token(params["nextToken"], scope)
            if len(key) != 2 or not isinstance(key[0], str) or not isinstance(key[1], int):
                raise invalid_parameter(paging.INVALID_TOKEN)
            after = (key[0], key[1])

        rows = await self.store.read(
            lambda conn: repo.list_task_definitions(
                conn, ctx.partition, family, status, ascending, after, limit + 1
            )
        )
        result: dict[str, Any] = {
            "taskDefinitionArns": [
                task_definition_arn(ctx.region, ctx.account_id, f, r) for f, r in rows[:limit]
            ]
        }
        if len(rows) > limit:
            result["nextToken"] = paging.encode_token(scope, list(rows[limit - 1]))
        return result

    @aws_errors
    async def list_families(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("familyPrefix")
        status = params.get("status") or TASK_DEFINITION_ACTIVE
        limit = paging.page_size(params.get("maxResults"), LIST_PAGE, LIST_PAGE)
        scope = f"ListTaskDefinitionFamilies|{prefix or ''}|{status}"
        after: str | None = None
        if params.get("nextToken"):
            key = paging.decode_token(params["nextToken"], scope)
            if len(key) != 1 or not isinstance(key[0], str):
                raise invalid_parameter(paging.INVALID_TOKEN)
            after = key[0]
        families = await self.store.read(
            lambda conn: repo.list_families(conn, ctx.partition, prefix, status, after, limit + 1)
        )
        result: dict[str, Any] = {"families": families[:limit]}
        if len(families) > limit:
            result["nextToken"] = paging.encode_token(scope, [families[limit - 1]])
        return result

    @aws_errors
    async def deregister(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_task_definition(params["taskDefinition"], ctx.account_id, ctx.region)
        revision = _require_revision(ref)
        if ref.foreign:
            raise client_error(NOT_FOUND)
        now = self.clock.now()

        def write(conn: Connection) -> Document:
            row = repo.get_task_definition(conn, ctx.partition, ref.family, revision)
            if row is None:
                raise client_error(NOT_FOUND)
            if row.status != TASK_DEFINITION_ACTIVE:
                return row.document  # deregistering twice changes nothing
            document = in_model_order(
                {**row.document, "status": TASK_DEFINITION_INACTIVE, "deregisteredAt": now}
            )
            repo.save_task_definition(
                conn,
                ctx.partition,
                repo.TaskDefinitionRow(row.family, row.revision, TASK_DEFINITION_INACTIVE, document),
            )
            return document

        return {"taskDefinition": await self.store.write(write)}

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names: list[str] = list(params.get("taskDefinitions") or [])
        if not names:
            raise invalid_parameter("taskDefinitions must contain at least one task definition.")
        if len(names) > MAX_DELETE:
            raise invalid_parameter(f"You can specify up to {MAX_DELETE} task definitions.")
        refs = [parse_task_definition(name, ctx.account_id, ctx.region) for name in names]
        for ref in refs:
            _require_revision(ref)
        now = self.clock.now()

        def write(conn: Connection) -> tuple[list[Document], list[dict[str, str]]]:
            deleted: list[Document] = []
            failures: list[dict[str, str]] = []
            for name, ref in zip(names, refs, strict=True):
                assert ref.revision is not None
                row = (
                    None
                    if ref.foreign
                    else repo.get_task_definition(conn, ctx.partition, ref.family, ref.revision)
                )
                arn = (
                    name
                    if name.startswith("arn:")
                    else task_definition_arn(ctx.region, ctx.account_id, ref.family, ref.revision)
                )
                if row is None:
                    failures.append(
                        {
                            "arn": arn,
                            "reason": "The specified task definition does not exist. "
                            "Specify a valid account, "
                            "family, revision and try again.",
                        }
                    )
                elif row.status == TASK_DEFINITION_ACTIVE:
                    failures.append(
                        {
                            "arn": arn,
                            "reason": "The specified task definition is still in ACTIVE status. Please "
                            "deregister the target and try again.",
                        }
                    )
                elif row.status == TASK_DEFINITION_DELETE_IN_PROGRESS:
                    deleted.append(row.document)
                else:
                    document = in_model_order(
                        {
                            **row.document,
                            "status": TASK_DEFINITION_DELETE_IN_PROGRESS,
                            "deleteRequestedAt": now,
                        }
                    )
                    repo.save_task_definition(
                        conn,
                        ctx.partition,
                        repo.TaskDefinitionRow(
                            row.family, row.revision, TASK_DEFINITION_DELETE_IN_PROGRESS, document
                        ),
                    )
                    deleted.append(document)
            return deleted, failures

        deleted, failures = await self.store.write(write)
        return {"taskDefinitions": deleted, "failures": failures}
