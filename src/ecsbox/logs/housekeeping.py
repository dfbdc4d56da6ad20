"""CloudWatch Logs' background work: events older than their group's retention are deleted (on
ecsbox's clock), and the events of deleted groups and streams are purged, both in batches so the
one writer never stalls on a million rows.

AWS deletes expired events "typically up to 72 hours" after they expire; ecsbox looks once per
hour of ecsbox time (at least every minute, at most every second of wall-clock time), so with
``--time-scale`` a one-day retention can be watched at work.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection

from ecsbox.core.clock import Clock
from ecsbox.core.loops import in_batches, run_forever, wall_pause_s
from ecsbox.logs import event_repo, group_repo, stream_repo
from ecsbox.logs.limits import message_bytes, retention_cutoff_ms
from ecsbox.store import Store

log = logging.getLogger("ecsbox.logs.housekeeping")

DELETE_BATCH = 2_000  # events per write
LOOK_EVERY_S = 3_600.0  # ecsbox time between passes
MAX_SLEEP_S = 60.0
MIN_SLEEP_S = 1.0


@dataclass
class LogsHousekeepingReport:
    groups: int = 0
    events_expired: int = 0
    events_purged: int = 0


def _expire_batch(conn: Connection, group_id: int, cutoff_ms: int, batch: int) -> int:
    """Delete up to ``batch`` of a group's events older than ``cutoff_ms``, with their bytes."""
    rows = event_repo.oldest(conn, group_id, cutoff_ms, batch)
    if not rows:
        return 0
    freed: Counter[int] = Counter()
    for _id, stream_id, message in rows:
        freed[stream_id] += message_bytes(message)
    event_repo.delete_ids(conn, [row[0] for row in rows])
    for stream_id, size in freed.items():
        stream_repo.subtract_stored_bytes(conn, stream_id, size)
    group_repo.add_stored_bytes(conn, group_id, -sum(freed.values()))
    return len(rows)


def _purge_batch(conn: Connection, kind: str, owner: int, batch: int) -> int:
    """Delete up to ``batch`` events of a deleted group or stream; the purge is done when none remain."""
    rows = event_repo.some_of(conn, kind, owner, batch)
    event_repo.delete_ids(conn, [row[0] for row in rows])
    if len(rows) < batch:
        group_repo.finish_purge(conn, kind, owner)
    return len(rows)


class LogsHousekeeping:
    def __init__(
        self, store: Store, clock: Clock, time_scale: float = 1.0, batch: int = DELETE_BATCH
    ) -> None:
        self.store = store
        self.clock = clock
        self.time_scale = max(time_scale, 1e-9)
        self.batch = batch

    async def run_once(self) -> LogsHousekeepingReport:
        """One pass: expire every group's old events, then finish pending purges."""
        report = LogsHousekeepingReport()
        now_ms = int(self.clock.now() * 1000)
        groups = await self.store.read(group_repo.retention_groups)
        report.groups = len(groups)
        for group in groups:
            assert group.retention_days is not None
            cutoff = retention_cutoff_ms(now_ms, group.retention_days)
            expire = functools.partial(_expire_batch, group_id=group.id, cutoff_ms=cutoff, batch=self.batch)
            expired = await in_batches(self.store.write, expire, self.batch)
            if expired:
                log.info("event=logs_expired group=%s events=%d", group.name, expired)
            report.events_expired += expired
        for kind, owner in await self.store.read(group_repo.pending_purges):
            purge = functools.partial(_purge_batch, kind=kind, owner=owner, batch=self.batch)
            report.events_purged += await in_batches(self.store.write, purge, self.batch)
        return report

    async def run(self) -> None:
        """Forever: a pass, then a pause (:meth:`pause_s`)."""
        await run_forever(self.run_once, self.pause_s, log, "logs_housekeeping_failed")

    def pause_s(self) -> float:
        """Wall-clock seconds between passes: an hour of ecsbox time, within [1 s, 60 s]."""
        return wall_pause_s(LOOK_EVERY_S, self.time_scale, MIN_SLEEP_S, MAX_SLEEP_S)
