"""A cluster's counts, as DescribeClusters prints them, from its tasks and services. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from ecsbox.ecs.model import CLUSTER_STATISTIC_NAMES

_KIND = {"EC2": "EC2", "FARGATE": "Fargate", "EXTERNAL": "External"}


def cluster_counts(
    tasks: Iterable[tuple[str, str]], services: Iterable[tuple[str, str]]
) -> tuple[dict[str, int], list[dict[str, str]]]:
    """(the cluster's count members, its ``statistics``) from its tasks that are meant to run
    ``(lastStatus, launchType)`` and its services ``(status, launchType)``.

    Example: tasks [(RUNNING, FARGATE), (PENDING, FARGATE)], services [(ACTIVE, FARGATE)] →
    runningTasksCount 1, pendingTasksCount 1, activeServicesCount 1; runningFargateTasksCount "1".
    """
    stats = dict.fromkeys(CLUSTER_STATISTIC_NAMES, 0)
    running = pending = active = 0
    for last_status, launch_type in tasks:
        kind = _KIND.get(launch_type, "EC2")
        if last_status == "RUNNING":
            running += 1
            stats[f"running{kind}TasksCount"] += 1
        elif last_status != "STOPPED":
            pending += 1
            stats[f"pending{kind}TasksCount"] += 1
    for status, launch_type in services:
        kind = _KIND.get(launch_type, "EC2")
        if status == "ACTIVE":
            active += 1
            stats[f"active{kind}ServiceCount"] += 1
        elif status == "DRAINING":
            stats[f"draining{kind}ServiceCount"] += 1
    counts = {"runningTasksCount": running, "pendingTasksCount": pending, "activeServicesCount": active}
    return counts, [{"name": name, "value": str(value)} for name, value in stats.items()]
