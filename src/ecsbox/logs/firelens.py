"""FireLens: what ECS's generated Fluent Bit configuration, plus the user's ``config-file-type: file``
configuration, does to the records of a task's ``awsfirelens`` containers. Pure: parsing and the
record pipeline; :mod:`ecsbox.logs.firelens_outputs` performs the outputs.

The pipeline is the one the ECS agent writes (``agent/taskresource/firelens/firelensconfig_unix.go``
through ``go-config-generator-for-fluentd-and-fluentbit``), in this order:

1. one ``grep`` filter per ``include-pattern`` (``Regex log …``), then one per ``exclude-pattern``
   (``Exclude log …``), each ``Match <container>-firelens*``;
2. a ``record_modifier`` (``Match *``) adding ``ecs_cluster``, ``ecs_task_arn``,
   ``ecs_task_definition`` (and ``ec2_instance_id`` when known) unless the router's
   ``enable-ecs-log-metadata`` option is ``false``; Docker's fluentd driver already sent
   ``container_id``, ``container_name``, ``source`` and ``log``;
3. the extra configuration's FILTER sections, in order (``@INCLUDE``d after the generated filters),
   and its OUTPUT sections;
4. one OUTPUT per container whose ``logConfiguration.options`` name a plugin: ``Name`` selects it,
   ``Match <container>-firelens*``, every other option verbatim.

A record's tag is ``<container>-firelens-<task id>``. Matching follows Fluent Bit's router:
``Match`` is a whole-tag wildcard where ``*`` stands for any run of characters (case-sensitive,
nothing else is special); ``Match_Regex`` matches from the tag's start. A ``rewrite_tag`` filter
re-emits a copy under a new tag, which enters the pipeline again from its first filter.

>>> pipeline = build_pipeline({"app": {"Name": "stdout"}}, {}, None, {"ecs_cluster": "prod"})
>>> [(e.tag, e.record["ecs_cluster"]) for e in pipeline.process("app-firelens-t1", [(1.0, {"log": "hi"})])]
[('app-firelens-t1', 'prod')]
"""

from __future__ import annotations

import json
import re
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ecsbox.core.errors import EcsboxError

Record = dict[str, Any]
Entry = tuple[float, Record]

SUPPORTED_OUTPUTS = frozenset({"cloudwatch_logs", "cloudwatch", "file", "http", "stdout", "null"})
ACCEPTED_INPUTS = frozenset({"forward", "tcp"})  # ecsbox's Forward receiver is the input
GENERIC_KEYS = frozenset({"name", "match", "match_regex", "alias", "log_level"})
# Container options that are not the output plugin's (the agent turns the patterns into grep filters
# and gives the buffer limit to Docker's fluentd driver).
_NOT_PLUGIN_OPTIONS = frozenset({"Name", "include-pattern", "exclude-pattern", "log-driver-buffer-limit"})
MAX_REEMIT_DEPTH = 8  # rewrite_tag chains deeper than this are dropped (a loop, not a route)
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


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
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
        return _VARIABLE.sub(lambda m: variables.get(m[1], env.get(m[1], "")), value)

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
        key, value = _key_value(stripped)
        value = expand(value)
        if not value:
            raise fail(number, f"key {key!r} has no value")
        entries.append((key, value))
    close()


def _key_value(line: str) -> tuple[str, str]:
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


# --- Filters ---------------------------------------------------------------------------------------


class Filter:
    """One FILTER section: ``apply`` returns the record (changed or not), or None to drop it."""

    def __init__(self, match: TagMatch, where: str) -> None:
        self.match = match
        self.where = where

    def apply(self, tag: str, record: Record) -> Record | None:
        return record


@dataclass(frozen=True)
class GrepRule:
    exclude: bool
    path: Path
    regex: re.Pattern[str]

    def found(self, record: Record) -> bool:
        value = string_at(record, self.path)
        return value is not None and self.regex.search(value) is not None


