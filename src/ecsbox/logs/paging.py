"""Tokens CloudWatch Logs hands out (pure): listing tokens, GetLogEvents' forward / backward tokens,
FilterLogEvents' position, and the (deprecated) sequence token.

Listing and FilterLogEvents tokens are URL-safe base64 of the listing they belong to and the sort
key of the last item returned (keyset pagination: items added or removed between pages never shift
the next page). GetLogEvents tokens look like AWS's: ``f/`` or ``b/`` and 56 digits.

>>> decode_token(encode_token("DescribeLogGroups", ["web"]), "DescribeLogGroups")
['web']
>>> decode_stream_token(stream_token(FORWARD, Gap(1700000000000, 42)))
('f', Gap(timestamp=1700000000000, seq=42))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecsbox.core import paging as core_paging
from ecsbox.core.paging import encode_token as encode_token  # the shared codec
from ecsbox.logs.model import INVALID_TOKEN, invalid_parameter

FORWARD = "f"
BACKWARD = "b"
_DIGITS = 19  # an unsigned 63-bit number
_CHECK_DIGITS = 56 - 2 * _DIGITS
_CHECK_MOD = 10**_CHECK_DIGITS


def decode_token(token: str, scope: str) -> list[Any]:
    """The last key a token carries; InvalidParameterException when it is not one of ours for
    this listing."""
    key = core_paging.decode_token(token, scope)
    if key is None:
        raise invalid_parameter(INVALID_TOKEN)
    return key


def page_limit(limit: int | None, default: int) -> int:
    """``limit`` as given (the model bounds it), else the default."""
    return default if limit is None else int(limit)


# ---- GetLogEvents --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Gap:
    """A place between events of a stream, in (timestamp, seq) order: events whose key is at or
    after the gap lie forward of it, the others backward. ``Gap(t, s)`` sits just before the
    event with timestamp ``t`` and seq ``s``."""

    timestamp: int
    seq: int

    @staticmethod
    def after(timestamp: int, seq: int) -> Gap:
        """The gap just after the event (timestamp, seq)."""
        return Gap(timestamp, seq + 1)


def _check(gap: Gap) -> int:
    return (gap.timestamp * 1_000_003 + gap.seq * 7_919 + 17) % _CHECK_MOD


def stream_token(direction: str, gap: Gap) -> str:
    """``f/`` (forward) or ``b/`` (backward) and 56 digits: the gap's timestamp and seq, then a
    check so a mistyped token is refused rather than read as some other place."""
    return f"{direction}/{gap.timestamp:0{_DIGITS}d}{gap.seq:0{_DIGITS}d}{_check(gap):0{_CHECK_DIGITS}d}"


def decode_stream_token(token: str) -> tuple[str, Gap]:
    """(direction, gap) of a GetLogEvents token; InvalidParameterException for anything else."""
    direction, _, digits = token.partition("/")
    if (
        direction not in (FORWARD, BACKWARD)
        or len(digits) != 56
        or not digits.isascii()
        or not digits.isdigit()
    ):
        raise invalid_parameter(INVALID_TOKEN)
    gap = Gap(int(digits[:_DIGITS]), int(digits[_DIGITS : 2 * _DIGITS]))
    if int(digits[2 * _DIGITS :]) != _check(gap):
        raise invalid_parameter(INVALID_TOKEN)
    return direction, gap


# ---- FilterLogEvents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanPosition:
    """Where a FilterLogEvents scan stopped: the last event looked at, and the direction."""

    ascending: bool
    timestamp: int
    seq: int


_FILTER_SCOPE = "FilterLogEvents"


def filter_token(group_id: int, position: ScanPosition) -> str:
    return encode_token(_FILTER_SCOPE, [group_id, int(position.ascending), position.timestamp, position.seq])


def decode_filter_token(token: str, group_id: int) -> ScanPosition:
    """The position a FilterLogEvents token carries; it must belong to this log group."""
    key = decode_token(token, _FILTER_SCOPE)
    if len(key) != 4 or not all(isinstance(part, int) and not isinstance(part, bool) for part in key):
        raise invalid_parameter(INVALID_TOKEN)
    if key[0] != group_id:
        raise invalid_parameter(INVALID_TOKEN)
    return ScanPosition(bool(key[1]), key[2], key[3])


# ---- sequence tokens -----------------------------------------------------------------------------


def sequence_token(stream_id: int, upload_seq: int) -> str:
    """PutLogEvents' ``nextSequenceToken`` (ignored by AWS since 2023, still returned): 56 digits,
    different after every batch. ``sequence_token(3, 1)`` is ``"49"``, 3 and 1 in 27 digits each."""
    return f"49{stream_id:027d}{upload_seq:027d}"
