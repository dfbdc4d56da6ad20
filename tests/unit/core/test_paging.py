"""The shared token codec: every key a listing hands out comes back; a tampered token is not ours
(None, which each capability answers with its own error), never an exception."""

import base64
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.core.paging import decode_token, encode_token


def forged(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


@pytest.mark.parametrize(
    "key",
    [
        ["web"],
        [3, "db"],
        [1_700_000_000.25, 7],
        [0, math.inf],
        [2, -math.inf],
        [2**63 - 1, -(2**63)],
        [None, True],
    ],
)
def test_every_key_a_listing_hands_out_comes_back(key: list[object]) -> None:
    assert decode_token(encode_token("Scope", key), "Scope") == key


@pytest.mark.parametrize(
    "payload",
    [
        b'{"s":"Scope","k":["\\ud800"]}',  # a lone surrogate: no database stores it
        b'{"s":"Scope","k":[NaN]}',
        b'{"s":"Scope","k":[9223372036854775808]}',  # past 64 bits
        b'{"s":"Scope","k":[[1]]}',
        b'{"s":"Scope","k":[{"a":1}]}',
        b'{"s":"Scope","k":' + b"[" * 50_000 + b"]" * 50_000 + b"}",  # past the parser's recursion
        b"[" * 50_000,
        b'{"s":"Other","k":["web"]}',
        b"\xff\xfe",
    ],
)
def test_a_tampered_token_is_not_ours(payload: bytes) -> None:
    assert decode_token(forged(payload), "Scope") is None


@given(st.text(max_size=200))
def test_no_text_makes_the_decoder_raise(token: str) -> None:
    decoded = decode_token(token, "Scope")
    assert decoded is None or isinstance(decoded, list)
