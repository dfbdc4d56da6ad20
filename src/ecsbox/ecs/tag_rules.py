"""Tag rules shared by every taggable ECS resource (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecsbox.ecs.model import (
    MAX_TAG_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS_PER_RESOURCE,
    invalid_parameter,
)

RESERVED_PREFIX = "aws:"


def check_tags(
    new_tags: Sequence[Mapping[str, Any]], existing_keys: Sequence[str] = ()
) -> list[dict[str, str]]:
    """Validate tags to add and return them as ``{"key", "value"}`` dicts.

    Keys 1-128 characters, values 0-256, no key starting with ``aws:`` (any case), no key twice in
    one request, and at most 50 tags on the resource once merged with ``existing_keys``.
    """
    result: list[dict[str, str]] = []
    seen: set[str] = set()
    for tag in new_tags:
        key, value = tag.get("key"), tag.get("value", "")
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY_LENGTH:
            raise invalid_parameter(f"Tag key must be between 1 and {MAX_TAG_KEY_LENGTH} characters.")
        if value is None:
            value = ""
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise invalid_parameter(f"Tag value must be no longer than {MAX_TAG_VALUE_LENGTH} characters.")
        if key.lower().startswith(RESERVED_PREFIX):
            raise invalid_parameter("Tag keys that begin with 'aws:' are reserved for AWS use.")
        if key in seen:
            raise invalid_parameter(f"Duplicate tag key: {key}.")
        seen.add(key)
        result.append({"key": key, "value": value})
    if len(seen | set(existing_keys)) > MAX_TAGS_PER_RESOURCE:
        raise invalid_parameter(f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags.")
    return result
