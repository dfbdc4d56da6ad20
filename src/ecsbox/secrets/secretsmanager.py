"""Secrets Manager: CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret, DescribeSecret and
ListSecrets. (DeleteSecret, RestoreSecret and tags are in :mod:`ecsbox.secrets.secret_lifecycle`.)

ecsbox has no KMS: values are stored as given and ``KmsKeyId`` is recorded, never used. Rotation,
replication and resource policies are not implemented. Values are never logged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.secrets import repo, secret_repo
from ecsbox.secrets.arns import secret_arn
from ecsbox.secrets.filters import SecretSummary, matches_secret
from ecsbox.secrets.handling import Deps, aws_errors
from ecsbox.secrets.model import (
    AWSCURRENT,
    LIST_SECRETS_PAGE,
    MAX_SECRET_TAGS,
    Document,
    SecretsRuleError,
    invalid_parameter,
    invalid_request,
    marked_for_deletion,
)
from ecsbox.secrets.paging import decode_token, encode_token
from ecsbox.secrets.secret_lookup import (
    BOTH_VALUES,
    check_secret_name,
    day_of,
    find_secret,
    random_suffix,
    secret_view,
    select_version,
    value_members,
    write_version,
)

SCHEDULED_FOR_DELETION = (
    "You can't create this secret because a secret with this name is already scheduled for deletion."
)
NOT_IMPLEMENTED = {
    "AddReplicaRegions": "ecsbox does not replicate secrets to other Regions.",
    "CrossAccountPrimaryARN": "ecsbox does not share secrets between accounts.",
    "Type": "ecsbox does not implement managed external secrets (Type).",
}


def check_value(params: dict[str, Any]) -> tuple[str | None, bytes | None]:
    secret_string, secret_binary = params.get("SecretString"), params.get("SecretBinary")
    if secret_string is not None and secret_binary is not None:
        raise invalid_parameter(BOTH_VALUES)
    return secret_string, secret_binary


def check_tag_count(count: int) -> None:
    if count > MAX_SECRET_TAGS:
        raise invalid_request(f"A secret can have at most {MAX_SECRET_TAGS} tags.")


class Secrets:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.clock = deps.clock

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = check_secret_name(params["Name"])
        for member, why in NOT_IMPLEMENTED.items():
            if params.get(member):
                raise invalid_request(why)
        secret_string, secret_binary = check_value(params)
        new_tags = {tag["Key"]: tag.get("Value", "") for tag in params.get("Tags") or []}
        check_tag_count(len(new_tags))
        token = params.get("ClientRequestToken")
        document = {k: params[k] for k in ("Description", "KmsKeyId") if params.get(k)}
        has_value = secret_string is not None or secret_binary is not None
        now = self.clock.now()

        def write(conn: Connection) -> dict[str, Any]:
            secret_repo.purge_expired(conn, ctx.partition, now)
            existing = secret_repo.get_secret_by_name(conn, ctx.partition, name, now)
            if existing is not None:
                if existing.deletion_date is not None:
                    raise invalid_request(SCHEDULED_FOR_DELETION)
                same = [
                    v
                    for v in secret_repo.get_versions(conn, existing.arn)
                    if token
                    and v.version_id == token
                    and (v.secret_string, v.secret_binary) == (secret_string, secret_binary)
                ]
                if same:  # a retry of the call that created it
                    return {"ARN": existing.arn, "Name": existing.name, "VersionId": same[0].version_id}
                raise SecretsRuleError(
                    "ResourceExistsException",
                    f"The operation failed because the secret {name} already exists.",
                )
            arn = secret_arn(ctx.region, ctx.account_id, name, random_suffix())
            row = secret_repo.insert_secret(conn, ctx.partition, name, arn, now, document)
            repo.put_tags(conn, arn, new_tags)
            result: dict[str, Any] = {"ARN": arn, "Name": name}
            if has_value:
                result["VersionId"], _ = write_version(
                    conn, row, token, secret_string, secret_binary, [AWSCURRENT], now
                )
            return result

        return await self.store.write(write)

    @aws_errors
    async def get_value(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()

        def read(conn: Connection) -> tuple[secret_repo.SecretRow, Document]:
            row = find_secret(conn, ctx.partition, params["SecretId"], now)
            if row.deletion_date is not None:
                raise marked_for_deletion()
            version = select_version(
                secret_repo.get_versions(conn, row.arn), params.get("VersionId"), params.get("VersionStage")
            )
            return row, {
                "ARN": row.arn,
                "Name": row.name,
                "VersionId": version.version_id,
                **value_members(version),
                "VersionStages": version.stages,
                "CreatedDate": version.created_at,
            }

        row, result = await self.store.read(read)
        if row.last_accessed_at != day_of(now):  # one write a day at most
            accessed = dataclasses.replace(row, last_accessed_at=day_of(now))
            await self.store.write(lambda conn: secret_repo.save_secret(conn, accessed))
        return result

    async def _change(self, ctx: RequestContext, secret_id: str, change: Any) -> dict[str, Any]:
        """Run ``change(conn, row, now) -> result`` on a secret that is not marked for deletion."""
        now = self.clock.now()

        def write(conn: Connection) -> dict[str, Any]:
            secret_repo.purge_expired(conn, ctx.partition, now)
            row = find_secret(conn, ctx.partition, secret_id, now)
            if row.deletion_date is not None:
                raise marked_for_deletion()
            result: dict[str, Any] = change(conn, row, now)
            return result

        return await self.store.write(write)

    @aws_errors
    async def put_value(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secret_string, secret_binary = check_value(params)
        if secret_string is None and secret_binary is None:
            raise invalid_request("You must provide either SecretString or SecretBinary.")
        if params.get("RotationToken"):
            raise invalid_request("ecsbox does not implement external secret rotation (RotationToken).")
        stages = list(params.get("VersionStages") or [AWSCURRENT])

        def change(conn: Connection, row: secret_repo.SecretRow, now: float) -> dict[str, Any]:
            version_id, version_stages = write_version(
                conn, row, params.get("ClientRequestToken"), secret_string, secret_binary, stages, now
            )
            secret_repo.save_secret(conn, dataclasses.replace(row, last_changed_at=now))
            return {
                "ARN": row.arn,
                "Name": row.name,
                "VersionId": version_id,
                "VersionStages": version_stages,
            }

        return await self._change(ctx, params["SecretId"], change)

    @aws_errors
    async def update(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secret_string, secret_binary = check_value(params)
        if params.get("Type"):
            raise invalid_request(NOT_IMPLEMENTED["Type"])

        def change(conn: Connection, row: secret_repo.SecretRow, now: float) -> dict[str, Any]:
            document = dict(row.document)
            for member in ("Description", "KmsKeyId"):
                if params.get(member) is not None:
                    document[member] = params[member]
            result: dict[str, Any] = {"ARN": row.arn, "Name": row.name}
            if secret_string is not None or secret_binary is not None:
                result["VersionId"], _ = write_version(
                    conn,
                    row,
                    params.get("ClientRequestToken"),
                    secret_string,
                    secret_binary,
                    [AWSCURRENT],
                    now,
                )
            secret_repo.save_secret(conn, dataclasses.replace(row, document=document, last_changed_at=now))
            return result

        return await self._change(ctx, params["SecretId"], change)

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()

        def read(conn: Connection) -> Document:
            return secret_view(
                conn, find_secret(conn, ctx.partition, params["SecretId"], now), "VersionIdsToStages"
            )

        return await self.store.read(read)

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("SortBy") not in (None, "created-date"):
            raise invalid_parameter("ecsbox lists secrets only by created-date (SortBy).")
        ascending = params.get("SortOrder", "asc") == "asc"
        include_deleted = bool(params.get("IncludePlannedDeletion"))
        filters = params.get("Filters") or []
        limit = params.get("MaxResults") or LIST_SECRETS_PAGE
        scope = f"ListSecrets:{ascending}:{include_deleted}"
        after: int | None = None
        if params.get("NextToken"):
            key = decode_token(params["NextToken"], scope)
            if key is None or len(key) != 1 or not isinstance(key[0], int):
                raise SecretsRuleError(
                    "InvalidNextTokenException", "You provided an invalid NextToken value."
                )
            after = key[0]
        now = self.clock.now()

        def read(conn: Connection) -> dict[str, Any]:
            found: list[secret_repo.SecretRow] = []
            for row in secret_repo.list_secrets(conn, ctx.partition, now, include_deleted, after, ascending):
                summary = SecretSummary(
                    row.name, row.document.get("Description", ""), repo.get_tags(conn, row.arn)
                )
                if matches_secret(summary, filters):
                    found.append(row)
                    if len(found) > limit:
                        break
            result: dict[str, Any] = {
                "SecretList": [secret_view(conn, row, "SecretVersionsToStages") for row in found[:limit]]
            }
            if len(found) > limit:
                result["NextToken"] = encode_token(scope, [found[limit - 1].seq])
            return result

        return await self.store.read(read)
