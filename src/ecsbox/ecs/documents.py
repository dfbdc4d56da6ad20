"""How ECS documents are kept in the store: JSON text."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(document: Any) -> str:
    """JSON text for a stored document; orjson, or the exact slow path for what it refuses (an
    integer past 64 bits). ``dumps({"a": 1})`` → ``'{"a":1}'``."""
    try:
        return orjson.dumps(document).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(document)
