"""CloudWatch Logs filter patterns (pure): parse a pattern once, then match many log events fast.

The syntax is the one AWS documents for metric filters, subscription filters, FilterLogEvents and
Live Tail: "Filter pattern syntax for metric filters, subscription filters, filter log events, and
Live Tail" (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html, called
"the guide" below; its earlier text is doc_source/FilterAndPatternSyntax.md in
awsdocs/amazon-cloudwatch-logs-user-guide, "the older guide"). A pattern is one of:

* terms: ``ERROR``, ``ERROR ARGUMENTS``, ``?ERROR ?WARN``, ``ERROR -ARGUMENTS``, ``"exact phrase"``;
* one regular expression: ``%AUTHORIZED%``;
* JSON: ``{ $.level = "ERROR" && $.latency > 200 }``;
* space-delimited: ``[ip, user, ..., status_code = 4*, bytes > 1000]``.

Where the guides leave a question open, the comment at the rule says what was decided and why.

>>> pattern = compile_pattern('{ $.level = "ERROR" && $.latency > 200 }')
>>> pattern.matches('{"level": "ERROR", "latency": 250}'), pattern.matches('{"level": "ERROR", "latency": 50}')
(True, False)
>>> compile_pattern("[..., status_code = 4*, bytes]").fields('10.0.0.1 - - "GET /a HTTP/1.0" 404 1534')
{'$1': '10.0.0.1', '$2': '-', '$3': '-', '$4': 'GET /a HTTP/1.0', '$status_code': '404', '$bytes': '1534'}
"""

from __future__ import annotations

import json
import math
import operator
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, TypeAlias, TypeVar

MAX_PATTERN_LENGTH: Final = 1024  # FilterPattern in the service model: max 1024
MAX_REGEXES: Final = 2  # "a limit of 2 regex for each filter pattern" (JSON and space-delimited)
MAX_WILDCARD_SELECTORS: Final = 3  # "up to three wildcard selectors in a filter pattern"
INVALID_PATTERN: Final = "Invalid filter pattern"
TOO_LONG: Final = (
    "1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: "
    f"Member must have length less than or equal to {MAX_PATTERN_LENGTH}"
)

FieldValue: TypeAlias = str | float | int | bool | None
Fields: TypeAlias = dict[str, FieldValue]
Matcher: TypeAlias = Callable[[str], bool]
Extractor: TypeAlias = Callable[[str], "Fields | None"]
T = TypeVar("T")
Predicate: TypeAlias = Callable[[T], bool]


class PatternError(ValueError):
    """Invalid filter pattern; ``str(e)`` is the message AWS answers with.

    AWS answers ``InvalidParameterException`` with a short message: "Invalid filter pattern" for
    most mistakes (aws-toolkit-jetbrains#3219, mapbox/ecs-watchbot#350), "Invalid character(s) in
    term '('" for an unquoted term with characters other than letters, digits and underscores,
    "If a filter pattern starts with '{' it must end with '}'" (jorgebastida/awslogs#210). A pattern
    longer than 1024 characters fails the service model's constraint instead (``ValidationException``).
    ``reason`` says what exactly is wrong, for logs (AWS does not say); ``code`` is the AWS error code.
    """

    def __init__(
        self, message: str = INVALID_PATTERN, *, reason: str = "", code: str = "InvalidParameterException"
    ) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.code = code


@dataclass(frozen=True)
class FilterPattern:
    """A compiled filter pattern; ``FilterPattern(text)`` raises :class:`PatternError` when invalid.

    ``kind`` is ``all`` (empty pattern), ``terms``, ``regex``, ``json`` or ``delimited``.
    """

    text: str
    kind: str = field(init=False, compare=False)
    _matcher: Matcher = field(init=False, repr=False, compare=False)
    _extractor: Extractor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kind, matcher, extractor = _compile(self.text)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "_matcher", matcher)
        object.__setattr__(self, "_extractor", extractor)

    def matches(self, message: str) -> bool:
        """Whether the log event message matches."""
        return self._matcher(message)

    def fields(self, message: str) -> Fields | None:
        """For a match, the values metric filters can use: every scalar of a JSON event by selector
        (``"$.latency"`` → 250, ``"$.a[0].b"`` → "x"), or a space-delimited pattern's fields (``"$bytes"``
        → "1534", unnamed ones by position: ``"$1"``); ``{}`` for terms; None when it does not match.
        """
        return self._extractor(message)


@lru_cache(maxsize=256)
def compile_pattern(text: str) -> FilterPattern:
    """The pattern, parsed once (``aws logs tail --follow`` sends the same one every second)."""
    return FilterPattern(text)


