"""JSON filter patterns (pure): ``{ $.level = "ERROR" && $.latency > 200 }``, its selectors, and the
fields a matching JSON event offers metric filters.

"The guide" and "the older guide" are the AWS pages named in :mod:`ecsbox.logs.patterns`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final, TypeAlias

from ecsbox.logs.pattern_common import (
    MAX_WILDCARD_SELECTORS,
    Extractor,
    Fields,
    Matcher,
    PatternError,
    Predicate,
)
from ecsbox.logs.pattern_conditions import (
    Condition,
    JsonNumber,
    Parser,
    check_regex_quota,
    combine,
    conditions,
    required_text,
    tokenize,
    value_test,
)

_STEP: Final = re.compile(
    r"""(?P<any>\.\*|\[\*\])
      | \.(?P<key>[A-Za-z0-9_-]+)
      | \.?\['(?P<quoted>(?:[^'\\]|\\.)*)'\]
      | \[(?P<index>\d+)\]""",
    re.VERBOSE,
)
_MISSING: Final = object()
_PLAIN_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")

Step: TypeAlias = tuple[str, str | int]


def parse_selector(selector: str) -> tuple[Step, ...]:
    """The steps of a JSON property selector: keys, array indexes and at most one wildcard.

    Selectors start with ``$.`` and name properties of letters, digits, ``-`` and ``_``; a key with a
    period is written ``$.['cluster.name']``; "You can use the JSON wildcard to select any array
    element or any JSON object field" (``.*`` or ``[*]``, either one fans out over both).

    >>> parse_selector("$.objectList[1].id"), parse_selector("$.['cluster.name']")
    ((('key', 'objectList'), ('index', 1), ('key', 'id')), (('key', 'cluster.name'),))
    """
    if not selector.startswith("$."):
        raise PatternError(reason=f"a selector starts with $., not {selector!r}")
    steps: list[Step] = []
    at = 1
    while at < len(selector):
        match = _STEP.match(selector, at)
        if match is None:
            raise PatternError(reason=f"selector {selector!r} at {at}")
        if match["any"]:
            steps.append(("any", "*"))
        elif match["key"] is not None:
            steps.append(("key", match["key"]))
        elif match["quoted"] is not None:
            steps.append(("key", re.sub(r"\\(.)", r"\1", match["quoted"])))
        else:
            steps.append(("index", int(match["index"])))
        at = match.end()
    if not steps or sum(kind == "any" for kind, _ in steps) > 1:
        raise PatternError(reason=f"selector {selector!r}: one wildcard at most")
    return tuple(steps)


def select_one(document: object, steps: Sequence[Step]) -> object:
    """The node a selector without wildcard reaches, or ``_MISSING``.

    >>> select_one({"a": [{"id": 7}]}, parse_selector("$.a[0].id"))
    7
    """
    node = document
    for kind, arg in steps:
        if kind == "key":
            if type(node) is not dict:
                return _MISSING
            node = node.get(arg, _MISSING)
            if node is _MISSING:
                return _MISSING
        else:
            if type(node) is not list or arg >= len(node):  # type: ignore[operator]
                return _MISSING
            node = node[arg]  # type: ignore[index]
    return node


def select_all(document: object, steps: Sequence[Step]) -> list[object]:
    """Every node a selector reaches, its wildcard taking each element of an array or field of an object.

    >>> select_all({"a": [{"id": 1}, {"id": 2}, {}]}, parse_selector("$.a[*].id"))
    [1, 2]
    """
    split = next((i for i, (kind, _) in enumerate(steps) if kind == "any"), None)
    if split is None:
        node = select_one(document, steps)
        return [] if node is _MISSING else [node]
    container = select_one(document, steps[:split])
    if isinstance(container, dict):
        children: list[object] = list(container.values())
    elif isinstance(container, list):
        children = container
    else:
        return []
    found = [select_one(child, steps[split + 1 :]) for child in children]
    return [node for node in found if node is not _MISSING]


def json_condition(condition: Condition) -> Predicate[object]:
    """The predicate for one condition on a parsed JSON event.

    A selector that reaches an object or array, or nothing, satisfies no comparison, ``!=``
    included: the guide's "both {$.users = 1} and {$.users != 1} will fail to match" where users is
    an array; for a missing property AWS documents ``NOT EXISTS`` and nothing else, and the same
    rule is kept. With a wildcard, a condition holds when it holds for any node reached.

    >>> json_condition(Condition("$.arrayKey[*]", "=", Value("regex", "val.{2}")))({"arrayKey": ["x", "value"]})
    True
    """
    steps = parse_selector(condition.subject)
    wildcard = any(kind == "any" for kind, _ in steps)
    if condition.op == "NOT EXISTS":
        if wildcard:
            return lambda document: not select_all(document, steps)
        return lambda document: select_one(document, steps) is _MISSING
    if condition.op.startswith("IS "):
        wanted = {"IS NULL": None, "IS TRUE": True, "IS FALSE": False}[condition.op]
        test: Predicate[object] = lambda node: node is wanted  # noqa: E731
    else:
        assert condition.value is not None
        test = value_test(condition.op, condition.value)
    if wildcard:
        return lambda document: any(test(node) for node in select_all(document, steps))
    return lambda document: (node := select_one(document, steps)) is not _MISSING and test(node)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# One decoder for every event: json.loads with arguments builds a new one each call.
_DECODER: Final = json.JSONDecoder(parse_float=JsonNumber, parse_constant=_refuse_constant)


def load_object(message: str) -> dict[str, object] | None:
    """The event as a JSON object; None for anything else, which no JSON pattern matches (AWS does
    not look for JSON inside a line: the whole message must be the object).

    >>> load_object('{"a": 1.50}'), load_object('INFO {"a": 1}'), load_object("[1]")
    ({'a': '1.50'}, None, None)
    """
    if not message or (message[0] != "{" and not message.lstrip().startswith("{")):
        return None
    try:
        document = _DECODER.decode(message)
    except (ValueError, RecursionError):
        return None
    return document if type(document) is dict else None


def json_fields(document: dict[str, object]) -> Fields:
    """Every scalar of a JSON event by the selector that reaches it.

    >>> json_fields({"a": {"b": [1, "x"]}, "c.d": None, "e": 2.5})
    {'$.a.b[0]': 1, '$.a.b[1]': 'x', "$.['c.d']": None, '$.e': 2.5}
    """
    found: Fields = {}

    def walk(node: object, path: str) -> None:
        if type(node) is dict:
            for key, child in node.items():
                step = f".{key}" if _PLAIN_KEY.fullmatch(key) else ".['" + key.replace("'", "\\'") + "']"
                walk(child, path + step)
        elif type(node) is list:
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]")
        elif isinstance(node, JsonNumber):
            found[path] = float(node)
        elif node is None or isinstance(node, str | int | float):
            found[path] = node

    walk(document, "$")
    return found


def _json_keys(subject: str) -> list[str]:
    # A key the selector names is in the raw message as "key" (when the message has no escapes).
    return [f'"{arg}"' for kind, arg in parse_selector(subject) if kind == "key" and '"' not in str(arg)]


def compile_json(body: str) -> tuple[Matcher, Extractor]:
    """Matcher and extractor for a JSON pattern's body (between the braces).

    >>> matches, fields = compile_json(' $.eventType = "UpdateTrail" ')
    >>> matches('{"eventType": "UpdateTrail"}'), matches('{"eventType": "Other"}'), matches("UpdateTrail")
    (True, False, False)
    """
    node = Parser(tokenize(body), json_keywords=True).parse()
    check_regex_quota(node)
    wildcards = sum(1 for c in conditions(node) if any(k == "any" for k, _ in parse_selector(c.subject)))
    if wildcards > MAX_WILDCARD_SELECTORS:
        raise PatternError(reason=f"{wildcards} wildcard selectors; at most {MAX_WILDCARD_SELECTORS}")
    predicate = combine(node, json_condition)
    # Without a backslash in the message, every string and number in it is written as parsed.
    needles = tuple(sorted(required_text(node, _json_keys), key=len, reverse=True))

    def matched(message: str) -> dict[str, object] | None:
        if needles and "\\" not in message:
            for needle in needles:
                if needle not in message:
                    return None
        document = load_object(message)
        return document if document is not None and predicate(document) else None

    def fields(message: str) -> Fields | None:
        document = matched(message)
        return None if document is None else json_fields(document)

    return (lambda message: matched(message) is not None), fields
