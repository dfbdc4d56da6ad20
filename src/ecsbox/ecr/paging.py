"""Opaque pagination tokens and maxResults bounds for ECR listings (pure).

A token is URL-safe base64 of the listing it belongs to (``scope``) and the sort key of the last
item returned (keyset pagination: items added or removed between pages never shift the next
page). A token that does not decode, or belongs to another listing, is an
InvalidParameterException — never a 500.

>>> decode_token(encode_token("repositories", ["web"]), "repositories")
['web']
"""

from __future__ import annotations

from typing import Any

from ecsbox.core import paging as core_paging
from ecsbox.core.paging import encode_token as encode_token  # the shared codec
from ecsbox.ecr.model import invalid_parameter

INVALID_TOKEN = "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid nextToken'"


def decode_token(token: str, scope: str) -> list[Any]:
    """The last key a token carries; InvalidParameterException when it is not one of ours for
    this listing."""
    key = core_paging.decode_token(token, scope)
    if key is None:
        raise invalid_parameter(INVALID_TOKEN)
    return key


def page_size(max_results: int | None, default: int, upper: int) -> int:
    """maxResults within 1..upper, ``default`` when absent: ``page_size(None, 100, 1000)`` → 100."""
    if max_results is None:
        return default
    if not 1 <= int(max_results) <= upper:
        raise invalid_parameter(
            f"Invalid parameter at 'maxResults' failed to satisfy constraint: 'must be between 1 and {upper}'"
        )
    return int(max_results)