def _compile(text: str) -> tuple[str, Matcher, Extractor]:
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(TOO_LONG, code="ValidationException")
    body = text.strip()
    if not body:  # the older guide: 'The filter pattern "" matches all log events'
        return "all", _everything, _no_fields(_everything)
    if body[0] == "{":
        if body[-1] != "}":
            raise PatternError("If a filter pattern starts with '{' it must end with '}'")
        return "json", *compile_json(body[1:-1])
    if body[0] == "[":
        if body[-1] != "]":
            raise PatternError("If a filter pattern starts with '[' it must end with ']'")
        return "delimited", *compile_delimited(body[1:-1])
    if len(body) > 1 and body[0] == "%" and body[-1] == "%":
        # The guide: regex "can be used to create standalone filter patterns" (or inside JSON and
        # space-delimited ones); beside terms a % is an invalid character like any other.
        search = compile_regex(body[1:-1]).search
        matcher: Matcher = lambda message: search(message) is not None  # noqa: E731
        return "regex", matcher, _no_fields(matcher)
    matcher = terms_matcher(split_terms(body))
    return "terms", matcher, _no_fields(matcher)


def _everything(message: str) -> bool:
    return True


def _no_fields(matcher: Matcher) -> Extractor:
    return lambda message: {} if matcher(message) else None


# --- Terms ------------------------------------------------------------------------------------

_WORD: Final = re.compile(r"[A-Za-z0-9_]+")
_NOT_WORD: Final = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class Term:
    """One term of an unstructured pattern and its mark: ``""`` must appear, ``"?"`` any of these
    may, ``"-"`` must not."""

    text: str
    mark: str = ""


def invalid_characters(term: str, invalid: re.Pattern[str] = _NOT_WORD) -> PatternError:
    """The error for an unquoted term with characters other than letters, digits and underscores.

    AWS quotes the first run of them: ``Status:`` gives "Invalid character(s) in term ':'",
    ``$."sc-status"`` gives "... in term '$."'" (both reported from the API as it answers).

    >>> str(invalid_characters("Status:"))
    "Invalid character(s) in term ':'"
    """
    run = invalid.search(term)
    return PatternError(f"Invalid character(s) in term '{run.group() if run else term}'", reason=repr(term))


def read_quoted(text: str, start: int) -> tuple[str, int]:
    """The string in double quotes at ``start`` and the index after its closing quote; ``\\"`` is a
    quote and ``\\\\`` a backslash inside, any other backslash stays as it is.

    >>> read_quoted('x "say \\\\"hi\\\\"" y', 2)
    ('say "hi"', 14)
    """
    chars: list[str] = []
    i, end = start + 1, len(text)
    while i < end:
        char = text[i]
        if char == "\\" and i + 1 < end and text[i + 1] in '"\\':
            chars.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(chars), i + 1
        else:
            chars.append(char)
            i += 1
    raise PatternError(reason=f"unterminated quote at {start}")


def split_terms(pattern: str) -> list[Term]:
    """The terms of an unstructured pattern, in order.

    "Enclose exact phrases and terms that include non-alphanumeric characters in double quotation
    marks" (the guide; the older one: "other than alphanumeric or underscore"). The older guide writes
    ``"ERROR" - "Exiting"``, so a space may follow a ``-`` or ``?``. An empty phrase ``""`` is
    refused as AWS refuses it ("Invalid character(s) in term '\"\"'", DefangLabs/defang#1008).

    >>> split_terms('ERROR -"Exiting now" ?WARN')
    [Term(text='ERROR', mark=''), Term(text='Exiting now', mark='-'), Term(text='WARN', mark='?')]
    """
    terms: list[Term] = []
    i, end = 0, len(pattern)
    while True:
        while i < end and pattern[i].isspace():
            i += 1
        if i == end:
            return terms
        mark = ""
        if pattern[i] in "?-":
            mark = pattern[i]
            i += 1
            while i < end and pattern[i].isspace():
                i += 1
            if i == end:
                raise invalid_characters(mark)
        if pattern[i] == '"':
            start = i
            text, i = read_quoted(pattern, i)
            if not text:
                raise PatternError("Invalid character(s) in term '\"\"'")
            if i < end and not pattern[i].isspace():
                raise invalid_characters(pattern[start : i + 1])
        else:
            start = i
            while i < end and not pattern[i].isspace():
                i += 1
            text = pattern[start:i]
            if not _WORD.fullmatch(text):
                raise invalid_characters(text)
        terms.append(Term(text, mark))


