"""Fargate Spot interruption, on demand: what AWS does when it reclaims Spot capacity
(SEMANTICS §3.2), so a user can rehearse it.

The task gets the two-minute notice — desired STOPPED while still RUNNING, with the stop code and
reason of AWS's own example event — and its containers get SIGTERM at once and SIGKILL after their
``stopTimeout`` (at most 120 s on Fargate), which is how the agent stops every task. A service
then replaces it like any other stopped task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from ecsbox.ecs import task_repo
from ecsbox.ecs.task_state import STOPPED, TERMINATION_NOTICE
from ecsbox.ecs.tasks import mark_stopping
from ecsbox.store import Store

SPOT_PROVIDER = "FARGATE_SPOT"
INTERRUPTED_REASON = "Your Spot Task was interrupted."


class NotInterruptible(ValueError):
    """Only a running FARGATE_SPOT task can be interrupted."""


async def interrupt_spot_task(store: Store, wake: Callable[[str], None], task_arn: str) -> dict[str, Any]:
    def write(conn: Connection) -> dict[str, Any]:
        record = task_repo.get_task(conn, task_arn)
        if record is None:
            raise NotInterruptible(f"no such task: {task_arn}")
        if record.document.get("capacityProviderName") != SPOT_PROVIDER:
            raise NotInterruptible(f"task {task_arn} does not run on {SPOT_PROVIDER}")
        if record.desired_status == STOPPED:
            raise NotInterruptible(f"task {task_arn} is already stopping")
        mark_stopping(record, TERMINATION_NOTICE, INTERRUPTED_REASON)
        task_repo.save_task(conn, record)
        return {"taskArn": task_arn, "stopCode": TERMINATION_NOTICE, "stoppedReason": INTERRUPTED_REASON}

    result = await store.write(write)
    wake(task_arn)
    return result
