"""The alarm evaluator: on ecsbox's clock, every alarm that is due reads its evaluation range through
the :class:`~ecsbox.metrics.model.MetricReader` port, :func:`ecsbox.metrics.alarms.evaluate` decides,
and a state change is written in one transaction with its history item, pending actions and
EventBridge event (:func:`ecsbox.metrics.alarm_repo.change_state`).

An alarm is due once per evaluation interval of its own — every minute, every 10 seconds for 10-,
20- and 30-second periods, every hour past a day of periods (:func:`~ecsbox.metrics.alarms.
evaluation_interval`) — counted on interval boundaries of ecsbox time, and right after it is created
or reconfigured. :meth:`AlarmEvaluator.run` wakes at every 10-second boundary of ecsbox time (sooner
in wall-clock time under ``--time-scale``).

While an alarm stays in a state whose actions name scaling policies, each evaluation invokes them
again, as AWS does for Auto Scaling actions. ``on_change(partition, alarm_name, old, new)`` is called
after each state change has committed (the ECS deployment-alarm work listens there).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import Connection

from ecsbox.core.clock import Clock
from ecsbox.metrics import alarm_repo
from ecsbox.metrics.alarm_model import AlarmConfig, AlarmRecord, StateInfo
from ecsbox.metrics.alarms import (
    HIGH_RESOLUTION_TICK,
    Datapoint,
    Outcome,
    evaluate,
    evaluation_interval,
    evaluation_range,
    range_starts,
    window_end,
)
from ecsbox.metrics.model import Bucket, MetricReader, Partition
from ecsbox.metrics.statistics import statistic_value
from ecsbox.store import Store

log = logging.getLogger("ecsbox.metrics.alarms")

OnChange = Callable[[Partition, str, str, str], Awaitable[None]]
HISTORY_KEPT_S = 14 * 86_400  # CloudWatch keeps two weeks of alarm history
PRUNE_EVERY_S = 3_600.0  # ecsbox time between history prunes
MIN_PAUSE_S = 0.05
MAX_PAUSE_S = 10.0

Change = tuple[Partition, str, str, str]


def points_of(buckets: Sequence[Bucket], starts: Sequence[float], config: AlarmConfig) -> list[Datapoint]:
    """The evaluation range's datapoints: one per period start, missing where no bucket (or no
    value of the alarm's statistic) is.

    >>> from ecsbox.metrics.model import Bucket
    >>> config = AlarmConfig.from_document("a", {"Namespace": "App", "MetricName": "M",
    ...     "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
    ...     "ComparisonOperator": "GreaterThanThreshold"})
    >>> [p.value for p in points_of([Bucket(60.0, 2.0, 5.0, 2.0, 3.0, "None")], [0.0, 60.0, 120.0], config)]
    [None, 5.0, None]
    """
    by_slot: dict[int, Bucket] = {}
    if starts:
        for bucket in buckets:
            slot = round((bucket.start - starts[0]) / config.period)
            if 0 <= slot < len(starts):
                by_slot[slot] = bucket
    points = []
    for slot, start in enumerate(starts):
        found = by_slot.get(slot)
        value = statistic_value(found, config.statistic) if found is not None else None
        if found is None or value is None or not math.isfinite(value):
            points.append(Datapoint(start))
        else:
            points.append(Datapoint(start, value, found.sample_count))
    return points


def due_at(record: AlarmRecord, config: AlarmConfig, now: float) -> float | None:
    """The interval boundary an alarm is due for at ``now``, None when it was evaluated for it.

    >>> config = AlarmConfig.from_document("a", {"Namespace": "App", "MetricName": "M",
    ...     "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1.0,
    ...     "ComparisonOperator": "GreaterThanThreshold"})
    >>> record = AlarmRecord(("1", "r"), "a", {}, True, 0.0, "OK", "", None, 0.0, 0.0, evaluated=120.0)
    >>> due_at(record, config, 179.0), due_at(record, config, 180.0)
    (None, 180.0)
    """
    interval = evaluation_interval(config.period, config.evaluation_periods)
    tick = math.floor(now / interval) * interval
    if record.evaluated is not None and record.evaluated >= tick:
        return None
    return float(tick)


def _apply(conn: Connection, seen: AlarmRecord, outcome: Outcome, tick: float, now: float) -> Change | None:
    """Write one evaluation. If the alarm changed since it was read (reconfigured, set by hand,
    deleted), write nothing: the next tick evaluates what is there now."""
    current = alarm_repo.get(conn, seen.partition, seen.name)
    if (
        current is None
        or current.configuration_updated != seen.configuration_updated
        or current.state_updated != seen.state_updated
    ):
        return None
    alarm_repo.set_evaluated(conn, current.partition, current.name, tick)
    if outcome.state is None:
        return None
    new = StateInfo(outcome.state, outcome.reason, outcome.reason_data, now)
    if outcome.state == current.state_value:
        alarm_repo.repeat_scaling_actions(conn, current, new)
        return None
    alarm_repo.change_state(conn, current, new)
    return current.partition, current.name, current.state_value, outcome.state


class AlarmEvaluator:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        reader: MetricReader,
        on_change: OnChange | None = None,
        *,
        time_scale: float | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.reader = reader
        self.on_change = on_change
        scale = time_scale if time_scale is not None else getattr(clock, "time_scale", 1.0)
        self.time_scale = max(float(scale), 1e-9)
        self._pruned: float | None = None

    async def evaluate_once(self, now: float) -> int:
        """Evaluate every alarm due at ``now``; returns how many changed state."""
        records = await self.store.read(alarm_repo.all_alarms)
        writes = []
        for record in records:
            try:
                write = await self._evaluate(record, now)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=alarm_evaluation_failed alarm=%s", record.name)
                continue
            if write is not None:
                writes.append(write)
        outcomes = await asyncio.gather(*(self.store.write(w) for w in writes), return_exceptions=True)
        changes = [o for o in outcomes if isinstance(o, tuple)]
        for failure in (o for o in outcomes if isinstance(o, BaseException)):
            log.error("event=alarm_write_failed error=%s", failure)
        for partition, name, old, new in changes:
            log.info("event=alarm_state_changed alarm=%s old=%s new=%s", name, old, new)
            if self.on_change is not None:
                try:
                    await self.on_change(partition, name, old, new)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("event=alarm_on_change_failed alarm=%s", name)
        return len(changes)

    async def _evaluate(
        self, record: AlarmRecord, now: float
    ) -> Callable[[Connection], Change | None] | None:
        config = record.config
        tick = due_at(record, config, now)
        if tick is None:
            return None
        starts = range_starts(
            window_end(now, config.period), config.period, evaluation_range(config.evaluation_periods)
        )
        end = starts[-1] + config.period
        buckets = await self.reader.buckets(
            record.partition, config.metric, config.period, starts[0], end, config.unit
        )
        outcome = evaluate(config, points_of(buckets, starts, config), now)
        return functools.partial(_apply, seen=record, outcome=outcome, tick=tick, now=now)

    async def prune_history(self, now: float) -> int:
        """Forget alarm history older than two weeks of ecsbox time."""
        return int(
            await self.store.write(functools.partial(alarm_repo.prune_history, before=now - HISTORY_KEPT_S))
        )

    async def run(self) -> None:
        """Forever: evaluate what is due, prune old history every hour, wait for the next 10 seconds."""
        while True:
            now = self.clock.now()
            try:
                await self.evaluate_once(now)
                if self._pruned is None or now - self._pruned >= PRUNE_EVERY_S:
                    await self.prune_history(now)
                    self._pruned = now
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=alarm_evaluator_failed")
            await asyncio.sleep(self.pause_s(self.clock.now()))

    def pause_s(self, now: float) -> float:
        """Wall-clock seconds until the next 10-second boundary of ecsbox time.

        >>> from ecsbox.core.clock import FakeClock
        >>> AlarmEvaluator(None, FakeClock(), None).pause_s(1_700_000_004.0)  # type: ignore[arg-type]
        6.0
        """
        wait = (HIGH_RESOLUTION_TICK - now % HIGH_RESOLUTION_TICK) / self.time_scale
        return min(MAX_PAUSE_S, max(MIN_PAUSE_S, wait))
