"""Log groups: CreateLogGroup, DescribeLogGroups, DeleteLogGroup, retention policies, deletion
protection and tags (TagResource / UntagResource / ListTagsForResource and the older
TagLogGroup / UntagLogGroup / ListTagsLogGroup).

ecsbox has no KMS: ``kmsKeyId`` is recorded and returned, nothing is encrypted. ``storedBytes`` is
the UTF-8 size of the group's events (AWS counts compressed bytes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.logs import group_repo
from ecsbox.logs.group_repo import GroupRow
from ecsbox.logs.handling import Deps, aws_errors, named_group
from ecsbox.logs.model import (
    DELETION_PROTECTED,
    DESCRIBE_PAGE,
    MAX_TAGS,
    RETENTION_DAYS,
    GroupRef,
    LogsRuleError,
    group_arn_wildcard,
    group_not_found,
    invalid_parameter,
    parse_group_arn,
)
from ecsbox.logs.paging import decode_token, encode_token, page_limit

# CreateLogGroup's documentation: names may not start with "aws/" (AWS's own, e.g. "aws/spans").
RESERVED_PREFIX = "aws/"
# DescribeLogGroups: asking for either of these classes returns both.
_CLASS_ALIASES = {
    "INFREQUENT_ACCESS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
    "ESSENTIALS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
}


def check_retention(days: int) -> int:
    """``days`` when AWS accepts it, else InvalidParameterException as AWS words it."""
    if days not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise invalid_parameter(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{allowed}]"
        )
    return days


def check_tag_count(count: int) -> None:
    if count > MAX_TAGS:
        raise LogsRuleError("TooManyTagsException", f"A resource can have no more than {MAX_TAGS} tags.")


def group_view(group: GroupRow, metric_filters: int, *, names_only: bool = False) -> dict[str, Any]:
    """The LogGroup shape; with ``names_only`` (logGroupNamePattern) just arn, creationTime and name."""
    view: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created_ms,
        "arn": group_arn_wildcard(group.partition, group.name),
    }
    if names_only:
        return view
    if group.retention_days is not None:
        view["retentionInDays"] = group.retention_days
    view["metricFilterCount"] = metric_filters
    view["storedBytes"] = group.stored_bytes
    if group.kms_key_id:
        view["kmsKeyId"] = group.kms_key_id
    view["logGroupClass"] = group.log_group_class
    view["logGroupArn"] = group.arn
    view["deletionProtectionEnabled"] = group.deletion_protection
    return view


class LogGroups:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store

    async def _on_group(self, ref: GroupRef, change: Any) -> dict[str, Any]:
        """Run ``change(conn, group)`` on the named group in one write; answers ``{}``."""

        def write(conn: Connection) -> dict[str, Any]:
            change(conn, group_repo.require_group(conn, ref))
            return {}

        return await self.store.write(write)

    # -- groups --

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["logGroupName"]
        if name.startswith(RESERVED_PREFIX):
            raise invalid_parameter(f"Log group names can't start with '{RESERVED_PREFIX}'.")
        ref = GroupRef(ctx.partition, name)
        new_tags = dict(params.get("tags") or {})
        check_tag_count(len(new_tags))
        now = self.deps.now_ms()

        def write(conn: Connection) -> dict[str, Any]:
            group = group_repo.insert_group(
                conn,
                ref,
                now,
                kms_key_id=params.get("kmsKeyId"),
                log_group_class=params.get("logGroupClass") or "STANDARD",
                deletion_protection=bool(params.get("deletionProtectionEnabled")),
            )
            group_repo.put_tags(conn, group.arn, new_tags)
            return {}

        return await self.store.write(write)

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        identifiers = params.get("logGroupIdentifiers")
        if prefix is not None and pattern is not None:
            raise invalid_parameter(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        if identifiers is not None and (prefix is not None or pattern is not None):
            raise invalid_parameter(
                "logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern."
            )
        names = None if identifiers is None else self._names(ctx, identifiers)
        group_class = params.get("logGroupClass")
        classes = _CLASS_ALIASES.get(group_class, (group_class,)) if group_class else None
        limit = page_limit(params.get("limit"), DESCRIBE_PAGE)
        after = None
        if params.get("nextToken") is not None:
            after = str(decode_token(params["nextToken"], "DescribeLogGroups")[0])

        def read(conn: Connection) -> tuple[list[GroupRow], dict[int, int], bool]:
            rows = group_repo.list_groups(
                conn,
                ctx.partition,
                prefix=prefix,
                substring=pattern or None,
                names=names,
                classes=classes,
                after=after,
                limit=limit + 1,
            )
            more = len(rows) > limit
            rows = rows[:limit]
            return rows, group_repo.count_metric_filters(conn, [g.id for g in rows]), more

        rows, counts, more = await self.store.read(read)
        answer: dict[str, Any] = {
            "logGroups": [group_view(g, counts.get(g.id, 0), names_only=pattern is not None) for g in rows]
        }
        if more:
            answer["nextToken"] = encode_token("DescribeLogGroups", [rows[-1].name])
        return answer

    @staticmethod
    def _names(ctx: RequestContext, identifiers: list[str]) -> list[str]:
        """The names ``logGroupIdentifiers`` give: names, or ARNs of the caller's own partition."""
        names = []
        for identifier in identifiers:
            if identifier.startswith("arn:"):
                found = parse_group_arn(identifier)
                if found is None:
                    raise invalid_parameter(f"Invalid log group identifier: {identifier}")
                if found.partition == ctx.partition:
                    names.append(found.name)
            else:
                names.append(identifier)
        return names

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def delete(conn: Connection, group: GroupRow) -> None:
            if group.deletion_protection:
                raise LogsRuleError("ValidationException", DELETION_PROTECTED)
            group_repo.delete_group(conn, group)

        return await self._on_group(GroupRef(ctx.partition, params["logGroupName"]), delete)

    @aws_errors
    async def put_retention(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        days = check_retention(int(params["retentionInDays"]))
        return await self._on_group(
            GroupRef(ctx.partition, params["logGroupName"]),
            lambda conn, group: group_repo.set_retention(conn, group.id, days),
        )

    @aws_errors
    async def delete_retention(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._on_group(
            GroupRef(ctx.partition, params["logGroupName"]),
            lambda conn, group: group_repo.set_retention(conn, group.id, None),
        )

    @aws_errors
    async def put_deletion_protection(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        enabled = bool(params["deletionProtectionEnabled"])
        return await self._on_group(
            named_group(ctx, {"logGroupIdentifier": params["logGroupIdentifier"]}),
            lambda conn, group: group_repo.set_deletion_protection(conn, group.id, enabled),
        )

    # -- tags --

    @staticmethod
    def _tagged(resource_arn: str) -> GroupRef:
        """The log group a tagging ARN names (with or without the trailing ``:*``)."""
        found = parse_group_arn(resource_arn)
        if found is None:
            if resource_arn.startswith("arn:") and ":logs:" in resource_arn:
                raise LogsRuleError("ResourceNotFoundException", "The specified resource does not exist.")
            raise invalid_parameter(f"Invalid resource ARN: {resource_arn}")
        return found

    async def _add_tags(self, ref: GroupRef, new_tags: dict[str, str]) -> dict[str, Any]:
        def add(conn: Connection, group: GroupRow) -> None:
            current = group_repo.get_tags(conn, group.arn)
            check_tag_count(len(current.keys() | new_tags.keys()))
            group_repo.put_tags(conn, group.arn, new_tags)

        return await self._on_group(ref, add)

    async def _remove_tags(self, ref: GroupRef, keys: list[str]) -> dict[str, Any]:
        return await self._on_group(ref, lambda conn, group: group_repo.remove_tags(conn, group.arn, keys))

    async def _list_tags(self, ref: GroupRef) -> dict[str, Any]:
        def read(conn: Connection) -> dict[str, Any]:
            group = group_repo.get_group(conn, ref)
            if group is None:
                raise group_not_found()
            return {"tags": group_repo.get_tags(conn, group.arn)}

        return await self.store.read(read)

    @aws_errors
    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._add_tags(self._tagged(params["resourceArn"]), dict(params["tags"]))

    @aws_errors
    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._remove_tags(self._tagged(params["resourceArn"]), list(params["tagKeys"]))

    @aws_errors
    async def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._list_tags(self._tagged(params["resourceArn"]))

    @aws_errors
    async def tag_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._add_tags(GroupRef(ctx.partition, params["logGroupName"]), dict(params["tags"]))

    @aws_errors
    async def untag_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._remove_tags(GroupRef(ctx.partition, params["logGroupName"]), list(params["tags"]))

    @aws_errors
    async def list_tags_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._list_tags(GroupRef(ctx.partition, params["logGroupName"]))
