"""Hypothesis strategies built from botocore shapes: values that respect enum, range and length.

Patterns are not followed (the round-trip tests bypass validation); strings are drawn from
characters every protocol can carry (no control characters, which XML 1.0 cannot hold).
"""

from __future__ import annotations

import datetime
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

UTC = datetime.UTC
MAX_DEPTH = 4
TEXT = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
TIMESTAMPS = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))


def from_shape(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if kind == "structure":
        return _structure(shape, depth)
    if kind == "list":
        size = min(low or 0, 3)
        return st.lists(
            from_shape(shape.member, depth + 1), min_size=size, max_size=max(size, 2 if depth < 3 else 1)
        )
    if kind == "map":
        return st.dictionaries(
            from_shape(shape.key, depth + 1), from_shape(shape.value, depth + 1), max_size=2
        )
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum)
        size = low or 0
        return st.text(TEXT, min_size=size, max_size=max(size, min(high or 12, 12)))
    if kind in ("integer", "long"):
        return st.integers(
            min_value=max(int(low) if low is not None else -(2**31), -(2**31)),
            max_value=min(int(high) if high is not None else 2**31 - 1, 2**31 - 1),
        )
    if kind in ("float", "double"):
        return st.floats(
            min_value=float(low) if low is not None else None,
            max_value=float(high) if high is not None else None,
            allow_nan=False,
            allow_infinity=False,
            width=32 if kind == "float" else 64,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return TIMESTAMPS
    if kind == "blob":
        return st.binary(min_size=low or 0, max_size=max(low or 0, 8))
    raise ValueError(f"no strategy for {kind}")


def _usable(member: Shape) -> bool:
    return not getattr(member, "is_document_type", False) and not member.serialization.get("eventstream")


def _structure(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    members = {name: member for name, member in shape.members.items() if _usable(member)}
    if shape.is_tagged_union:
        return st.one_of(
            [st.fixed_dictionaries({name: from_shape(member, depth + 1)}) for name, member in members.items()]
        )
    required = {
        name: from_shape(members[name], depth + 1) for name in shape.required_members if name in members
    }
    optional = {}
    if depth < MAX_DEPTH:
        optional = {
            name: from_shape(member, depth + 1) for name, member in members.items() if name not in required
        }
    return st.fixed_dictionaries(required, optional=optional)
