"""``ecsbox prune``: remove what stopped tasks left behind — their exited containers and pause
containers — which ecsbox otherwise keeps for an hour so ``docker logs`` can still read them."""

from __future__ import annotations

import contextlib

from ecsbox.ecs import task_repo
from ecsbox.ecs.taskspec import LABEL_SERVER, LABEL_TASK_ARN
from ecsbox.runtime.port import Runtime, RuntimeFailure
from ecsbox.store import Store


async def prune(store: Store, runtime: Runtime | None, server_id: str) -> dict[str, int]:
    """Remove this server's containers that belong to no task still running; returns counts."""
    if runtime is None:
        return {"containers_removed": 0}
    unfinished = {record.task_arn for record in await store.read(task_repo.unfinished_tasks)}
    removed = 0
    for state in await runtime.list({LABEL_SERVER: server_id}):
        if state.labels.get(LABEL_TASK_ARN) in unfinished:
            continue
        with contextlib.suppress(RuntimeFailure):
            await runtime.remove(state.id)
            removed += 1
    return {"containers_removed": removed}
