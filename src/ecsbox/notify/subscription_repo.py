"""SQL for subscriptions. Every function takes an open ``Connection`` and runs inside the caller's
``store.read`` / ``store.write`` function.

``confirmed`` holds the subscription's state: 0 pending, 1 confirmed, 2 deleted by someone other
than its owner and restorable, for two days, with the token its UnsubscribeConfirmation carried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ecsbox.notify.model import CONFIRMED, DELETED, PENDING, Partition, parse_subscription_arn
from ecsbox.notify.subscription_rules import SubscriptionFacts
from ecsbox.notify.topic_attributes import SubscriptionCounts, decode
from ecsbox.store.schema import sns_subscriptions

_S = sns_subscriptions.c


@dataclass(frozen=True)
class SubscriptionRow:
    arn: str
    partition: Partition
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    state: int
    token: str | None
    attributes: dict[str, str]
    created: float

    def facts(self) -> SubscriptionFacts:
        return SubscriptionFacts(
            self.arn, self.topic_arn, self.protocol, self.endpoint, self.owner, self.state, self.attributes
        )


def _row(r: Any) -> SubscriptionRow:
    return SubscriptionRow(
        r.arn,
        (r.account_id, r.region),
        r.topic_arn,
        r.protocol,
        r.endpoint,
        r.owner,
        int(r.confirmed),
        r.token,
        decode(r.attributes),
        float(r.created),
    )


def find(conn: Connection, arn: str) -> SubscriptionRow | None:
    row = conn.execute(select(sns_subscriptions).where(_S.arn == arn)).first()
    return _row(row) if row is not None else None


def find_live_by_endpoint(
    conn: Connection, topic_arn: str, protocol: str, endpoint: str
) -> SubscriptionRow | None:
    """The pending or confirmed subscription of this endpoint to this topic."""
    row = conn.execute(
        select(sns_subscriptions).where(
            _S.topic_arn == topic_arn,
            _S.protocol == protocol,
            _S.endpoint == endpoint,
            _S.confirmed != DELETED,
        )
    ).first()
    return _row(row) if row is not None else None


def find_by_token(conn: Connection, topic_arn: str, token: str) -> SubscriptionRow | None:
    row = conn.execute(select(sns_subscriptions).where(_S.topic_arn == topic_arn, _S.token == token)).first()
    return _row(row) if row is not None else None


def insert_subscription(conn: Connection, row: SubscriptionRow) -> None:
    account_id, region = row.partition
    conn.execute(
        insert(sns_subscriptions).values(
            arn=row.arn,
            account_id=account_id,
            region=region,
            topic_arn=row.topic_arn,
            protocol=row.protocol,
            endpoint=row.endpoint,
            owner=row.owner,
            confirmed=row.state,
            token=row.token,
            attributes=json.dumps(row.attributes),
            created=row.created,
        )
    )


def set_state(conn: Connection, arn: str, state: int, token: str | None, attributes: dict[str, str]) -> None:
    conn.execute(
        update(sns_subscriptions)
        .where(_S.arn == arn)
        .values(confirmed=state, token=token, attributes=json.dumps(attributes))
    )


def set_token(conn: Connection, arn: str, token: str) -> None:
    conn.execute(update(sns_subscriptions).where(_S.arn == arn).values(token=token))


def set_attributes(conn: Connection, arn: str, attributes: dict[str, str]) -> None:
    conn.execute(update(sns_subscriptions).where(_S.arn == arn).values(attributes=json.dumps(attributes)))


def delete_subscription(conn: Connection, arn: str) -> None:
    conn.execute(delete(sns_subscriptions).where(_S.arn == arn))


def delete_of_topic(conn: Connection, topic_arn: str) -> list[str]:
    """Remove every subscription of a topic; their ARNs."""
    arns = [r.arn for r in conn.execute(select(_S.arn).where(_S.topic_arn == topic_arn))]
    conn.execute(delete(sns_subscriptions).where(_S.topic_arn == topic_arn))
    return arns


def confirmed_of_topic(conn: Connection, topic_arn: str) -> list[SubscriptionRow]:
    rows = conn.execute(
        select(sns_subscriptions)
        .where(_S.topic_arn == topic_arn, _S.confirmed == CONFIRMED)
        .order_by(_S.created)
    )
    return [_row(r) for r in rows]


def counts(conn: Connection, topic_arn: str) -> SubscriptionCounts:
    by_state: dict[int, int] = dict(
        conn.execute(
            select(_S.confirmed, func.count()).where(_S.topic_arn == topic_arn).group_by(_S.confirmed)
        ).all()
    )
    return SubscriptionCounts(
        confirmed=int(by_state.get(CONFIRMED, 0)),
        pending=int(by_state.get(PENDING, 0)),
        deleted=int(by_state.get(DELETED, 0)),
    )


def listing(
    conn: Connection, partition: Partition, topic_arn: str | None, after: str | None, limit: int
) -> list[SubscriptionRow]:
    """Pending and confirmed subscriptions of a partition (or of one topic), in ARN order."""
    account_id, region = partition
    query = select(sns_subscriptions).where(
        _S.account_id == account_id, _S.region == region, _S.confirmed != DELETED
    )
    if topic_arn is not None:
        query = query.where(_S.topic_arn == topic_arn)
    if after is not None:
        query = query.where(_S.arn > after)
    return [_row(r) for r in conn.execute(query.order_by(_S.arn).limit(limit))]


def unconfirmed(conn: Connection, limit: int = 1000) -> list[SubscriptionRow]:
    """Pending and deleted subscriptions (the housekeeping looks at their tokens' age)."""
    rows = conn.execute(select(sns_subscriptions).where(_S.confirmed != CONFIRMED).limit(limit))
    return [_row(r) for r in rows]


def subscription_id(arn: str) -> str:
    parsed = parse_subscription_arn(arn)
    return parsed.id if parsed is not None else arn
