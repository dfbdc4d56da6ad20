"""Capacity provider strategy rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecs.model import EcsRuleError
from ecsbox.ecs.strategy import check_strategy, is_placeable, normalise_item

SEED = json.loads(Path("/work/shared/seed/capacity-provider-strategy.base2-spot.json").read_text())


def test_seed_strategy_is_valid() -> None:
    assert check_strategy(SEED["capacityProviderStrategy"], ["FARGATE", "FARGATE_SPOT"]) == [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 2},
        {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0},
    ]


def test_defaults_are_zero() -> None:
    assert normalise_item({"capacityProvider": "FARGATE"}) == {
        "capacityProvider": "FARGATE",
        "weight": 0,
        "base": 0,
    }


def items(*specs: tuple[str, int, int]) -> list[dict[str, Any]]:
    return [{"capacityProvider": name, "weight": weight, "base": base} for name, weight, base in specs]


@pytest.mark.parametrize(
    ("strategy", "associated", "fragment"),
    [
        (items(("FARGATE", 1, 1), ("FARGATE_SPOT", 1, 1)), None, "Only one capacity provider"),
        (items(("FARGATE", 1, 0), ("FARGATE", 2, 0)), None, "duplicate"),
        (items(("FARGATE", 1001, 0)), None, "weight value"),
        (items(("FARGATE", -1, 0)), None, "weight value"),
        (items(("FARGATE", 1, 100_001)), None, "base value"),
        (items(("FARGATE", 1, 0), ("my-asg", 1, 0)), None, "mix"),
        (items(("FARGATE_SPOT", 1, 0)), ["FARGATE"], "not associated with the cluster"),
        (items(*[(f"p{i}", 1, 0) for i in range(21)]), None, "more than 20"),
        ([{"weight": 1}], None, "must specify a capacity provider"),
    ],
)
def test_invalid_strategies(
    strategy: list[dict[str, Any]], associated: list[str] | None, fragment: str
) -> None:
    with pytest.raises(EcsRuleError) as caught:
        check_strategy(strategy, associated)
    assert caught.value.code == "InvalidParameterException"
    assert fragment in caught.value.message


def test_limits_are_inclusive() -> None:
    check_strategy(items(("FARGATE", 1000, 100_000), ("FARGATE_SPOT", 0, 0)))
    check_strategy(items(*[(f"p{i}", 1, 0) for i in range(20)]))
    check_strategy([])


@pytest.mark.parametrize(
    ("strategy", "placeable"),
    [
        (items(("FARGATE", 0, 0)), True),
        (items(("FARGATE", 0, 0), ("FARGATE_SPOT", 0, 0)), False),
        (items(("FARGATE", 0, 2), ("FARGATE_SPOT", 1, 0)), True),
    ],
)
def test_placeable(strategy: list[dict[str, Any]], placeable: bool) -> None:
    assert is_placeable(strategy) is placeable


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 1000), st.integers(0, 100_000)),
        max_size=5,
    )
)
def test_accepted_strategies_have_at_most_one_base_and_unique_providers(
    specs: list[tuple[str, int, int]],
) -> None:
    try:
        checked = check_strategy(items(*specs))
    except EcsRuleError:
        names = [s[0] for s in specs]
        assert len(set(names)) != len(names) or sum(1 for s in specs if s[2] > 0) > 1
        return
    assert sum(1 for item in checked if item["base"] > 0) <= 1
    assert len({item["capacityProvider"] for item in checked}) == len(checked)
