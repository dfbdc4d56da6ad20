"""Subscription filter policies: what a ``FilterPolicy`` may say, and whether a message passes it.
Pure.

A policy is a JSON object whose keys name message attributes (``FilterPolicyScope`` =
``MessageAttributes``, the default) or members of a JSON message body (``MessageBody``, where
objects nest). Each key holds an array of conditions, any of which may match (OR); every key must
match (AND); ``"$or"`` holds alternative policies. Conditions: exact strings and numbers (and
``true``/``false``/``null`` in bodies), ``prefix``, ``suffix``, ``equals-ignore-case``,
``anything-but`` (values, or a prefix or suffix), ``numeric`` comparisons, ``exists`` and ``cidr``.

>>> policy = parse_filter_policy('{"severity": ["critical", {"prefix": "err"}], "code": [{"numeric": [">=", 500]}]}')
>>> matches_attributes(policy, {"severity": ("String", "error"), "code": ("Number", "503")})
True
>>> matches_attributes(policy, {"severity": ("String", "info"), "code": ("Number", "503")})
False
>>> body = parse_filter_policy('{"alarm": {"state": ["ALARM"]}}', "MessageBody")
>>> matches_body(body, '{"alarm": {"state": "ALARM", "name": "cpu"}}')
True
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from typing import Any

from ecsbox.notify.model import NotifyRuleError, invalid_parameter, load_json

SCOPES = ("MessageAttributes", "MessageBody")
MAX_KEYS = 5  # attribute names (leaf keys) per policy or $or branch
MAX_COMBINATIONS = 150  # values multiplied across keys, summed across $or branches
MAX_NUMBER = 1e9  # numeric matching covers -1e9 .. 1e9
_NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
_MISSING = object()

# An attribute as Publish gave it: (DataType, value), value a str (bytes for Binary).
Attribute = tuple[str, str | bytes]


@dataclass(frozen=True)
class Condition:
    kind: str  # exact | prefix | suffix | equals-ignore-case | anything-but | anything-but-prefix
    # | anything-but-suffix | numeric | exists | cidr
    value: Any


@dataclass(frozen=True)
class FilterPolicy:
    node: dict[str, Any]  # key → list[Condition] | nested node; "$or" → list of nodes
    scope: str = "MessageAttributes"


def _fail(reason: str) -> NotifyRuleError:
    return invalid_parameter(f"FilterPolicy: {reason}")


# ---- parsing -----------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, where: str) -> float:
    # A comparison, not float(): an integer of 400 digits has no float, and NaN compares false.
    if not _is_number(value) or not -MAX_NUMBER <= value <= MAX_NUMBER:
        raise _fail(f"{where} must be a number from -1.0E9 to 1.0E9")
    return float(value)


def _as_float(value: Any) -> float | None:
    """A message's number as a float (an integer past a double's range is an infinity); None for
    what is no number.

    >>> _as_float(3), _as_float(10**400), _as_float("3")
    (3.0, inf, None)
    """
    if not _is_number(value):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _numeric(value: Any) -> Condition:
    if not isinstance(value, list) or len(value) not in (2, 4):
        raise _fail("numeric must be a list of one or two comparisons")
    comparisons: list[tuple[str, float]] = []
    for i in range(0, len(value), 2):
        operator = value[i]
        if operator not in _NUMERIC_OPERATORS or (len(value) == 4 and operator == "="):
            raise _fail(f"Unrecognized numeric range operator: {operator}")
        comparisons.append((operator, _number(value[i + 1], "numeric value")))
    if len(comparisons) == 2:
        (low_op, low), (high_op, high) = comparisons
        if low_op not in (">", ">=") or high_op not in ("<", "<=") or low >= high:
            raise _fail("Bottom must be less than top")
    return Condition("numeric", tuple(comparisons))


def _anything_but(value: Any) -> Condition:
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in ("prefix", "suffix"):
            raise _fail("anything-but takes a value, a list of values, or one prefix or suffix")
        kind, text = next(iter(value.items()))
        if not isinstance(text, str) or not text:
            raise _fail(f"anything-but {kind} must be a non-empty string")
        return Condition(f"anything-but-{kind}", text)
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) or _is_number(v) for v in values):
        raise _fail("anything-but values must be strings or numbers")
    return Condition(
        "anything-but", tuple(v if isinstance(v, str) else _number(v, "anything-but value") for v in values)
    )


def _operator(document: dict[str, Any]) -> Condition:
    if len(document) != 1:
        raise _fail("a condition object must have exactly one operator")
    kind, value = next(iter(document.items()))
    if kind in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(value, str):
            raise _fail(f"{kind} must be a string")
        return Condition(kind, value)
    if kind == "anything-but":
        return _anything_but(value)
    if kind == "numeric":
        return _numeric(value)
    if kind == "exists":
        if not isinstance(value, bool):
            raise _fail("exists must be true or false")
        return Condition("exists", value)
    if kind == "cidr":
        try:
            return Condition("cidr", ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            raise _fail(f"Malformed CIDR, one '/' required: {value}") from None
    raise _fail(f"Unrecognized match type {kind}")


def _condition(value: Any, scope: str) -> Condition:
    if isinstance(value, str):
        return Condition("exact", value)
    if _is_number(value):
        return Condition("exact", _number(value, "a number"))
    if isinstance(value, dict):
        return _operator(value)
    if scope == "MessageBody" and (value is None or isinstance(value, bool)):
        return Condition("exact", value)
    raise _fail("Match value must be String, number, true, false, or null")


def _node(document: Any, scope: str, depth: int) -> dict[str, Any]:
    if not isinstance(document, dict) or not document:
        raise _fail("the policy must be a non-empty JSON object")
    node: dict[str, Any] = {}
    for key, value in document.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _fail("$or must be a list of at least two policies")
            node[key] = [_node(branch, scope, depth) for branch in value]
        elif isinstance(value, dict):
            if scope != "MessageBody":
                raise _fail("Filter policy scope MessageAttributes does not support nested filter policy")
            node[key] = _node(value, scope, depth + 1)
        elif isinstance(value, list):
            if not value:
                raise _fail("Empty arrays are not allowed")
            node[key] = [_condition(item, scope) for item in value]
        else:
            raise _fail(f'"{key}" must be an object or an array')
    return node


def _branches(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy as plain branches without ``$or`` (each is checked against the limits)."""
    plain = {k: v for k, v in node.items() if k != "$or"}
    results: list[dict[str, Any]] = [{}]
    for key, value in plain.items():
        if isinstance(value, dict):
            results = [
                {**r, **{f"{key}.{k}": v for k, v in sub.items()}}
                for r in results
                for sub in _branches(value)
            ]
        else:
            results = [{**r, key: value} for r in results]
    for alternative in node.get("$or", []):
        results = [{**r, **sub} for r in results for sub in _branches(alternative)]
    return results