class GrepFilter(Filter):
    """``Regex KEY REGEX`` keeps, ``Exclude KEY REGEX`` drops. ``Logical_Op legacy`` (the default)
    takes the rules in order: a Regex that fails drops the record, one that matches keeps it at
    once, an Exclude that matches drops it. ``AND`` / ``OR`` combine rules of one kind."""

    def __init__(self, match: TagMatch, where: str, rules: Sequence[GrepRule], logical_op: str) -> None:
        super().__init__(match, where)
        self.rules = tuple(rules)
        self.logical_op = logical_op

    def apply(self, tag: str, record: Record) -> Record | None:
        return record if self.keeps(record) else None

    def keeps(self, record: Record) -> bool:
        if self.logical_op == "legacy" or not self.rules:
            for rule in self.rules:
                found = rule.found(record)
                if not rule.exclude:
                    return found
                if found:
                    return False
            return True
        results = (rule.found(record) for rule in self.rules)
        found = any(results) if self.logical_op == "or" else all(results)
        return found != self.rules[0].exclude


def _grep(section_match: TagMatch, where: str, entries: Sequence[tuple[str, str]]) -> GrepFilter:
    logical_op = "legacy"
    rules: list[GrepRule] = []
    for key, value in entries:
        lowered = key.lower()
        if lowered == "logical_op":
            logical_op = value.lower() if value.lower() in ("and", "or", "legacy") else "legacy"
        elif lowered in ("regex", "exclude"):
            field_name, pattern = _key_value(value)
            if not pattern:
                raise FireLensConfigError(f"grep {where}: {key} expects KEY REGEX, got {value!r}")
            rules.append(GrepRule(lowered == "exclude", parse_accessor(field_name), fluent_regex(pattern)))
    if logical_op != "legacy" and len({rule.exclude for rule in rules}) > 1:
        raise FireLensConfigError(f"grep {where}: Both 'regex' and 'exclude' are set with Logical_Op")
    return GrepFilter(section_match, where, rules, logical_op)


class RecordModifierFilter(Filter):
    """``Record KEY VALUE`` appends fields; ``Remove_key`` / ``Allowlist_key`` (or ``Whitelist_key``)
    drop fields, compared case-insensitively, a trailing ``*`` matching any key with that prefix."""

    def __init__(
        self,
        match: TagMatch,
        where: str,
        records: Sequence[tuple[str, str]],
        remove: Sequence[str] = (),
        allow: Sequence[str] = (),
        uuid_key: str | None = None,
    ) -> None:
        super().__init__(match, where)
        self.records = tuple(records)
        self.remove = tuple(key.lower() for key in remove)
        self.allow = tuple(key.lower() for key in allow)
        self.uuid_key = uuid_key

    def apply(self, tag: str, record: Record) -> Record | None:
        if self.remove or self.allow:
            listed, keep_listed = (self.allow, True) if self.allow else (self.remove, False)
            record = {k: v for k, v in record.items() if _key_listed(k, listed) == keep_listed}
        for key, value in self.records:
            record.pop(key, None)
            record[key] = value
        if self.uuid_key:
            record[self.uuid_key] = str(uuid.uuid4())
        return record


def _key_listed(key: str, listed: Sequence[str]) -> bool:
    lowered = key.lower()
    return any(lowered.startswith(item[:-1]) if item.endswith("*") else lowered == item for item in listed)


def _record_modifier(
    match: TagMatch, where: str, entries: Sequence[tuple[str, str]], warnings: list[str]
) -> RecordModifierFilter:
    records: list[tuple[str, str]] = []
    remove: list[str] = []
    allow: list[str] = []
    uuid_key = None
    for key, value in entries:
        lowered = key.lower()
        if lowered == "record":
            name, content = _key_value(value)
            if not content:
                warnings.append(f"record_modifier {where}: invalid record parameters, expects 'KEY VALUE'")
                continue
            records.append((name, content))
        elif lowered == "remove_key":
            remove.append(value)
        elif lowered in ("allowlist_key", "whitelist_key"):
            allow.append(value)
        elif lowered == "uuid_key":
            uuid_key = value
    if remove and allow:
        raise FireLensConfigError(f"record_modifier {where}: remove_key and allowlist_key are exclusive")
    return RecordModifierFilter(match, where, records, remove, allow, uuid_key)


_ONE_ARGUMENT = frozenset({"remove", "remove_wildcard", "remove_regex", "move_to_start", "move_to_end"})
_TWO_ARGUMENTS = frozenset({"set", "add", "rename", "hard_rename", "copy", "hard_copy"})
_CONDITIONS = {
    "key_exists": 1, "key_does_not_exist": 1, "a_key_matches": 1, "no_key_matches": 1,
    "key_value_equals": 2, "key_value_does_not_equal": 2, "key_value_matches": 2,
    "key_value_does_not_match": 2, "matching_keys_have_matching_values": 2,
    "matching_keys_do_not_have_matching_values": 2,
}  # fmt: skip


