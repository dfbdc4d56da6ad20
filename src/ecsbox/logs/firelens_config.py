"""FireLens configuration: classic-mode Fluent Bit configuration files (``[SECTION]``, ``@SET``,
``@INCLUDE``, ``${VAR}``), tag matching (``Match`` / ``Match_Regex``), record accessors
(``$key['sub'][0]``) and templates (``$1``, ``$TAG[n]``, ``${key}``). Pure: the filters in
:mod:`ecsbox.logs.firelens_filters` and the pipeline in :mod:`ecsbox.logs.firelens` build on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecsbox.core.errors import EcsboxError

Record = dict[str, Any]
Entry = tuple[float, Record]

MISSING: Any = object()


class FireLensConfigError(EcsboxError):
    """A configuration the router cannot run; the message is what the task's container status says."""


def firelens_tag(container: str, task_id: str) -> str:
    """The tag ECS gives an ``awsfirelens`` container's records.

    >>> firelens_tag("app", "8f2c")
    'app-firelens-8f2c'
    """
    return f"{container}-firelens-{task_id}"


# --- Configuration files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One ``[NAME]`` section: its entries in order, keys as written (compared case-insensitively)."""

    name: str  # upper-cased: SERVICE, INPUT, FILTER, OUTPUT, PARSER, ...
    entries: tuple[tuple[str, str], ...]
    source: str = "<config>"
    line: int = 0

    def get(self, key: str) -> str | None:
        """The last value of ``key`` (case-insensitive), as Fluent Bit keeps the last of a single-valued key."""
        found = self.get_all(key)
        return found[-1] if found else None

    def get_all(self, key: str) -> list[str]:
        lowered = key.lower()
        return [value for name, value in self.entries if name.lower() == lowered]

    @property
    def plugin(self) -> str:
        return (self.get("name") or "").lower()

    @property
    def where(self) -> str:
        return f"[{self.name}] at {self.source}:{self.line}"


@dataclass(frozen=True)
class FluentBitConfig:
    sections: tuple[Section, ...]
    variables: Mapping[str, str] = field(default_factory=dict)  # from @SET

    def of(self, name: str) -> list[Section]:
        return [section for section in self.sections if section.name == name.upper()]


VARIABLE = re.compile(r"\$\{([^}]*)\}")
_MAX_INCLUDE_DEPTH = 16


def parse_fluent_bit_config(
    text: str,
    include: Callable[[str], str] | None = None,
    env: Mapping[str, str] | None = None,
) -> FluentBitConfig:
    """Fluent Bit's classic format: ``[SECTION]`` headers, indented ``Key Value`` entries, ``#``
    comment lines, ``@INCLUDE path`` (read through ``include``) and ``@SET NAME=VALUE``; ``${NAME}``
    in a value is an @SET variable, else an ``env`` variable, else empty (as Fluent Bit does).
    Unknown sections and keys are kept.

    >>> config = parse_fluent_bit_config("[FILTER]\\n    Name grep\\n    Regex log ^a\\n")
    >>> config.sections[0].name, config.sections[0].entries
    ('FILTER', (('Name', 'grep'), ('Regex', 'log ^a')))
    """
    variables: dict[str, str] = {}
    sections: list[Section] = []
    _parse_into(text, "<config>", include, env or {}, variables, sections, [])
    return FluentBitConfig(tuple(sections), variables)