def check_limits(policy: FilterPolicy) -> None:
    branches = _branches(policy.node)
    combinations = 0
    for branch in branches:
        if len(branch) > MAX_KEYS:
            raise _fail(f"Filter policy can not have more than {MAX_KEYS} keys")
        product = 1
        for conditions in branch.values():
            product *= len(conditions)
        combinations += product
    if combinations > MAX_COMBINATIONS:
        raise _fail(f"Filter policy is too complex: {combinations} combinations (at most {MAX_COMBINATIONS})")


def parse_filter_policy(text: str, scope: str = "MessageAttributes") -> FilterPolicy:
    """A FilterPolicy attribute's value → the policy; InvalidParameter with the reason otherwise."""
    if scope not in SCOPES:
        raise invalid_parameter(
            f"Attributes Reason: FilterPolicyScope: Invalid value [{scope}]. "
            "Please use either MessageBody or MessageAttributes"
        )
    try:
        document = load_json(text)
    except ValueError:
        raise _fail("failed to parse JSON") from None
    policy = FilterPolicy(_node(document, scope, 0), scope)
    check_limits(policy)
    return policy


# ---- matching ----------------------------------------------------------------------------------


def _compare(operator: str, candidate: float, bound: float) -> bool:
    return {
        "=": candidate == bound,
        "<": candidate < bound,
        "<=": candidate <= bound,
        ">": candidate > bound,
        ">=": candidate >= bound,
    }[operator]


def _in_network(candidate: str, network: Any) -> bool:
    try:
        return ipaddress.ip_address(candidate) in network
    except ValueError:
        return False


