"""ECR lifecycle policies: validate the policy text, then decide which images it expires (SEMANTICS §6.2).

Pure: no I/O, no clock. ``parse_policy`` checks a document as PutLifecyclePolicy and
StartLifecyclePolicyPreview do and raises ``InvalidParameterException`` with AWS's wording; the
structural messages are those of the JSON-schema validator ECR runs (``object has missing required
properties``, ``instance failed to match exactly one schema``...). ``evaluate`` takes the images and
``now`` and returns the expiries; the caller deletes them and writes the preview.

Evaluation (LifecyclePolicies.md, "Lifecycle policy evaluation rules"): every rule looks at the
whole repository; rules are applied lowest ``rulePriority`` first; an image that matches the tag
selection of a rule can never be expired by a later rule, even if that rule kept it, but later
rules still count it for ``imageCountMoreThan``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecsbox.ecr.model import EcrRuleError, invalid_parameter

TAGGED, UNTAGGED, ANY = "tagged", "untagged", "any"
TAG_STATUSES = (TAGGED, UNTAGGED, ANY)
IMAGE_COUNT_MORE_THAN = "imageCountMoreThan"
SINCE_IMAGE_PUSHED = "sinceImagePushed"
DAYS = "days"
EXPIRE = "expire"

POLICY_TEXT_MIN_LENGTH = 100
POLICY_TEXT_MAX_LENGTH = 30_720
MAX_WILDCARDS_PER_PATTERN = 4  # lifecycle_policy_parameters: "*test*1*2*3" is valid, 5+ is not
SECONDS_PER_DAY = 86_400

_PREFIX = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
# The API model's length constraint on LifecyclePolicyText, worded as AWS words model violations.
_LENGTH = (
    "1 validation error detected: Value at 'lifecyclePolicyText' failed to satisfy constraint: "
    "Member must have length "
)
_POLICY_KEYS = ("rules",)
_RULE_REQUIRED = ("rulePriority", "selection", "action")
_RULE_KEYS = ("rulePriority", "description", "selection", "action")
_SELECTION_REQUIRED = ("tagStatus", "countType", "countNumber")
_SELECTION_KEYS = ("tagStatus", "tagPatternList", "tagPrefixList", "countType", "countUnit", "countNumber")
_ACTION_KEYS = ("type",)


@dataclass(frozen=True)
class Rule:
    priority: int
    description: str | None
    tag_status: str  # "tagged" | "untagged" | "any"
    tag_prefixes: tuple[str, ...]
    tag_patterns: tuple[str, ...]
    count_type: str  # "imageCountMoreThan" | "sinceImagePushed"
    count_number: int
    count_unit: str | None  # "days" or None


@dataclass(frozen=True)
class LifecyclePolicy:
    rules: tuple[Rule, ...]  # sorted by priority, lowest number first


@dataclass(frozen=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: float  # epoch seconds


@dataclass(frozen=True)
class Expiry:
    digest: str
    rule_priority: int


# ---- validation ----------------------------------------------------------------------------------


def policy_invalid(reason: str) -> EcrRuleError:
    """The error ECR returns for a policy it refuses.

    ``policy_invalid("x").message`` → ``Invalid parameter at 'LifecyclePolicyText' failed to satisfy
    constraint: 'Lifecycle policy validation failure: x'``.
    """
    return invalid_parameter(f"{_PREFIX}'Lifecycle policy validation failure: {reason}'")


def json_type(value: object) -> str:
    """The JSON-schema type name of a decoded value, as the validator prints it.

    ``json_type(True)`` → ``boolean`` (not integer); ``json_type(1)`` → ``integer``;
    ``json_type(1.0)`` → ``number``; ``json_type(None)`` → ``null``; ``json_type([])`` → ``array``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def wildcard_count(pattern: str) -> int:
    """Wildcards in a ``tagPatternList`` entry: ``"*test*1*2*3"`` → 4 (allowed); ``"prod"`` → 0."""
    return pattern.count("*")


def _expect_type(value: object, expected: str) -> None:
    found = json_type(value)
    if found != expected:
        raise policy_invalid(
            f'instance type ({found}) does not match any allowed primitive type (allowed: ["{expected}"])'
        )


def _check_object(value: object, required: Sequence[str], allowed: Sequence[str]) -> dict[str, Any]:
    _expect_type(value, "object")
    assert isinstance(value, dict)
    missing = [key for key in required if key not in value]
    if missing:
        raise policy_invalid(f"object has missing required properties ({_compact(sorted(missing))})")
    unknown = sorted(key for key in value if key not in allowed)
    if unknown:
        raise policy_invalid(
            f"object instance has properties which are not allowed by the schema: {_compact(unknown)}"
        )
    return value


