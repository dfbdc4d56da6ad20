"""Lifecycle policies: Put / Get / DeleteLifecyclePolicy, Start / GetLifecyclePolicyPreview, and
the evaluation that really expires images (on ecsbox's clock every 24 hours, or when asked).

The rules themselves are pure (:mod:`ecsbox.ecr.lifecycle`); this module stores policies, feeds
the rules a repository's images and deletes what they select. A preview is evaluated at once, so
GetLifecyclePolicyPreview finds it COMPLETE.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from ecsbox.aws.context import RequestContext
from ecsbox.ecr import image_repo
from ecsbox.ecr.handling import Deps, aws_errors, partition_of
from ecsbox.ecr.image_repo import StoredImage
from ecsbox.ecr.lifecycle import Expiry, Image, evaluate, parse_policy
from ecsbox.ecr.model import EcrRuleError, Partition, invalid_parameter, repository_not_found
from ecsbox.ecr.paging import decode_token, encode_token, page_size
from ecsbox.store.schema import ecr_lifecycle_previews, ecr_repositories

EVALUATION_PERIOD_S = 24 * 3600  # ECR applies a policy "within 24 hours"


def _repository_key(partition: Partition, name: str) -> list[Any]:
    r = ecr_repositories.c
    return [r.account_id == partition[0], r.region == partition[1], r.name == name]


def _policy_row(conn: Connection, partition: Partition, name: str) -> tuple[str | None, float | None]:
    r = ecr_repositories.c
    row = conn.execute(
        select(r.lifecycle_policy_text, r.lifecycle_evaluated_at).where(*_repository_key(partition, name))
    ).first()
    if row is None:
        raise repository_not_found(partition, name)
    return row[0], row[1]


def _policy_not_found(partition: Partition, name: str) -> EcrRuleError:
    return EcrRuleError(
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist for the repository with name '{name}' in the registry with id "
        f"'{partition[0]}'",
    )


def expiries(policy_text: str, images: list[StoredImage], now: float) -> list[Expiry]:
    return evaluate(
        parse_policy(policy_text), [Image(i.digest, tuple(i.tags), i.pushed_at) for i in images], now
    )


def removable(conn: Connection, partition: Partition, name: str, expired: list[Expiry]) -> list[Expiry]:
    """The expiries an evaluation carries out: a manifest that a staying manifest list / index names
    stays with it; a list that expires in the same evaluation takes its children with it, whatever
    their order. The preview shows exactly these."""
    going = {expiry.digest for expiry in expired}
    while True:
        needed = {
            digest
            for digest in going
            if image_repo.referencing_manifests(conn, partition, name, digest) - going
        }
        if not needed:
            return [expiry for expiry in expired if expiry.digest in going]
        going -= needed


def expire_repository(conn: Connection, partition: Partition, name: str, now: float) -> list[Expiry]:
    """Evaluate the repository's policy now and delete the images it selects (one transaction);
    returns the expiries carried out."""
    text, _ = _policy_row(conn, partition, name)
    if text is None:
        return []
    images = image_repo.list_images(conn, partition, name)
    expired = removable(conn, partition, name, expiries(text, images, now))
    for expiry in expired:
        image_repo.delete_image(conn, partition, name, expiry.digest, now)
    conn.execute(
        update(ecr_repositories).where(*_repository_key(partition, name)).values(lifecycle_evaluated_at=now)
    )
    return expired


def due_repositories(
    conn: Connection, now: float, period_s: float = EVALUATION_PERIOD_S
) -> list[tuple[Partition, str]]:
    """Repositories with a policy not evaluated for ``period_s`` (or never)."""
    r = ecr_repositories.c
    rows = conn.execute(
        select(r.account_id, r.region, r.name, r.lifecycle_evaluated_at).where(
            r.lifecycle_policy_text.is_not(None)
        )
    ).all()
    return [
        ((row.account_id, row.region), row.name)
        for row in rows
        if row.lifecycle_evaluated_at is None or now - row.lifecycle_evaluated_at >= period_s
    ]


def next_due(conn: Connection, period_s: float = EVALUATION_PERIOD_S) -> float | None:
    """When the next repository falls due (ecsbox clock), or None when no repository has a policy."""
    r = ecr_repositories.c
    rows = conn.execute(select(r.lifecycle_evaluated_at).where(r.lifecycle_policy_text.is_not(None))).all()
    if not rows:
        return None
    return min((row[0] or 0.0) + period_s for row in rows)


class LifecyclePolicies:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        text = params["lifecyclePolicyText"]
        parse_policy(text)

        def store(conn: Connection) -> None:
            _policy_row(conn, partition, name)
            conn.execute(
                update(ecr_repositories)
                .where(*_repository_key(partition, name))
                .values(lifecycle_policy_text=text, lifecycle_evaluated_at=None)
            )

        await self.deps.store.write(store)
        return {"registryId": partition[0], "repositoryName": name, "lifecyclePolicyText": text}

    @aws_errors
    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        text, evaluated = await self.deps.store.read(lambda conn: _policy_row(conn, partition, name))
        if text is None:
            raise _policy_not_found(partition, name)
        result: dict[str, Any] = {
            "registryId": partition[0],
            "repositoryName": name,
            "lifecyclePolicyText": text,
        }
        if evaluated is not None:
            result["lastEvaluatedAt"] = evaluated
        return result

    @aws_errors
    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]

        def remove(conn: Connection) -> tuple[str, float | None]:
            text, evaluated = _policy_row(conn, partition, name)
            if text is None:
                raise _policy_not_found(partition, name)
            conn.execute(
                update(ecr_repositories)
                .where(*_repository_key(partition, name))
                .values(lifecycle_policy_text=None, lifecycle_evaluated_at=None)
            )
            return text, evaluated

        text, evaluated = await self.deps.store.write(remove)
        result: dict[str, Any] = {
            "registryId": partition[0],
            "repositoryName": name,
            "lifecyclePolicyText": text,
        }
        if evaluated is not None:
            result["lastEvaluatedAt"] = evaluated
        return result

    @aws_errors
    async def start_preview(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        given = params.get("lifecyclePolicyText")
        if given is not None:
            parse_policy(given)
        now = self.deps.clock.now()

        def preview(conn: Connection) -> str:
            stored, _ = _policy_row(conn, partition, name)
            text = given if given is not None else stored
            if text is None:
                raise _policy_not_found(partition, name)
            images = image_repo.list_images(conn, partition, name)
            by_digest = {image.digest: image for image in images}
            results = []
            for expiry in removable(conn, partition, name, expiries(text, images, now)):
                image = by_digest[expiry.digest]
                result: dict[str, Any] = {
                    "imageDigest": image.digest,
                    "imagePushedAt": image.pushed_at,
                    "action": {"type": "EXPIRE"},
                    "appliedRulePriority": expiry.rule_priority,
                }
                if image.tags:
                    result["imageTags"] = list(image.tags)
                results.append(result)
            p = ecr_lifecycle_previews.c
            conn.execute(
                delete(ecr_lifecycle_previews).where(
                    p.account_id == partition[0], p.region == partition[1], p.repository == name
                )
            )
            conn.execute(
                insert(ecr_lifecycle_previews).values(
                    account_id=partition[0],
                    region=partition[1],
                    repository=name,
                    policy_text=text,
                    status="COMPLETE",
                    results=orjson.dumps(results).decode(),
                    created_at=now,
                )
            )
            return text

        text = await self.deps.store.write(preview)
        # AWS answers IN_PROGRESS and evaluates in the background; ecsbox has finished already.
        return {
            "registryId": partition[0],
            "repositoryName": name,
            "lifecyclePolicyText": text,
            "status": "IN_PROGRESS",
        }

    @aws_errors
    async def get_preview(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]

        def read(conn: Connection) -> Any:
            _policy_row(conn, partition, name)
            p = ecr_lifecycle_previews.c
            return conn.execute(
                select(p.policy_text, p.status, p.results).where(
                    p.account_id == partition[0], p.region == partition[1], p.repository == name
                )
            ).first()

        row = await self.deps.store.read(read)
        if row is None:
            raise EcrRuleError(
                "LifecyclePolicyPreviewNotFoundException",
                f"There is no dry run for the repository with name '{name}' in the registry with id '{partition[0]}'",
            )
        results: list[dict[str, Any]] = orjson.loads(row.results)
        wanted = params.get("imageIds")
        if wanted:
            results = [
                r
                for r in results
                if any(
                    (not w.get("imageDigest") or w["imageDigest"] == r["imageDigest"])
                    and (not w.get("imageTag") or w["imageTag"] in r.get("imageTags", []))
                    for w in wanted
                )
            ]
        status = (params.get("filter") or {}).get("tagStatus")
        if status == "TAGGED":
            results = [r for r in results if r.get("imageTags")]
        elif status == "UNTAGGED":
            results = [r for r in results if not r.get("imageTags")]
        total = len(results)
        size = page_size(params.get("maxResults"), 100, 1000)
        start = 0
        if params.get("nextToken"):
            key = decode_token(params["nextToken"], "lifecycle-preview")
            if len(key) != 1 or not isinstance(key[0], int) or key[0] < 0:
                raise invalid_parameter(
                    "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid nextToken'"
                )
            start = key[0]
        answer: dict[str, Any] = {
            "registryId": partition[0],
            "repositoryName": name,
            "lifecyclePolicyText": row.policy_text,
            "status": row.status,
            "previewResults": results[start : start + size],
            "summary": {"expiringImageTotalCount": total},
        }
        if start + size < total:
            answer["nextToken"] = encode_token("lifecycle-preview", [start + size])
        return answer
