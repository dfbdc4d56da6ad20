"""Operator actions on tasks: ``ecsbox prune`` removes what stopped tasks left behind — their
exited containers and pause containers, which ecsbox otherwise keeps for an hour so ``docker logs``
can still read them — and ``ecsbox down --stop-tasks`` stops every task before the server goes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy import Connection

from ecsbox.ecs import task_repo
from ecsbox.ecs.task_state import STOPPED, USER_INITIATED
from ecsbox.ecs.tasks import mark_stopping
from ecsbox.ecs.taskspec import LABEL_SERVER, LABEL_TASK_ARN
from ecsbox.runtime.port import Runtime, RuntimeFailure
from ecsbox.store import Store


async def prune(store: Store, runtime: Runtime | None, server_id: str) -> dict[str, int]:
    """Remove this server's containers that belong to no task still running; returns counts."""
    if runtime is None:
        return {"containers_removed": 0}
    # Containers first, then the tasks: a task created in between keeps its fresh containers.
    states = await runtime.list({LABEL_SERVER: server_id})
    unfinished = {record.task_arn for record in await store.read(task_repo.unfinished_tasks)}
    removed = 0
    for state in states:
        if state.labels.get(LABEL_TASK_ARN) in unfinished:
            continue
        with contextlib.suppress(RuntimeFailure):
            await runtime.remove(state.id)
            removed += 1
    return {"containers_removed": removed}


async def stop_all_tasks(
    store: Store,
    wake: Callable[[str], None],
    pause_scheduling: Callable[[], None],
    wall: Callable[[], float],
    timeout_s: float = 150.0,
) -> dict[str, int]:
    """``ecsbox down --stop-tasks``: stop every task (services start none meanwhile) and wait, at
    most ``timeout_s``, until they are STOPPED. Services keep their desired count: the next
    ``ecsbox up`` starts their tasks again."""
    pause_scheduling()

    def stop_them(conn: Connection) -> list[str]:
        stopped = []
        for record in task_repo.unfinished_tasks(conn):
            if record.desired_status != STOPPED:
                mark_stopping(record, USER_INITIATED, "ecsbox is shutting down")
                task_repo.save_task(conn, record)
            stopped.append(record.task_arn)
        return stopped

    arns = await store.write(stop_them)
    for arn in arns:
        wake(arn)
    deadline = wall() + timeout_s
    left = len(arns)
    while left and wall() < deadline:
        await asyncio.sleep(0.2)
        left = len(await store.read(task_repo.unfinished_tasks))
    return {"tasks_stopped": len(arns) - left, "tasks_still_stopping": left}
