"""SQL for the Secrets Manager tables. Every function takes an open ``Connection`` and runs inside
the caller's ``store.read`` / ``store.write`` function. Secret values are never logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, or_, select, update

from ecsbox.secrets.model import Document
from ecsbox.secrets.repo import SCAN_CHUNK, Partition, clear_tags
from ecsbox.store.schema import sm_secret_versions, sm_secrets


def _dumps(document: Any) -> str:
    return orjson.dumps(document).decode()


@dataclass(frozen=True)
class SecretRow:
    name: str
    arn: str
    seq: int
    created_at: float
    last_changed_at: float
    last_accessed_at: float | None
    deletion_date: float | None
    document: Document  # Description, KmsKeyId


@dataclass(frozen=True)
class SecretVersionRow:
    version_id: str
    seq: int
    created_at: float
    stages: list[str]
    secret_string: str | None
    secret_binary: bytes | None


_S = sm_secrets.c
_SV = sm_secret_versions.c
_SECRET_COLUMNS = (
    _S.name,
    _S.arn,
    _S.seq,
    _S.created_at,
    _S.last_changed_at,
    _S.last_accessed_at,
    _S.deletion_date,
    _S.document,
)


def _secret(r: Any) -> SecretRow:
    return SecretRow(
        r.name,
        r.arn,
        int(r.seq),
        r.created_at,
        r.last_changed_at,
        r.last_accessed_at,
        r.deletion_date,
        orjson.loads(r.document),
    )


def _alive(now: float) -> Any:
    """Not yet purged: never deleted, or still inside its recovery window."""
    return or_(_S.deletion_date.is_(None), _S.deletion_date > now)


def get_secret_by_name(conn: Connection, partition: Partition, name: str, now: float) -> SecretRow | None:
    account_id, region = partition
    found = conn.execute(
        select(*_SECRET_COLUMNS).where(
            _S.account_id == account_id, _S.region == region, _S.name == name, _alive(now)
        )
    ).first()
    return _secret(found) if found is not None else None


def get_secret_by_arn(conn: Connection, arn: str, now: float) -> SecretRow | None:
    found = conn.execute(select(*_SECRET_COLUMNS).where(_S.arn == arn, _alive(now))).first()
    return _secret(found) if found is not None else None


def purge_expired(conn: Connection, partition: Partition, now: float) -> None:
    """Remove the secrets whose recovery window has passed, with their versions and tags."""
    account_id, region = partition
    arns = (
        conn.execute(
            select(_S.arn).where(
                _S.account_id == account_id,
                _S.region == region,
                _S.deletion_date.is_not(None),
                _S.deletion_date <= now,
            )
        )
        .scalars()
        .all()
    )
    for arn in arns:
        delete_secret(conn, arn)


def delete_secret(conn: Connection, arn: str) -> None:
    conn.execute(delete(sm_secret_versions).where(_SV.secret_arn == arn))
    conn.execute(delete(sm_secrets).where(_S.arn == arn))
    clear_tags(conn, arn)


def insert_secret(
    conn: Connection, partition: Partition, name: str, arn: str, now: float, document: Document
) -> SecretRow:
    account_id, region = partition
    seq = (conn.execute(select(func.max(_S.seq))).scalar() or 0) + 1
    conn.execute(
        insert(sm_secrets).values(
            account_id=account_id,
            region=region,
            name=name,
            arn=arn,
            seq=seq,
            created_at=now,
            last_changed_at=now,
            last_accessed_at=None,
            deletion_date=None,
            document=_dumps(document),
        )
    )
    return SecretRow(name, arn, seq, now, now, None, None, document)


def save_secret(conn: Connection, row: SecretRow) -> None:
    conn.execute(
        update(sm_secrets)
        .where(_S.arn == row.arn)
        .values(
            last_changed_at=row.last_changed_at,
            last_accessed_at=row.last_accessed_at,
            deletion_date=row.deletion_date,
            document=_dumps(row.document),
        )
    )


def list_secrets(
    conn: Connection,
    partition: Partition,
    now: float,
    include_deleted: bool,
    after_seq: int | None,
    ascending: bool,
) -> Iterator[SecretRow]:
    """Secrets in creation order (or its reverse) after the keyset ``after_seq``, in chunks."""
    account_id, region = partition
    last = after_seq
    while True:
        query = select(*_SECRET_COLUMNS).where(_S.account_id == account_id, _S.region == region, _alive(now))
        if not include_deleted:
            query = query.where(_S.deletion_date.is_(None))
        if last is not None:
            query = query.where(_S.seq > last if ascending else _S.seq < last)
        order = _S.seq.asc() if ascending else _S.seq.desc()
        rows = conn.execute(query.order_by(order).limit(SCAN_CHUNK)).all()
        yield from (_secret(r) for r in rows)
        if len(rows) < SCAN_CHUNK:
            return
        last = int(rows[-1].seq)


# ---- secret versions -------------------------------------------------------------------------


def get_versions(conn: Connection, arn: str) -> list[SecretVersionRow]:
    """Every version of a secret, oldest first."""
    rows = conn.execute(
        select(_SV.version_id, _SV.seq, _SV.created_at, _SV.stages, _SV.secret_string, _SV.secret_binary)
        .where(_SV.secret_arn == arn)
        .order_by(_SV.seq)
    )
    return [
        SecretVersionRow(
            r.version_id, int(r.seq), r.created_at, json.loads(r.stages), r.secret_string, r.secret_binary
        )
        for r in rows
    ]


def insert_version(conn: Connection, arn: str, version: SecretVersionRow) -> None:
    conn.execute(
        insert(sm_secret_versions).values(
            secret_arn=arn,
            version_id=version.version_id,
            seq=version.seq,
            created_at=version.created_at,
            stages=json.dumps(version.stages),
            secret_string=version.secret_string,
            secret_binary=version.secret_binary,
        )
    )


def set_stages(conn: Connection, arn: str, stages_by_version: dict[str, list[str]]) -> None:
    for version_id, stages in stages_by_version.items():
        conn.execute(
            update(sm_secret_versions)
            .where(_SV.secret_arn == arn, _SV.version_id == version_id)
            .values(stages=json.dumps(stages))
        )


def delete_versions(conn: Connection, arn: str, version_ids: Sequence[str]) -> None:
    if version_ids:
        conn.execute(
            delete(sm_secret_versions).where(_SV.secret_arn == arn, _SV.version_id.in_(list(version_ids)))
        )


def stages_of(conn: Connection, arn: str) -> dict[str, list[str]]:
    """``version_id → stages`` for the versions that carry a label, oldest first."""
    rows = conn.execute(select(_SV.version_id, _SV.stages).where(_SV.secret_arn == arn).order_by(_SV.seq))
    found = {r.version_id: json.loads(r.stages) for r in rows}
    return {vid: stages for vid, stages in found.items() if stages}