def terms_matcher(terms: Sequence[Term]) -> Matcher:
    """Whether a message has the terms: every plain one and no ``-`` one; ``?`` terms, alone, any one.

    Terms are case-sensitive substrings, not words: the older guide's "ERROR" matches "Exiting with
    ERRORCODE: -1" and "ERROR Exception" matches "[ERROR] Caught IllegalArgumentException"; so
    ``ERROR`` matches ``ERRORS``. The guide: "If you combine "?" with other filter patterns, all
    question mark terms will be ignored" — ``?ERROR ?ARGUMENTS REQUEST`` is ``REQUEST``. ``" "`` is
    documented as "match everything", so a blank phrase is in every message.

    >>> terms_matcher(split_terms("ERROR -ARGUMENTS"))("[ERROR 400] BAD REQUEST")
    True
    >>> terms_matcher(split_terms("?ERROR ?ARGUMENTS REQUEST"))("[ERROR] MISSING ARGUMENTS")
    False
    """
    required = tuple(t.text for t in terms if t.mark == "" and not t.text.isspace())
    excluded = tuple(t.text for t in terms if t.mark == "-")
    optional = tuple(t.text for t in terms if t.mark == "?")
    combined = len(optional) < len(terms)
    if any(text.isspace() for text in excluded):
        return lambda message: False
    if combined or not optional:
        return _all_without(required, excluded)
    if any(text.isspace() for text in optional):
        return _everything

    def matcher(message: str) -> bool:
        for text in optional:  # noqa: SIM110 - a loop is several times faster than any() on a generator
            if text in message:
                return True
        return False

    return matcher


def _all_without(required: tuple[str, ...], excluded: tuple[str, ...]) -> Matcher:
    # The common shapes get closures of their own: FilterLogEvents may scan a million events.
    if not excluded:
        if not required:
            return _everything
        if len(required) == 1:
            (only,) = required
            return lambda message: only in message
    elif not required and len(excluded) == 1:
        (banned,) = excluded
        return lambda message: banned not in message

    def matcher(message: str) -> bool:
        for text in required:
            if text not in message:
                return False
        return all(text not in message for text in excluded)

    return matcher


# --- Regular expressions ----------------------------------------------------------------------

_REGEX_LITERALS: Final = frozenset(string.ascii_letters + string.digits + ":_#=@/;,- ")
_REGEX_OPERATORS: Final = frozenset("^$?[]{}|\\*+.")
_REGEX_CLASSES: Final = frozenset("dDsSwW")
_QUANTIFIER: Final = re.compile(r"\{\s*(\d*)\s*(,?)\s*(\d*)\s*\}")
_HEX: Final = re.compile(r"[0-9A-Fa-f]{2}")


def translate_regex(body: str) -> str:
    """The Python regex for an AWS one (the text between the ``%`` signs), or PatternError.

    The guide allows letters, digits, the symbols ``: _ # = @ / ; , -``, the operators
    ``^ $ ? [ ] { } | \\ * + .``, the escapes ``\\d \\D \\s \\S \\w \\W \\xhh`` and a backslash before
    an operator or symbol (not before another letter or digit: ``\\p`` is refused); not ``(`` or
    ``)``, nor multi-byte characters ("%something!% would be rejected"). A space is taken too: the
    guide's own ``%^starting|^initializing|^shutting down%`` has one. Braces outside a class make a
    ``{m, n}`` quantifier, spaces allowed as the guide writes it, either bound left out at will.

    >>> translate_regex(r"111\\.111\\.1[0-9]{1, 2}")
    '111\\\\.111\\\\.1[0-9]{1,2}'
    """
    if not body:
        raise PatternError(reason="empty regular expression")
    out: list[str] = []
    i, end, in_class = 0, len(body), False
    while i < end:
        char = body[i]
        if char == "\\":
            escaped = body[i + 1 : i + 2]
            if escaped in _REGEX_CLASSES and escaped:
                out.append(body[i : i + 2])
                i += 2
            elif escaped == "x" and _HEX.fullmatch(body[i + 2 : i + 4]):
                out.append(body[i : i + 4])
                i += 4
            elif escaped and (
                escaped in _REGEX_OPERATORS or (escaped in _REGEX_LITERALS and not escaped.isalnum())
            ):
                out.append(re.escape(escaped))
                i += 2
            else:
                raise PatternError(reason=f"unsupported escape \\{escaped} in regex")
            continue
        quantifier = None if in_class or char != "{" else _QUANTIFIER.match(body, i)
        if quantifier:
            low, comma, high = quantifier.groups()
            if not (low or high):
                raise PatternError(reason="a {m,n} quantifier needs a bound")
            out.append("{" + low + comma + high + "}")
            i = quantifier.end()
            continue
        if char in "{}" and not in_class:
            raise PatternError(reason=f"{char} outside a {{m,n}} quantifier in regex")
        if ord(char) > 127:
            raise PatternError(reason="multi-byte characters are not supported in regex")
        if char not in _REGEX_OPERATORS and char not in _REGEX_LITERALS:
            raise PatternError(reason=f"{char!r} is not supported in regex")
        if char == "[" and not in_class:
            in_class = True
            out.append(char)
            i += 1
            # A ] first in a class (after an optional ^) is a literal ], not the end.
            if body[i : i + 1] == "^":
                out.append("^")
                i += 1
            if body[i : i + 1] == "]":
                out.append("\\]")
                i += 1
            continue
        if char == "]" and in_class:
            in_class = False
        elif in_class and char in "[|":
            char = "\\" + char  # literal in a class; Python warns of nested sets otherwise
        out.append(char)
        i += 1
    return "".join(out)


