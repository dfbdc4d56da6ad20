"""SQL for the shared ``outbox`` table: events as EventBridge would carry them (source, detail-type,
resources, detail), written in the transaction of the change they tell of, for the work that acts
on them later (an ECR image push, a CloudWatch alarm's state change, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, insert

from ecsbox.store import schema


def add_event(
    conn: Connection,
    partition: tuple[str, str],
    source: str,
    detail_type: str,
    resources: Sequence[str],
    detail: Mapping[str, Any],
    now: float,
) -> None:
    """One event of ``partition`` (account, region): ``source`` as ``aws.ecr``, ``detail_type`` as
    ``ECR Image Action``, the ARNs it concerns and its detail (both stored as JSON), at ``now``
    (ecsbox's clock)."""
    conn.execute(
        insert(schema.outbox).values(
            account_id=partition[0],
            region=partition[1],
            source=source,
            detail_type=detail_type,
            resources=orjson.dumps(list(resources)).decode(),
            detail=orjson.dumps(dict(detail)).decode(),
            time=now,
        )
    )
