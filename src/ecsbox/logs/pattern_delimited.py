"""Space-delimited filter patterns (pure): ``[ip, user, ..., status_code = 4*, bytes > 1000]``, how a
message splits into fields, and the fields a matching event offers metric filters.

"The guide" and "the older guide" are the AWS pages named in :mod:`ecsbox.logs.patterns`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ecsbox.logs.pattern_common import Extractor, Fields, Matcher, PatternError, Predicate
from ecsbox.logs.pattern_conditions import (
    AllOf,
    Condition,
    Node,
    Parser,
    Token,
    check_regex_quota,
    combine,
    conditions,
    required_text,
    tokenize,
    value_test,
)

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
            node = Parser(group, json_keywords=False).parse()
            names = {c.subject for c in conditions(node)}
            if len(names) != 1:
                raise PatternError(reason=f"conditions on {sorted(names)} in one field")
            entries.append(DelimitedField(_field_name(("word", names.pop()), entries), node))
    check_regex_quota(AllOf(tuple(e.condition for e in entries if e.condition is not None)))
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