def compile_regex(body: str) -> re.Pattern[str]:
    """The compiled regex for an AWS one; ``\\w`` is ``[a-zA-Z_0-9]`` as the guide says (ASCII).

    >>> bool(compile_regex("AUTHORIZED").search("[ERROR 401] UNAUTHORIZED REQUEST"))
    True
    """
    translated = translate_regex(body)
    try:
        return re.compile(translated, re.ASCII)
    except re.error as error:
        raise PatternError(reason=f"regex {body!r}: {error}") from None


# --- Conditions (JSON patterns and space-delimited fields) ------------------------------------

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


class _Parser:
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


class _JsonNumber(str):
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
        return float(value) if type(value) is _JsonNumber or _NUMBER.fullmatch(value) else None
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


def _check_regex_quota(node: Node) -> None:
    regexes = sum(1 for c in conditions(node) if c.value is not None and c.value.kind == "regex")
    if regexes > MAX_REGEXES:
        raise PatternError(reason=f"{regexes} regular expressions; at most {MAX_REGEXES}")


# --- JSON patterns ----------------------------------------------------------------------------

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
_DECODER: Final = json.JSONDecoder(parse_float=_JsonNumber, parse_constant=_refuse_constant)


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
        elif isinstance(node, _JsonNumber):
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
    node = _Parser(tokenize(body), json_keywords=True).parse()
    _check_regex_quota(node)
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


# --- Space-delimited patterns -----------------------------------------------------------------

# "Characters between brackets ("[]") and double quotation marks ("") are considered single fields."
_FIELD: Final = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
_FIELD_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ELLIPSIS: Final = "..."


@dataclass(frozen=True)
class DelimitedField:
    """One entry of a space-delimited pattern: a named or unnamed field, perhaps with a condition."""

    name: str | None = None
    condition: Node | None = None


def split_fields(message: str) -> list[str]:
    """A message's fields: words, and ``[...]`` and ``"..."`` runs without their brackets or quotes.

    >>> split_fields('127.0.0.1 - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200')
    ['127.0.0.1', '-', '10/Oct/2000:13:55:36 -0700', 'GET /a HTTP/1.0', '200']
    """
    if '"' not in message and "[" not in message:
        return message.split()  # the same fields, several times faster
    return [m.group(m.lastindex or 0) for m in _FIELD.finditer(message)]


def rest_of_line(message: str, index: int) -> str:
    """The message as written from its field ``index`` (0-based) on, trailing blanks dropped.

    >>> rest_of_line('a [b c] "d e"  ', 1)
    '[b c] "d e"'
    """
    for number, match in enumerate(_FIELD.finditer(message)):
        if number == index:
            return message[match.start() :].rstrip()
    return ""


