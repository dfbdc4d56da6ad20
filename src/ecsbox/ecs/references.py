"""How callers name ECS resources: a name, ``family:revision``, or a full ARN.

Pure parsing only; whether the resource exists is the repository's business. An ARN of another
account or region names nothing here (partitions are real), so callers treat it as missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecsbox.core.ids import arn, parse_arn
from ecsbox.ecs.model import client_error

MAX_REVISION = 2**31 - 1  # revisions are 32-bit integers


@dataclass(frozen=True)
class TaskDefinitionRef:
    family: str
    revision: int | None  # None: the latest ACTIVE revision
    foreign: bool = False  # an ARN of another account or region


def task_definition_arn(region: str, account_id: str, family: str, revision: int) -> str:
    """``arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>``."""
    return arn("ecs", region, account_id, f"task-definition/{family}:{revision}")


def cluster_arn(region: str, account_id: str, name: str) -> str:
    return arn("ecs", region, account_id, f"cluster/{name}")


def capacity_provider_arn(region: str, account_id: str, name: str) -> str:
    return arn("ecs", region, account_id, f"capacity-provider/{name}")


def _revision(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_REVISION:
        raise client_error(f"Invalid revision number. Number: {text}")
    return int(text)


def parse_task_definition(text: str, account_id: str, region: str) -> TaskDefinitionRef:
    """``"web"`` → (web, None); ``"web:3"`` → (web, 3);
    ``"arn:aws:ecs:r:a:task-definition/web:3"`` → (web, 3), foreign unless r/a are ours."""
    parts = parse_arn(text) if text.startswith("arn:") else None
    foreign = False
    if parts is not None:
        resource = parts["resource"]
        if parts["service"] != "ecs" or not resource.startswith("task-definition/"):
            raise client_error("Unable to describe task definition.")
        foreign = parts["account"] != account_id or parts["region"] != region
        text = resource.removeprefix("task-definition/")
    family, sep, revision = text.partition(":")
    if not family:
        raise client_error("Unable to describe task definition.")
    return TaskDefinitionRef(family, _revision(revision) if sep else None, foreign)


def parse_named(text: str, kind: str, account_id: str, region: str) -> str | None:
    """The name in ``text`` (a name or an ARN ``…:<kind>/<name>``); None when the ARN belongs to
    another account, region or resource type. ``parse_named("arn:aws:ecs:r:a:cluster/x",
    "cluster", "a", "r")`` → ``"x"``."""
    if not text.startswith("arn:"):
        return text
    parts = parse_arn(text)
    if parts is None or parts["service"] != "ecs" or not parts["resource"].startswith(f"{kind}/"):
        return None
    if parts["account"] != account_id or parts["region"] != region:
        return None
    return parts["resource"].removeprefix(f"{kind}/")
