"""Opaque pagination tokens (pure), the codec every capability's listings share: URL-safe base64
of the listing's scope and the sort key of the last item returned (keyset pagination: items added
or removed between pages never shift the next page). Each capability answers a token that is not
one of its own with its own error.

>>> decode_token(encode_token("ListSecrets", [3, "db"]), "ListSecrets")
[3, 'db']
>>> decode_token("not-a-token", "ListSecrets") is None
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
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    if not isinstance(payload, dict) or payload.get("s") != scope or not isinstance(payload.get("k"), list):
        return None
    return list(payload["k"])
