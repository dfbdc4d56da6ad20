"""SQL for ECR repositories, their tags, the force-delete of everything a repository holds, and
the two facts ECR keeps in ``ecsbox_meta``: each partition's registry number and the token secret.

Every function but the ``load_*`` ones takes an open ``Connection`` and runs inside the caller's
``store.read`` / ``store.write`` function, so a handler composes several into one atomic change.
The ``load_*`` functions run at start-up, outside the event loop.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, exists, func, insert, select, update

from ecsbox.ecr.model import Partition, repository_not_found
from ecsbox.store import Store
from ecsbox.store.resource_tags import (  # the shared table's SQL, as this package's
    clear_tags as clear_tags,
)
from ecsbox.store.resource_tags import (
    get_tags as get_tags,
)
from ecsbox.store.resource_tags import (
    put_tags as put_tags,
)
from ecsbox.store.resource_tags import (
    remove_tags as remove_tags,
)
from ecsbox.store.schema import (
    ecr_images,
    ecr_lifecycle_previews,
    ecr_references,
    ecr_repositories,
    ecr_repository_blobs,
    ecr_tags,
    meta,
)

Document = dict[str, Any]

PARTITION_KEY_PREFIX = "ecr_partition:"
TOKEN_SECRET_KEY = "ecr_token_secret"
TOKEN_SECRET_BYTES = 32


def _dumps(document: Any) -> str:
    return orjson.dumps(document).decode()


# ---- repositories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryRow:
    partition: Partition
    name: str
    created_at: float  # ecsbox clock
    document: Document  # imageTagMutability, imageScanningConfiguration, encryptionConfiguration, ...
    policy_text: str | None
    lifecycle_policy_text: str | None


_R = ecr_repositories.c
_COLUMNS = (
    _R.account_id,
    _R.region,
    _R.name,
    _R.created_at,
    _R.document,
    _R.policy_text,
    _R.lifecycle_policy_text,
)


def _row(r: Any) -> RepositoryRow:
    return RepositoryRow(
        (r.account_id, r.region),
        r.name,
        float(r.created_at),
        orjson.loads(r.document),
        r.policy_text,
        r.lifecycle_policy_text,
    )


def _where(partition: Partition, name: str) -> Any:
    account_id, region = partition
    return (_R.account_id == account_id) & (_R.region == region) & (_R.name == name)


def get_repository(conn: Connection, partition: Partition, name: str) -> RepositoryRow | None:
    found = conn.execute(select(*_COLUMNS).where(_where(partition, name))).first()
    return _row(found) if found is not None else None


def require_repository(conn: Connection, partition: Partition, name: str) -> RepositoryRow:
    """The repository, or RepositoryNotFoundException."""
    row = get_repository(conn, partition, name)
    if row is None:
        raise repository_not_found(partition, name)
    return row


def insert_repository(
    conn: Connection, partition: Partition, name: str, created_at: float, document: Document
) -> RepositoryRow:
    account_id, region = partition
    conn.execute(
        insert(ecr_repositories).values(
            account_id=account_id,
            region=region,
            name=name,
            created_at=created_at,
            document=_dumps(document),
            policy_text=None,
            lifecycle_policy_text=None,
            lifecycle_evaluated_at=None,
        )
    )
    return RepositoryRow(partition, name, created_at, document, None, None)


def save_document(conn: Connection, partition: Partition, name: str, document: Document) -> None:
    conn.execute(update(ecr_repositories).where(_where(partition, name)).values(document=_dumps(document)))


def set_policy(conn: Connection, partition: Partition, name: str, policy_text: str | None) -> None:
    conn.execute(update(ecr_repositories).where(_where(partition, name)).values(policy_text=policy_text))


def list_repositories(
    conn: Connection, partition: Partition, after_name: str | None, limit: int
) -> list[RepositoryRow]:
    """Up to ``limit`` repositories of the partition in name order, after ``after_name``."""
    account_id, region = partition
    query = select(*_COLUMNS).where(_R.account_id == account_id, _R.region == region)
    if after_name is not None:
        query = query.where(_R.name > after_name)
    return [_row(r) for r in conn.execute(query.order_by(_R.name).limit(limit))]


def has_images(conn: Connection, partition: Partition, name: str) -> bool:
    account_id, region = partition
    i = ecr_images.c
    query = select(exists().where(i.account_id == account_id, i.region == region, i.repository == name))
    return bool(conn.execute(query).scalar())


def delete_repository(conn: Connection, partition: Partition, name: str, arn: str) -> None:
    """Remove the repository and everything it holds: images, tags, references, blob links,
    lifecycle previews and its resource tags. (Blob files nothing references any more are the
    garbage collector's to remove.)"""
    account_id, region = partition
    for table in (ecr_tags, ecr_references, ecr_images, ecr_repository_blobs, ecr_lifecycle_previews):
        c = table.c
        conn.execute(
            delete(table).where(c.account_id == account_id, c.region == region, c.repository == name)
        )
    clear_tags(conn, arn)
    conn.execute(delete(ecr_repositories).where(_where(partition, name)))


# ---- partition numbers (which loopback address each partition's registry answers on) --------------


def _partition_key(partition: Partition) -> str:
    account_id, region = partition
    return f"{PARTITION_KEY_PREFIX}{account_id}:{region}"


def read_partition_numbers(conn: Connection) -> dict[Partition, int]:
    """Every partition's number: ``{("111111111111", "us-east-1"): 1, ...}``."""
    rows = conn.execute(
        select(meta.c.key, meta.c.value).where(
            func.substr(meta.c.key, 1, len(PARTITION_KEY_PREFIX)) == PARTITION_KEY_PREFIX
        )
    )
    numbers: dict[Partition, int] = {}
    for r in rows:
        account_id, _, region = r.key[len(PARTITION_KEY_PREFIX) :].partition(":")
        if account_id and region and str(r.value).isdigit():
            numbers[(account_id, region)] = int(r.value)
    return numbers


def assign_partition_number(conn: Connection, partition: Partition) -> int:
    """The partition's number, assigning the next free one (1, 2, …) on its first use."""
    key = _partition_key(partition)
    found = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    if found is not None:
        return int(found)
    number = max(read_partition_numbers(conn).values(), default=0) + 1
    conn.execute(insert(meta).values(key=key, value=str(number)))
    return number


def load_partition_numbers(store: Store) -> dict[Partition, int]:
    """Every partition's number, read at start-up (for :class:`RegistryAddresses`)."""
    return store.read_now(read_partition_numbers)


# ---- the token secret ------------------------------------------------------------------------------


def _read_secret(conn: Connection) -> bytes | None:
    found = conn.execute(select(meta.c.value).where(meta.c.key == TOKEN_SECRET_KEY)).scalar()
    return bytes.fromhex(found) if found else None


def ensure_token_secret(conn: Connection) -> bytes:
    """The secret ECR tokens are signed with: 32 random bytes made once, kept as hex."""
    found = _read_secret(conn)
    if found is not None:
        return found
    secret = secrets.token_bytes(TOKEN_SECRET_BYTES)
    conn.execute(insert(meta).values(key=TOKEN_SECRET_KEY, value=secret.hex()))
    return secret


def load_secret(store: Store) -> bytes:
    """The token secret, made on first use (start-up; outside the event loop)."""
    found = store.read_now(_read_secret)
    return found if found is not None else store.write_now(ensure_token_secret)
