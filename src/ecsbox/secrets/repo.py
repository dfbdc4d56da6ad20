"""SQL for the Parameter Store tables and the shared tags table. Every function takes an open
``Connection`` and runs inside the caller's ``store.read`` / ``store.write`` function, so a handler
composes several of them into one atomic operation. Values are never logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from ecsbox.secrets.model import Document
from ecsbox.store import Prepared
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
from ecsbox.store.schema import ssm_parameter_versions, ssm_parameters

Partition = tuple[str, str]  # (account_id, region)
SCAN_CHUNK = 200


def _dumps(document: Any) -> str:
    return orjson.dumps(document).decode()


# ---- SSM parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterRow:
    key: str
    name: str
    version: int
    document: Document  # Type, KeyId, Description, AllowedPattern, Tier, DataType, LastModified...


@dataclass(frozen=True)
class ParameterVersionRow:
    version: int
    type: str
    value: str
    modified_at: float
    modified_by: str
    data_type: str


_P = ssm_parameters.c
_V = ssm_parameter_versions.c
_GET_PARAMETER = Prepared(
    select(_P.key, _P.name, _P.version, _P.document).where(
        _P.account_id == bindparam("account_id"), _P.region == bindparam("region"), _P.key == bindparam("key")
    )
)
_GET_VERSION = Prepared(
    select(_V.version, _V.type, _V.value, _V.modified_at, _V.modified_by, _V.data_type).where(
        _V.account_id == bindparam("account_id"),
        _V.region == bindparam("region"),
        _V.key == bindparam("key"),
        _V.version == bindparam("version"),
    )
)


def get_parameter(conn: Connection, partition: Partition, key: str) -> ParameterRow | None:
    account_id, region = partition
    found = _GET_PARAMETER.first(conn, {"account_id": account_id, "region": region, "key": key})
    if found is None:
        return None
    return ParameterRow(found[0], found[1], int(found[2]), orjson.loads(found[3]))


def get_parameter_version(
    conn: Connection, partition: Partition, key: str, version: int
) -> ParameterVersionRow | None:
    account_id, region = partition
    found = _GET_VERSION.first(
        conn, {"account_id": account_id, "region": region, "key": key, "version": version}
    )
    if found is None:
        return None
    return ParameterVersionRow(int(found[0]), found[1], found[2], float(found[3]), found[4], found[5])


def save_parameter(conn: Connection, partition: Partition, row: ParameterRow) -> None:
    """Insert the parameter, or replace its row (name, current version, metadata)."""
    account_id, region = partition
    where = and_(_P.account_id == account_id, _P.region == region, _P.key == row.key)
    changed = conn.execute(
        update(ssm_parameters)
        .where(where)
        .values(name=row.name, version=row.version, document=_dumps(row.document))
    ).rowcount
    if not changed:
        conn.execute(
            insert(ssm_parameters).values(
                account_id=account_id,
                region=region,
                key=row.key,
                name=row.name,
                version=row.version,
                document=_dumps(row.document),
            )
        )


def add_parameter_version(conn: Connection, partition: Partition, key: str, row: ParameterVersionRow) -> None:
    account_id, region = partition
    conn.execute(
        insert(ssm_parameter_versions).values(
            account_id=account_id,
            region=region,
            key=key,
            version=row.version,
            type=row.type,
            value=row.value,
            modified_at=row.modified_at,
            modified_by=row.modified_by,
            data_type=row.data_type,
        )
    )


def drop_parameter_versions_before(conn: Connection, partition: Partition, key: str, version: int) -> None:
    account_id, region = partition
    conn.execute(
        delete(ssm_parameter_versions).where(
            _V.account_id == account_id, _V.region == region, _V.key == key, _V.version < version
        )
    )


def delete_parameter(conn: Connection, partition: Partition, key: str) -> bool:
    account_id, region = partition
    conn.execute(
        delete(ssm_parameter_versions).where(_V.account_id == account_id, _V.region == region, _V.key == key)
    )
    return bool(
        conn.execute(
            delete(ssm_parameters).where(_P.account_id == account_id, _P.region == region, _P.key == key)
        ).rowcount
    )


def scan_parameters(
    conn: Connection, partition: Partition, after_key: str | None, key_prefix: str = ""
) -> Iterator[ParameterRow]:
    """Parameters in key order after ``after_key``, whose key starts with ``key_prefix``, read in
    chunks so a caller that stops early reads little."""
    account_id, region = partition
    last = after_key
    while True:
        query = select(_P.key, _P.name, _P.version, _P.document).where(
            _P.account_id == account_id, _P.region == region
        )
        if key_prefix:
            query = query.where(func.substr(_P.key, 1, len(key_prefix)) == key_prefix)
        if last is not None:
            query = query.where(_P.key > last)
        rows = conn.execute(query.order_by(_P.key).limit(SCAN_CHUNK)).all()
        for r in rows:
            yield ParameterRow(r.key, r.name, int(r.version), orjson.loads(r.document))
        if len(rows) < SCAN_CHUNK:
            return
        last = rows[-1].key
