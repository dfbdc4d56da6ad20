"""SSM Parameter Store: PutParameter, GetParameter(s), GetParametersByPath, DeleteParameter(s),
DescribeParameters.

ecsbox has no KMS. A ``SecureString`` value is stored as given and returned as-is — with or
without ``WithDecryption`` — where AWS would return KMS ciphertext when decryption is not asked
for. Its ``KeyId`` (``alias/aws/ssm`` unless named) is recorded and shown, never used. Values are
never logged.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.secrets import repo
from ecsbox.secrets.arns import parameter_arn, parameter_arn_prefix, parse_parameter_arn
from ecsbox.secrets.filters import (
    ParameterFilter,
    ParameterSummary,
    check_parameter_filters,
    legacy_filters,
    matches_parameter,
)
from ecsbox.secrets.handling import Deps, aws_errors, caller_arn
from ecsbox.secrets.model import (
    BY_PATH_PAGE,
    DATA_TYPE_TEXT,
    DEFAULT_SSM_KEY_ID,
    DESCRIBE_PAGE,
    MAX_ADVANCED_VALUE,
    MAX_PARAMETER_TAGS,
    MAX_PARAMETER_VERSIONS,
    MAX_STANDARD_VALUE,
    SECURE_STRING,
    TIER_ADVANCED,
    TIER_INTELLIGENT,
    TIER_STANDARD,
    UNSUPPORTED_DATA_TYPES,
    Document,
    SecretsRuleError,
    parameter_not_found,
    parameter_version_not_found,
    ssm_validation,
)
from ecsbox.secrets.names import check_parameter_name, check_path, parameter_key, split_selector
from ecsbox.secrets.paging import decode_token, encode_token

TAGS_WITH_OVERWRITE = (
    "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please "
    "remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or "
    "RemoveTagsFromResource."
)
ALREADY_EXISTS = (
    "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
)
STANDARD_TOO_LONG = (
    "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger "
    "parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see "
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
)
NO_DOWNGRADE = (
    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the "
    "advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced "
    "parameter and recreate it as a standard parameter."
)


def invalid_next_token() -> SecretsRuleError:
    return SecretsRuleError("InvalidNextToken", "The specified token is not valid.")


def too_many_tags() -> SecretsRuleError:
    return SecretsRuleError("TooManyTagsError", f"A resource can have at most {MAX_PARAMETER_TAGS} tags.")


def _tier(requested: str | None, existing: str | None, value: str) -> str:
    """The tier a write lands in: as asked; an existing Advanced parameter stays Advanced;
    Intelligent-Tiering picks Advanced only when the value needs it."""
    if requested == TIER_STANDARD and existing == TIER_ADVANCED:
        raise ssm_validation(NO_DOWNGRADE)
    if requested == TIER_INTELLIGENT:
        tier = TIER_ADVANCED if len(value) > MAX_STANDARD_VALUE else TIER_STANDARD
    else:
        tier = requested or TIER_STANDARD
    if existing == TIER_ADVANCED:
        tier = TIER_ADVANCED
    if tier == TIER_STANDARD and len(value) > MAX_STANDARD_VALUE:
        raise ssm_validation(STANDARD_TOO_LONG)
    if len(value) > MAX_ADVANCED_VALUE:
        raise ssm_validation(
            f"Advanced tier parameters support a maximum parameter value of {MAX_ADVANCED_VALUE} characters."
        )
    return tier


def _check_data_type(data_type: str) -> str:
    if data_type == DATA_TYPE_TEXT:
        return data_type
    if data_type in UNSUPPORTED_DATA_TYPES:
        raise ssm_validation(
            f"ecsbox cannot validate the data type {data_type} on one machine (it needs other AWS services); "
            "use the data type text."
        )
    raise ssm_validation(
        f"The following data type is not supported: {data_type} (Data type names are all lowercase.)"
    )


def _check_value_pattern(value: str, pattern: str | None) -> None:
    if not pattern:
        return
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise SecretsRuleError(
            "InvalidAllowedPatternException",
            f"The allowed pattern {pattern} is not a valid regular expression.",
        ) from exc
    if not compiled.fullmatch(value):
        raise SecretsRuleError(
            "ParameterPatternMismatchException",
            f"Parameter value, cannot be validated against allowedPattern: {pattern}",
        )


def tag_map(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in raw or []}


# ---- finding a parameter by name, ARN or selector ----------------------------------------------


def find_parameter(
    conn: Connection, partition: tuple[str, str], text: str
) -> tuple[repo.ParameterRow, repo.ParameterVersionRow, str | None]:
    """The parameter (and version) that ``text`` names: a name or ARN, either with an optional
    ``:version`` selector. Raises ParameterNotFound / ParameterVersionNotFound."""
    arn = parse_parameter_arn(text) if text.startswith("arn:") else None
    if arn is not None:
        if (arn.account_id, arn.region) != partition:
            raise parameter_not_found(text)  # ecsbox does not share parameters across accounts
        name, selector = split_selector(arn.key)
    else:
        name, selector = split_selector(text)
    row = repo.get_parameter(conn, partition, parameter_key(name))
    if row is None:
        raise parameter_not_found(name)
    if selector is None:
        version = row.version
    elif selector.isdigit():
        version = int(selector)
        if version > MAX_VERSION:  # past what the store's integers hold: no such version
            raise parameter_version_not_found(name, version)
    else:
        raise parameter_not_found(name)  # labels: LabelParameterVersion is not implemented, so none exist
    found = repo.get_parameter_version(conn, partition, row.key, version)
    if found is None:
        raise parameter_version_not_found(name, version)
    return row, found, selector


MAX_VERSION = 2**31 - 1


def parameter_view(
    ctx: RequestContext, row: repo.ParameterRow, version: repo.ParameterVersionRow, selector: str | None
) -> Document:
    """A ``Parameter`` as GetParameter returns it (values as stored: ecsbox has no KMS)."""
    view: Document = {
        "Name": row.name,
        "Type": version.type,
        "Value": version.value,
        "Version": version.version,
    }
    if selector is not None:
        view["Selector"] = f":{selector}"
    view["LastModifiedDate"] = version.modified_at
    view["ARN"] = parameter_arn(ctx.region, ctx.account_id, row.name)
    view["DataType"] = version.data_type
    return view


def metadata_view(ctx: RequestContext, row: repo.ParameterRow) -> Document:
    """A ``ParameterMetadata`` as DescribeParameters returns it, in the model's member order."""
    doc = row.document
    view: Document = {
        "Name": row.name,
        "ARN": parameter_arn(ctx.region, ctx.account_id, row.name),
        "Type": doc["Type"],
    }
    if doc.get("KeyId"):
        view["KeyId"] = doc["KeyId"]
    view["LastModifiedDate"] = doc["LastModifiedDate"]
    view["LastModifiedUser"] = doc["LastModifiedUser"]
    for member in ("Description", "AllowedPattern"):
        if doc.get(member):
            view[member] = doc[member]
    view.update(Version=row.version, Tier=doc["Tier"], Policies=[], DataType=doc["DataType"])
    return view


