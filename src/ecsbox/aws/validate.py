"""Validate parsed parameters against a botocore input shape, the way AWS words its answers.

Each shape is compiled once into a small checking closure (cached per shape), so the hot path is a
walk over the members the request actually carries.

>>> from ecsbox.aws.models import load_model
>>> shape = load_model("ecs").operation_model("DescribeClusters").input_shape
>>> validate(shape, {"clusters": ["a", "b"]})
>>> validate(load_model("ecs").operation_model("RegisterTaskDefinition").input_shape, {})
Traceback (most recent call last):
...
ecsbox.aws.errors.ValidationError: ValidationException: 2 validation errors detected: Value null at \
'family' failed to satisfy constraint: Member must not be null; Value null at 'containerDefinitions' \
failed to satisfy constraint: Member must not be null
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from botocore.model import Shape

from ecsbox.aws.errors import TypeMismatch, ValidationError

# check(value, path, problems): appends one message per broken constraint; raises TypeMismatch at once.
Check = Callable[[Any, str, list[str]], None]

_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_TOP: dict[Shape, Check] = {}
_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def validate(shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise :class:`ValidationError` (``missing=True`` when a required member is absent) or
    :class:`TypeMismatch` when ``params`` breaks ``shape``."""
    if shape is None:
        return
    check = _TOP.get(shape)
    if check is None:
        check = _TOP[shape] = compile_shape(shape, {})
    problems: list[str] = []
    check(params, "", problems)
    if problems:
        raise _as_error(problems)


def _as_error(problems: list[str]) -> ValidationError:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    message = f"{count} validation {noun} detected: " + "; ".join(problems)
    return ValidationError(message, missing=problems[0].startswith("Value null"))


def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's pattern as a Python regex, or None when Python cannot read it (Java-only syntax)."""
    if pattern not in _PATTERNS:
        try:
            _PATTERNS[pattern] = re.compile(pattern)
        except (re.error, OverflowError, RecursionError):
            _PATTERNS[pattern] = None
    return _PATTERNS[pattern]


def shape_key(shape: Shape) -> tuple[str, str]:
    """A cache key for a shape as referenced from one place (member traits change serialisation)."""
    return (shape.name, repr(sorted(shape.serialization.items())))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "'[" + ", ".join(str(item) for item in value) + "]'"
    return f"'{value}'"


def _at(path: str) -> str:
    return path or "input"


def _mismatch(value: Any, path: str, expected: str) -> TypeMismatch:
    return TypeMismatch(
        f"1 validation error detected: Value {_show(value)} at '{_at(path)}' failed to satisfy constraint: "
        f"Member must be of type {expected}"
    )


def _fail(value: Any, path: str, rule: str) -> str:
    return f"Value {_show(value)} at '{_at(path)}' failed to satisfy constraint: {rule}"


