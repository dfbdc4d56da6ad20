"""SQL for the deliveries still to make (``sns_deliveries``): added in the same transaction as the
Publish, Subscribe or Unsubscribe that caused them, taken when due, removed when delivered or
given up. ``next_attempt`` is on the wall clock (retry delays protect the endpoint's machine)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from ecsbox.notify.envelopes import Delivery
from ecsbox.store.schema import sns_deliveries

_D = sns_deliveries.c


@dataclass(frozen=True)
class PendingDelivery:
    id: int
    delivery: Delivery
    attempts: int  # failed attempts so far


def add(conn: Connection, deliveries: Sequence[Delivery], now: float, wall_now: float) -> None:
    if not deliveries:
        return
    conn.execute(
        insert(sns_deliveries),
        [
            {
                "subscription_arn": d.subscription_arn,
                "protocol": d.protocol,
                "endpoint": d.endpoint,
                "message_type": d.message_type,
                "body": d.encode(),
                "created": now,
                "attempts": 0,
                "next_attempt": wall_now,
            }
            for d in deliveries
        ],
    )


def due(conn: Connection, wall_now: float, busy: Collection[int], limit: int) -> list[PendingDelivery]:
    """Deliveries whose time has come, oldest first, leaving out those in flight."""
    query = select(sns_deliveries).where(_D.next_attempt <= wall_now)
    if busy:
        query = query.where(_D.id.not_in(list(busy)))
    rows = conn.execute(query.order_by(_D.next_attempt, _D.id).limit(limit))
    return [
        PendingDelivery(
            int(r.id),
            Delivery.decode(r.body, r.subscription_arn, r.protocol, r.endpoint, r.message_type),
            int(r.attempts),
        )
        for r in rows
    ]


def next_due(conn: Connection) -> float | None:
    value = conn.execute(select(func.min(_D.next_attempt))).scalar()
    return float(value) if value is not None else None


def remove(conn: Connection, delivery_id: int) -> None:
    conn.execute(delete(sns_deliveries).where(_D.id == delivery_id))


def reschedule(conn: Connection, delivery_id: int, attempts: int, next_attempt: float) -> None:
    conn.execute(
        update(sns_deliveries)
        .where(_D.id == delivery_id)
        .values(attempts=attempts, next_attempt=next_attempt)
    )


def drop_for(conn: Connection, subscription_arns: Collection[str]) -> None:
    """Forget what was still to be delivered to subscriptions that are gone."""
    if subscription_arns:
        conn.execute(delete(sns_deliveries).where(_D.subscription_arn.in_(list(subscription_arns))))


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(sns_deliveries)).scalar() or 0)