@dataclass(frozen=True)
class ModifyStep:
    operation: str  # a rule (set, rename, ...) or a condition (key_exists, ...)
    key: str
    value: str = ""
    key_regex: re.Pattern[str] | None = None
    value_regex: re.Pattern[str] | None = None


class ModifyFilter(Filter):
    """Fluent Bit's ``modify``: every Condition must hold, then the rules run in order, each on the
    result of the one before (``filter_modify/modify.c``). Set and Add append at the end, Rename
    keeps the key's place, Copy inserts after the source; a ``*_does_not_*`` condition is the
    negation of its positive form (so it also holds when the key is missing)."""

    def __init__(
        self, match: TagMatch, where: str, conditions: Sequence[ModifyStep], rules: Sequence[ModifyStep]
    ) -> None:
        super().__init__(match, where)
        self.conditions = tuple(conditions)
        self.rules = tuple(rules)

    def apply(self, tag: str, record: Record) -> Record | None:
        if all(_condition(step, record) for step in self.conditions):
            for step in self.rules:
                record = _rule(step, record)
        return record


def _value_of(record: Record, key: str) -> Any:
    return lookup(record, parse_accessor(key)) if key.startswith("$") else record.get(key, MISSING)


def _value_is(record: Record, key: str, test: Callable[[str], bool]) -> bool:
    value = _value_of(record, key)
    return isinstance(value, str) and test(value)


def _condition(step: ModifyStep, record: Record) -> bool:
    operation, key, value = step.operation, step.key, step.value
    key_regex, value_regex = step.key_regex, step.value_regex
    if operation.endswith(
        ("_does_not_exist", "_does_not_equal", "_does_not_match", "_not_have_matching_values")
    ):
        positive = {
            "key_does_not_exist": "key_exists",
            "key_value_does_not_equal": "key_value_equals",
            "key_value_does_not_match": "key_value_matches",
            "matching_keys_do_not_have_matching_values": "matching_keys_have_matching_values",
        }[operation]
        return not _condition(ModifyStep(positive, key, value, key_regex, value_regex), record)
    if operation == "key_exists":
        return _value_of(record, key) is not MISSING
    if operation in ("a_key_matches", "no_key_matches"):
        assert key_regex is not None
        return any(key_regex.search(k) for k in record) == (operation == "a_key_matches")
    if operation == "key_value_equals":
        return _value_is(record, key, lambda text: text == value)
    if operation == "key_value_matches":
        assert value_regex is not None
        return _value_is(record, key, lambda text: value_regex.search(text) is not None)
    assert key_regex is not None and value_regex is not None  # matching_keys_have_matching_values
    return all(
        isinstance(v, str) and value_regex.search(v) is not None
        for k, v in record.items()
        if key_regex.search(k)
    )


def _rule(step: ModifyStep, record: Record) -> Record:
    operation, key, target = step.operation, step.key, step.value
    if operation == "set":
        record.pop(key, None)
        record[key] = target
    elif operation == "add":
        record.setdefault(key, target)
    elif operation in ("remove", "remove_wildcard", "remove_regex"):
        return {k: v for k, v in record.items() if not _selects(step, k)}
    elif operation in ("move_to_start", "move_to_end"):
        chosen = {k: v for k, v in record.items() if _selects(step, k)}
        rest = {k: v for k, v in record.items() if k not in chosen}
        return {**chosen, **rest} if operation == "move_to_start" else {**rest, **chosen}
    elif operation in ("rename", "hard_rename") and key in record:
        if operation == "rename" and target in record:
            return record
        return {(target if k == key else k): v for k, v in record.items() if k != target}
    elif operation in ("copy", "hard_copy") and key in record:
        if operation == "copy" and target in record:
            return record
        copied: Record = {}
        for k, v in record.items():
            if k != target:
                copied[k] = v
            if k == key:
                copied[target] = v
        return copied
    return record


def _selects(step: ModifyStep, key: str) -> bool:
    if step.operation == "remove":
        return key == step.key
    if step.operation == "remove_regex":
        assert step.key_regex is not None
        return step.key_regex.search(key) is not None
    return key.startswith(step.key.rstrip("*"))  # remove_wildcard, move_to_*: a key prefix


