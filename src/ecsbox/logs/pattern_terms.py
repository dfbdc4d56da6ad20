"""Filter patterns made of terms (``ERROR -ARGUMENTS``, ``?ERROR ?WARN``, ``"exact phrase"``) and AWS's
regular expressions (``%AUTHORIZED%``), alone or inside JSON and space-delimited patterns (pure).

"The guide" and "the older guide" are the AWS pages named in :mod:`ecsbox.logs.patterns`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ecsbox.logs.pattern_common import Matcher, PatternError, everything

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
        return everything

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
            return everything
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