def _parse_into(
    text: str,
    source: str,
    include: Callable[[str], str] | None,
    env: Mapping[str, str],
    variables: dict[str, str],
    sections: list[Section],
    stack: list[str],
) -> None:
    name: str | None = None
    entries: list[tuple[str, str]] = []
    start = 0

    def close() -> None:
        if name is not None:
            sections.append(Section(name, tuple(entries), source, start))

    def fail(number: int, message: str) -> FireLensConfigError:
        return FireLensConfigError(f"{source}:{number}: {message}")

    def expand(value: str) -> str:
        return VARIABLE.sub(lambda m: variables.get(m[1], env.get(m[1], "")), value)

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("@"):
            directive, _, argument = stripped.partition(" ")
            argument = expand(argument.strip())
            if directive.upper() == "@SET":
                key, equals, value = argument.partition("=")
                if not equals or not key.strip():
                    raise fail(number, f"@SET expects NAME=VALUE, got {argument!r}")
                variables[key.strip()] = value.strip()
            elif directive.upper() == "@INCLUDE":
                if not argument:
                    raise fail(number, "@INCLUDE needs a path")
                if include is None:
                    raise fail(number, f"@INCLUDE {argument}: no file can be included here")
                if argument in stack or len(stack) >= _MAX_INCLUDE_DEPTH:
                    raise fail(number, f"@INCLUDE {argument}: includes itself")
                try:
                    included = include(argument)
                except Exception as problem:
                    raise fail(number, f"@INCLUDE {argument}: {problem}") from problem
                close()
                name, entries = None, []
                _parse_into(included, argument, include, env, variables, sections, [*stack, argument])
            else:
                raise fail(number, f"unknown directive {directive}")
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]") or not stripped[1:-1].strip():
                raise fail(number, f"invalid section header {stripped!r}")
            close()
            name, entries, start = stripped[1:-1].strip().upper(), [], number
            continue
        if name is None:
            raise fail(number, f"{stripped!r} is outside of any [SECTION]")
        if line[0] not in " \t":
            raise fail(number, f"invalid indentation level: entries of [{name}] are indented")
        key, value = key_value(stripped)
        value = expand(value)
        if not value:
            raise fail(number, f"key {key!r} has no value")
        entries.append((key, value))
    close()


def key_value(line: str) -> tuple[str, str]:
    parts = re.split(r"[ \t]+", line, maxsplit=1)
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


# --- Regular expressions, wildcards, record accessors ---------------------------------------------

_ONIG_NAMED = re.compile(r"\(\?<(?=[A-Za-z_])")


def fluent_regex(pattern: str) -> re.Pattern[str]:
    """A Fluent Bit (Onigmo, Ruby syntax) regular expression as Python's: ``/…/`` and ``/…/imx``
    forms, ``^``/``$`` at line boundaries (Ruby), ``(?<name>…)``, ``\\z`` and ``\\h``.

    >>> bool(fluent_regex("/^ERROR/i").search("error: disk full"))
    True
    """
    body, flags = pattern, re.MULTILINE
    last = pattern.rfind("/")
    if pattern.startswith("/") and last > 0 and set(pattern[last + 1 :]) <= set("imxo"):
        body = pattern[1:last]
        for option in pattern[last + 1 :]:
            flags |= {"i": re.IGNORECASE, "m": re.DOTALL, "x": re.VERBOSE}.get(option, 0)
    body = _ONIG_NAMED.sub("(?P<", body)
    body = re.sub(r"\\(\\)|\\z|\\h|\\H", _ruby_escape, body)
    try:
        return re.compile(body, flags)
    except re.error as problem:
        raise FireLensConfigError(f"invalid regular expression {pattern!r}: {problem}") from problem


def _ruby_escape(match: re.Match[str]) -> str:
    return {"\\z": "\\Z", "\\h": "[0-9a-fA-F]", "\\H": "[^0-9a-fA-F]"}.get(match[0], match[0])


def wildcard(pattern: str) -> re.Pattern[str]:
    """Fluent Bit's ``Match``: the whole tag, ``*`` any run of characters, all else literal.

    >>> bool(wildcard("app-firelens*").fullmatch("app-firelens-8f2c"))
    True
    """
    return re.compile("".join(".*" if char == "*" else re.escape(char) for char in pattern), re.DOTALL)


@dataclass(frozen=True)
class TagMatch:
    match: str | None = None
    match_regex: str | None = None
    _wildcard: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)
    _regex: re.Pattern[str] | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.match is not None:
            object.__setattr__(self, "_wildcard", wildcard(self.match))
        if self.match_regex is not None:
            object.__setattr__(self, "_regex", fluent_regex(self.match_regex))

    def __call__(self, tag: str) -> bool:
        if self._regex is not None:
            found = self._regex.match(tag)
            if found is not None and found.end() > 0:  # onig_match: a match of length > 0 at the start
                return True
        return self._wildcard is not None and self._wildcard.fullmatch(tag) is not None

    @property
    def empty(self) -> bool:
        return self.match is None and self.match_regex is None

    @classmethod
    def of(cls, section: Section) -> TagMatch:
        return cls(section.get("match"), section.get("match_regex"))


_SUBSCRIPT = re.compile(r"\[\s*(?:'([^']*)'|\"([^\"]*)\"|(-?\d+))\s*\]")

Path = tuple[str | int, ...]