def _modify(match: TagMatch, where: str, entries: Sequence[tuple[str, str]]) -> ModifyFilter:
    conditions: list[ModifyStep] = []
    rules: list[ModifyStep] = []
    for key, value in entries:
        lowered = key.lower()
        if lowered == "condition":
            tokens = split_quoted(value, 3)
            kind = tokens[0].lower() if tokens else ""
            if kind not in _CONDITIONS or len(tokens) != 1 + _CONDITIONS[kind]:
                raise FireLensConfigError(f"modify {where}: invalid Condition {value!r}")
            regex_key = kind in ("a_key_matches", "no_key_matches") or kind.startswith("matching_keys")
            regex_value = kind.startswith(("key_value_matches", "key_value_does_not_match", "matching_keys"))
            conditions.append(
                ModifyStep(
                    kind,
                    tokens[1],
                    tokens[2] if len(tokens) > 2 else "",
                    fluent_regex(tokens[1]) if regex_key else None,
                    fluent_regex(tokens[2]) if regex_value else None,
                )
            )
            continue
        lowered = "add" if lowered == "add_if_not_present" else lowered
        tokens = split_quoted(value, 3)
        arity = 1 if lowered in _ONE_ARGUMENT else 2 if lowered in _TWO_ARGUMENTS else 0
        if arity == 0:
            raise FireLensConfigError(f"modify {where}: invalid operation {key} {value}")
        if len(tokens) != arity:
            raise FireLensConfigError(
                f"modify {where}: {key} expects {'KEY' if arity == 1 else 'KEY VALUE'}, got {value!r}"
                + (" (quote a value that holds spaces)" if len(tokens) > arity else "")
            )
        regex = fluent_regex(tokens[0]) if lowered == "remove_regex" else None
        rules.append(ModifyStep(lowered, tokens[0], tokens[1] if arity == 2 else "", regex))
    return ModifyFilter(match, where, conditions, rules)


@dataclass(frozen=True)
class RewriteRule:
    path: Path
    regex: re.Pattern[str]
    new_tag: tuple[Part, ...]
    keep: bool


class RewriteTagFilter(Filter):
    """``Rule $KEY REGEX NEW_TAG KEEP``: the first rule whose regex matches the key's string value
    re-emits a copy of the record under NEW_TAG (``$TAG``, ``$TAG[n]``, ``$0``…``$9``, ``$key``);
    KEEP says whether the original goes on. A new tag this filter itself matches is a loop:
    ``Recursion_action none`` lets it through (up to a depth), otherwise it is dropped."""

    def __init__(self, match: TagMatch, where: str, rules: Sequence[RewriteRule], recursion: str) -> None:
        super().__init__(match, where)
        self.rules = tuple(rules)
        self.recursion = recursion

    def rewrite(self, tag: str, record: Record) -> tuple[str | None, bool]:
        """The new tag (None when no rule matched or the loop guard dropped it) and whether the
        original record is kept."""
        for rule in self.rules:
            value = string_at(record, rule.path)
            found = rule.regex.search(value) if value is not None else None
            if found is None:
                continue
            new_tag, _ = translate(rule.new_tag, tag, record, found)
            if not new_tag or (self.recursion != "none" and self.match(new_tag)):
                return None, rule.keep
            return new_tag, rule.keep
        return None, True


def _rewrite_tag(match: TagMatch, where: str, entries: Sequence[tuple[str, str]]) -> RewriteTagFilter:
    rules: list[RewriteRule] = []
    recursion = "exit"
    for key, value in entries:
        lowered = key.lower()
        if lowered == "recursion_action":
            recursion = value.lower()
        elif lowered == "rule":
            tokens = split_quoted(value, 4)
            if len(tokens) != 4 or not tokens[0].startswith("$"):
                raise FireLensConfigError(
                    f"rewrite_tag {where}: Rule expects $KEY REGEX NEW_TAG KEEP, got {value!r}"
                )
            keep = tokens[3].lower() in ("true", "on", "yes")
            rules.append(
                RewriteRule(
                    parse_accessor(tokens[0]), fluent_regex(tokens[1]), parse_template(tokens[2]), keep
                )
            )
    return RewriteTagFilter(match, where, rules, recursion)