def condition_matches(condition: Condition, candidate: Any) -> bool:
    """One condition against one value (a str, a number, true/false/null).

    >>> condition_matches(Condition("anything-but", ("test",)), "prod")
    True
    >>> condition_matches(Condition("suffix", ".jpg"), "a.png")
    False
    """
    kind, value = condition.kind, condition.value
    text = candidate if isinstance(candidate, str) else None
    number = _as_float(candidate)
    if kind == "exact":
        if isinstance(value, str) or value is None or isinstance(value, bool):
            return bool(candidate == value and type(candidate) is type(value))
        return number is not None and number == value
    if kind == "numeric":
        return number is not None and all(_compare(op, number, bound) for op, bound in value)
    if kind == "anything-but":
        if text is not None:
            return text not in value
        return number is not None and number not in value
    if text is None:
        return False
    if kind == "prefix":
        return text.startswith(value)
    if kind == "suffix":
        return text.endswith(value)
    if kind == "equals-ignore-case":
        return text.lower() == value.lower()
    if kind == "anything-but-prefix":
        return not text.startswith(value)
    if kind == "anything-but-suffix":
        return not text.endswith(value)
    if kind == "cidr":
        return _in_network(text, value)
    return False


def _matches_values(conditions: list[Condition], present: bool, candidates: list[Any]) -> bool:
    for condition in conditions:
        if condition.kind == "exists":
            if condition.value == present:
                return True
        elif any(condition_matches(condition, c) for c in candidates):
            return True
    return False


def attribute_candidates(attribute: Attribute) -> list[Any]:
    """The values a message attribute offers to conditions: a Number's number, a String's text, each
    element of a String.Array; a Binary attribute offers none (only ``exists`` sees it).

    >>> attribute_candidates(("String.Array", '["a", 1, true]')), attribute_candidates(("Number", "1e2"))
    (['a', 1, True], [100.0])
    """
    data_type, value = attribute
    base = data_type.split(".", 1)[0]
    if base == "Binary" or isinstance(value, bytes):
        return []
    if data_type.startswith("String.Array"):
        try:
            items = json.loads(value)
        except ValueError:
            return [value]
        return list(items) if isinstance(items, list) else [value]
    if base == "Number":
        try:
            return [float(value)]
        except ValueError:
            return []
    return [value]


def _attributes_node(node: dict[str, Any], attributes: dict[str, Attribute]) -> bool:
    for key, conditions in node.items():
        if key == "$or":
            if not any(_attributes_node(branch, attributes) for branch in conditions):
                return False
            continue
        attribute = attributes.get(key)
        candidates = attribute_candidates(attribute) if attribute is not None else []
        if not _matches_values(conditions, attribute is not None, candidates):
            return False
    return True


def matches_attributes(policy: FilterPolicy, attributes: dict[str, Attribute]) -> bool:
    return _attributes_node(policy.node, attributes)


def _body_node(node: dict[str, Any], document: Any) -> bool:
    for key, expected in node.items():
        if key == "$or":
            if not any(_body_node(branch, document) for branch in expected):
                return False
            continue
        value = document.get(key, _MISSING) if isinstance(document, dict) else _MISSING
        if isinstance(expected, dict):
            inner = value if isinstance(value, list) else [value]
            if not any(_body_node(expected, item if isinstance(item, dict) else {}) for item in inner):
                return False
            continue
        present = value is not _MISSING
        candidates = value if isinstance(value, list) else ([value] if present else [])
        if not _matches_values(expected, present, candidates):
            return False
    return True


def matches_body(policy: FilterPolicy, message: str) -> bool:
    """A MessageBody policy against a message: a body that is not a JSON object never passes."""
    try:
        document = load_json(message, max_depth=None)
    except ValueError:  # not JSON, or nested deeper than the parser goes: nothing to match
        return False
    return isinstance(document, dict) and _body_node(policy.node, document)


def passes(policy: FilterPolicy | None, message: str, attributes: dict[str, Attribute]) -> bool:
    """Does a message reach a subscription with this policy (None: no policy, everything passes)?"""
    if policy is None:
        return True
    if policy.scope == "MessageBody":
        return matches_body(policy, message)
    return matches_attributes(policy, attributes)