def compile_shape(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    """Build the checking closure for ``shape``; ``memo`` ties recursive shapes together."""
    kind = shape.type_name
    if kind in ("structure", "list", "map"):
        key = shape_key(shape)
        if key in memo:
            return memo[key]
        slot: list[Check] = []

        def deferred(value: Any, path: str, problems: list[str]) -> None:
            slot[0](value, path, problems)

        memo[key] = deferred
        built = _COMPILERS[kind](shape, memo)
        slot.append(built)
        memo[key] = built
        return built
    return _COMPILERS.get(kind, _compile_any)(shape, memo)


def _length_rules(shape: Shape) -> tuple[int | None, int | None]:
    return shape.metadata.get("min"), shape.metadata.get("max")


def _compile_structure(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    if shape.is_document_type:
        return _compile_any(shape, memo)
    members = shape.members
    required = tuple(shape.required_members)
    checks: dict[str, Check] = {name: compile_shape(member, memo) for name, member in members.items()}

    def check(value: Any, path: str, problems: list[str]) -> None:
        if type(value) is not dict:
            raise _mismatch(value, path, "structure")
        for name in required:
            if value.get(name) is None:
                where = f"{path}.{name}" if path else name
                problems.append(
                    f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
                )
        for name, item in value.items():
            if item is not None:
                sub = checks.get(name)
                if sub is not None:
                    sub(item, f"{path}.{name}" if path else name, problems)

    return check


def _compile_list(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    lo, hi = _length_rules(shape)
    item_check = compile_shape(shape.member, memo)

    def check(value: Any, path: str, problems: list[str]) -> None:
        if type(value) is not list:
            raise _mismatch(value, path, "list")
        _check_length(value, len(value), lo, hi, path, problems)
        for index, item in enumerate(value, 1):
            if item is None:  # a null inside a list is no value at all: refused, never stored
                problems.append(
                    f"Value null at '{path}.{index}.member' failed to satisfy constraint: "
                    "Member must not be null"
                )
            else:
                item_check(item, f"{path}.{index}.member", problems)

    return check


def _compile_map(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    lo, hi = _length_rules(shape)
    key_check = compile_shape(shape.key, memo)
    value_check = compile_shape(shape.value, memo)

    def check(value: Any, path: str, problems: list[str]) -> None:
        if type(value) is not dict:
            raise _mismatch(value, path, "map")
        _check_length(value, len(value), lo, hi, path, problems)
        for key, item in value.items():
            key_problems: list[str] = []
            key_check(key, path, key_problems)
            for problem in key_problems:
                problems.append(problem.replace("constraint: ", "constraint: Map keys must satisfy: ", 1))
            if item is None:
                problems.append(
                    f"Value null at '{path}.{key}' failed to satisfy constraint: Member must not be null"
                )
            else:
                value_check(item, f"{path}.{key}", problems)

    return check


def _check_length(
    value: Any, size: int, lo: int | None, hi: int | None, path: str, problems: list[str]
) -> None:
    if lo is not None and size < lo:
        problems.append(_fail(value, path, f"Member must have length greater than or equal to {lo}"))
    if hi is not None and size > hi:
        problems.append(_fail(value, path, f"Member must have length less than or equal to {hi}"))


def _compile_string(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    lo, hi = _length_rules(shape)
    enum = frozenset(shape.enum) if shape.enum else None
    enum_text = "[" + ", ".join(shape.enum) + "]" if shape.enum else ""
    raw_pattern = shape.metadata.get("pattern")
    pattern = compile_pattern(raw_pattern) if raw_pattern else None
    if lo is None and hi is None and enum is None and pattern is None:

        def check_plain(value: Any, path: str, problems: list[str]) -> None:
            if type(value) is not str:
                raise _mismatch(value, path, "string")

        return check_plain

    def check(value: Any, path: str, problems: list[str]) -> None:
        if type(value) is not str:
            raise _mismatch(value, path, "string")
        _check_length(value, len(value), lo, hi, path, problems)
        if enum is not None and value not in enum:
            problems.append(_fail(value, path, f"Member must satisfy enum value set: {enum_text}"))
        if pattern is not None and pattern.fullmatch(value) is None:
            problems.append(
                _fail(value, path, f"Member must satisfy regular expression pattern: {raw_pattern}")
            )

    return check


def _compile_number(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    kind = shape.type_name
    type_lo, type_hi = _INT_RANGE.get(kind, (None, None))
    integral = kind in _INT_RANGE

    def check(value: Any, path: str, problems: list[str]) -> None:
        if integral:
            if type(value) is not int or not type_lo <= value <= type_hi:  # type: ignore[operator]
                raise _mismatch(value, path, kind)
        elif type(value) is not float and type(value) is not int:
            raise _mismatch(value, path, kind)
        if lo is not None and value < lo:
            problems.append(_fail(value, path, f"Member must have value greater than or equal to {lo}"))
        if hi is not None and value > hi:
            problems.append(_fail(value, path, f"Member must have value less than or equal to {hi}"))

    return check


def _compile_boolean(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if type(value) is not bool:
            raise _mismatch(value, path, "boolean")

    return check


def _compile_timestamp(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, datetime.datetime):
            raise _mismatch(value, path, "timestamp")

    return check


def _compile_blob(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    lo, hi = _length_rules(shape)

    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, bytes | bytearray):
            raise _mismatch(value, path, "blob")
        _check_length(value, len(value), lo, hi, path, problems)

    return check


def _compile_any(shape: Shape, memo: dict[tuple[str, str], Check]) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        return None

    return check


_COMPILERS: dict[str, Callable[[Shape, dict[tuple[str, str], Check]], Check]] = {
    "structure": _compile_structure,
    "list": _compile_list,
    "map": _compile_map,
    "string": _compile_string,
    "integer": _compile_number,
    "long": _compile_number,
    "float": _compile_number,
    "double": _compile_number,
    "boolean": _compile_boolean,
    "timestamp": _compile_timestamp,
    "blob": _compile_blob,
}
