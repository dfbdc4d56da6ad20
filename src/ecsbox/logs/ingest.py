"""Ingestion from ecsbox's own log paths (the Forward receiver, the awslogs driver emulation,
FireLens): events go straight into the store, one write per call, without PutLogEvents' limits.

What the awslogs driver would do is kept: the stream is created when missing (unless told not
to), the group only with ``awslogs-create-group``; a missing group is the error AWS gives the
driver ("The specified log group does not exist."). Timestamps are taken as given (ecsbox stamps
container records on its clock); retention expires old events later, as on AWS. Empty messages are
dropped, as PutLogEvents cannot carry them.

The (group, stream) ids of a partition, group and stream are remembered, so a steady stream of
batches costs one UPDATE of the stream's counters, one of the group's bytes and one
``executemany`` per call; a remembered stream that was deleted since is looked up (and, where
allowed, created) again.

Once a batch is committed, the :data:`~ecsbox.logs.metric_hook.MetricSink` given at construction
(if any) hears of it with the group's metric filter datapoints (:mod:`ecsbox.logs.metric_hook`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from ecsbox.core.clock import Clock
from ecsbox.logs import event_repo, group_repo, stream_repo
from ecsbox.logs.group_repo import MetricFilterRow
from ecsbox.logs.limits import clean_message, message_bytes
from ecsbox.logs.metric_hook import MetricSink, tell
from ecsbox.logs.model import GroupRef, Partition, group_not_found, stream_not_found
from ecsbox.store import Store

_CACHE_LIMIT = 10_000

Key = tuple[Partition, str, str]


class LogIngest:
    def __init__(self, store: Store, clock: Clock, metric_sink: MetricSink | None = None) -> None:
        self.store = store
        self.clock = clock
        self.metric_sink = metric_sink
        self._ids: dict[Key, tuple[int, int]] = {}

    async def deliver(
        self,
        partition: tuple[str, str],
        group: str,
        stream: str,
        events: Sequence[tuple[int, str]],
        *,
        create_group: bool,
        create_stream: bool = True,
        new_group_retention_days: int | None = None,
    ) -> None:
        """Store ``events`` ((timestamp ms, message), any order) in one write, committed when this
        returns. Raises :class:`~ecsbox.logs.model.LogsRuleError` (ResourceNotFoundException) when
        the group is missing and ``create_group`` is false, or the stream is missing and
        ``create_stream`` is false. A group created here gets ``new_group_retention_days`` (a group
        that already exists keeps its own)."""
        batch = [(int(ts), clean_message(message)) for ts, message in events if message]
        size = sum(message_bytes(message) for _, message in batch)
        low = min((ts for ts, _ in batch), default=0)
        high = max((ts for ts, _ in batch), default=0)
        now = int(self.clock.now() * 1000)
        key: Key = (partition, group, stream)

        sink = self.metric_sink

        def write(conn: Connection) -> tuple[tuple[int, int], list[MetricFilterRow]]:
            ids = self._ids.get(key)
            if ids is None or not self._append(conn, ids, batch, low, high, now, size):
                ids = self._resolve(conn, key, now, create_group, create_stream, new_group_retention_days)
                self._append(conn, ids, batch, low, high, now, size)
            filters = group_repo.group_filters(conn, ids[0]) if sink is not None and batch else []
            return ids, filters

        ids, filters = await self.store.write(write)
        if len(self._ids) >= _CACHE_LIMIT:
            self._ids.clear()
        self._ids[key] = ids
        await tell(sink, partition, group, batch, filters)

    @staticmethod
    def _append(
        conn: Connection,
        ids: tuple[int, int],
        batch: list[tuple[int, str]],
        low: int,
        high: int,
        now: int,
        size: int,
    ) -> bool:
        """Record and insert the batch; False when the stream no longer exists."""
        group_id, stream_id = ids
        if not batch:
            return stream_repo.get_stream_by_id(conn, stream_id) is not None
        if stream_repo.record_batch(conn, group_id, stream_id, low, high, now, size) is None:
            return False
        event_repo.insert_events(conn, group_id, stream_id, batch, now)
        return True

    @staticmethod
    def _resolve(
        conn: Connection,
        key: Key,
        now: int,
        create_group: bool,
        create_stream: bool,
        retention_days: int | None,
    ) -> tuple[int, int]:
        partition, group_name, stream_name = key
        ref = GroupRef(partition, group_name)
        group = group_repo.get_group(conn, ref)
        if group is None:
            if not create_group:
                raise group_not_found()
            group = group_repo.insert_group(conn, ref, now)
            if retention_days is not None:
                group_repo.set_retention(conn, group.id, retention_days)
        stream = stream_repo.get_stream(conn, group.id, stream_name)
        if stream is None:
            if not create_stream:
                raise stream_not_found()
            stream = stream_repo.insert_stream(conn, group.id, stream_name, now)
        return group.id, stream.id

    def forget(self) -> None:
        """Drop the remembered ids (after a reset of the store)."""
        self._ids.clear()
