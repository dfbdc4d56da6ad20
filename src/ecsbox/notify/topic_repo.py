"""SQL for topics and their tags. Every function takes an open ``Connection`` and runs inside the
caller's ``store.read`` / ``store.write`` function, so a handler composes several into one atomic
change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ecsbox.notify.model import Partition, TopicRef, topic_not_found
from ecsbox.notify.topic_attributes import decode
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
from ecsbox.store.schema import sns_topics

_T = sns_topics.c


@dataclass(frozen=True)
class TopicRow:
    ref: TopicRef
    attributes: dict[str, str]
    created: float

    @property
    def arn(self) -> str:
        return self.ref.arn


def _row(r: Any) -> TopicRow:
    return TopicRow(TopicRef((r.account_id, r.region), r.name), decode(r.attributes), float(r.created))


def _where(ref: TopicRef) -> Any:
    account_id, region = ref.partition
    return (_T.account_id == account_id) & (_T.region == region) & (_T.name == ref.name)


def find_topic(conn: Connection, ref: TopicRef) -> TopicRow | None:
    row = conn.execute(select(sns_topics).where(_where(ref))).first()
    return _row(row) if row is not None else None


def require_topic(conn: Connection, ref: TopicRef) -> TopicRow:
    topic = find_topic(conn, ref)
    if topic is None:
        raise topic_not_found()
    return topic


def insert_topic(conn: Connection, ref: TopicRef, attributes: dict[str, str], now: float) -> TopicRow:
    account_id, region = ref.partition
    conn.execute(
        insert(sns_topics).values(
            account_id=account_id,
            region=region,
            name=ref.name,
            attributes=json.dumps(attributes),
            created=now,
        )
    )
    return TopicRow(ref, attributes, now)


def set_attributes(conn: Connection, ref: TopicRef, attributes: dict[str, str]) -> None:
    conn.execute(update(sns_topics).where(_where(ref)).values(attributes=json.dumps(attributes)))


def delete_topic(conn: Connection, ref: TopicRef) -> bool:
    return bool(conn.execute(delete(sns_topics).where(_where(ref))).rowcount)


def topic_names(conn: Connection, partition: Partition, after: str | None, limit: int) -> list[str]:
    """Names of a partition's topics in name order, after ``after`` (keyset paging)."""
    account_id, region = partition
    query = select(_T.name).where(_T.account_id == account_id, _T.region == region)
    if after is not None:
        query = query.where(_T.name > after)
    return [r.name for r in conn.execute(query.order_by(_T.name).limit(limit))]
