"""Conditions of JSON patterns and space-delimited fields (pure): tokens, the ``&&`` / ``||`` / ``()``
expression parser, and how one value compares (numbers, text with ``*`` wildcards, regex).

"The guide" and "the older guide" are the AWS pages named in :mod:`ecsbox.logs.patterns`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from ecsbox.logs.pattern_common import MAX_REGEXES, PatternError, Predicate, T
from ecsbox.logs.pattern_terms import compile_regex, invalid_characters

_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Unquoted strings: "Strings that consist entirely of alphanumeric characters do not need to be
# quoted"; the guide's own unquoted ``123.123.*`` and ``*.html*`` add . * and number signs.
_UNQUOTED: Final = re.compile(r"[A-Za-z0-9_.*+-]+")
_NOT_UNQUOTED: Final = re.compile(r"[^A-Za-z0-9_.*+-]+")
_TOKEN: Final = re.compile(
    r"""(?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|,)
      | (?P<quoted>"(?:[^"\\]|\\.)*")
      | (?P<regex>%[^%]*%)
      | (?P<word>[^\s()&|=!<>",%]+)""",
    re.VERBOSE,
)
_COMPARISONS: Final = frozenset({"=", "!=", "<", ">", "<=", ">="})
_ORDERINGS: Final = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}

Token: TypeAlias = tuple[str, str]


@dataclass(frozen=True)
class Value:
    """The right-hand side of a comparison: ``number``, ``text`` (``*`` wildcards) or ``regex``."""

    kind: str
    text: str


@dataclass(frozen=True)
class Condition:
    """``subject op value``; op is a comparison or ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``NOT EXISTS``."""

    subject: str
    op: str
    value: Value | None = None


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Node, ...]


Node: TypeAlias = Condition | AllOf | AnyOf


def tokenize(body: str) -> list[Token]:
    """The tokens of a JSON pattern's body or a space-delimited pattern's field list.

    >>> tokenize('$.latency > 200 && $.level = "ERROR"')[3:]
    [('op', '&&'), ('word', '$.level'), ('op', '='), ('quoted', 'ERROR')]
    """
    tokens: list[Token] = []
    i, end = 0, len(body)
    while True:
        while i < end and body[i].isspace():
            i += 1
        if i == end:
            return tokens
        match = _TOKEN.match(body, i)
        if match is None:
            char = body[i]
            if char in '"%':
                raise PatternError(reason=f"unterminated {char} at {i}")
            raise invalid_characters(char)
        kind = match.lastgroup or "word"
        text = match.group()
        if kind == "word" and body.startswith('"', match.end()):
            raise invalid_characters(text + '"')  # AWS: $."sc-status" → "... in term '$."'"
        if kind == "quoted":
            text = re.sub(r'\\(["\\])', r"\1", text[1:-1])
        elif kind == "regex":
            text = text[1:-1]
        tokens.append((kind, text))
        i = match.end()


def parse_value(token: Token) -> Value:
    """A comparison's right-hand side: a quoted string is text, an unquoted number a number.

    >>> parse_value(("word", "1e-3")), parse_value(("word", "4*")), parse_value(("quoted", "4"))
    (Value(kind='number', text='1e-3'), Value(kind='text', text='4*'), Value(kind='text', text='4'))
    """
    kind, text = token
    if kind == "quoted":
        return Value("text", text)
    if kind == "regex":
        compile_regex(text)  # refused now, not at the first event
        return Value("regex", text)
    if kind != "word":
        raise PatternError(reason=f"a value is missing before {text!r}")
    if _NUMBER.fullmatch(text):
        return Value("number", text)
    if not _UNQUOTED.fullmatch(text):
        raise invalid_characters(text, _NOT_UNQUOTED)
    return Value("text", text)


class Parser:
    """``a || b && (c)``: ``&&`` binds tighter than ``||`` ("() > && > ||", the guide)."""

    def __init__(self, tokens: Sequence[Token], *, json_keywords: bool) -> None:
        self.tokens = tokens
        self.at = 0
        self.json_keywords = json_keywords

    def parse(self) -> Node:
        node = self.any_of()
        if self.at < len(self.tokens):
            raise PatternError(reason=f"unexpected {self.tokens[self.at][1]!r}")
        return node

    def peek(self) -> Token:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self) -> Token:
        token = self.peek()
        if token[0] == "end":
            raise PatternError(reason="the pattern ends too soon")
        self.at += 1
        return token

    def any_of(self) -> Node:
        parts = [self.all_of()]
        while self.peek() == ("op", "||"):
            self.at += 1
            parts.append(self.all_of())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def all_of(self) -> Node:
        parts = [self.primary()]
        while self.peek() == ("op", "&&"):
            self.at += 1
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def primary(self) -> Node:
        kind, subject = self.take()
        if (kind, subject) == ("op", "("):
            node = self.any_of()
            if self.take() != ("op", ")"):
                raise PatternError(reason="a parenthesis is not closed")
            return node
        if kind != "word":
            raise PatternError(reason=f"a field is missing before {subject!r}")
        kind, op = self.take()
        if kind == "op" and op in _COMPARISONS:
            return Condition(subject, op, parse_value(self.take()))
        if self.json_keywords and (kind, op) == ("word", "IS"):
            # "The variables IS NOT and EXISTS currently aren't supported" (the guide).
            what = self.take()
            if what in (("word", "NULL"), ("word", "TRUE"), ("word", "FALSE")):
                return Condition(subject, f"IS {what[1]}")
        elif self.json_keywords and (kind, op) == ("word", "NOT") and self.take() == ("word", "EXISTS"):
            return Condition(subject, "NOT EXISTS")
        raise PatternError(reason=f"no comparison after {subject!r}")