def parse_accessor(text: str) -> Path:
    """A record accessor: ``$kubernetes['labels']['app']`` → ``('kubernetes', 'labels', 'app')``."""
    body = text[1:] if text.startswith("$") else text
    bracket = body.find("[")
    head = body if bracket < 0 else body[:bracket]
    if not head:
        raise FireLensConfigError(f"invalid record accessor {text!r}")
    path: list[str | int] = [head]
    position = len(head)
    while position < len(body):
        step = _SUBSCRIPT.match(body, position)
        if step is None:
            raise FireLensConfigError(f"invalid record accessor {text!r}")
        path.append(int(step[3]) if step[3] is not None else step[1] if step[1] is not None else step[2])
        position = step.end()
    return tuple(path)


def lookup(record: Any, path: Path) -> Any:
    """The value at ``path``, or ``MISSING``."""
    value = record
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return MISSING
            value = value[step]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return MISSING
    return value


def string_at(record: Record, path: Path) -> str | None:
    """The value at ``path`` when it is a string (what Fluent Bit's regex rules test), else None."""
    value = lookup(record, path)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def as_text(value: Any) -> str:
    """A value as a record accessor writes it into a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:f}"
    if value is None:
        return "null"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return ""


Part = tuple[str, Any]  # ("text", str) | ("group", int) | ("tag", None) | ("tag_part", int) | ("key", Path)


def parse_template(text: str) -> tuple[Part, ...]:
    """A record accessor template (rewrite_tag's NEW_TAG, cloudwatch_logs' ``*_template``):
    ``$TAG``, ``$TAG[n]`` (the n-th dot-separated part), ``$0``…``$9`` (regex groups) and
    ``$key['sub']`` (record values; a key ends at ``.``, space, ``,`` or ``"``)."""
    parts: list[Part] = []
    literal, position = [], 0
    while position < len(text):
        char = text[position]
        if char != "$" or position + 1 >= len(text):
            literal.append(char)
            position += 1
            continue
        if literal:
            parts.append(("text", "".join(literal)))
            literal = []
        following = text[position + 1]
        if following.isdigit():
            parts.append(("group", int(following)))
            position += 2
        elif text.startswith("TAG", position + 1):
            tag_part = re.match(r"\[(\d+)\]", text[position + 4 :])
            if tag_part:
                parts.append(("tag_part", int(tag_part[1])))
                position += 4 + tag_part.end()
            else:
                parts.append(("tag", None))
                position += 4
        else:
            end, quotes = position + 1, 0
            while end < len(text):
                if text[end] == "'":
                    quotes += 1
                elif text[end] in ' ,"' or (text[end] == "." and quotes % 2 == 0):
                    break
                end += 1
            parts.append(("key", parse_accessor(text[position:end])))
            position = end
    if literal:
        parts.append(("text", "".join(literal)))
    return tuple(parts)


def translate(
    parts: Sequence[Part], tag: str, record: Record, groups: re.Match[str] | None = None
) -> tuple[str, bool]:
    """The template's text for this record, and whether every record key it names was found."""
    out: list[str] = []
    found = True
    for kind, value in parts:
        if kind == "text":
            out.append(value)
        elif kind == "tag":
            out.append(tag)
        elif kind == "tag_part":
            pieces = tag.split(".")
            out.append(pieces[value] if value < len(pieces) else "")
        elif kind == "group":
            if groups is not None and value <= (groups.re.groups or 0):
                out.append(groups[value] or "")
        else:
            looked = lookup(record, value)
            if looked is MISSING:
                found = False
            else:
                out.append(as_text(looked))
    return "".join(out), found


def split_quoted(text: str, max_parts: int) -> list[str]:
    """Whitespace-separated tokens, a double-quoted token may hold spaces; the last of ``max_parts``
    takes the rest of the line.

    >>> split_quoted('msg "hello world"', 3)
    ['msg', 'hello world']
    """
    tokens: list[str] = []
    rest = text.strip()
    while rest:
        if len(tokens) == max_parts - 1:
            tokens.append(rest[1:-1] if len(rest) > 1 and rest[0] == rest[-1] == '"' else rest)
            break
        if rest[0] == '"' and '"' in rest[1:]:
            end = rest.index('"', 1)
            tokens.append(rest[1:end])
            rest = rest[end + 1 :].lstrip()
        else:
            token, _, rest = rest.partition(" ")
            tokens.append(token)
            rest = rest.lstrip()
    return tokens
