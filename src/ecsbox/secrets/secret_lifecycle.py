"""Secrets Manager: DeleteSecret (with a recovery window, or at once), RestoreSecret, TagResource
and UntagResource.

The recovery window is measured on ecsbox's clock (so ``--time-scale`` shortens it); a secret past
its window is removed the next time its partition is written to, and is invisible before that.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.secrets import repo, secret_repo
from ecsbox.secrets.arns import parse_secret_arn
from ecsbox.secrets.handling import Deps, aws_errors
from ecsbox.secrets.model import (
    DEFAULT_RECOVERY_DAYS,
    MAX_RECOVERY_DAYS,
    MIN_RECOVERY_DAYS,
    SECONDS_PER_DAY,
    SecretsRuleError,
    invalid_parameter,
    marked_for_deletion,
)
from ecsbox.secrets.secret_lookup import find_secret
from ecsbox.secrets.secretsmanager import check_tag_count


class SecretLifecycle:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.clock = deps.clock

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        window = params.get("RecoveryWindowInDays")
        force = bool(params.get("ForceDeleteWithoutRecovery"))
        if window is not None and force:
            raise invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )
        if window is not None and not MIN_RECOVERY_DAYS <= window <= MAX_RECOVERY_DAYS:
            raise invalid_parameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
            )
        secret_id = params["SecretId"]
        now = self.clock.now()

        def write(conn: Connection) -> dict[str, Any]:
            secret_repo.purge_expired(conn, ctx.partition, now)
            try:
                row = find_secret(conn, ctx.partition, secret_id, now)
            except SecretsRuleError:
                if not force:
                    raise
                # Forcing the deletion of a secret that is not there is not an error on AWS.
                arn = parse_secret_arn(secret_id)
                name = arn.secret_id if arn is not None else secret_id
                return {"Name": name, "DeletionDate": now} | ({"ARN": secret_id} if arn else {})
            if force:
                secret_repo.delete_secret(conn, row.arn)
                return {"ARN": row.arn, "Name": row.name, "DeletionDate": now}
            if row.deletion_date is not None:
                raise marked_for_deletion()
            deletion_date = now + (window or DEFAULT_RECOVERY_DAYS) * SECONDS_PER_DAY
            secret_repo.save_secret(conn, dataclasses.replace(row, deletion_date=deletion_date))
            return {"ARN": row.arn, "Name": row.name, "DeletionDate": deletion_date}

        return await self.store.write(write)

    @aws_errors
    async def restore(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()

        def write(conn: Connection) -> dict[str, Any]:
            secret_repo.purge_expired(conn, ctx.partition, now)
            row = find_secret(conn, ctx.partition, params["SecretId"], now)
            secret_repo.save_secret(conn, dataclasses.replace(row, deletion_date=None))
            return {"ARN": row.arn, "Name": row.name}

        return await self.store.write(write)

    async def _tags(self, ctx: RequestContext, secret_id: str, change: Any) -> dict[str, Any]:
        now = self.clock.now()

        def write(conn: Connection) -> None:
            secret_repo.purge_expired(conn, ctx.partition, now)
            row = find_secret(conn, ctx.partition, secret_id, now)
            if row.deletion_date is not None:
                raise marked_for_deletion()
            change(conn, row.arn)
            secret_repo.save_secret(conn, dataclasses.replace(row, last_changed_at=now))

        await self.store.write(write)
        return {}

    @aws_errors
    async def tag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        new_tags = {tag["Key"]: tag.get("Value", "") for tag in params["Tags"]}

        def change(conn: Connection, arn: str) -> None:
            check_tag_count(len(set(repo.get_tags(conn, arn)) | set(new_tags)))
            repo.put_tags(conn, arn, new_tags)

        return await self._tags(ctx, params["SecretId"], change)

    @aws_errors
    async def untag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def change(conn: Connection, arn: str) -> None:
            repo.remove_tags(conn, arn, list(params["TagKeys"]))

        return await self._tags(ctx, params["SecretId"], change)
