"""Account settings: PutAccountSetting, PutAccountSettingDefault, ListAccountSettings,
DeleteAccountSetting, and the effective value other operations consult (a new cluster's
containerInsights).

A setting applies, in order of precedence: the principal's own → the account default (set with
PutAccountSettingDefault, or PutAccountSetting for the root user) → AWS's default.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.core.ids import parse_arn
from ecsbox.ecs import paging, repo
from ecsbox.ecs.handling import Deps, aws_errors, caller_arn, root_arn
from ecsbox.ecs.model import (
    ACCOUNT_SETTING_DEFAULTS,
    ACCOUNT_SETTING_VALUES,
    READ_ONLY_ACCOUNT_SETTINGS,
    invalid_parameter,
)

ACCOUNT_DEFAULT = ""  # the principal key under which the account default is stored
LIST_PAGE = 10


def principal_key(account_id: str, principal_arn: str) -> str:
    """Where a principal's settings live: the root user's settings are the account default."""
    return ACCOUNT_DEFAULT if principal_arn == root_arn(account_id) else principal_arn


def effective_setting(
    conn: Connection, partition: repo.Partition, principal_arn: str, name: str
) -> dict[str, str]:
    """The setting that applies to ``principal_arn``, as ListAccountSettings(effectiveSettings) prints it."""
    account_id = partition[0]
    key = principal_key(account_id, principal_arn)
    stored = repo.get_account_settings(conn, partition, [key, ACCOUNT_DEFAULT])
    if (key, name) in stored:
        return {"name": name, "value": stored[(key, name)], "principalArn": principal_arn, "type": "user"}
    if (ACCOUNT_DEFAULT, name) in stored:
        return {
            "name": name,
            "value": stored[(ACCOUNT_DEFAULT, name)],
            "principalArn": root_arn(account_id),
            "type": "user",
        }
    return {
        "name": name,
        "value": ACCOUNT_SETTING_DEFAULTS[name],
        "principalArn": principal_arn,
        "type": "aws_managed",
    }


def _check_value(name: str, value: str) -> None:
    if name in READ_ONLY_ACCOUNT_SETTINGS:
        raise invalid_parameter(f"The {name} account setting can't be modified through Amazon ECS.")
    allowed = ACCOUNT_SETTING_VALUES[name]
    if value not in allowed:
        raise invalid_parameter(
            f"Invalid value '{value}' for {name}. Valid values are: {', '.join(allowed)}."
        )


def _principal(ctx: RequestContext, given: str | None) -> str:
    if not given:
        return caller_arn(ctx)
    parts = parse_arn(given)
    if parts is None or parts["service"] not in ("iam", "sts") or parts["account"] != ctx.account_id:
        raise invalid_parameter(
            f"Invalid principalArn: {given}. Specify an IAM user, role or root ARN of this account."
        )
    return given


class AccountSettings:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, value = params["name"], params["value"]
        _check_value(name, value)
        principal = _principal(ctx, params.get("principalArn"))
        key = principal_key(ctx.account_id, principal)
        await self.store.write(lambda conn: repo.put_account_setting(conn, ctx.partition, key, name, value))
        return {"setting": {"name": name, "value": value, "principalArn": principal, "type": "user"}}

    @aws_errors
    async def put_default(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, value = params["name"], params["value"]
        _check_value(name, value)
        await self.store.write(
            lambda conn: repo.put_account_setting(conn, ctx.partition, ACCOUNT_DEFAULT, name, value)
        )
        return {
            "setting": {
                "name": name,
                "value": value,
                "principalArn": root_arn(ctx.account_id),
                "type": "user",
            }
        }

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        principal = _principal(ctx, params.get("principalArn"))
        key = principal_key(ctx.account_id, principal)

        def write(conn: Connection) -> dict[str, str]:
            stored = repo.get_account_settings(conn, ctx.partition, [key])
            if (key, name) in stored:
                repo.delete_account_setting(conn, ctx.partition, key, name)
                return {"name": name, "value": stored[(key, name)], "principalArn": principal, "type": "user"}
            return effective_setting(conn, ctx.partition, principal, name)

        return {"setting": await self.store.write(write)}

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        principal = _principal(ctx, params.get("principalArn"))
        effective = bool(params.get("effectiveSettings"))
        limit = paging.page_size(params.get("maxResults"), LIST_PAGE, LIST_PAGE)
        names = [params["name"]] if params.get("name") else list(ACCOUNT_SETTING_DEFAULTS)
        wanted_value = params.get("value")
        scope = f"ListAccountSettings|{principal}|{effective}|{params.get('name') or ''}|{wanted_value or ''}"
        start = 0
        if params.get("nextToken"):
            key = paging.decode_token(params["nextToken"], scope)
            if len(key) != 1 or not isinstance(key[0], int) or key[0] < 0:
                raise invalid_parameter(paging.INVALID_TOKEN)
            start = key[0]

        def read(conn: Connection) -> list[dict[str, str]]:
            found: list[dict[str, str]] = []
            own_key = principal_key(ctx.account_id, principal)
            stored = repo.get_account_settings(conn, ctx.partition, [own_key])
            for name in names:
                if effective:
                    found.append(effective_setting(conn, ctx.partition, principal, name))
                elif (own_key, name) in stored:
                    found.append(
                        {
                            "name": name,
                            "value": stored[(own_key, name)],
                            "principalArn": principal,
                            "type": "user",
                        }
                    )
            return [s for s in found if wanted_value is None or s["value"] == wanted_value]

        settings = await self.store.read(read)
        page = settings[start : start + limit]
        result: dict[str, Any] = {"settings": page}
        if start + limit < len(settings):
            result["nextToken"] = paging.encode_token(scope, [start + limit])
        return result
