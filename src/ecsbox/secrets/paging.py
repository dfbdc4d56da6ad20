"""Opaque pagination tokens (pure): URL-safe base64 of the listing's scope and the sort key of the
last item returned, so items added or removed between pages never shift the next page.

>>> decode_token(encode_token("ListSecrets", [3, "db"]), "ListSecrets")
[3, 'db']
>>> decode_token("not-a-token", "ListSecrets") is None
True
"""

from __future__ import annotations

from ecsbox.core.paging import decode_token, encode_token

__all__ = ["decode_token", "encode_token"]
