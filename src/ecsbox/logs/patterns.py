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

The parser is split by purpose: :mod:`~ecsbox.logs.pattern_common` (limits, :class:`PatternError`,
types), :mod:`~ecsbox.logs.pattern_terms` (terms and regex), :mod:`~ecsbox.logs.pattern_conditions`
(the expressions of JSON and space-delimited patterns), :mod:`~ecsbox.logs.pattern_json` and
:mod:`~ecsbox.logs.pattern_delimited`. Other modules import from this one only; it names all of it.

>>> pattern = compile_pattern('{ $.level = "ERROR" && $.latency > 200 }')
>>> pattern.matches('{"level": "ERROR", "latency": 250}'), pattern.matches('{"level": "ERROR", "latency": 50}')
(True, False)
>>> compile_pattern("[..., status_code = 4*, bytes]").fields('10.0.0.1 - - "GET /a HTTP/1.0" 404 1534')
{'$1': '10.0.0.1', '$2': '-', '$3': '-', '$4': 'GET /a HTTP/1.0', '$status_code': '404', '$bytes': '1534'}
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import lru_cache

from ecsbox.logs import pattern_conditions, pattern_delimited, pattern_json, pattern_terms
from ecsbox.logs.pattern_common import (
    INVALID_PATTERN,
    MAX_PATTERN_LENGTH,
    MAX_REGEXES,
    MAX_WILDCARD_SELECTORS,
    TOO_LONG,
    Extractor,
    Fields,
    FieldValue,
    Matcher,
    PatternError,
    Predicate,
    everything,
)
from ecsbox.logs.pattern_conditions import (
    AllOf,
    AnyOf,
    Condition,
    JsonNumber,
    Node,
    Parser,
    Token,
    Value,
    check_regex_quota,
    combine,
    conditions,
    number_of,
    parse_value,
    required_text,
    text_of,
    tokenize,
    value_test,
    wildcard_test,
)
from ecsbox.logs.pattern_delimited import (
    ELLIPSIS,
    DelimitedField,
    compile_delimited,
    field_values,
    parse_delimited,
    rest_of_line,
    split_fields,
)
from ecsbox.logs.pattern_json import (
    Step,
    compile_json,
    json_condition,
    json_fields,
    load_object,
    parse_selector,
    select_all,
    select_one,
)
from ecsbox.logs.pattern_terms import (
    Term,
    compile_regex,
    invalid_characters,
    read_quoted,
    split_terms,
    terms_matcher,
    translate_regex,
)

__all__ = [
    "ELLIPSIS",
    "INVALID_PATTERN",
    "MAX_PATTERN_LENGTH",
    "MAX_REGEXES",
    "MAX_WILDCARD_SELECTORS",
    "TOO_LONG",
    "AllOf",
    "AnyOf",
    "Condition",
    "DelimitedField",
    "Extractor",
    "FieldValue",
    "Fields",
    "FilterPattern",
    "JsonNumber",
    "Matcher",
    "Node",
    "Parser",
    "PatternError",
    "Predicate",
    "Step",
    "Term",
    "Token",
    "Value",
    "check_regex_quota",
    "combine",
    "compile_delimited",
    "compile_json",
    "compile_pattern",
    "compile_regex",
    "conditions",
    "everything",
    "field_values",
    "invalid_characters",
    "json_condition",
    "json_fields",
    "load_object",
    "number_of",
    "parse_delimited",
    "parse_selector",
    "parse_value",
    "read_quoted",
    "required_text",
    "rest_of_line",
    "select_all",
    "select_one",
    "split_fields",
    "split_terms",
    "terms_matcher",
    "text_of",
    "tokenize",
    "translate_regex",
    "value_test",
    "wildcard_test",
]

# The worked examples in the parts' docstrings run with this module's (``doctest.testmod(patterns)``),
# in this module's namespace, which names everything they use.
__test__: dict[str, object] = {
    f"{part.__name__}.{name}": value
    for part in (pattern_terms, pattern_conditions, pattern_json, pattern_delimited)
    for name, value in vars(part).items()
    if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == part.__name__
}


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
        return "all", everything, _no_fields(everything)
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


def _no_fields(matcher: Matcher) -> Extractor:
    return lambda message: {} if matcher(message) else None
