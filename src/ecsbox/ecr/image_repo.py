"""SQL for a repository's images: manifests, tags, what manifests reference, which blobs a
repository may serve, and the outbox events a push or a delete writes.

Every function takes a connection inside the caller's transaction, so a manifest, its tag, its
references and its event become visible together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Table, and_, delete, func, insert, select, update

from ecsbox.ecr.lifecycle import tag_matches_pattern
from ecsbox.ecr.model import EcrRuleError, Partition, repository_arn
from ecsbox.store import outbox
from ecsbox.store.schema import (
    ecr_images,
    ecr_references,
    ecr_repositories,
    ecr_repository_blobs,
    ecr_tags,
)


@dataclass
class StoredImage:
    digest: str
    media_type: str
    size_bytes: int
    pushed_at: float
    last_pulled_at: float | None
    document: dict[str, Any]
    tags: list[str] = field(default_factory=list)  # newest first
    manifest: bytes | None = None


def repository_document(conn: Connection, partition: Partition, name: str) -> dict[str, Any] | None:
    """The stored repository document, or None when there is no such repository."""
    r = ecr_repositories.c
    row = conn.execute(
        select(r.document).where(r.account_id == partition[0], r.region == partition[1], r.name == name)
    ).first()
    return orjson.loads(row[0]) if row is not None else None


def _in_repository(table: Table, partition: Partition, repository: str) -> list[Any]:
    """The conditions that pick one repository's rows of a table keyed by account, region and
    repository."""
    c = table.c
    return [c.account_id == partition[0], c.region == partition[1], c.repository == repository]


def _image_key(partition: Partition, repository: str) -> list[Any]:
    return _in_repository(ecr_images, partition, repository)


def _tag_key(partition: Partition, repository: str) -> list[Any]:
    return _in_repository(ecr_tags, partition, repository)


def resolve(conn: Connection, partition: Partition, repository: str, reference: str) -> str | None:
    """The digest a tag or digest names in the repository, or None."""
    if reference.startswith("sha256:"):
        found = conn.execute(
            select(ecr_images.c.digest).where(
                *_image_key(partition, repository), ecr_images.c.digest == reference
            )
        ).first()
        return reference if found is not None else None
    row = conn.execute(
        select(ecr_tags.c.digest).where(*_tag_key(partition, repository), ecr_tags.c.tag == reference)
    ).first()
    return str(row[0]) if row is not None else None


def get_manifest(
    conn: Connection, partition: Partition, repository: str, digest: str
) -> tuple[str, bytes] | None:
    """(media type, manifest bytes) of an image."""
    i = ecr_images.c
    row = conn.execute(
        select(i.media_type, i.manifest).where(*_image_key(partition, repository), i.digest == digest)
    ).first()
    return (str(row[0]), bytes(row[1])) if row is not None else None


def total_size(conn: Connection, partition: Partition, repository: str, digests: Iterable[str]) -> int:
    """The stored sizes of these images added up: a manifest list's size is its children's."""
    wanted = list(set(digests))
    if not wanted:
        return 0
    i = ecr_images.c
    total = conn.execute(
        select(func.sum(i.size_bytes)).where(*_image_key(partition, repository), i.digest.in_(wanted))
    ).scalar_one()
    return int(total or 0)


def record_pull(conn: Connection, partition: Partition, repository: str, digest: str, now: float) -> None:
    conn.execute(
        update(ecr_images)
        .where(*_image_key(partition, repository), ecr_images.c.digest == digest)
        .values(last_pulled_at=now)
    )


def tag_owner(conn: Connection, partition: Partition, repository: str, tag: str) -> str | None:
    row = conn.execute(
        select(ecr_tags.c.digest).where(*_tag_key(partition, repository), ecr_tags.c.tag == tag)
    ).first()
    return str(row[0]) if row is not None else None


def tag_immutable(repository: dict[str, Any], tag: str | None) -> bool:
    """Whether the repository's tag mutability pins ``tag`` to the image it names: IMMUTABLE pins
    every tag, IMMUTABLE_WITH_EXCLUSION every tag but those an exclusion filter matches,
    MUTABLE_WITH_EXCLUSION only those, MUTABLE none.

    With ``IMMUTABLE_WITH_EXCLUSION`` and the filter ``dev-*``: ``"v1"`` → True, ``"dev-7"`` → False.
    """
    mutability = repository.get("imageTagMutability") or "MUTABLE"
    if tag is None or mutability == "MUTABLE":
        return False
    if mutability == "IMMUTABLE":
        return True
    filters = repository.get("imageTagMutabilityExclusionFilters") or []
    excluded = any(tag_matches_pattern(tag, str(f.get("filter", ""))) for f in filters)
    return not excluded if mutability == "IMMUTABLE_WITH_EXCLUSION" else excluded


def put_image(
    conn: Connection,
    partition: Partition,
    repository: str,
    *,
    digest: str,
    media_type: str,
    manifest: bytes,
    size_bytes: int,
    references: Iterable[tuple[str, str]],
    tag: str | None,
    now: float,
    immutable: bool,
    document: dict[str, Any] | None = None,
) -> bool:
    """Store an image (if new) and point ``tag`` at it. ``immutable`` (see :func:`tag_immutable`)
    refuses to move an existing tag (ImageTagAlreadyExistsException). Returns whether anything changed (a re-push
    of the same manifest under the same tag changes nothing and writes no event)."""
    existing = conn.execute(
        select(ecr_images.c.digest).where(*_image_key(partition, repository), ecr_images.c.digest == digest)
    ).first()
    owner = tag_owner(conn, partition, repository, tag) if tag else None
    if tag and owner is not None and owner != digest and immutable:
        raise EcrRuleError(
            "ImageTagAlreadyExistsException",
            f"The image tag '{tag}' already exists in the '{repository}' repository and cannot be "
            "overwritten because the repository is immutable.",
        )
    changed = False
    if existing is None:
        conn.execute(
            insert(ecr_images).values(
                account_id=partition[0],
                region=partition[1],
                repository=repository,
                digest=digest,
                media_type=media_type,
                manifest=manifest,
                size_bytes=size_bytes,
                pushed_at=now,
                last_pulled_at=None,
                document=orjson.dumps(document or {}).decode(),
            )
        )
        for target, kind in dict(references).items():
            conn.execute(
                insert(ecr_references).values(
                    account_id=partition[0],
                    region=partition[1],
                    repository=repository,
                    digest=digest,
                    target=target,
                    kind=kind,
                )
            )
        changed = True
    if tag and owner != digest:
        if owner is None:
            conn.execute(
                insert(ecr_tags).values(
                    account_id=partition[0],
                    region=partition[1],
                    repository=repository,
                    tag=tag,
                    digest=digest,
                    tagged_at=now,
                )
            )
        else:
            conn.execute(
                update(ecr_tags)
                .where(*_tag_key(partition, repository), ecr_tags.c.tag == tag)
                .values(digest=digest, tagged_at=now)
            )
        changed = True
    if changed:
        image_action(conn, partition, repository, "PUSH", digest, tag, now)
    return changed


def image_action(
    conn: Connection,
    partition: Partition,
    repository: str,
    action: str,
    digest: str,
    tag: str | None,
    now: float,
) -> None:
    """An "ECR Image Action" event in the outbox, as EventBridge would carry it."""
    detail: dict[str, Any] = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": action,
    }
    if tag:
        detail["image-tag"] = tag
    outbox.add_event(
        conn, partition, "aws.ecr", "ECR Image Action", [repository_arn(partition, repository)], detail, now
    )


def untag(conn: Connection, partition: Partition, repository: str, tag: str) -> str | None:
    """Remove a tag; the digest it named, or None. An image left without tags stays (untagged)."""
    owner = tag_owner(conn, partition, repository, tag)
    if owner is not None:
        conn.execute(delete(ecr_tags).where(*_tag_key(partition, repository), ecr_tags.c.tag == tag))
    return owner


def delete_image(
    conn: Connection, partition: Partition, repository: str, digest: str, now: float
) -> list[str]:
    """Remove an image, its tags and its references; the tags it had (empty list when there was
    no such image: check with :func:`resolve` first)."""
    tags = [
        str(row[0])
        for row in conn.execute(
            select(ecr_tags.c.tag).where(*_tag_key(partition, repository), ecr_tags.c.digest == digest)
        ).all()
    ]
    conn.execute(delete(ecr_tags).where(*_tag_key(partition, repository), ecr_tags.c.digest == digest))
    r = ecr_references.c
    conn.execute(
        delete(ecr_references).where(
            *_in_repository(ecr_references, partition, repository), r.digest == digest
        )
    )
    conn.execute(delete(ecr_images).where(*_image_key(partition, repository), ecr_images.c.digest == digest))
    image_action(conn, partition, repository, "DELETE", digest, tags[0] if tags else None, now)
    return tags


def referenced_by_others(conn: Connection, partition: Partition, repository: str, digest: str) -> bool:
    """Is this manifest a child of a manifest list / index of the repository?"""
    return bool(referencing_manifests(conn, partition, repository, digest))


def referencing_manifests(conn: Connection, partition: Partition, repository: str, digest: str) -> set[str]:
    """The manifest lists / indexes of the repository that name this manifest as a child."""
    r = ecr_references.c
    rows = conn.execute(
        select(r.digest).where(
            *_in_repository(ecr_references, partition, repository), r.target == digest, r.kind == "manifest"
        )
    ).all()
    return {str(row[0]) for row in rows}


def list_images(conn: Connection, partition: Partition, repository: str) -> list[StoredImage]:
    """Every image of the repository with its tags, oldest push first (ties by digest)."""
    i = ecr_images.c
    images = {
        row.digest: StoredImage(
            digest=row.digest,
            media_type=row.media_type,
            size_bytes=row.size_bytes,
            pushed_at=row.pushed_at,
            last_pulled_at=row.last_pulled_at,
            document=orjson.loads(row.document),
        )
        for row in conn.execute(
            select(i.digest, i.media_type, i.size_bytes, i.pushed_at, i.last_pulled_at, i.document)
            .where(*_image_key(partition, repository))
            .order_by(i.pushed_at, i.digest)
        ).all()
    }
    t = ecr_tags.c
    for row in conn.execute(
        select(t.tag, t.digest).where(*_tag_key(partition, repository)).order_by(t.tagged_at.desc(), t.tag)
    ).all():
        if row.digest in images:
            images[row.digest].tags.append(row.tag)
    return list(images.values())


def list_tags(
    conn: Connection, partition: Partition, repository: str, after: str | None, limit: int
) -> list[str]:
    """Tags in lexical order after ``after``, at most ``limit`` (the registry's tags/list)."""
    t = ecr_tags.c
    conditions = _tag_key(partition, repository)
    if after:
        conditions.append(t.tag > after)
    return [
        str(row[0])
        for row in conn.execute(select(t.tag).where(*conditions).order_by(t.tag).limit(limit)).all()
    ]


# ---- blobs -----------------------------------------------------------------------------------------


def blob_links(
    conn: Connection, partition: Partition, repository: str, digests: Iterable[str]
) -> dict[str, int]:
    """Which of these blobs the repository may serve (uploaded, mounted or referenced): digest → size."""
    wanted = list(set(digests))
    if not wanted:
        return {}
    b = ecr_repository_blobs.c
    rows = conn.execute(
        select(b.digest, b.size_bytes).where(
            *_in_repository(ecr_repository_blobs, partition, repository), b.digest.in_(wanted)
        )
    ).all()
    return {str(row[0]): int(row[1]) for row in rows}


def link_blob(
    conn: Connection, partition: Partition, repository: str, digest: str, size: int, wall: float
) -> None:
    """Let the repository serve a blob (after its upload or a mount); refreshes the link's time."""
    b = ecr_repository_blobs.c
    key = and_(*_in_repository(ecr_repository_blobs, partition, repository), b.digest == digest)
    if conn.execute(update(ecr_repository_blobs).where(key).values(linked_at=wall, size_bytes=size)).rowcount:
        return
    conn.execute(
        insert(ecr_repository_blobs).values(
            account_id=partition[0],
            region=partition[1],
            repository=repository,
            digest=digest,
            size_bytes=size,
            linked_at=wall,
        )
    )


def unlink_blob(conn: Connection, partition: Partition, repository: str, digest: str) -> bool:
    b = ecr_repository_blobs.c
    return bool(
        conn.execute(
            delete(ecr_repository_blobs).where(
                *_in_repository(ecr_repository_blobs, partition, repository), b.digest == digest
            )
        ).rowcount
    )


def partition_blob(conn: Connection, partition: Partition, digest: str) -> int | None:
    """The size of a blob some repository of the partition holds (for cross-repository mounts)."""
    b = ecr_repository_blobs.c
    row = conn.execute(
        select(b.size_bytes)
        .where(b.account_id == partition[0], b.region == partition[1], b.digest == digest)
        .limit(1)
    ).first()
    return int(row[0]) if row is not None else None


def live_blobs(conn: Connection, linked_since_wall: float) -> set[str]:
    """Every blob garbage collection must keep: referenced by some manifest, or linked to a
    repository since ``linked_since_wall`` (a push whose manifest has not arrived yet)."""
    referenced = {str(row[0]) for row in conn.execute(select(ecr_references.c.target).distinct()).all()}
    recent = {
        str(row[0])
        for row in conn.execute(
            select(ecr_repository_blobs.c.digest)
            .where(ecr_repository_blobs.c.linked_at >= linked_since_wall)
            .distinct()
        ).all()
    }
    return referenced | recent


def drop_stale_links(conn: Connection, linked_before_wall: float) -> int:
    """Forget links of blobs no manifest references that were made before ``linked_before_wall``
    (an abandoned push): they go with the next garbage collection."""
    b = ecr_repository_blobs.c
    r = ecr_references.c
    referenced = (
        select(r.target)
        .where(
            r.account_id == b.account_id,
            r.region == b.region,
            r.repository == b.repository,
            r.target == b.digest,
        )
        .exists()
    )
    return int(
        conn.execute(
            delete(ecr_repository_blobs).where(b.linked_at < linked_before_wall, ~referenced)
        ).rowcount
    )


def image_count(conn: Connection, partition: Partition, repository: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(ecr_images).where(*_image_key(partition, repository))
        ).scalar_one()
    )
