"""The delivery worker: sends what ``sns_deliveries`` holds and forgets it once delivered or given up.

HTTP/S deliveries are POSTed (a 2xx answer delivers; no answer, 429 or 5xx is retried on the
delivery policy's schedule; any other status is a client-side error SNS does not retry); email and
email-json deliveries are appended to the address's mailbox file under ``mailbox_dir``. Retry
times are on the wall clock, and rows stay in the store until done, so a restart resumes them.
It also removes subscriptions left pending for 48 hours and deleted ones whose token expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection

from ecsbox.core.clock import Clock
from ecsbox.notify import delivery_repo, subscription_repo
from ecsbox.notify.delivery_repo import PendingDelivery
from ecsbox.notify.envelopes import Delivery
from ecsbox.notify.http_client import HttpAnswer, Poster, post
from ecsbox.notify.mail import mailbox_file_name
from ecsbox.notify.model import DELETED, HTTP_PROTOCOLS, PENDING, PENDING_LIFETIME_S, TOKEN_LIFETIME_S
from ecsbox.notify.tokens import issued_at
from ecsbox.store import Store, StoreError

log = logging.getLogger("ecsbox.notify")

TIMEOUT_S = 15.0  # an HTTP/S endpoint must answer within 15 seconds (wall clock)
POLL_S = 1.0  # the longest the worker sleeps without being woken
BATCH = 64  # deliveries taken per look at the table
CONCURRENCY = 16  # deliveries in flight at once
HOUSEKEEPING_EVERY_S = 600.0


def outcome_of(answer: HttpAnswer) -> str:
    """``delivered``, ``retry`` (no answer, throttled, server error) or ``failed`` (other status).

    >>> [outcome_of(HttpAnswer(s)) for s in (200, 204, 302, 404, 429, 500, None)]
    ['delivered', 'delivered', 'failed', 'failed', 'retry', 'retry', 'retry']
    """
    if answer.status is None or answer.status == 429 or answer.status >= 500:
        return "retry"
    return "delivered" if 200 <= answer.status < 300 else "failed"


def expired(state: int, token: str | None, wall_now: float) -> bool:
    """A pending subscription 48 hours after its token was issued, a deleted one once its token
    can no longer restore it."""
    issued = issued_at(token) if token else None
    if issued is None:
        return state in (PENDING, DELETED)
    age = wall_now - issued
    return (state == PENDING and age > PENDING_LIFETIME_S) or (state == DELETED and age > TOKEN_LIFETIME_S)


def append_to_mailbox(path: Path, entry: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="\n") as mailbox:
        mailbox.write(entry)


class Deliveries:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        mailbox_dir: Path,
        *,
        poster: Poster = post,
        timeout_s: float = TIMEOUT_S,
        append: Callable[[Path, str], None] = append_to_mailbox,
    ) -> None:
        self.store = store
        self.clock = clock
        self.mailbox_dir = mailbox_dir
        self.poster = poster
        self.timeout_s = timeout_s
        self.append = append
        self._woken = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[bool]] = {}
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._next_allowed: dict[str, float] = {}  # per subscription, when its throttle allows the next

    def wake(self) -> None:
        """Something new to deliver (called by Publish, Subscribe, Unsubscribe)."""
        self._woken.set()

    def mailbox_of(self, address: str) -> Path:
        return self.mailbox_dir / mailbox_file_name(address)

    # -- the loop --

    async def run(self) -> None:
        last_housekeeping = float("-inf")
        try:
            while True:
                self._woken.clear()
                try:
                    await self._start_due()
                    if self.clock.wall() - last_housekeeping >= HOUSEKEEPING_EVERY_S:
                        await self.housekeep()
                        last_housekeeping = self.clock.wall()
                except StoreError as exc:
                    log.warning("event=sns_delivery_store_error error=%s", exc)
                except Exception:  # a bug must not stop every delivery: log it, go on
                    log.exception("event=sns_delivery_loop_error")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_S):
                        await self._woken.wait()
        finally:
            for task in list(self._in_flight.values()):
                task.cancel()

    async def _due(self) -> list[PendingDelivery]:
        wall = self.clock.wall()
        busy = set(self._in_flight)
        return await self.store.read(lambda c: delivery_repo.due(c, wall, busy, BATCH))

    async def _start_due(self) -> None:
        for pending in await self._due():
            task = asyncio.create_task(self._attempt_in_slot(pending))
            self._in_flight[pending.id] = task
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[bool]) -> None:
        for delivery_id, running in list(self._in_flight.items()):
            if running is task:
                del self._in_flight[delivery_id]
        if not task.cancelled() and task.result():
            self._woken.set()  # a slot is free, and an immediate retry may be due

    async def _attempt_in_slot(self, pending: PendingDelivery) -> bool:
        """One attempt; False when the store failed (the row stays, for the next poll)."""
        async with self._slots:
            try:
                await self.attempt(pending)
            except StoreError as exc:
                log.warning("event=sns_delivery_store_error id=%s error=%s", pending.id, exc)
                return False
            return True

    async def deliver_once(self) -> int:
        """Make every delivery that is due now (one attempt each); how many were attempted."""
        due = await self._due()
        await asyncio.gather(*(self.attempt(p) for p in due))
        return len(due)

    # -- one attempt --

    async def attempt(self, pending: PendingDelivery) -> None:
        delivery = pending.delivery
        wall = self.clock.wall()
        if delivery.max_receives_per_second:
            allowed = self._next_allowed.get(delivery.subscription_arn, wall)
            if allowed > wall:
                await self.store.write(
                    lambda c: delivery_repo.reschedule(c, pending.id, pending.attempts, allowed)
                )
                return
            self._next_allowed[delivery.subscription_arn] = wall + 1.0 / delivery.max_receives_per_second
        outcome, detail = await self._send(delivery)
        if outcome == "delivered":
            await self.store.write(lambda c: delivery_repo.remove(c, pending.id))
            log.debug(
                "event=sns_delivered subscription=%s type=%s",
                delivery.subscription_arn,
                delivery.message_type,
            )
            return
        attempts = pending.attempts + 1
        if outcome == "retry" and attempts <= len(delivery.delays):
            next_attempt = self.clock.wall() + delivery.delays[attempts - 1]
            await self.store.write(lambda c: delivery_repo.reschedule(c, pending.id, attempts, next_attempt))
            log.info(
                "event=sns_delivery_retry subscription=%s attempt=%s next_in_s=%s detail=%s",
                delivery.subscription_arn,
                attempts,
                delivery.delays[attempts - 1],
                detail,
            )
            return
        await self.store.write(lambda c: delivery_repo.remove(c, pending.id))
        log.warning(
            "event=sns_delivery_given_up subscription=%s type=%s attempts=%s detail=%s",
            delivery.subscription_arn,
            delivery.message_type,
            attempts,
            detail,
        )

    async def _send(self, delivery: Delivery) -> tuple[str, str]:
        if delivery.protocol in HTTP_PROTOCOLS:
            try:
                answer = await self.poster(
                    delivery.endpoint, delivery.headers, delivery.payload.encode(), self.timeout_s
                )
            except Exception as exc:  # a bug in the client: retried on the schedule, never in a loop
                log.exception("event=sns_delivery_client_error subscription=%s", delivery.subscription_arn)
                return "retry", f"{type(exc).__name__}: {exc}"
            return outcome_of(answer), answer.error or f"status {answer.status}"
        try:
            await asyncio.to_thread(self.append, self.mailbox_of(delivery.endpoint), delivery.payload)
        except OSError as exc:
            return "retry", f"{type(exc).__name__}: {exc}"
        return "delivered", "appended"

    # -- housekeeping --

    async def housekeep(self) -> int:
        """Remove subscriptions that can no longer be confirmed or restored; how many."""
        wall = self.clock.wall()
        rows = await self.store.read(subscription_repo.unconfirmed, heavy=True)
        gone = [r.arn for r in rows if expired(r.state, r.token, wall)]
        if not gone:
            return 0

        def write(conn: Connection) -> None:
            for arn in gone:
                subscription_repo.delete_subscription(conn, arn)
            delivery_repo.drop_for(conn, gone)

        await self.store.write(write)
        return len(gone)
