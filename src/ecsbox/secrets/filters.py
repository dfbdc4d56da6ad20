"""Filters of DescribeParameters, GetParametersByPath and ListSecrets: their rules and how a
parameter or secret matches them (pure).

>>> summary = ParameterSummary("/app/db/password", "SecureString", "alias/aws/ssm", "Standard", "text", {})
>>> matches_parameter(summary, [ParameterFilter("Path", "Recursive", ("/app",))])
True
>>> matches_parameter(summary, [ParameterFilter("Name", "BeginsWith", ("app/db",))])
True
>>> matches_secret(SecretSummary("prod/db", "", {"team": "core"}), [{"Key": "name", "Values": ["!dev"]}])
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsbox.secrets.model import PARAMETER_TYPES, SecretsRuleError, ssm_validation
from ecsbox.secrets.names import check_path, in_path, parameter_key

TIERS = ("Standard", "Advanced", "Intelligent-Tiering")


@dataclass(frozen=True)
class ParameterSummary:
    name: str
    type: str
    key_id: str | None
    tier: str
    data_type: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class ParameterFilter:
    key: str
    option: str
    values: tuple[str, ...]


def _invalid_key(message: str) -> SecretsRuleError:
    return SecretsRuleError("InvalidFilterKey", message)


def _invalid_option(message: str) -> SecretsRuleError:
    return SecretsRuleError("InvalidFilterOption", message)


def check_parameter_filters(raw: Sequence[Mapping[str, Any]], by_path: bool) -> list[ParameterFilter]:
    """Validate ``ParameterFilters`` as DescribeParameters (``by_path`` False) or
    GetParametersByPath (True) accept them."""
    checked: list[ParameterFilter] = []
    seen: set[str] = set()
    for item in raw:
        key = item["Key"]
        values = tuple(item.get("Values") or ())
        option = item.get("Option") or ("OneLevel" if key == "Path" else "Equals")
        if by_path and key not in ("Type", "KeyId", "Label"):
            raise _invalid_key(
                f"The following filter key is not valid: {key}. Valid filter keys include: [Type, KeyId]."
            )
        if not by_path and key == "Label":
            raise _invalid_key(
                "The following filter key is not valid: Label. "
                "Valid filter keys include: [Path, Name, Type, KeyId, Tier]."
            )
        if key in seen:
            raise _invalid_key(
                f"The following filter is duplicated in the request: {key}. "
                "A request can contain only one occurrence of a specific filter."
            )
        seen.add(key)
        if not key.startswith("tag:") and not values:
            raise SecretsRuleError(
                "InvalidFilterValue", f"The following filter values are missing : null for filter key {key}."
            )
        if key == "Path":
            if option not in ("Recursive", "OneLevel"):
                raise _invalid_option(
                    f"The following filter option is not valid: {option}. Valid options include: [Recursive, OneLevel]."
                )
            if any(value.lower().startswith(("/aws", "/ssm")) for value in values):
                raise ssm_validation(
                    'Filters for common parameters can\'t be prefixed with "aws" or "ssm" (case-insensitive). '
                    "When using global parameters, please specify within a global namespace."
                )
            values = tuple(check_path(value) for value in values)
        else:
            allowed: tuple[str, ...] = ("Equals", "BeginsWith")
            if key == "Name":
                allowed = ("Equals", "BeginsWith", "Contains")
            elif key == "Label":
                allowed = ("Equals",)
            if option not in allowed:
                raise _invalid_option(
                    f"The following filter option is not valid: {option}. "
                    f"Valid options include: [{', '.join(sorted(allowed))}]."
                )
        for name, valid in (("Type", PARAMETER_TYPES), ("Tier", TIERS)):
            for value in values if key == name else ():
                if value not in valid:
                    raise _invalid_option(
                        f"The following filter value is not valid: {value}. "
                        f"Valid values include: [{', '.join(valid)}]."
                    )
        checked.append(ParameterFilter(key, option, values))
    return checked


def legacy_filters(raw: Sequence[Mapping[str, Any]]) -> list[ParameterFilter]:
    """DescribeParameters' deprecated ``Filters``: Name is a prefix match, Type and KeyId exact."""
    return [
        ParameterFilter(
            item["Key"], "BeginsWith" if item["Key"] == "Name" else "Equals", tuple(item["Values"])
        )
        for item in raw
    ]