class Parameters:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.clock = deps.clock

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = check_parameter_name(params["Name"], parameter_arn_prefix(ctx.region, ctx.account_id))
        value: str = params["Value"]
        overwrite = bool(params.get("Overwrite"))
        new_tags = tag_map(params.get("Tags"))
        if overwrite and params.get("Tags"):
            raise ssm_validation(TAGS_WITH_OVERWRITE)
        if params.get("Policies"):
            raise ssm_validation(
                "ecsbox does not implement parameter policies (expiration and notifications)."
            )
        if len(new_tags) > MAX_PARAMETER_TAGS:
            raise too_many_tags()
        key = parameter_key(name)
        now, user = self.clock.now(), caller_arn(ctx)

        def write(conn: Connection) -> dict[str, Any]:
            existing = repo.get_parameter(conn, ctx.partition, key)
            if existing is not None and not overwrite:
                raise SecretsRuleError("ParameterAlreadyExists", ALREADY_EXISTS)
            before: Document = existing.document if existing is not None else {}
            kind = params.get("Type") or before.get("Type")
            if kind is None:
                raise ssm_validation("A parameter type is required when you create a parameter.")
            data_type = _check_data_type(params.get("DataType") or before.get("DataType") or DATA_TYPE_TEXT)
            pattern = params.get("AllowedPattern") or before.get("AllowedPattern")
            _check_value_pattern(value, pattern)
            tier = _tier(params.get("Tier"), before.get("Tier"), value)
            document: Document = {"Type": kind, "Tier": tier, "DataType": data_type}
            if kind == SECURE_STRING:
                document["KeyId"] = params.get("KeyId") or before.get("KeyId") or DEFAULT_SSM_KEY_ID
            description = params.get("Description", before.get("Description"))
            if description:
                document["Description"] = description
            if pattern:
                document["AllowedPattern"] = pattern
            document.update(LastModifiedDate=now, LastModifiedUser=user)
            version = existing.version + 1 if existing is not None else 1
            stored_name = existing.name if existing is not None else name
            repo.save_parameter(conn, ctx.partition, repo.ParameterRow(key, stored_name, version, document))
            repo.add_parameter_version(
                conn, ctx.partition, key, repo.ParameterVersionRow(version, kind, value, now, user, data_type)
            )
            repo.drop_parameter_versions_before(
                conn, ctx.partition, key, version - MAX_PARAMETER_VERSIONS + 1
            )
            if existing is None:
                arn = parameter_arn(ctx.region, ctx.account_id, name)
                repo.clear_tags(conn, arn)
                repo.put_tags(conn, arn, new_tags)
            return {"Version": version, "Tier": tier}

        return await self.store.write(write)

    @aws_errors
    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def read(conn: Connection) -> Document:
            return parameter_view(ctx, *find_parameter(conn, ctx.partition, params["Name"]))

        return {"Parameter": await self.store.read(read)}

    @aws_errors
    async def get_many(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names = list(dict.fromkeys(params["Names"]))

        def read(conn: Connection) -> dict[str, Any]:
            found: list[Document] = []
            invalid: list[str] = []
            for text in names:
                try:
                    found.append(parameter_view(ctx, *find_parameter(conn, ctx.partition, text)))
                except SecretsRuleError:
                    invalid.append(text)
            return {"Parameters": found, "InvalidParameters": invalid}

        return await self.store.read(read)

    @aws_errors
    async def get_by_path(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        path = check_path(params["Path"])
        recursive = bool(params.get("Recursive"))
        filters = check_parameter_filters(params.get("ParameterFilters") or [], by_path=True)
        filters.append(ParameterFilter("Path", "Recursive" if recursive else "OneLevel", (path,)))
        limit = params.get("MaxResults") or BY_PATH_PAGE
        scope = f"GetParametersByPath:{path}:{recursive}"
        after = self._after(params.get("NextToken"), scope)
        key_prefix = "" if path == "/" else parameter_key(path) + "/"

        def read(conn: Connection) -> dict[str, Any]:
            rows = self._matching(conn, ctx, filters, after, key_prefix, limit + 1)
            result: dict[str, Any] = {
                "Parameters": [
                    parameter_view(ctx, row, self._current(conn, ctx, row), None) for row in rows[:limit]
                ]
            }
            if len(rows) > limit:
                result["NextToken"] = encode_token(scope, [rows[limit - 1].key])
            return result

        return await self.store.read(read)

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("Filters") and params.get("ParameterFilters"):
            raise ssm_validation("You can use either Filters or ParameterFilters in a single request.")
        if params.get("Shared"):
            raise ssm_validation(
                "ecsbox does not share parameters between accounts; Shared is not supported."
            )
        filters = check_parameter_filters(params.get("ParameterFilters") or [], by_path=False)
        filters += legacy_filters(params.get("Filters") or [])
        limit = params.get("MaxResults") or DESCRIBE_PAGE
        scope = "DescribeParameters"
        after = self._after(params.get("NextToken"), scope)

        def read(conn: Connection) -> dict[str, Any]:
            rows = self._matching(conn, ctx, filters, after, "", limit + 1)
            result: dict[str, Any] = {"Parameters": [metadata_view(ctx, row) for row in rows[:limit]]}
            if len(rows) > limit:
                result["NextToken"] = encode_token(scope, [rows[limit - 1].key])
            return result

        return await self.store.read(read)

    @staticmethod
    def _current(conn: Connection, ctx: RequestContext, row: repo.ParameterRow) -> repo.ParameterVersionRow:
        version = repo.get_parameter_version(conn, ctx.partition, row.key, row.version)
        assert version is not None  # the current version is always kept
        return version

    @staticmethod
    def _after(token: str | None, scope: str) -> str | None:
        if not token:
            return None
        key = decode_token(token, scope)
        if key is None or len(key) != 1 or not isinstance(key[0], str):
            raise invalid_next_token()
        return key[0]

    @staticmethod
    def _matching(
        conn: Connection,
        ctx: RequestContext,
        filters: list[ParameterFilter],
        after: str | None,
        key_prefix: str,
        wanted: int,
    ) -> list[repo.ParameterRow]:
        needs_tags = any(flt.key.startswith("tag:") for flt in filters)
        found: list[repo.ParameterRow] = []
        for row in repo.scan_parameters(conn, ctx.partition, after, key_prefix):
            doc = row.document
            row_tags = (
                repo.get_tags(conn, parameter_arn(ctx.region, ctx.account_id, row.name)) if needs_tags else {}
            )
            summary = ParameterSummary(
                row.name, doc["Type"], doc.get("KeyId"), doc["Tier"], doc["DataType"], row_tags
            )
            if matches_parameter(summary, filters):
                found.append(row)
                if len(found) >= wanted:
                    break
        return found

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"].strip()

        def write(conn: Connection) -> None:
            if not repo.delete_parameter(conn, ctx.partition, parameter_key(name)):
                raise parameter_not_found(name)
            repo.clear_tags(conn, parameter_arn(ctx.region, ctx.account_id, name))

        await self.store.write(write)
        return {}

    @aws_errors
    async def delete_many(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names = list(dict.fromkeys(params["Names"]))

        def write(conn: Connection) -> dict[str, Any]:
            deleted: list[str] = []
            invalid: list[str] = []
            for name in names:
                if repo.delete_parameter(conn, ctx.partition, parameter_key(name.strip())):
                    repo.clear_tags(conn, parameter_arn(ctx.region, ctx.account_id, name.strip()))
                    deleted.append(name)
                else:
                    invalid.append(name)
            return {"DeletedParameters": deleted, "InvalidParameters": invalid}

        return await self.store.write(write)
