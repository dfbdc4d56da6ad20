"""The registry's background work: lifecycle policies applied on ecsbox's clock (every 24 hours
per repository, or at once when asked), garbage collection of blobs no image uses any more, and
the removal of uploads a client abandoned.

Garbage collection keeps every blob some manifest references, and every blob linked to a
repository within the last ``gc_grace_s`` seconds of wall-clock time: a push uploads its layers
before its manifest, and checks (HEAD) layers it will reuse, which refreshes their links.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass

from ecsbox.core.clock import Clock
from ecsbox.ecr import image_repo, lifecycle_policies
from ecsbox.ecr.blobs import BlobStore
from ecsbox.store import Store

log = logging.getLogger("ecsbox.ecr.housekeeping")

UPLOAD_ABANDONED_S = 3600.0  # an upload nobody wrote to for an hour is gone
GC_EVERY_S = 3600.0  # wall clock
MAX_SLEEP_S = 60.0
MIN_SLEEP_S = 0.05


@dataclass
class HousekeepingReport:
    repositories: int = 0
    images_expired: int = 0
    blobs_removed: int = 0
    bytes_freed: int = 0
    uploads_removed: int = 0


class RegistryHousekeeping:
    def __init__(
        self, store: Store, clock: Clock, blobs: BlobStore, time_scale: float, gc_grace_s: float
    ) -> None:
        self.store = store
        self.clock = clock
        self.blobs = blobs
        self.time_scale = max(time_scale, 1e-9)
        self.gc_grace_s = gc_grace_s
        self._last_gc_wall = 0.0

    async def apply_lifecycle(self, every_repository: bool = False) -> HousekeepingReport:
        """Evaluate the policies that are due (every policy, when asked), then collect garbage."""
        now = self.clock.now()
        period = 0.0 if every_repository else lifecycle_policies.EVALUATION_PERIOD_S
        due = await self.store.read(lambda conn: lifecycle_policies.due_repositories(conn, now, period))
        report = HousekeepingReport(repositories=len(due))
        for partition, name in due:
            try:
                expired = await self.store.write(
                    functools.partial(
                        lifecycle_policies.expire_repository, partition=partition, name=name, now=now
                    )
                )
            except Exception:
                log.exception("event=lifecycle_failed repository=%s", name)
                continue
            report.images_expired += len(expired)
            if expired:
                log.info("event=lifecycle_expired repository=%s images=%d", name, len(expired))
        if report.images_expired or every_repository:
            await self._collect(report)
        return report

    async def collect_garbage(self) -> HousekeepingReport:
        report = HousekeepingReport()
        await self._collect(report)
        return report

    async def _collect(self, report: HousekeepingReport) -> None:
        wall = self.clock.wall()
        since = wall - self.gc_grace_s

        async def live() -> set[str]:
            return await self.store.read(lambda conn: image_repo.live_blobs(conn, since))

        removed, freed = await self.blobs.collect(live, self.gc_grace_s, wall)
        report.blobs_removed += removed
        report.bytes_freed += freed
        report.uploads_removed += await self.blobs.sweep_uploads(wall - UPLOAD_ABANDONED_S)
        self._last_gc_wall = wall

    async def run(self) -> None:
        """Forever: apply policies as they fall due; collect garbage every hour."""
        while True:
            try:
                await self.apply_lifecycle()
                if self.clock.wall() - self._last_gc_wall >= GC_EVERY_S:
                    await self.collect_garbage()
                due = await self.store.read(lifecycle_policies.next_due)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=registry_housekeeping_failed")
                due = None
            await asyncio.sleep(self.pause_s(due))

    def pause_s(self, due: float | None) -> float:
        """Wall-clock seconds until the next look: when the next repository falls due, and never
        longer than one evaluation period of ecsbox time (a policy put since is applied within
        that period, as ECR applies a new policy "within 24 hours") nor than a minute."""
        period = lifecycle_policies.EVALUATION_PERIOD_S / self.time_scale
        wait = period if due is None else min(period, (due - self.clock.now()) / self.time_scale)
        return min(MAX_SLEEP_S, max(MIN_SLEEP_S, wait))