def conditions(node: Node) -> list[Condition]:
    """The conditions of an expression, left to right."""
    if isinstance(node, Condition):
        return [node]
    return [leaf for part in node.parts for leaf in conditions(part)]


def combine(node: Node, leaf: Callable[[Condition], Predicate[T]]) -> Predicate[T]:
    """One predicate for an expression, from one per condition."""
    if isinstance(node, Condition):
        return leaf(node)
    parts = tuple(combine(part, leaf) for part in node.parts)
    if isinstance(node, AllOf):
        if len(parts) == 2:
            first, second = parts
            return lambda subject: first(subject) and second(subject)
        return lambda subject: all(part(subject) for part in parts)
    return lambda subject: any(part(subject) for part in parts)


def wildcard_test(pattern: str) -> Callable[[str], bool]:
    """The test for a string with AWS's ``*`` wildcard, which works at either end only.

    The older guide: "*Event will match PutEvent and GetEvent. Event* will match EventId and
    EventName. Ev*ent will only match the actual string Ev*ent." A lone ``*`` matches any value.

    >>> wildcard_test("*Event")("PutEvent"), wildcard_test("Event*")("EventId"), wildcard_test("*html*")("a.html?x")
    (True, True, True)
    >>> wildcard_test("Ev*ent")("Event"), wildcard_test("Ev*ent")("Ev*ent")
    (False, True)
    """
    lead, trail = pattern.startswith("*"), len(pattern) > 1 and pattern.endswith("*")
    core = pattern[int(lead) : len(pattern) - int(trail)]
    if lead and trail:
        return lambda text: core in text
    if lead:
        return lambda text: text.endswith(core)
    if trail:
        return lambda text: text.startswith(core)
    return lambda text: text == core


class JsonNumber(str):
    """A JSON number with a fraction or exponent, kept as written: ``1.50`` compares as 1.5 and reads
    as ``1.50`` for text comparisons and wildcards."""

    __slots__ = ()


def text_of(value: object) -> str | None:
    """A value node's text; None for what is no value node (object, array, boolean, null).

    "Value nodes can be strings or numbers" (the guide): booleans and null have ``IS TRUE``,
    ``IS FALSE`` and ``IS NULL``, and no comparison matches them.

    >>> text_of("a"), text_of(404), text_of(True), text_of(None), text_of([1])
    ('a', '404', None, None, None)
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def number_of(value: object) -> float | None:
    """A value node's number: a JSON number, or a string (a space-delimited field) that is one.

    >>> number_of(404), number_of("1534"), number_of("1e3"), number_of("-"), number_of(False)
    (404.0, 1534.0, 1000.0, None, None)
    """
    if isinstance(value, str):
        return float(value) if type(value) is JsonNumber or _NUMBER.fullmatch(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # past 1.8e308
            return math.inf if value > 0 else -math.inf
    return None


def value_test(op: str, value: Value) -> Predicate[object]:
    """How one value node compares. A number compares as a number with every operator; text and
    regex take ``=`` and ``!=`` only ("For string fields, you can use = or != operators").

    >>> value_test(">", Value("number", "200"))(250), value_test("=", Value("number", "400"))("400")
    (True, True)
    >>> value_test("!=", Value("text", "123.123.*"))("111.111.111.111")
    True
    >>> value_test("=", Value("regex", "Trail"))("UpdateTrail")
    True
    """
    if value.kind == "number":
        target = float(value.text)
        if op == "=":
            return lambda node: number_of(node) == target
        if op == "!=":
            return lambda node: text_of(node) is not None and number_of(node) != target
        ordering = _ORDERINGS[op]
        return lambda node: (number := number_of(node)) is not None and ordering(number, target)
    if op not in ("=", "!="):
        raise PatternError(reason=f"{op} needs a number, not {value.text!r}")
    if value.kind == "regex":
        search = compile_regex(value.text).search
        test: Callable[[str], bool] = lambda text: search(text) is not None  # noqa: E731
    else:
        test = wildcard_test(value.text)
    if op == "=":
        return lambda node: (text := text_of(node)) is not None and test(text)
    return lambda node: (text := text_of(node)) is not None and not test(text)


def required_text(node: Node, keys: Callable[[str], Sequence[str]]) -> frozenset[str]:
    """Substrings every message satisfying ``node`` contains (``keys`` gives a subject's own): the
    core of each ``=`` text, ``true`` for ``IS TRUE`` and so on. A cheap ``in`` test on them skips
    parsing most events that cannot match.

    >>> both = AllOf((Condition("a", "=", Value("text", "*ERR*")), Condition("a", "IS TRUE")))
    >>> sorted(required_text(both, lambda subject: ()))
    ['ERR', 'true']
    """
    if isinstance(node, AllOf):
        return frozenset().union(*(required_text(part, keys) for part in node.parts))
    if isinstance(node, AnyOf):
        return frozenset.intersection(*(required_text(part, keys) for part in node.parts))
    if node.op == "NOT EXISTS":
        return frozenset()
    found = set(keys(node.subject))
    if node.op.startswith("IS "):
        found.add(node.op[3:].lower())
    elif node.op == "=" and node.value is not None and node.value.kind == "text":
        text = node.value.text
        core = text[int(text.startswith("*")) : len(text) - int(len(text) > 1 and text.endswith("*"))]
        if core:
            found.add(core)
    return frozenset(found)


def check_regex_quota(node: Node) -> None:
    regexes = sum(1 for c in conditions(node) if c.value is not None and c.value.kind == "regex")
    if regexes > MAX_REGEXES:
        raise PatternError(reason=f"{regexes} regular expressions; at most {MAX_REGEXES}")
