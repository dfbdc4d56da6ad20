"""Opaque pagination tokens (pure), the codec every capability's listings share: URL-safe base64
of the listing's scope and the sort key of the last item returned (keyset pagination: items added
or removed between pages never shift the next page). Each capability answers a token that is not
one of its own with its own error.

>>> decode_token(encode_token("ListSecrets", [3, "db"]), "ListSecrets")
[3, 'db']
>>> decode_token("not-a-token", "ListSecrets") is None
True

A token is outside input like any other: one that was tampered with (nested past what a parser
takes, carrying NaN, an integer no database stores or text that is not Unicode) is not ours. An
infinity is a key some listings hand out (a page that ends before a series starts).

>>> tampered = base64.urlsafe_b64encode(b'{"s":"ListSecrets","k":["\\ud800", NaN]}').decode()
>>> decode_token(tampered, "ListSecrets") is None
True
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def encode_token(scope: str, last_key: list[Any]) -> str:
    raw = json.dumps({"s": scope, "k": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, scope: str) -> list[Any] | None:
    """The last key a token carries, or None when it is not one of ours for this listing."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")), parse_constant=_no_nan)
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or payload.get("s") != scope or not isinstance(payload.get("k"), list):
        return None
    key = list(payload["k"])
    if not all(_is_plain(part) for part in key):
        return None
    return key


def _no_nan(constant: str) -> float:
    if constant == "NaN":
        raise ValueError("NaN is no key")
    return float(constant)  # Infinity, -Infinity: what json.dumps writes for them


def _is_plain(part: Any) -> bool:
    """What our tokens' keys hold: text that encodes as UTF-8, numbers a database stores, None."""
    if isinstance(part, str):
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(part, bool) or part is None or isinstance(part, float):
        return True
    if isinstance(part, int):
        return -(2**63) <= part < 2**63
    return False