def build_filter(section: Section, warnings: list[str]) -> Filter:
    """The filter a FILTER section describes; FireLensConfigError for one ecsbox does not have."""
    match = TagMatch.of(section)
    entries = [(key, value) for key, value in section.entries if key.lower() not in GENERIC_KEYS]
    plugin = section.plugin
    if not plugin:
        raise FireLensConfigError(f"{section.where}: a FILTER needs a Name")
    if plugin == "grep":
        return _grep(match, section.where, entries)
    if plugin == "record_modifier":
        return _record_modifier(match, section.where, entries, warnings)
    if plugin == "modify":
        return _modify(match, section.where, entries)
    if plugin == "rewrite_tag":
        return _rewrite_tag(match, section.where, entries)
    if plugin == "stdout":
        return Filter(match, section.where)  # prints records on the router's stdout: nothing to route
    raise FireLensConfigError(f"filter plugin '{section.get('name')}' is not available in ecsbox yet")


# --- Outputs (what to build; firelens_outputs builds it) ------------------------------------------


@dataclass(frozen=True)
class OutputSpec:
    plugin: str  # lower-cased Name
    match: TagMatch
    options: tuple[tuple[str, str], ...]  # every entry but Name / Match / Match_Regex, in order
    origin: str  # "container app" or "[OUTPUT] at extra.conf:12"

    def option(self, key: str, default: str | None = None) -> str | None:
        lowered = key.lower()
        found = [value for name, value in self.options if name.lower() == lowered]
        return found[-1] if found else default

    def options_all(self, key: str) -> list[str]:
        lowered = key.lower()
        return [value for name, value in self.options if name.lower() == lowered]

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.option(key)
        return default if value is None else value.strip().lower() in ("true", "on", "yes", "1")


def check_output(spec: OutputSpec, written_name: str | None = None) -> None:
    """Refuse an output ecsbox does not have, or one Fluent Bit itself would not start."""
    if spec.plugin not in SUPPORTED_OUTPUTS:
        raise FireLensConfigError(
            f"output plugin '{written_name or spec.plugin}' is not available in ecsbox yet"
        )
    where = f"output {spec.plugin} ({spec.origin})"
    if spec.plugin in ("cloudwatch_logs", "cloudwatch"):
        for required in ("region", "log_group_name"):
            if not spec.option(required):
                raise FireLensConfigError(f"{where}: '{required}' is a required field")
        if bool(spec.option("log_stream_name")) == bool(spec.option("log_stream_prefix")):
            raise FireLensConfigError(
                f"{where}: set exactly one of 'log_stream_name' and 'log_stream_prefix'"
            )
    elif spec.plugin == "http":
        if not (spec.option("port") or "80").isdigit():
            raise FireLensConfigError(f"{where}: Port must be a number")
        form = (spec.option("format") or "msgpack").lower()
        if form not in ("json", "json_lines", "json_stream", "msgpack"):
            raise FireLensConfigError(f"{where}: Format '{form}' is not available in ecsbox yet")
    elif spec.plugin == "file":
        form = (spec.option("format") or "out_file").lower()
        if form not in ("out_file", "plain", "template"):
            raise FireLensConfigError(f"{where}: Format '{form}' is not available in ecsbox yet")


# --- The pipeline ----------------------------------------------------------------------------------


class Emission(NamedTuple):
    output: int  # index into Pipeline.outputs
    tag: str
    time: float
    record: Record


@dataclass
class Pipeline:
    filters: tuple[Filter, ...]
    outputs: tuple[OutputSpec, ...]
    warnings: tuple[str, ...] = ()
    _routes: dict[str, tuple[tuple[Filter, ...], tuple[int, ...]]] = field(default_factory=dict, repr=False)

    def route(self, tag: str) -> tuple[tuple[Filter, ...], tuple[int, ...]]:
        """The filters and outputs whose Match takes ``tag`` (remembered: a task has few tags)."""
        known = self._routes.get(tag)
        if known is None:
            if len(self._routes) >= 1024:
                self._routes.clear()
            known = self._routes[tag] = (
                tuple(f for f in self.filters if f.match(tag)),
                tuple(i for i, spec in enumerate(self.outputs) if spec.match(tag)),
            )
        return known

    def process(self, tag: str, entries: Sequence[Entry]) -> list[Emission]:
        """What reaches which output: each record through the filters its tag matches, in order;
        records a rewrite_tag re-emits follow the chunk, from the first filter again."""
        emitted: list[Emission] = []
        pending = deque((tag, time, dict(record), 0) for time, record in entries)
        while pending:
            current_tag, time, current, depth = pending.popleft()
            filters, outputs = self.route(current_tag)
            record = current
            for stage in filters:
                if isinstance(stage, RewriteTagFilter):
                    new_tag, keep = stage.rewrite(current_tag, record)
                    if new_tag is not None and depth < MAX_REEMIT_DEPTH:
                        pending.append((new_tag, time, dict(record), depth + 1))
                    if not keep:
                        break
                    continue
                changed = stage.apply(current_tag, record)
                if changed is None:
                    break
                record = changed
            else:
                emitted.extend(Emission(index, current_tag, time, record) for index in outputs)
        return emitted


