"""Confirmation tokens. A token carries the wall-clock time it was issued (so its two-day lifetime
and the 48-hour life of a pending subscription need no column of their own) followed by random
hex, 256 characters in all as AWS's are. Pure: the random part is handed in.

>>> token = make_token(1_700_000_000.25, "ab" * 120)
>>> len(token), issued_at(token)
(256, 1700000000.25)
>>> issued = 1_700_000_000.25
>>> is_current(token, issued + TOKEN_LIFETIME_S - 1), is_current(token, issued + TOKEN_LIFETIME_S + 1)
(True, False)
"""

from __future__ import annotations

from ecsbox.notify.model import TOKEN_LIFETIME_S

TOKEN_LENGTH = 256
RANDOM_HEX = TOKEN_LENGTH - 16  # what make_token needs after the 16 hex digits of the time


def make_token(wall_now: float, random_hex: str) -> str:
    """A token issued at ``wall_now`` (milliseconds, 16 hex digits) with ``random_hex`` after it."""
    return f"{int(wall_now * 1000):016x}{random_hex}"[:TOKEN_LENGTH]


def issued_at(token: str) -> float | None:
    """When a token was issued, or None when it is not one of ours."""
    if len(token) != TOKEN_LENGTH:
        return None
    try:
        return int(token[:16], 16) / 1000
    except ValueError:
        return None


def is_current(token: str, wall_now: float) -> bool:
    issued = issued_at(token)
    return issued is not None and issued <= wall_now + 60 and wall_now - issued <= TOKEN_LIFETIME_S
