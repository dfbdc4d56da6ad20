"""Secrets Manager staging labels: how they move between a secret's versions (pure).

A secret's versions are a mapping ``version_id → [stages]``. Writing a version with some stages
takes each of them off whichever version had it; when ``AWSCURRENT`` moves away from a version,
that version takes ``AWSPREVIOUS`` (off whichever version had it before).

>>> move_stages({"v1": ["AWSCURRENT"]}, "v2", ["AWSCURRENT"])
{'v1': ['AWSPREVIOUS'], 'v2': ['AWSCURRENT']}
>>> move_stages({"v1": ["AWSPREVIOUS"], "v2": ["AWSCURRENT"]}, "v3", ["AWSCURRENT"])
{'v1': [], 'v2': ['AWSPREVIOUS'], 'v3': ['AWSCURRENT']}
>>> move_stages({"v1": ["AWSCURRENT"]}, "v2", ["AWSPENDING"])
{'v1': ['AWSCURRENT'], 'v2': ['AWSPENDING']}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ecsbox.secrets.model import AWSCURRENT, AWSPREVIOUS

Versions = dict[str, list[str]]


def version_with_stage(versions: Mapping[str, Sequence[str]], stage: str) -> str | None:
    """The version carrying ``stage``, or None."""
    for version_id, stages in versions.items():
        if stage in stages:
            return version_id
    return None


def move_stages(versions: Mapping[str, Sequence[str]], version_id: str, stages: Sequence[str]) -> Versions:
    """The versions after attaching ``stages`` to ``version_id`` (new or existing)."""
    wanted = list(dict.fromkeys(stages))
    moved: Versions = {vid: [s for s in labels if s not in wanted] for vid, labels in versions.items()}
    moved.setdefault(version_id, [])
    previous_current = version_with_stage(versions, AWSCURRENT) if AWSCURRENT in wanted else None
    if previous_current is not None and previous_current != version_id:
        for labels in moved.values():
            if AWSPREVIOUS in labels:
                labels.remove(AWSPREVIOUS)
        moved[previous_current].append(AWSPREVIOUS)
    moved[version_id] = [*moved[version_id], *[s for s in wanted if s not in moved[version_id]]]
    return moved


def versions_to_drop(versions_oldest_first: Mapping[str, Sequence[str]], keep: int) -> list[str]:
    """Unlabelled (deprecated) versions to remove, oldest first, so that at most ``keep`` remain.
    Labelled versions are never removed.

    >>> versions_to_drop({"a": [], "b": ["AWSPREVIOUS"], "c": [], "d": ["AWSCURRENT"]}, 2)
    ['a', 'c']
    """
    excess = len(versions_oldest_first) - keep
    if excess <= 0:
        return []
    unlabelled = [vid for vid, labels in versions_oldest_first.items() if not labels]
    return unlabelled[:excess]