def _enabled(value: str | None) -> bool:
    return (value or "true").strip().lower() != "false"


def build_pipeline(
    options_by_container: Mapping[str, Mapping[str, str]],
    firelens_options: Mapping[str, str],
    extra_config: FluentBitConfig | None,
    metadata: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
) -> Pipeline:
    """The task's pipeline, as the ECS agent's generated configuration plus ``extra_config`` would
    run it. ``metadata`` holds ``ecs_cluster``, ``ecs_task_arn``, ``ecs_task_definition``
    (family:revision) and, on EC2, ``ec2_instance_id``; ``env`` resolves ``${VAR}`` placeholders
    in container options (secretOptions). Raises FireLensConfigError with the reason to show."""
    warnings: list[str] = []
    filters: list[Filter] = []
    environment = env or {}

    def resolve(value: str) -> str:
        return _VARIABLE.sub(lambda m: environment.get(m[1], ""), value)

    includes: list[Filter] = []
    excludes: list[Filter] = []
    for container, options in options_by_container.items():
        match = TagMatch(f"{container}-firelens*")
        for key, value in options.items():
            if key in ("include-pattern", "exclude-pattern"):
                rule = GrepRule(key == "exclude-pattern", ("log",), fluent_regex(value))
                target = excludes if rule.exclude else includes
                target.append(GrepFilter(match, f"{key} of container {container}", [rule], "legacy"))
    filters += includes + excludes
    if _enabled(firelens_options.get("enable-ecs-log-metadata")):
        fields = ("ecs_cluster", "ecs_task_arn", "ecs_task_definition", "ec2_instance_id")
        records = [(name, metadata[name]) for name in fields if metadata.get(name)]
        filters.append(RecordModifierFilter(TagMatch("*"), "ECS metadata", records))

    outputs: list[OutputSpec] = []
    for section in extra_config.sections if extra_config else ():
        if section.name == "INPUT" and section.plugin not in ACCEPTED_INPUTS:
            raise FireLensConfigError(
                f"input plugin '{section.get('name')}' ({section.where}) is not available in ecsbox: "
                "FireLens records reach ecsbox only through Fluent Forward"
            )
        if section.name in ("FILTER", "OUTPUT") and TagMatch.of(section).empty:
            warnings.append(f"{section.where}: no Match or Match_Regex, so it takes no records")
        if section.name == "FILTER":
            filters.append(build_filter(section, warnings))
        elif section.name == "OUTPUT":
            spec = OutputSpec(
                section.plugin,
                TagMatch.of(section),
                tuple(
                    (k, v) for k, v in section.entries if k.lower() not in ("name", "match", "match_regex")
                ),
                section.where,
            )
            check_output(spec, section.get("name"))
            outputs.append(spec)

    for container, options in options_by_container.items():
        plugin_options = tuple((k, resolve(v)) for k, v in options.items() if k not in _NOT_PLUGIN_OPTIONS)
        name = options.get("Name")
        if name is None:
            if plugin_options:
                raise FireLensConfigError(
                    f"container {container}: missing output key Name which is required for "
                    "firelens configuration of type fluentbit"
                )
            continue  # the extra configuration routes this container's records
        spec = OutputSpec(
            name.lower(), TagMatch(f"{container}-firelens*"), plugin_options, f"container {container}"
        )
        check_output(spec, name)
        outputs.append(spec)
    return Pipeline(tuple(filters), tuple(outputs), tuple(warnings))
