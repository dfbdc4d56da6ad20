"""Capacity provider strategies: the rules an item list must satisfy wherever it is given
(CreateCluster, PutClusterCapacityProviders; later CreateService and RunTask).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecsbox.ecs.model import FARGATE_PROVIDERS, invalid_parameter

MAX_STRATEGY_ITEMS = 20
WEIGHT_MIN, WEIGHT_MAX = 0, 1000
BASE_MIN, BASE_MAX = 0, 100_000

StrategyItem = dict[str, Any]


def normalise_item(item: Mapping[str, Any]) -> StrategyItem:
    """An item as ECS stores and prints it, defaults filled in:
    ``{"capacityProvider": "FARGATE"}`` → ``{"capacityProvider": "FARGATE", "weight": 0, "base": 0}``."""
    return {
        "capacityProvider": item.get("capacityProvider"),
        "weight": int(item.get("weight") or 0),
        "base": int(item.get("base") or 0),
    }


def check_strategy(
    strategy: Sequence[Mapping[str, Any]],
    associated: Sequence[str] | None = None,
) -> list[StrategyItem]:
    """Validate a strategy and return it normalised.

    ``associated``: the providers of the cluster the strategy is for; every item must name one.
    Rules: at most 20 items; no provider twice; weight 0-1000; base 0-100000; only one item with a
    base above 0; Fargate and Auto Scaling group providers not mixed. Example: the seed
    ``FARGATE base 2 weight 1, FARGATE_SPOT base 0 weight 1`` is valid (only one base above 0).
    """
    items = [normalise_item(item) for item in strategy]
    if len(items) > MAX_STRATEGY_ITEMS:
        raise invalid_parameter(
            "The capacity provider strategy cannot contain more than "
            f"{MAX_STRATEGY_ITEMS} capacity providers."
        )
    names = [item["capacityProvider"] for item in items]
    for item in items:
        if not item["capacityProvider"]:
            raise invalid_parameter("The capacity provider strategy item must specify a capacity provider.")
        if not WEIGHT_MIN <= item["weight"] <= WEIGHT_MAX:
            raise invalid_parameter(
                f"The weight value for capacity provider {item['capacityProvider']} must be between "
                f"{WEIGHT_MIN} and {WEIGHT_MAX}."
            )
        if not BASE_MIN <= item["base"] <= BASE_MAX:
            raise invalid_parameter(
                f"The base value for capacity provider {item['capacityProvider']} must be between "
                f"{BASE_MIN} and {BASE_MAX}."
            )
    if len(set(names)) != len(names):
        raise invalid_parameter("The capacity provider strategy cannot contain duplicate capacity providers.")
    if sum(1 for item in items if item["base"] > 0) > 1:
        raise invalid_parameter(
            "Only one capacity provider in a capacity provider strategy can have a base specified."
        )
    fargate_items = [name for name in names if name in FARGATE_PROVIDERS]
    if fargate_items and len(fargate_items) != len(names):
        raise invalid_parameter(
            "The capacity provider strategy cannot contain a mix of capacity providers using Auto "
            "Scaling groups and Fargate providers. Specify one or the other and try again."
        )
    if associated is not None:
        for name in names:
            if name not in associated:
                raise invalid_parameter(
                    f"The specified capacity provider strategy cannot contain a capacity provider "
                    f"that is not associated with the cluster. Associate the capacity provider "
                    f"{name} with the cluster or specify a valid capacity provider and try again."
                )
    return items


def is_placeable(strategy: Sequence[Mapping[str, Any]]) -> bool:
    """Whether tasks can be placed with this strategy: a single provider always can; several need
    at least one weight above 0 (ECS rejects RunTask / CreateService otherwise)."""
    items = [normalise_item(item) for item in strategy]
    return len(items) == 1 or any(item["weight"] > 0 for item in items)
