"""Capacity provider strategies at run time: base / weight split, incremental placement, scale-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecs.capacity import (
    ProviderShare,
    ResolvedCapacity,
    next_providers,
    resolve_strategy,
    scale_in_providers,
    shares,
    split,
)
from ecsbox.ecs.model import EcsRuleError

SEED = json.loads(Path("/work/shared/seed/capacity-provider-strategy.base2-spot.json").read_text())
BASE2_SPOT = shares(SEED["capacityProviderStrategy"])  # FARGATE base 2 weight 1, FARGATE_SPOT weight 1
BASE2_1_TO_3 = (ProviderShare("FARGATE", 2, 1), ProviderShare("FARGATE_SPOT", 0, 3))


def test_seed_becomes_shares() -> None:
    assert (ProviderShare("FARGATE", 2, 1), ProviderShare("FARGATE_SPOT", 0, 1)) == BASE2_SPOT


@pytest.mark.parametrize(
    ("task_count", "fargate", "spot"),
    [(0, 0, 0), (1, 1, 0), (2, 2, 0), (3, 3, 0), (4, 3, 1), (5, 4, 1), (6, 4, 2), (7, 5, 2), (10, 6, 4)],
)
def test_seed_split(task_count: int, fargate: int, spot: int) -> None:
    # base 2 first, then 1:1 with ties to the first item
    assert split(BASE2_SPOT, task_count) == {"FARGATE": fargate, "FARGATE_SPOT": spot}


@pytest.mark.parametrize(
    ("task_count", "fargate", "spot"),
    [(1, 1, 0), (2, 2, 0), (6, 3, 3), (10, 4, 6), (11, 4, 7)],  # SEMANTICS §3.1 worked example
)
def test_semantics_worked_example(task_count: int, fargate: int, spot: int) -> None:
    assert split(BASE2_1_TO_3, task_count) == {"FARGATE": fargate, "FARGATE_SPOT": spot}


@pytest.mark.parametrize(
    ("strategy", "task_count", "expected"),
    [
        ((ProviderShare("A", 0, 1), ProviderShare("B", 0, 4)), 5, {"A": 1, "B": 4}),  # "1 for every 4"
        ((ProviderShare("A", 0, 1), ProviderShare("B", 0, 0)), 5, {"A": 5, "B": 0}),  # weight 0: never
        ((ProviderShare("A", 3, 0), ProviderShare("B", 0, 1)), 5, {"A": 3, "B": 2}),  # base only
        ((ProviderShare("A", 0, 0),), 4, {"A": 4}),  # a single provider takes all, whatever its weight
        (
            (ProviderShare("A", 0, 1), ProviderShare("B", 0, 1), ProviderShare("C", 0, 1)),
            4,
            {"A": 2, "B": 1, "C": 1},
        ),
        ((ProviderShare("A", 5, 1), ProviderShare("B", 0, 1)), 3, {"A": 3, "B": 0}),  # base not reached
    ],
)
def test_split_table(strategy: tuple[ProviderShare, ...], task_count: int, expected: dict[str, int]) -> None:
    assert split(strategy, task_count) == expected


def test_split_with_no_weight_beyond_the_base_is_refused() -> None:
    with pytest.raises(EcsRuleError, match="weight"):
        split((ProviderShare("A", 1, 0), ProviderShare("B", 0, 0)), 2)


@pytest.mark.parametrize(
    ("current", "count", "expected"),
    [
        ({}, 6, ["FARGATE", "FARGATE", "FARGATE", "FARGATE_SPOT", "FARGATE", "FARGATE_SPOT"]),
        ({"FARGATE": 2}, 2, ["FARGATE", "FARGATE_SPOT"]),
        ({"FARGATE_SPOT": 3}, 3, ["FARGATE", "FARGATE", "FARGATE"]),  # catches up the base
        ({"EC2_OLD": 4}, 1, ["FARGATE"]),  # providers outside the strategy count toward the total
        ({"FARGATE": 4, "FARGATE_SPOT": 2}, 0, []),
    ],
)
def test_next_providers(current: dict[str, int], count: int, expected: list[str]) -> None:
    assert next_providers(BASE2_SPOT, current, count) == expected


@pytest.mark.parametrize(
    ("current", "count", "expected"),
    [
        ({"FARGATE": 4, "FARGATE_SPOT": 2}, 3, ["FARGATE_SPOT", "FARGATE", "FARGATE_SPOT"]),
        ({"FARGATE": 2, "FARGATE_SPOT": 0}, 1, ["FARGATE"]),
        ({"OLD": 1, "FARGATE": 2, "FARGATE_SPOT": 1}, 1, ["OLD"]),  # not in the strategy: first to go
        ({"FARGATE": 1}, 5, ["FARGATE"]),  # never more than there are
    ],
)
def test_scale_in_providers(current: dict[str, int], count: int, expected: list[str]) -> None:
    assert scale_in_providers(BASE2_SPOT, current, count) == expected


FARGATE_DEFAULT = [{"capacityProvider": "FARGATE", "weight": 1}]


@pytest.mark.parametrize(
    ("launch_type", "strategy", "cluster_default", "expected"),
    [
        ("FARGATE", None, FARGATE_DEFAULT, ResolvedCapacity("FARGATE")),
        (None, SEED["capacityProviderStrategy"], FARGATE_DEFAULT, ResolvedCapacity(None, BASE2_SPOT)),
        (None, [], FARGATE_DEFAULT, ResolvedCapacity(None, (ProviderShare("FARGATE", 0, 1),))),
        (None, None, None, ResolvedCapacity("EC2")),
        (None, None, [], ResolvedCapacity("EC2")),
    ],
)
def test_resolve_strategy_precedence(
    launch_type: str | None,
    strategy: list[dict[str, object]] | None,
    cluster_default: list[dict[str, object]] | None,
    expected: ResolvedCapacity,
) -> None:
    assert resolve_strategy(launch_type, strategy, cluster_default) == expected


def test_launch_type_and_strategy_together_are_refused() -> None:
    with pytest.raises(EcsRuleError, match="Specifying both a launch type and capacity provider strategy"):
        resolve_strategy("FARGATE", SEED["capacityProviderStrategy"], None)


share_lists = (
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 10)), min_size=1, max_size=5)
    .map(
        lambda items: tuple(
            ProviderShare(f"cp{index}", base if index == 0 else 0, weight)
            for index, (base, weight) in enumerate(items)
        )
    )
    .filter(lambda strategy: len(strategy) == 1 or any(share.weight for share in strategy))
)


@given(share_lists, st.integers(0, 300))
def test_split_sums_to_the_task_count_and_respects_base(
    strategy: tuple[ProviderShare, ...], task_count: int
) -> None:
    result = split(strategy, task_count)
    assert sum(result.values()) == task_count
    first = strategy[0]
    assert result[first.capacity_provider] >= min(first.base, task_count)
    if len(strategy) > 1:
        for share in strategy[1:]:
            if share.weight == 0:
                assert result[share.capacity_provider] == 0
    # one more task never takes one away from any provider (what lets a service place incrementally)
    bigger = split(strategy, task_count + 1)
    assert all(bigger[name] >= count for name, count in result.items())


@given(share_lists, st.integers(0, 60), st.integers(0, 60))
def test_incremental_placement_reaches_the_split(
    strategy: tuple[ProviderShare, ...], first: int, second: int
) -> None:
    placed = next_providers(strategy, {}, first)
    counts = {name: placed.count(name) for name in set(placed)}
    assert {name: counts.get(name, 0) for name in split(strategy, first)} == split(strategy, first)
    more = next_providers(strategy, counts, second)
    assert len(more) == second
    after_scale_in = dict(counts)
    for name in scale_in_providers(strategy, counts, min(first, second)):
        after_scale_in[name] -= 1
    remaining = first - min(first, second)
    assert {name: after_scale_in.get(name, 0) for name in split(strategy, remaining)} == split(
        strategy, remaining
    )
