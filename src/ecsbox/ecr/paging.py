"""Opaque pagination tokens and maxResults bounds for ECR listings (pure).

A token is URL-safe base64 of the listing it belongs to (``scope``) and the sort key of the last
item returned (keyset pagination: items added or removed between pages never shift the next
page). A token that does not decode, or belongs to another listing, is an
InvalidParameterException — never a 500.

>>> decode_token(encode_token("repositories", ["web"]), "repositories")
['web']
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ecsbox.ecr.model import invalid_parameter

INVALID_TOKEN = "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid nextToken'"


def encode_token(scope: str, last_key: list[Any]) -> str:
    raw = json.dumps({"s": scope, "k": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, scope: str) -> list[Any]:
    """The last key a token carries; InvalidParameterException when it is not one of ours for
    this listing."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise invalid_parameter(INVALID_TOKEN) from exc
    if not isinstance(payload, dict) or payload.get("s") != scope or not isinstance(payload.get("k"), list):
        raise invalid_parameter(INVALID_TOKEN)
    return list(payload["k"])


def page_size(max_results: int | None, default: int, upper: int) -> int:
    """maxResults within 1..upper, ``default`` when absent: ``page_size(None, 100, 1000)`` → 100."""
    if max_results is None:
        return default
    if not 1 <= int(max_results) <= upper:
        raise invalid_parameter(
            f"Invalid parameter at 'maxResults' failed to satisfy constraint: 'must be between 1 and {upper}'"
        )
    return int(max_results)
