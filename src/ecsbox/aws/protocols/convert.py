"""Compile a botocore shape into a converter that rewrites a decoded document in one walk.

Used both ways: wire → parameters (member renames, timestamps and blobs to Python values) and
parameters → wire (timestamps to what the protocol carries). A shape whose subtree needs nothing
compiles to None, so the walk stops there: most requests and results pass through untouched.

>>> import datetime
>>> from ecsbox.aws.models import load_model
>>> shape = load_model("cloudwatch").operation_model("PutMetricData").input_shape
>>> to_datetime = lambda v: datetime.datetime.fromtimestamp(v, datetime.UTC)
>>> convert = compile_converter(shape, {"timestamp": to_datetime})
>>> convert({"MetricData": [{"MetricName": "m", "Timestamp": 0}]})["MetricData"][0]["Timestamp"]
datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import Shape

from ecsbox.aws.validate import shape_key

Convert = Callable[[Any], Any]


def compile_converter(
    shape: Shape | None,
    scalars: dict[str, Convert],
    renames: str = "",
    copy: bool = False,
    memo: dict[tuple[str, str], Convert | None] | None = None,
) -> Convert | None:
    """``scalars`` maps type names (timestamp, blob, …) to converters; ``renames`` is "in" to read
    members by their serialised name, "out" to write them under it, "" to keep member names;
    ``copy`` copies structures before changing them (results belong to the handler)."""
    if shape is None:
        return None
    memo = {} if memo is None else memo
    kind = shape.type_name
    if kind not in ("structure", "list", "map") or (kind == "structure" and shape.is_document_type):
        return scalars.get(kind)
    key = shape_key(shape)
    if key in memo:
        return memo[key]
    slot: list[Convert | None] = []

    def deferred(value: Any) -> Any:
        convert = slot[0] if slot else None
        return convert(value) if convert is not None else value

    memo[key] = deferred  # a recursive reference converts through the finished converter
    if kind == "structure":
        built = _structure(shape, scalars, renames, copy, memo)
    elif kind == "list":
        built = _list(shape, scalars, renames, copy, memo)
    else:
        built = _map(shape, scalars, renames, copy, memo)
    slot.append(built)
    memo[key] = built
    return built


def _structure(
    shape: Shape,
    scalars: dict[str, Convert],
    renames: str,
    copy: bool,
    memo: dict[tuple[str, str], Convert | None],
) -> Convert | None:
    entries: list[tuple[str, str, Convert | None]] = []
    for name, member in shape.members.items():
        convert = compile_converter(member, scalars, renames, copy, memo)
        wire = member.serialization.get("name", name) if renames else name
        if convert is None and wire == name:
            continue
        source, target = (wire, name) if renames == "in" else (name, wire)
        entries.append((source, target, convert))
    if not entries:
        return None

    def convert_structure(value: Any) -> Any:
        if type(value) is not dict:
            return value
        out = dict(value) if copy else value
        for source, target, convert in entries:
            if source in out:
                item = out.pop(source) if source != target else out[source]
                out[target] = convert(item) if convert is not None and item is not None else item
        return out

    return convert_structure


def _list(
    shape: Shape,
    scalars: dict[str, Convert],
    renames: str,
    copy: bool,
    memo: dict[tuple[str, str], Convert | None],
) -> Convert | None:
    convert = compile_converter(shape.member, scalars, renames, copy, memo)
    if convert is None:
        return None

    def convert_list(value: Any) -> Any:
        if type(value) is not list:
            return value
        return [convert(item) if item is not None else None for item in value]

    return convert_list


def _map(
    shape: Shape,
    scalars: dict[str, Convert],
    renames: str,
    copy: bool,
    memo: dict[tuple[str, str], Convert | None],
) -> Convert | None:
    convert = compile_converter(shape.value, scalars, renames, copy, memo)
    if convert is None:
        return None

    def convert_map(value: Any) -> Any:
        if type(value) is not dict:
            return value
        return {key: convert(item) if item is not None else None for key, item in value.items()}

    return convert_map
