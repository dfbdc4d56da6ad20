"""Tokens: listing tokens, GetLogEvents' forward / backward tokens, FilterLogEvents' position."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.logs.model import INVALID_TOKEN, LogsRuleError, event_id
from ecsbox.logs.paging import (
    BACKWARD,
    FORWARD,
    Gap,
    ScanPosition,
    decode_filter_token,
    decode_stream_token,
    decode_token,
    encode_token,
    filter_token,
    sequence_token,
    stream_token,
)

LONG = 2**63 - 1


@given(st.sampled_from([FORWARD, BACKWARD]), st.integers(0, LONG), st.integers(0, LONG))
def test_stream_tokens_round_trip_and_look_like_aws(direction: str, timestamp: int, seq: int) -> None:
    token = stream_token(direction, Gap(timestamp, seq))
    assert token[:2] in ("f/", "b/")
    assert len(token) == 58 and token[2:].isdigit()
    assert decode_stream_token(token) == (direction, Gap(timestamp, seq))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "f/",
        "x/" + "0" * 56,
        "f/" + "0" * 55,
        "f/" + "a" * 56,
        "f/" + "٣" * 56,  # digits, but not ASCII ones
        "f/" + "0" * 56,  # the check digits do not fit
    ],
)
def test_malformed_stream_tokens_are_invalid_parameters(token: str) -> None:
    with pytest.raises(LogsRuleError) as caught:
        decode_stream_token(token)
    assert (caught.value.code, caught.value.message) == ("InvalidParameterException", INVALID_TOKEN)


def test_a_changed_digit_is_refused() -> None:
    token = stream_token(FORWARD, Gap(1_700_000_000_000, 7))
    changed = token[:10] + ("1" if token[10] != "1" else "2") + token[11:]
    with pytest.raises(LogsRuleError):
        decode_stream_token(changed)


def test_gaps_order_events_by_timestamp_then_seq() -> None:
    assert Gap.after(5, 9) == Gap(5, 10)
    assert Gap(5, 10) < Gap(6, 0) < Gap(6, 1)


def test_listing_tokens_belong_to_their_listing() -> None:
    token = encode_token("DescribeLogGroups", ["/ecs/web"])
    assert decode_token(token, "DescribeLogGroups") == ["/ecs/web"]
    for bad in (token, "!!", "bm90LWpzb24", encode_token("DescribeLogGroups", "x")):  # type: ignore[arg-type]
        with pytest.raises(LogsRuleError):
            decode_token(bad, "DescribeLogStreams")


def test_filter_tokens_carry_position_and_direction_for_one_group() -> None:
    position = ScanPosition(False, 1_700_000_000_000, 42)
    token = filter_token(7, position)
    assert decode_filter_token(token, 7) == position
    with pytest.raises(LogsRuleError):
        decode_filter_token(token, 8)  # another group's token
    with pytest.raises(LogsRuleError):
        decode_filter_token(encode_token("FilterLogEvents", [7, 1, "x", 2]), 7)


def test_sequence_tokens_and_event_ids_are_56_digits() -> None:
    assert sequence_token(3, 1) != sequence_token(3, 2)
    assert len(sequence_token(3, 1)) == 56 and sequence_token(3, 1).isdigit()
    assert event_id(12) == "0" * 54 + "12"
