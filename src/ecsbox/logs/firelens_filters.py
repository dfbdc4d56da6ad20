"""FireLens filters: the FILTER plugins ecsbox runs (``grep``, ``record_modifier``, ``modify``,
``rewrite_tag``; ``stdout`` passes records through). Pure: each filter changes or drops one record;
:mod:`ecsbox.logs.firelens` chains them into the pipeline.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ecsbox.logs.firelens_config import (
    MISSING,
    FireLensConfigError,
    Part,
    Path,
    Record,
    Section,
    TagMatch,
    fluent_regex,
    key_value,
    lookup,
    parse_accessor,
    parse_template,
    split_quoted,
    string_at,
    translate,
)

GENERIC_KEYS = frozenset({"name", "match", "match_regex", "alias", "log_level"})


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
            field_name, pattern = key_value(value)
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
            name, content = key_value(value)
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
