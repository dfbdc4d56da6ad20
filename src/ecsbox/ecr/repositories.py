"""ECR repositories: CreateRepository, DescribeRepositories, DeleteRepository, the repository
policy, tag mutability and scanning settings, resource tags, DescribeRegistry and
GetAuthorizationToken.

A repository's URI names the host its partition's registry answers on (``localhost:<port>`` for
the default partition, a loopback address of its own for every other one; see
:mod:`ecsbox.ecr.addresses`), so ``docker push <repositoryUri>:tag`` works with no DNS and no
daemon configuration. ecsbox does not encrypt images at rest and has no KMS:
``encryptionConfiguration`` is recorded and returned as given. Repository policies are stored and
returned, never enforced.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.ecr import repository_repo as repo
from ecsbox.ecr.handling import Deps, aws_errors, partition_of
from ecsbox.ecr.model import (
    EcrRuleError,
    Partition,
    invalid_parameter,
    repository_arn,
)
from ecsbox.ecr.paging import decode_token, encode_token, page_size
from ecsbox.ecr.repository_repo import RepositoryRow
from ecsbox.ecr.tokens import issue_token

DESCRIBE_PAGE = 100  # DescribeRepositories without maxResults returns up to 100
DESCRIBE_MAX = 1000
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
WITH_EXCLUSION = ("IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
NAME_PATTERN = "(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
_NAME_PART_RE = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*")
_REPOSITORY_ARN_RE = re.compile(r"arn:aws[a-z-]*:ecr:([a-z0-9-]+):([0-9]{12}):repository/(.+)")
INVALID_ARN = "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'"
INVALID_POLICY = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
)


# ---- rules (small, pure) --------------------------------------------------------------------------


def check_repository_name(name: str) -> str:
    """The name, or InvalidParameterException with the message ECR gives:
    ``check_repository_name("Web")`` raises "… must satisfy regular expression …"."""
    constraint = "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
    if len(name) < 2:
        raise invalid_parameter(constraint + "'must have length greater than or equal to 2'")
    if len(name) > 256:
        raise invalid_parameter(constraint + "'must have length less than or equal to 256'")
    if not all(_NAME_PART_RE.fullmatch(part) for part in name.split("/")):
        raise invalid_parameter(constraint + f"'must satisfy regular expression '{NAME_PATTERN}''")
    return name


def parse_repository_arn(arn: str) -> tuple[Partition, str]:
    """``parse_repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/team/web")`` →
    ``(("123456789012", "us-east-1"), "team/web")``; anything else → InvalidParameterException."""
    match = _REPOSITORY_ARN_RE.fullmatch(arn)
    if match is None:
        raise invalid_parameter(INVALID_ARN)
    region, account_id, name = match.groups()
    try:
        check_repository_name(name)
    except EcrRuleError as exc:
        raise invalid_parameter(INVALID_ARN) from exc
    return (account_id, region), name


def check_tags(tag_list: list[dict[str, Any]]) -> dict[str, str]:
    """Tags as a dict (a key given twice keeps its last value); InvalidTagParameterException for a
    key or value over its length."""
    found: dict[str, str] = {}
    for tag in tag_list:
        key, value = str(tag.get("Key", "")), str(tag.get("Value", ""))
        if not 1 <= len(key) <= MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
            raise EcrRuleError(
                "InvalidTagParameterException",
                f"Tag keys can have a maximum character length of {MAX_TAG_KEY} characters, "
                f"and tag values can have a maximum length of {MAX_TAG_VALUE} characters.",
            )
        found[key] = value
    return found


def check_tag_count(count: int) -> None:
    if count > MAX_TAGS:
        raise EcrRuleError(
            "TooManyTagsException",
            f"The number of tags on the repository is over the limit of {MAX_TAGS}.",
        )


def mutability_settings(params: dict[str, Any]) -> dict[str, Any]:
    """``imageTagMutability`` (default MUTABLE) and its exclusion filters, which go with the
    ``*_WITH_EXCLUSION`` values and only with them."""
    mutability = params.get("imageTagMutability") or "MUTABLE"
    filters = params.get("imageTagMutabilityExclusionFilters")
    if mutability in WITH_EXCLUSION and not filters:
        raise invalid_parameter(
            "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: "
            f"'imageTagMutabilityExclusionFilters must be specified with {mutability}'"
        )
    if filters and mutability not in WITH_EXCLUSION:
        raise invalid_parameter(
            "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: "
            "'imageTagMutabilityExclusionFilters can only be specified with "
            "IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION'"
        )
    settings: dict[str, Any] = {"imageTagMutability": mutability}
    if filters:
        settings["imageTagMutabilityExclusionFilters"] = [dict(f) for f in filters]
    return settings


def encryption_settings(params: dict[str, Any]) -> dict[str, Any]:
    """``encryptionConfiguration``, default AES256; a KMS key goes only with the KMS types."""
    given = params.get("encryptionConfiguration") or {"encryptionType": "AES256"}
    if given.get("kmsKey") and given["encryptionType"] == "AES256":
        raise invalid_parameter(
            "Invalid parameter at 'encryptionConfiguration' failed to satisfy constraint: "
            "'kmsKey can only be specified when encryptionType is KMS or KMS_DSSE'"
        )
    return {k: given[k] for k in ("encryptionType", "kmsKey") if given.get(k)}


def check_policy_text(text: str) -> str:
    """A repository policy must be a JSON object with a ``Statement``."""
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise invalid_parameter(INVALID_POLICY) from exc
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list | dict):
        raise invalid_parameter(INVALID_POLICY)
    return text


# ---- handlers -------------------------------------------------------------------------------------


class Repositories:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.clock = deps.clock
        self.addresses = deps.addresses
        self._token_secret: bytes | None = None

    # -- shared --

    def _needs_number(self, partition: Partition) -> bool:
        return partition != self.addresses.default and partition not in self.addresses.numbers

    async def _ensure_number(self, partition: Partition) -> None:
        """Give a partition other than the default its registry number, on its first use."""
        if self._needs_number(partition):
            number = await self.store.write(lambda conn: repo.assign_partition_number(conn, partition))
            self.addresses.learn(partition, number)

    def view(self, row: RepositoryRow) -> dict[str, Any]:
        """The Repository shape (the partition must have its number)."""
        account_id, _ = row.partition
        return {
            "repositoryArn": repository_arn(row.partition, row.name),
            "registryId": account_id,
            "repositoryName": row.name,
            "repositoryUri": f"{self.addresses.host(row.partition)}/{row.name}",
            "createdAt": row.created_at,
            **row.document,
        }

    async def _views(self, rows: list[RepositoryRow]) -> list[dict[str, Any]]:
        for partition in {row.partition for row in rows}:
            await self._ensure_number(partition)
        return [self.view(row) for row in rows]

    async def _change(self, ctx: RequestContext, params: dict[str, Any], change: Any) -> dict[str, Any]:
        """Run ``change(conn, row) -> result`` on the named repository, in one write."""
        partition = partition_of(ctx, params)
        name = check_repository_name(params["repositoryName"])

        def write(conn: Connection) -> dict[str, Any]:
            row = repo.require_repository(conn, partition, name)
            result: dict[str, Any] = change(conn, row)
            return {"registryId": partition[0], "repositoryName": name, **result}

        return await self.store.write(write)

    # -- repositories --

    @aws_errors
    async def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = check_repository_name(params["repositoryName"])
        new_tags = check_tags(params.get("tags") or [])
        check_tag_count(len(new_tags))
        scanning = params.get("imageScanningConfiguration") or {}
        document = {
            **mutability_settings(params),
            "imageScanningConfiguration": {"scanOnPush": bool(scanning.get("scanOnPush", False))},
            "encryptionConfiguration": encryption_settings(params),
        }
        now = self.clock.now()
        needs_number = self._needs_number(partition)

        def write(conn: Connection) -> tuple[RepositoryRow, int | None]:
            if repo.get_repository(conn, partition, name) is not None:
                raise EcrRuleError(
                    "RepositoryAlreadyExistsException",
                    f"The repository with name '{name}' already exists in the registry "
                    f"with id '{partition[0]}'",
                )
            row = repo.insert_repository(conn, partition, name, now, document)
            repo.put_tags(conn, repository_arn(partition, name), new_tags)
            number = repo.assign_partition_number(conn, partition) if needs_number else None
            return row, number

        row, number = await self.store.write(write)
        if number is not None:
            self.addresses.learn(partition, number)
        return {"repository": self.view(row)}

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        names = params.get("repositoryNames")
        if names:
            if params.get("maxResults") is not None or params.get("nextToken"):
                raise invalid_parameter(
                    "Invalid parameter at 'repositoryNames' failed to satisfy constraint: "
                    "'repositoryNames cannot be used with maxResults or nextToken'"
                )
            wanted = list(dict.fromkeys(check_repository_name(n) for n in names))

            def read_named(conn: Connection) -> list[RepositoryRow]:
                return [repo.require_repository(conn, partition, n) for n in wanted]

            return {"repositories": await self._views(await self.store.read(read_named))}
        limit = page_size(params.get("maxResults"), DESCRIBE_PAGE, DESCRIBE_MAX)
        scope = f"DescribeRepositories:{partition[0]}:{partition[1]}"
        after: str | None = None
        if params.get("nextToken"):
            key = decode_token(params["nextToken"], scope)
            if len(key) != 1 or not isinstance(key[0], str):
                raise invalid_parameter("Invalid parameter at 'nextToken' failed to satisfy constraint")
            after = key[0]
        rows = await self.store.read(lambda conn: repo.list_repositories(conn, partition, after, limit + 1))
        result: dict[str, Any] = {"repositories": await self._views(rows[:limit])}
        if len(rows) > limit:
            result["nextToken"] = encode_token(scope, [rows[limit - 1].name])
        return result

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = check_repository_name(params["repositoryName"])
        force = bool(params.get("force"))

        def write(conn: Connection) -> RepositoryRow:
            row = repo.require_repository(conn, partition, name)
            if not force and repo.has_images(conn, partition, name):
                raise EcrRuleError(
                    "RepositoryNotEmptyException",
                    f"The repository with name '{name}' in registry with id '{partition[0]}' "
                    "cannot be deleted because it still contains images",
                )
            repo.delete_repository(conn, partition, name, repository_arn(partition, name))
            return row

        row = await self.store.write(write)
        return {"repository": (await self._views([row]))[0]}

    # -- policy and settings --

    @aws_errors
    async def set_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = check_policy_text(params["policyText"])

        def change(conn: Connection, row: RepositoryRow) -> dict[str, Any]:
            repo.set_policy(conn, row.partition, row.name, text)
            return {"policyText": text}

        return await self._change(ctx, params, change)

    def _policy_not_found(self, row: RepositoryRow) -> EcrRuleError:
        return EcrRuleError(
            "RepositoryPolicyNotFoundException",
            f"Repository policy does not exist for the repository with name '{row.name}' "
            f"in the registry with id '{row.partition[0]}'",
        )

    @aws_errors
    async def get_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = check_repository_name(params["repositoryName"])
        row = await self.store.read(lambda conn: repo.require_repository(conn, partition, name))
        if row.policy_text is None:
            raise self._policy_not_found(row)
        return {"registryId": partition[0], "repositoryName": name, "policyText": row.policy_text}

    @aws_errors
    async def delete_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def change(conn: Connection, row: RepositoryRow) -> dict[str, Any]:
            if row.policy_text is None:
                raise self._policy_not_found(row)
            repo.set_policy(conn, row.partition, row.name, None)
            return {"policyText": row.policy_text}

        return await self._change(ctx, params, change)

    @aws_errors
    async def put_tag_mutability(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        settings = mutability_settings(params)

        def change(conn: Connection, row: RepositoryRow) -> dict[str, Any]:
            document = {k: v for k, v in row.document.items() if k != "imageTagMutabilityExclusionFilters"}
            repo.save_document(conn, row.partition, row.name, {**document, **settings})
            return settings

        return await self._change(ctx, params, change)

    @aws_errors
    async def put_scanning(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scanning = {"scanOnPush": bool(params["imageScanningConfiguration"].get("scanOnPush", False))}

        def change(conn: Connection, row: RepositoryRow) -> dict[str, Any]:
            document = {**row.document, "imageScanningConfiguration": scanning}
            repo.save_document(conn, row.partition, row.name, document)
            return {"imageScanningConfiguration": scanning}

        return await self._change(ctx, params, change)

    # -- resource tags --

    async def _tags(self, resource_arn: str, change: Any) -> Any:
        partition, name = parse_repository_arn(resource_arn)
        arn = repository_arn(partition, name)

        def write(conn: Connection) -> Any:
            repo.require_repository(conn, partition, name)
            return change(conn, arn)

        return await self.store.write(write)

    @aws_errors
    async def tag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        new_tags = check_tags(params["tags"])

        def change(conn: Connection, arn: str) -> None:
            check_tag_count(len(set(repo.get_tags(conn, arn)) | set(new_tags)))
            repo.put_tags(conn, arn, new_tags)

        await self._tags(params["resourceArn"], change)
        return {}

    @aws_errors
    async def untag(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        keys = list(params["tagKeys"])
        await self._tags(params["resourceArn"], lambda conn, arn: repo.remove_tags(conn, arn, keys))
        return {}

    @aws_errors
    async def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition, name = parse_repository_arn(params["resourceArn"])
        arn = repository_arn(partition, name)

        def read(conn: Connection) -> dict[str, str]:
            repo.require_repository(conn, partition, name)
            return repo.get_tags(conn, arn)

        found = await self.store.read(read)
        return {"tags": [{"Key": k, "Value": v} for k, v in found.items()]}

    # -- registry and authorization --

    @aws_errors
    async def describe_registry(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"registryId": ctx.account_id, "replicationConfiguration": {"rules": []}}

    async def _secret(self) -> bytes:
        if self._token_secret is None:
            self._token_secret = await self.store.write(repo.ensure_token_secret)
        return self._token_secret

    @aws_errors
    async def get_authorization_token(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """One authorizationData per registry id (default the caller's account). The token is
        bound to the wall clock (12 hours), and ``proxyEndpoint`` is the partition's plain-HTTP
        registry on loopback (AWS answers ``https://<account>.dkr.ecr.<region>.amazonaws.com``)."""
        registry_ids = list(dict.fromkeys(params.get("registryIds") or [ctx.account_id]))
        secret = await self._secret()
        now_wall = self.clock.wall()
        data = []
        for registry_id in registry_ids:
            partition = (registry_id, ctx.region)
            await self._ensure_number(partition)
            token, expires_at = issue_token(secret, partition, now_wall)
            data.append(
                {
                    "authorizationToken": token,
                    "expiresAt": expires_at,
                    "proxyEndpoint": f"http://{self.addresses.host(partition)}",
                }
            )
        return {"authorizationData": data}
