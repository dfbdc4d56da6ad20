"""Pagination tokens, page sizes, tag rules, references."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecs.model import EcsRuleError
from ecsbox.ecs.paging import decode_token, encode_token, page_size
from ecsbox.ecs.references import parse_named, parse_task_definition
from ecsbox.ecs.tag_rules import check_tags


@given(st.text(max_size=30), st.lists(st.one_of(st.integers(), st.text(max_size=20)), max_size=3))
def test_tokens_round_trip(scope: str, key: list[object]) -> None:
    assert decode_token(encode_token(scope, key), scope) == key


@given(st.text(max_size=60))
def test_any_string_decodes_or_is_an_invalid_parameter(token: str) -> None:
    try:
        decode_token(token, "scope")
    except EcsRuleError as error:
        assert error.code == "InvalidParameterException"


def test_token_bound_to_its_listing() -> None:
    with pytest.raises(EcsRuleError):
        decode_token(encode_token("a", [1]), "b")


@pytest.mark.parametrize(("given_", "expected"), [(None, 100), (1, 1), (100, 100)])
def test_page_size(given_: int | None, expected: int) -> None:
    assert page_size(given_, 100, 100) == expected


@pytest.mark.parametrize("bad", [0, -1, 101])
def test_page_size_bounds(bad: int) -> None:
    with pytest.raises(EcsRuleError, match="maxResults"):
        page_size(bad, 100, 100)


def test_tags() -> None:
    assert check_tags([{"key": "a", "value": "1"}, {"key": "b"}]) == [
        {"key": "a", "value": "1"},
        {"key": "b", "value": ""},
    ]
    check_tags([{"key": "k" * 128, "value": "v" * 256}])
    for bad in (
        [{"key": ""}],
        [{"key": "k" * 129}],
        [{"key": "a", "value": "v" * 257}],
        [{"key": "AWS:x"}],
        [{"key": "a"}, {"key": "a"}],
    ):
        with pytest.raises(EcsRuleError):
            check_tags(bad)
    check_tags([{"key": "new"}], existing_keys=[f"k{i}" for i in range(49)])
    with pytest.raises(EcsRuleError):
        check_tags([{"key": "new"}], existing_keys=[f"k{i}" for i in range(50)])
    check_tags([{"key": "k1"}], existing_keys=[f"k{i}" for i in range(50)])  # replacing a value


@pytest.mark.parametrize(
    ("text", "family", "revision", "foreign"),
    [
        ("web", "web", None, False),
        ("web:3", "web", 3, False),
        ("arn:aws:ecs:r:111111111111:task-definition/web:3", "web", 3, False),
        ("arn:aws:ecs:r:222222222222:task-definition/web:3", "web", 3, True),
        ("arn:aws:ecs:other:111111111111:task-definition/web", "web", None, True),
    ],
)
def test_task_definition_references(text: str, family: str, revision: int | None, foreign: bool) -> None:
    ref = parse_task_definition(text, "111111111111", "r")
    assert (ref.family, ref.revision, ref.foreign) == (family, revision, foreign)


@pytest.mark.parametrize("text", ["web:0", "web:x", "web:-1", "arn:aws:ecs:r:1:cluster/web", ":1"])
def test_bad_task_definition_references(text: str) -> None:
    with pytest.raises(EcsRuleError) as caught:
        parse_task_definition(text, "1", "r")
    assert caught.value.code == "ClientException"


def test_named_references() -> None:
    assert parse_named("c", "cluster", "1", "r") == "c"
    assert parse_named("arn:aws:ecs:r:1:cluster/c", "cluster", "1", "r") == "c"
    assert parse_named("arn:aws:ecs:r:2:cluster/c", "cluster", "1", "r") is None
    assert parse_named("arn:aws:ecs:r:1:service/c", "cluster", "1", "r") is None
    assert parse_named("arn:broken", "cluster", "1", "r") is None
