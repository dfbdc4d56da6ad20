"""ListMetrics' rules and the read operations' paging tokens (pure)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.metrics.listing import filters_of, listed_since, matches
from ecsbox.metrics.model import MetricsRuleError
from ecsbox.metrics.paging import (
    Resume,
    data_token,
    decode_data_token,
    decode_list_token,
    list_token,
    request_fingerprint,
)

DIMS = (("ClusterName", "c"), ("ServiceName", "web"))


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ([], True),
        ([("ClusterName", None)], True),
        ([("ClusterName", "c"), ("ServiceName", "web")], True),
        ([("ServiceName", "api")], False),
        ([("TaskDefinitionFamily", None)], False),
        ([("clustername", None)], False),
    ],
)
def test_dimension_filters(filters: list[tuple[str, str | None]], kept: bool) -> None:
    assert matches(DIMS, filters) is kept


def test_filters_of_and_listed_since() -> None:
    assert filters_of(None) == []
    assert filters_of([{"Name": "A"}, {"Name": "B", "Value": "1"}]) == [("A", None), ("B", "1")]
    assert listed_since(100 * 86_400.0, None) == 86 * 86_400.0
    assert listed_since(100 * 86_400.0, "PT3H") == 100 * 86_400.0 - 3 * 3_600


@given(st.tuples(st.text(max_size=20), st.text(max_size=20), st.text(max_size=40)))
def test_list_tokens_round_trip(key: tuple[str, str, str]) -> None:
    assert decode_list_token(list_token(key)) == key


@pytest.mark.parametrize(
    "token", ["", "garbage", list_token(("a", "b", "c"))[:-3], data_token("f", Resume(0, 1.0))]
)
def test_a_bad_list_token_is_invalid_parameter_value(token: str) -> None:
    with pytest.raises(MetricsRuleError) as caught:
        decode_list_token(token)
    assert (caught.value.code, caught.value.message) == (
        "InvalidParameterValue",
        "The value for parameter NextToken is invalid.",
    )


def test_data_tokens_belong_to_their_request() -> None:
    fingerprint = request_fingerprint({"queries": [1], "start": 0})
    assert fingerprint != request_fingerprint({"queries": [2], "start": 0})
    token = data_token(fingerprint, Resume(3, 1_700_000_000.0))
    assert decode_data_token(token, fingerprint) == Resume(3, 1_700_000_000.0)
    assert decode_data_token(data_token(fingerprint, Resume(0, math.inf)), fingerprint).after == math.inf
    for bad in (token, "garbage", list_token(("a", "b", "c"))):
        with pytest.raises(MetricsRuleError) as caught:
            decode_data_token(bad, "other" if bad == token else fingerprint)
        assert caught.value.code == "InvalidNextToken"