def _compare(option: str, actual: str, wanted: str) -> bool:
    if option == "BeginsWith":
        return actual.startswith(wanted)
    if option == "Contains":
        return wanted in actual
    return actual == wanted


def _matches_one(summary: ParameterSummary, flt: ParameterFilter) -> bool:
    if flt.key == "Path":
        return any(in_path(summary.name, path, flt.option == "Recursive") for path in flt.values)
    if flt.key == "Name":
        actual = "/" + parameter_key(summary.name)
        wanted = flt.values if flt.option == "Contains" else tuple("/" + parameter_key(v) for v in flt.values)
        return any(_compare(flt.option, actual, value) for value in wanted)
    if flt.key.startswith("tag:"):
        tag = flt.key[4:]
        if tag not in summary.tags:
            return False
        return not flt.values or any(_compare(flt.option, summary.tags[tag], v) for v in flt.values)
    actual_by_key: dict[str, str | None] = {
        "Type": summary.type,
        "KeyId": summary.key_id,
        "Tier": summary.tier,
        "DataType": summary.data_type,
    }
    found = actual_by_key.get(flt.key)  # Label: ecsbox keeps no labels, so nothing matches
    return found is not None and any(_compare(flt.option, found, value) for value in flt.values)


def matches_parameter(summary: ParameterSummary, filters: Sequence[ParameterFilter]) -> bool:
    """True when the parameter passes every filter (each filter: any of its values)."""
    return all(_matches_one(summary, flt) for flt in filters)


# ---- ListSecrets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretSummary:
    name: str
    description: str
    tags: Mapping[str, str]


def words(text: str) -> list[str]:
    """Words of a name or description, lower-cased: split at punctuation and at camel case.

    >>> words("prod/DbPassword-main")
    ['prod', 'db', 'password', 'main']
    """
    found: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", text):
        found.extend(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", part))
    return found


def _attribute_values(summary: SecretSummary, key: str) -> tuple[list[str], bool]:
    """(attribute values, case-sensitive) a ListSecrets filter key looks at."""
    if key == "name":
        return [summary.name], True
    if key == "description":
        return ([summary.description] if summary.description else []), False
    if key == "tag-key":
        return list(summary.tags), True
    if key == "tag-value":
        return list(summary.tags.values()), True
    return [], True  # primary-region, owning-service: ecsbox has no replicas and no owning services


def _all_matches(summary: SecretSummary, value: str) -> bool:
    haystack = words(summary.name) + words(summary.description)
    for key, tag_value in summary.tags.items():
        haystack += words(key) + words(tag_value)
    wanted = words(value)
    return bool(wanted) and all(any(word.startswith(w) for word in haystack) for w in wanted)


def _value_matches(summary: SecretSummary, key: str, value: str) -> bool:
    if key == "all":
        return _all_matches(summary, value)
    attributes, case_sensitive = _attribute_values(summary, key)
    if not case_sensitive:
        return any(a.lower().startswith(value.lower()) for a in attributes)
    return any(a.startswith(value) for a in attributes)


def matches_secret(summary: SecretSummary, filters: Sequence[Mapping[str, Any]]) -> bool:
    """Every filter must match; a filter matches when any of its values does. A value starting
    with ``!`` matches when the positive value would not."""
    for flt in filters:
        key = flt.get("Key") or "all"
        hit = False
        for value in flt.get("Values") or []:
            if value.startswith("!"):
                hit = not _value_matches(summary, key, value[1:])
            else:
                hit = _value_matches(summary, key, value)
            if hit:
                break
        if not hit:
            return False
    return True
