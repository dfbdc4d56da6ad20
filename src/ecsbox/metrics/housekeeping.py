"""CloudWatch metrics' background work on ecsbox's clock: points are rolled up into coarser ones as
they age and deleted after 455 days (:mod:`ecsbox.metrics.retention`), in batches so the one writer
never stalls; series that have held no point for 455 days go too.

A pass runs every 5 minutes of ecsbox time (at least every minute and at most every second of wall
time), so with ``--time-scale`` the roll-ups can be watched at work.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import dataclass

from sqlalchemy import Connection

from ecsbox.core.clock import Clock
from ecsbox.core.loops import in_batches, run_forever, wall_pause_s
from ecsbox.metrics import metric_repo
from ecsbox.metrics.retention import (
    RESOLUTIONS,
    Point,
    RollUp,
    aligned_cutoff,
    expiry_cutoff,
    merge_points,
    roll_up_plan,
)
from ecsbox.store import Store

log = logging.getLogger("ecsbox.metrics.housekeeping")

BATCH = 2_000  # points per write
LOOK_EVERY_S = 300.0  # ecsbox time between passes
MAX_SLEEP_S = 60.0
MIN_SLEEP_S = 1.0


@dataclass
class MetricsHousekeepingReport:
    rolled_up: int = 0  # points merged into coarser ones
    written: int = 0  # coarser points written in their place
    expired: int = 0  # points deleted for age
    series_removed: int = 0


def _point(row: metric_repo.StoredPoint) -> Point:
    _, series_id, ts, resolution, unit, sample_count, total, minimum, maximum, values = row
    value_counts = tuple((float(v), float(c)) for v, c in json.loads(values)) if values is not None else None
    return Point(series_id, ts, resolution, unit, sample_count, total, minimum, maximum, value_counts)


def _roll_up_batch(conn: Connection, step: RollUp, batch: int) -> tuple[int, int]:
    """Merge the due points of one target period (the oldest one due), up to ``batch`` of them;
    returns (points merged, points written)."""
    sources = [resolution for resolution in RESOLUTIONS if resolution < step.target]
    earliest = metric_repo.earliest_due(conn, sources, step.cutoff)
    if earliest is None:
        return 0, 0
    start = aligned_cutoff(earliest, step.target)
    rows = metric_repo.points_between(conn, sources, start, start + step.target, batch)
    merged = merge_points([_point(row) for row in rows], step.target)
    # A series whose points of one period did not fit one batch already has a coarse point for it
    # from the batch before: merge into that one, so each series keeps one point per period.
    earlier = metric_repo.points_at(conn, [(p.series_id, p.ts, p.unit) for p in merged], step.target)
    if earlier:
        merged = merge_points([*merged, *(_point(row) for row in earlier)], step.target)
    metric_repo.delete_points(conn, [row[0] for row in rows] + [row[0] for row in earlier])
    metric_repo.insert_points(
        conn,
        [
            metric_repo.point_row(
                p.series_id,
                p.ts,
                p.resolution,
                p.unit,
                p.sample_count,
                p.sum,
                p.minimum,
                p.maximum,
                p.value_counts,
            )
            for p in merged
        ],
    )
    return len(rows), len(merged)


def _expire_batch(conn: Connection, resolution: int, cutoff: float, batch: int) -> int:
    ids = metric_repo.expired_point_ids(conn, resolution, cutoff, batch)
    metric_repo.delete_points(conn, ids)
    return len(ids)


class MetricsHousekeeping:
    def __init__(self, store: Store, clock: Clock, time_scale: float = 1.0, batch: int = BATCH) -> None:
        self.store = store
        self.clock = clock
        self.time_scale = max(time_scale, 1e-9)
        self.batch = batch

    async def run_once(self) -> MetricsHousekeepingReport:
        """One pass at the clock's now."""
        return await self.roll_up_once(self.clock.now())

    async def roll_up_once(self, now: float) -> MetricsHousekeepingReport:
        """Roll up every point due at ``now``, finest first, then delete what is too old."""
        report = MetricsHousekeepingReport()
        for step in roll_up_plan(now):
            while True:
                read, written = await self.store.write(
                    functools.partial(_roll_up_batch, step=step, batch=self.batch)
                )
                report.rolled_up += read
                report.written += written
                if read == 0:
                    break
                await asyncio.sleep(0)  # let requests in between batches
        cutoff = expiry_cutoff(now)
        for resolution in RESOLUTIONS:
            expire = functools.partial(_expire_batch, resolution=resolution, cutoff=cutoff, batch=self.batch)
            report.expired += await in_batches(self.store.write, expire, self.batch)
        remove_idle = functools.partial(metric_repo.delete_idle_series, before=cutoff, batch=self.batch)
        report.series_removed += await in_batches(self.store.write, remove_idle, self.batch)
        if report.rolled_up or report.expired or report.series_removed:
            log.info(
                "event=metrics_retention rolled_up=%d written=%d expired=%d series_removed=%d",
                report.rolled_up,
                report.written,
                report.expired,
                report.series_removed,
            )
        return report

    async def run(self) -> None:
        """Forever: a pass, then a pause (:meth:`pause_s`)."""
        await run_forever(self.run_once, self.pause_s, log, "metrics_housekeeping_failed")

    def pause_s(self) -> float:
        """Wall-clock seconds between passes: 5 minutes of ecsbox time, within [1 s, 60 s]."""
        return wall_pause_s(LOOK_EVERY_S, self.time_scale, MIN_SLEEP_S, MAX_SLEEP_S)