def parse_delimited(body: str) -> tuple[list[DelimitedField], int | None]:
    """A space-delimited pattern's entries and where its ellipsis stands (None without one).

    An entry is a name, a name with conditions on it (``status_code = 404 || status_code = 410``),
    ``...`` or nothing (an unnamed field: the older guide's ``[..., request=*.html*, status_code=4*,]``
    extracts its last field as ``$7``). A condition names its own field only: AWS refuses the older
    guide's ``status_code = 4* && bytes > 1000`` ("Invalid filter pattern",
    awsdocs/amazon-cloudwatch-logs-user-guide#21). One ellipsis at most: two would be ambiguous.

    >>> parse_delimited("ip, ..., status_code = 404 || status_code = 410,")[1]
    1
    """
    tokens = tokenize(body)
    if not tokens:  # [] names no field: it matches every event, as [...] does
        return [], 0
    groups: list[list[Token]] = [[]]
    for token in tokens:
        if token == ("op", ","):
            groups.append([])
        else:
            groups[-1].append(token)
    entries: list[DelimitedField] = []
    ellipsis: int | None = None
    for group in groups:
        if group == [("word", ELLIPSIS)]:
            if ellipsis is not None:
                raise PatternError(reason="a space-delimited pattern has one ellipsis at most")
            ellipsis = len(entries)
        elif not group:
            entries.append(DelimitedField())
        elif len(group) == 1:
            entries.append(DelimitedField(_field_name(group[0], entries)))
        else:
            node = _Parser(group, json_keywords=False).parse()
            names = {c.subject for c in conditions(node)}
            if len(names) != 1:
                raise PatternError(reason=f"conditions on {sorted(names)} in one field")
            entries.append(DelimitedField(_field_name(("word", names.pop()), entries), node))
    _check_regex_quota(AllOf(tuple(e.condition for e in entries if e.condition is not None)))
    return entries, ellipsis


def _field_name(token: Token, entries: Sequence[DelimitedField]) -> str:
    kind, name = token
    if kind != "word" or not _FIELD_NAME.fullmatch(name) or any(e.name == name for e in entries):
        raise PatternError(reason=f"field name {name!r}")
    return name


def field_values(
    message: str, found: Sequence[str], before: int, after: int, ellipsis: bool
) -> tuple[list[str], list[str]] | None:
    """The values of the pattern's fields in order, and those the ellipsis covers; None when the
    message has too few fields.

    Without an ellipsis the last field takes the rest of the line: the guide's ``[w1=ERROR, w2]``
    matches "ERROR 09/25/2014 12:00:02 Failed to process request" and "you must include a blank
    indicator" after w1, which holds only if a lone ``[w1=ERROR]`` compares the whole line.

    >>> field_values("a b c d", split_fields("a b c d"), 2, 0, False)
    (['a', 'b c d'], [])
    >>> field_values("a b c d", split_fields("a b c d"), 1, 1, True)
    (['a', 'd'], ['b', 'c'])
    """
    count = len(found)
    if count < before + after:
        return None
    if ellipsis:
        named = [*found[:before], *found[count - after :]] if after else list(found[:before])
        return named, list(found[before : count - after])
    values = list(found[:before])
    if count > before:
        values[-1] = rest_of_line(message, before - 1)
    return values, []


def _delimited_condition(condition: Condition) -> Predicate[str]:
    assert condition.value is not None
    return value_test(condition.op, condition.value)


def compile_delimited(body: str) -> tuple[Matcher, Extractor]:
    """Matcher and extractor for a space-delimited pattern's body (between the brackets).

    >>> matches, fields = compile_delimited("w1=ERROR || w1=WARNING, w2")
    >>> matches("WARNING 09/25/2014 12:00:02 Invalid user request"), matches("INFO 09/25/2014 GET /")
    (True, False)
    """
    entries, ellipsis_at = parse_delimited(body)
    before = len(entries) if ellipsis_at is None else ellipsis_at
    after = len(entries) - before
    has_ellipsis = ellipsis_at is not None
    checks = tuple(
        (index, combine(entry.condition, _delimited_condition))
        for index, entry in enumerate(entries)
        if entry.condition is not None
    )
    # Every field is a piece of the message as written, so an = text's core must be in it.
    needles = tuple(
        frozenset().union(*(required_text(e.condition, lambda s: ()) for e in entries if e.condition))
    )

    def assigned(message: str) -> tuple[list[str], list[str], int] | None:
        for needle in needles:
            if needle not in message:
                return None
        found = split_fields(message)
        values = field_values(message, found, before, after, has_ellipsis)
        if values is None:
            return None
        for index, check in checks:
            if not check(values[0][index]):
                return None
        return values[0], values[1], len(found)

    def fields(message: str) -> Fields | None:
        values = assigned(message)
        if values is None:
            return None
        named, covered, count = values
        positions = [*range(1, before + 1), *range(count - after + 1, count + 1)]
        keyed = [
            (position, f"${entry.name}" if entry.name else f"${position}", value)
            for position, entry, value in zip(positions, entries, named, strict=True)
        ]
        keyed += [
            (before + offset + 1, f"${before + offset + 1}", value) for offset, value in enumerate(covered)
        ]
        # Listed in the order the fields stand in the message.
        return {key: value for _, key, value in sorted(keyed, key=lambda item: item[0])}

    return (lambda message: assigned(message) is not None), fields