def _check_enum(value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise policy_invalid(
            f"instance value ({_compact(value)}) not found in enum (possible values: {_compact(list(allowed))})"
        )
    return value


def _positive_integer(value: object) -> int:
    _expect_type(value, "integer")
    assert isinstance(value, int)
    if value < 1:
        raise policy_invalid(
            f"numeric instance is lower than the required minimum (minimum: 1, found: {value})"
        )
    return value


def _string_list(value: object) -> tuple[str, ...]:
    _expect_type(value, "array")
    assert isinstance(value, list)
    if not value:
        raise policy_invalid("array is too short: must have at least 1 elements but instance has 0 elements")
    for entry in value:
        _expect_type(entry, "string")
    return tuple(value)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _load_document(text: str) -> dict[str, Any]:
    if len(text) < POLICY_TEXT_MIN_LENGTH:
        raise invalid_parameter(f"{_LENGTH}greater than or equal to {POLICY_TEXT_MIN_LENGTH}")
    if len(text) > POLICY_TEXT_MAX_LENGTH:
        raise invalid_parameter(f"{_LENGTH}less than or equal to {POLICY_TEXT_MAX_LENGTH}")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the parser's stack
        document = None
    if not isinstance(document, dict):
        raise policy_invalid("Could not map policyString into LifecyclePolicy.")
    return _check_object(document, _POLICY_KEYS, _POLICY_KEYS)


def _parse_selection(raw: object) -> dict[str, Any]:
    selection = _check_object(raw, _SELECTION_REQUIRED, _SELECTION_KEYS)
    _check_enum(selection["tagStatus"], TAG_STATUSES)
    for key in ("tagPrefixList", "tagPatternList"):
        if key in selection:
            _string_list(selection[key])
    _positive_integer(selection["countNumber"])
    # The schema is a oneOf of two branches: imageCountMoreThan without countUnit, and
    # sinceImagePushed with countUnit "days". Anything else matches neither.
    count_type, count_unit = selection["countType"], selection.get("countUnit")
    count_branch = count_type == IMAGE_COUNT_MORE_THAN and "countUnit" not in selection
    age_branch = count_type == SINCE_IMAGE_PUSHED and count_unit == DAYS
    if not (count_branch or age_branch):
        raise policy_invalid("instance failed to match exactly one schema (matched 0 out of 2)")
    return selection


def _parse_rule(raw: object) -> Rule:
    rule = _check_object(raw, _RULE_REQUIRED, _RULE_KEYS)
    priority = _positive_integer(rule["rulePriority"])
    description = rule.get("description")
    if "description" in rule:
        _expect_type(description, "string")
    selection = _parse_selection(rule["selection"])
    action = _check_object(rule["action"], _ACTION_KEYS, _ACTION_KEYS)
    _check_enum(action["type"], (EXPIRE,))
    parsed = Rule(
        priority=priority,
        description=description,
        tag_status=selection["tagStatus"],
        tag_prefixes=tuple(selection.get("tagPrefixList", ())),
        tag_patterns=tuple(selection.get("tagPatternList", ())),
        count_type=selection["countType"],
        count_number=selection["countNumber"],
        count_unit=selection.get("countUnit"),
    )
    _check_tag_selection(parsed)
    return parsed


def _check_tag_selection(rule: Rule) -> None:
    if rule.tag_prefixes and rule.tag_patterns:
        raise policy_invalid("Cannot specify both tagPrefixList and tagPatternList in the same rule.")
    if rule.tag_status == TAGGED and not (rule.tag_prefixes or rule.tag_patterns):
        raise policy_invalid("Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.")
    if rule.tag_status != TAGGED and (rule.tag_prefixes or rule.tag_patterns):
        raise policy_invalid(
            f"tagPrefixList and tagPatternList can only be specified when tagStatus=TAGGED, "
            f"not tagStatus={rule.tag_status.upper()}."
        )
    for pattern in rule.tag_patterns:
        if wildcard_count(pattern) > MAX_WILDCARDS_PER_PATTERN:
            raise policy_invalid(
                f"tagPatternList entry '{pattern}' has {wildcard_count(pattern)} wildcards; "
                f"at most {MAX_WILDCARDS_PER_PATTERN} are allowed per pattern."
            )


def _check_rule_set(rules: Sequence[Rule]) -> None:
    seen: set[int] = set()
    for rule in rules:
        if rule.priority in seen:
            raise policy_invalid(
                f"Duplicate rulePriority {rule.priority}: each rule needs a unique rulePriority."
            )
        seen.add(rule.priority)
    highest = max(seen)
    if any(rule.tag_status == ANY and rule.priority != highest for rule in rules):
        raise policy_invalid("Rule for tagStatus=ANY must have the lowest priority per storage class")
    if sum(rule.tag_status == UNTAGGED for rule in rules) > 1:
        raise policy_invalid("Only one rule can select Untagged images per storage class")


def parse_policy(text: str) -> LifecyclePolicy:
    """Validate the policy text as ECR does (PutLifecyclePolicy / StartLifecyclePolicyPreview) and
    return it parsed, rules sorted by priority; raise ``EcrRuleError("InvalidParameterException")``.

    ``{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan",
    "countNumber":1},"action":{"type":"expire"}}]}`` → one rule, priority 1, untagged, keep 1.
    The same with ``"countNumber": true`` → ``instance type (boolean) does not match any allowed
    primitive type (allowed: ["integer"])``.
    """
    document = _load_document(text)
    raw_rules = document["rules"]
    _expect_type(raw_rules, "array")
    if not raw_rules:
        raise policy_invalid("array is too short: must have at least 1 elements but instance has 0 elements")
    rules = [_parse_rule(raw) for raw in raw_rules]
    _check_rule_set(rules)
    return LifecyclePolicy(rules=tuple(sorted(rules, key=lambda rule: rule.priority)))


# ---- evaluation ----------------------------------------------------------------------------------


def tag_matches_pattern(tag: str, pattern: str) -> bool:
    """``*`` matches any run of characters (also none); everything else matches itself, case-sensitively.

    ``("prod-1", "prod*")`` → True; ``("prod", "prod*")`` → True; ``("preprod", "prod*")`` → False;
    ``("v1.2-rc", "v*.*-rc")`` → True; ``("latest", "latest")`` → True; ``("latest2", "latest")`` → False.
    """
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    return re.fullmatch(regex, tag, flags=re.DOTALL) is not None


def rule_selects(rule: Rule, tags: Sequence[str]) -> bool:
    """Whether an image with these tags matches the rule's tag selection.

    untagged → no tags; any → every image; tagged → *every* list entry matches at least one tag:
    prefixes ``["alpha", "beta"]`` select ``("alpha-2", "beta-2")`` but not ``("alpha-1",)``.
    """
    if rule.tag_status == ANY:
        return True
    if rule.tag_status == UNTAGGED:
        return not tags
    prefixes_met = all(any(tag.startswith(prefix) for tag in tags) for prefix in rule.tag_prefixes)
    patterns_met = all(
        any(tag_matches_pattern(tag, pattern) for tag in tags) for pattern in rule.tag_patterns
    )
    return bool(tags) and prefixes_met and patterns_met


def beyond_count(oldest_first: Sequence[Image], count_number: int) -> list[Image]:
    """``imageCountMoreThan``: keep the newest ``count_number``, return the rest (oldest first).

    5 images, count 2 → the 3 oldest; 2 images, count 5 → none.
    """
    return list(oldest_first[: max(0, len(oldest_first) - count_number)])


def pushed_more_than_days_ago(pushed_at: float, now: float, days: int) -> bool:
    """``sinceImagePushed``: strictly older than ``days`` * 86,400 s.

    now = 1,000,000: pushed 10 days + 1 s ago, days 10 → True; exactly 10 days ago → False.
    """
    return now - pushed_at > days * SECONDS_PER_DAY


def _push_order(image: Image) -> tuple[float, str]:
    # Oldest first; the digest only breaks ties so equal push times give a stable answer.
    return (image.pushed_at, image.digest)


def rule_candidates(rule: Rule, selected_oldest_first: Sequence[Image], now: float) -> list[Image]:
    """The images a rule would mark if nothing ranked above it, oldest first."""
    if rule.count_type == IMAGE_COUNT_MORE_THAN:
        return beyond_count(selected_oldest_first, rule.count_number)
    return [
        image
        for image in selected_oldest_first
        if pushed_more_than_days_ago(image.pushed_at, now, rule.count_number)
    ]


def evaluate(policy: LifecyclePolicy, images: Sequence[Image], now: float) -> list[Expiry]:
    """Which images the policy expires at ``now``, ordered by rule priority then push time (oldest first).

    Each rule selects from the full image set and counts everything it selects, but may only mark an
    image no higher-priority rule selected. AWS's example A: A[beta-1,prod-1] 10 d, B[beta-2,prod-2]
    9 d, C[beta-3] 8 d; rule 1 prod keep 1 marks A; rule 2 beta keep 1 would mark A and B, but both
    were selected by rule 1 → ``[Expiry(A, 1)]``. Swap the priorities → ``[Expiry(A, 1), Expiry(B, 1)]``.
    """
    oldest_first = sorted(images, key=_push_order)
    claimed: set[str] = set()  # digests a higher-priority rule selected (and maybe expired)
    expiries: list[Expiry] = []
    for rule in policy.rules:
        selected = [image for image in oldest_first if rule_selects(rule, image.tags)]
        expiries.extend(
            Expiry(digest=image.digest, rule_priority=rule.priority)
            for image in rule_candidates(rule, selected, now)
            if image.digest not in claimed
        )
        claimed.update(image.digest for image in selected)
    return expiries
