"""Capacity provider strategies at run time: which provider each task goes to (SEMANTICS §3.1).

Validation lives in :mod:`ecsbox.ecs.strategy`; this module assumes a valid, placeable strategy.

The split (AWS documents the idea, not the rounding): ``base`` tasks go first to the item that has
one; the rest are shared in proportion to the weights, the base item taking part too. ecsbox rounds
with Sainte-Lague / Webster (each next task to the item with the highest ``weight / (2 * tasks + 1)``,
ties to the earlier item). It gives the same answers as SEMANTICS' largest-remainder table, and unlike
largest remainder it never takes a task away from a provider when the total grows (no "Alabama
paradox"), so a service that places one task at a time always lands exactly on the split. A service
keeps the split incrementally: each new task goes to the provider furthest below its share of the new
total, each task to stop comes from the provider furthest above its share of the smaller total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsbox.ecs.model import LAUNCH_TYPE_EC2, invalid_parameter
from ecsbox.ecs.strategy import normalise_item


@dataclass(frozen=True)
class ProviderShare:
    """One ``capacityProviderStrategy`` item."""

    capacity_provider: str
    base: int = 0
    weight: int = 0


@dataclass(frozen=True)
class ResolvedCapacity:
    """How a service or RunTask places tasks: a launch type, or a capacity provider strategy."""

    launch_type: str | None
    strategy: tuple[ProviderShare, ...] = ()


def shares(strategy: Sequence[Mapping[str, Any]]) -> tuple[ProviderShare, ...]:
    """API items to shares, defaults filled in: ``[{"capacityProvider": "FARGATE", "base": 2}]`` →
    ``(ProviderShare("FARGATE", base=2, weight=0),)``."""
    result = []
    for item in strategy:
        normal = normalise_item(item)
        result.append(ProviderShare(str(normal["capacityProvider"]), normal["base"], normal["weight"]))
    return tuple(result)


def resolve_strategy(
    launch_type: str | None,
    strategy: Sequence[Mapping[str, Any]] | None,
    cluster_default: Sequence[Mapping[str, Any]] | None,
) -> ResolvedCapacity:
    """The precedence rule: an explicit launch type, else the request's strategy, else the cluster's
    default strategy, else the EC2 launch type. A launch type and a strategy together are rejected.

    Examples: ``("FARGATE", None, default)`` → launch type FARGATE; ``(None, [], [FARGATE w1])`` → the
    cluster default; ``(None, None, None)`` → EC2.
    """
    if launch_type and strategy:
        raise invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. "
            "Remove one and try again."
        )
    if launch_type:
        return ResolvedCapacity(launch_type)
    if strategy:
        return ResolvedCapacity(None, shares(strategy))
    if cluster_default:
        return ResolvedCapacity(None, shares(cluster_default))
    return ResolvedCapacity(LAUNCH_TYPE_EC2)


def split(strategy: Sequence[ProviderShare], task_count: int) -> dict[str, int]:
    """How ``task_count`` tasks are shared out: base first, the rest by weight (Sainte-Lague, ties to
    the earlier item). A single-item strategy takes everything whatever its weight.

    Examples: FARGATE base 2 weight 1 + FARGATE_SPOT weight 1, 6 tasks → {FARGATE: 4, FARGATE_SPOT: 2};
    FARGATE base 2 weight 1 + FARGATE_SPOT weight 3: 1 → 1/0, 6 → 3/3, 10 → 4/6, 11 → 4/7
    (the 9 after the base split 2.25 / 6.75 → 2 / 7).
    """
    result = {share.capacity_provider: 0 for share in strategy}
    remaining = task_count
    for share in strategy:
        taken = min(share.base, remaining)
        result[share.capacity_provider] += taken
        remaining -= taken
    if remaining <= 0:
        return result
    weights = [share.weight for share in strategy]
    if len(strategy) == 1:
        weights = [1]
    if sum(weights) == 0:
        raise invalid_parameter(
            "The specified capacity provider strategy has no capacity provider with a weight greater than 0."
        )
    # Sainte-Lague (Webster): each task goes to the item with the highest weight / (2 * tasks + 1),
    # compared exactly by cross-multiplying; the earlier item wins a tie.
    quotas = [0] * len(strategy)
    for _ in range(remaining):
        best = 0
        for index in range(1, len(strategy)):
            if weights[index] * (2 * quotas[best] + 1) > weights[best] * (2 * quotas[index] + 1):
                best = index
        quotas[best] += 1
    for share, quota in zip(strategy, quotas, strict=True):
        result[share.capacity_provider] += quota
    return result


def next_providers(
    strategy: Sequence[ProviderShare], current_counts: Mapping[str, int], count: int
) -> list[str]:
    """The provider for each of the next ``count`` tasks of a service that already runs
    ``current_counts`` (per provider, the service's tasks in flight): each goes to the provider furthest
    below its share of the new total, ties to the earlier item.

    Example: FARGATE base 2 weight 1, FARGATE_SPOT weight 1, nothing running, 6 tasks →
    ``[FARGATE, FARGATE, FARGATE, FARGATE_SPOT, FARGATE, FARGATE_SPOT]``; with {FARGATE: 2} running,
    2 more → ``[FARGATE, FARGATE_SPOT]``.
    """
    counts = dict(current_counts)
    chosen: list[str] = []
    for _ in range(count):
        target = split(strategy, sum(counts.values()) + 1)
        provider = max(
            (share.capacity_provider for share in strategy),
            key=lambda name: target[name] - counts.get(name, 0),
        )
        counts[provider] = counts.get(provider, 0) + 1
        chosen.append(provider)
    return chosen


def scale_in_providers(
    strategy: Sequence[ProviderShare], current_counts: Mapping[str, int], count: int
) -> list[str]:
    """The provider to take each of the next ``count`` stopped tasks from, keeping the split: the one
    furthest above its share of the smaller total. Providers no longer in the strategy go first; ties go
    to the later strategy item (the base provider keeps its tasks longest).

    Example: FARGATE base 2 weight 1, FARGATE_SPOT weight 1, running {FARGATE: 4, FARGATE_SPOT: 2},
    stop 3 → ``[FARGATE_SPOT, FARGATE, FARGATE_SPOT]``, leaving {FARGATE: 3}, the split of 3 tasks.
    """
    counts = {name: number for name, number in current_counts.items() if number > 0}
    order = [share.capacity_provider for share in strategy]
    chosen: list[str] = []
    for _ in range(min(count, sum(counts.values()))):
        target = split(strategy, sum(counts.values()) - 1)
        provider = _most_over(counts, target, order)
        counts[provider] -= 1
        chosen.append(provider)
    return chosen


def _most_over(counts: Mapping[str, int], target: Mapping[str, int], order: Sequence[str]) -> str:
    """The provider with most tasks above its target; ties to the later one in ``order``, providers
    outside it (no longer in the strategy) last of all, i.e. first to lose a task."""

    def key(name: str) -> tuple[int, int]:
        return (counts[name] - target.get(name, 0), order.index(name) if name in order else len(order))

    return max((name for name, number in counts.items() if number > 0), key=key)
