"""Carrying out alarm actions: the rows a state change left in ``metric_alarm_actions``.

* An SNS topic ARN: the alarm's notification (CloudWatch's JSON message, subject
  ``ALARM: "name" in US East (N. Virginia)``) is published through the injected ``publish``.
* A scaling policy ARN (Application Auto Scaling or EC2 Auto Scaling): a "CloudWatch Alarm Action"
  event goes to the outbox for the scaling work that acts on it.
* Anything else (EC2, Lambda, Systems Manager … actions): ecsbox does not carry these out, and says
  so in a failed Action history item.

Every delivery adds an Action history item ("Successfully executed action …" / "Failed to execute
action …") and removes the row. A failed publish is tried again after 1, 5 and 30 seconds of wall
clock time, then given up (rows survive a restart; the back-off starts afresh).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Connection

from ecsbox.core.clock import Clock
from ecsbox.core.loops import run_forever
from ecsbox.metrics import alarm_messages, alarm_repo
from ecsbox.metrics.alarm_model import SCALING, SNS, action_kind
from ecsbox.metrics.alarm_repo import PendingAction
from ecsbox.metrics.alarm_text import to_json
from ecsbox.metrics.model import Partition
from ecsbox.store import Store

log = logging.getLogger("ecsbox.metrics.alarm_actions")

Publish = Callable[[Partition, str, str, str], Awaitable[None]]  # (partition, topic ARN, subject, message)
RETRY_AFTER_S = (1.0, 5.0, 30.0)  # wall-clock seconds before the 2nd, 3rd and 4th attempt
MAX_ATTEMPTS = len(RETRY_AFTER_S) + 1
PUBLISH_TIMEOUT_S = 10.0
BATCH = 100
PAUSE_S = 0.5


def _state_changed_ms(action: PendingAction) -> int:
    return int(action.created * 1000)


def _record(
    conn: Connection, action: PendingAction, now: float, summary: str, data: dict[str, Any], event: Any = None
) -> bool:
    """Remove a carried-out row and write its history item (and event); False if already gone."""
    if not alarm_repo.finish_action(conn, action.id):
        return False
    alarm_repo.add_history(conn, action.partition, action.alarm_name, now, "Action", summary, data)
    if event is not None:
        resources, detail = event
        alarm_repo.add_event(conn, action.partition, alarm_messages.ALARM_ACTION, resources, detail, now)
    return True


class AlarmActions:
    def __init__(self, store: Store, clock: Clock, publish: Publish) -> None:
        self.store = store
        self.clock = clock
        self.publish = publish
        self._retry_at: dict[int, float] = {}  # action id → wall time of its next attempt

    async def deliver_once(self) -> int:
        """Carry out every pending action that is due; returns how many were completed or given up."""
        pending = await self.store.read(functools.partial(alarm_repo.pending_actions, limit=BATCH))
        finished = 0
        for action in pending:
            if self._retry_at.get(action.id, 0.0) > self.clock.wall():
                continue
            try:
                if await self._deliver(action):
                    finished += 1
                    self._retry_at.pop(action.id, None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event=alarm_action_failed action=%s", action.action_arn)
        return finished

    async def _deliver(self, action: PendingAction) -> bool:
        kind = action_kind(action.action_arn)
        if kind == SNS:
            return await self._notify(action)
        if kind == SCALING:
            message = action.message
            detail = alarm_messages.scaling_action_detail(
                message, action.action_arn, bool(message.get("Repeat"))
            )
            summary, data = alarm_messages.action_succeeded(
                action.action_arn, _state_changed_ms(action), None
            )
            event = ([action.action_arn, message["AlarmArn"]], detail)
            write = functools.partial(
                _record, action=action, now=self.clock.now(), summary=summary, data=data, event=event
            )
            await self.store.write(write)
            return True
        service = action.action_arn.split(":")[2] if action.action_arn.count(":") >= 2 else "this"
        summary, data = alarm_messages.action_failed(
            action.action_arn, _state_changed_ms(action), f"ecsbox does not carry out {service} alarm actions"
        )
        await self.store.write(
            functools.partial(_record, action=action, now=self.clock.now(), summary=summary, data=data)
        )
        return True

    async def _notify(self, action: PendingAction) -> bool:
        message = action.message
        text = to_json(message)
        subject = alarm_messages.subject(message["NewStateValue"], message["AlarmName"], action.partition[1])
        try:
            await asyncio.wait_for(
                self.publish(action.partition, action.action_arn, subject, text), timeout=PUBLISH_TIMEOUT_S
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return await self._failed(action, str(exc) or type(exc).__name__)
        summary, data = alarm_messages.action_succeeded(action.action_arn, _state_changed_ms(action), text)
        await self.store.write(
            functools.partial(_record, action=action, now=self.clock.now(), summary=summary, data=data)
        )
        return True

    async def _failed(self, action: PendingAction, error: str) -> bool:
        attempts = action.attempts + 1
        if attempts < MAX_ATTEMPTS:
            await self.store.write(functools.partial(alarm_repo.count_attempt, action_id=action.id))
            self._retry_at[action.id] = self.clock.wall() + RETRY_AFTER_S[attempts - 1]
            log.warning(
                "event=alarm_action_retry action=%s attempt=%d error=%s", action.action_arn, attempts, error
            )
            return False
        summary, data = alarm_messages.action_failed(action.action_arn, _state_changed_ms(action), error)
        await self.store.write(
            functools.partial(_record, action=action, now=self.clock.now(), summary=summary, data=data)
        )
        log.warning("event=alarm_action_given_up action=%s error=%s", action.action_arn, error)
        return True

    async def run(self) -> None:
        """Forever: deliver what is due, then pause half a second."""
        await run_forever(self.deliver_once, lambda: PAUSE_S, log, "alarm_actions_failed")
