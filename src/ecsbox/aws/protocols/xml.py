"""Write a result as the XML botocore's XML parsers read, walking the output shape once.

>>> from ecsbox.aws.models import load_model
>>> shape = load_model("sns").operation_model("Publish").output_shape
>>> out: list[str] = []
>>> compile_emitter(shape, {})({"MessageId": "m-1"}, "PublishResult", out)
>>> "".join(out)
'<PublishResult><MessageId>m-1</MessageId></PublishResult>'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import Shape

from ecsbox.aws.validate import shape_key
from ecsbox.aws.values import b64encode, to_epoch, to_iso8601, to_rfc822

# emit(value, element_name, out): append the element for value to out.
Emit = Callable[[Any, str, list[str]], None]

_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;"}
)


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def _timestamp_text(shape: Shape) -> Callable[[Any], str]:
    form = shape.serialization.get("timestampFormat", "iso8601")
    if form == "unixTimestamp":
        return lambda value: str(to_epoch(value))
    if form == "rfc822":
        return to_rfc822
    return to_iso8601


def _float_text(value: Any) -> str:
    value = float(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _scalar(shape: Shape) -> Emit:
    kind = shape.type_name
    text: Callable[[Any], str]
    if kind == "boolean":
        text = lambda value: "true" if value else "false"  # noqa: E731
    elif kind == "timestamp":
        text = _timestamp_text(shape)
    elif kind == "blob":
        text = lambda value: b64encode(value)  # noqa: E731
    elif kind in ("float", "double"):
        text = _float_text
    elif kind in ("integer", "long"):
        text = lambda value: str(int(value))  # noqa: E731
    else:
        text = lambda value: escape(str(value))  # noqa: E731

    def emit(value: Any, name: str, out: list[str]) -> None:
        out.append(f"<{name}>{text(value)}</{name}>")

    return emit


def compile_emitter(shape: Shape, memo: dict[tuple[str, str], Emit]) -> Emit:
    kind = shape.type_name
    if kind not in ("structure", "list", "map"):
        return _scalar(shape)
    key = shape_key(shape)
    if key in memo:
        return memo[key]
    slot: list[Emit] = []
    memo[key] = lambda value, name, out: slot[0](value, name, out)
    built = {"structure": _structure, "list": _list, "map": _map}[kind](shape, memo)
    slot.append(built)
    memo[key] = built
    return built


def member_element_name(member: Shape, name: str) -> str:
    if member.type_name == "list" and member.serialization.get("flattened"):
        flattened_name = member.member.serialization.get("name")
        if flattened_name:
            return str(flattened_name)
    return str(member.serialization.get("name", name))


def _structure(shape: Shape, memo: dict[tuple[str, str], Emit]) -> Emit:
    entries = [
        (name, member_element_name(member, name), compile_emitter(member, memo))
        for name, member in shape.members.items()
        if member.serialization.get("location") is None
    ]

    def emit(value: Any, name: str, out: list[str]) -> None:
        out.append(f"<{name}>")
        if isinstance(value, dict):
            for member, element, emit_member in entries:
                item = value.get(member)
                if item is not None:
                    emit_member(item, element, out)
        out.append(f"</{name}>")

    return emit


def _list(shape: Shape, memo: dict[tuple[str, str], Emit]) -> Emit:
    emit_item = compile_emitter(shape.member, memo)
    flattened = bool(shape.serialization.get("flattened"))
    item_name = shape.member.serialization.get("name", "member")

    def emit(value: Any, name: str, out: list[str]) -> None:
        if flattened:
            for item in value:
                emit_item(item, name, out)
            return
        out.append(f"<{name}>")
        for item in value:
            emit_item(item, item_name, out)
        out.append(f"</{name}>")

    return emit


def _map(shape: Shape, memo: dict[tuple[str, str], Emit]) -> Emit:
    emit_key = compile_emitter(shape.key, memo)
    emit_value = compile_emitter(shape.value, memo)
    flattened = bool(shape.serialization.get("flattened"))
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")

    def emit(value: Any, name: str, out: list[str]) -> None:
        if not flattened:
            out.append(f"<{name}>")
        for key, item in value.items():
            out.append(f"<{name}>" if flattened else "<entry>")
            emit_key(key, key_name, out)
            if item is not None:
                emit_value(item, value_name, out)
            out.append(f"</{name}>" if flattened else "</entry>")
        if not flattened:
            out.append(f"</{name}>")

    return emit
