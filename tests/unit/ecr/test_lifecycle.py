"""ECR lifecycle policies (SEMANTICS §6.2): validation tables, AWS's documented examples with their
documented outcomes, both seed policies verbatim, and properties of the evaluator."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecr.lifecycle import (
    Expiry,
    Image,
    LifecyclePolicy,
    Rule,
    beyond_count,
    evaluate,
    json_type,
    parse_policy,
    policy_invalid,
    pushed_more_than_days_ago,
    rule_selects,
    tag_matches_pattern,
    wildcard_count,
)
from ecsbox.ecr.model import EcrRuleError

SEED = Path(os.environ.get("ECSBOX_SEED_DIR", Path(__file__).resolve().parents[4] / "shared" / "seed"))
NOW = 1_700_000_000.0
DAY = 86_400.0
WRAPPED = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
    "'Lifecycle policy validation failure: "
)


class Raw(str):
    """Policy text used exactly as written (not JSON-encoded, not padded to the 100-character minimum);
    ``str`` methods return plain ``str``, so build the whole text first and wrap it last."""


_DROP = object()


def rule(
    priority: object = 1, *, action: object = None, description: object = _DROP, **selection: object
) -> dict:
    """A rule document: untagged, keep 1, expire, unless overridden; ``key=_DROP`` removes a key."""
    merged: dict[str, object] = {
        "tagStatus": "untagged",
        "countType": "imageCountMoreThan",
        "countNumber": 1,
        **selection,
    }
    document: dict[str, object] = {
        "rulePriority": priority,
        "selection": {key: value for key, value in merged.items() if value is not _DROP},
        "action": {"type": "expire"} if action is None else action,
    }
    if description is not _DROP:
        document["description"] = description
    return {key: value for key, value in document.items() if value is not _DROP}


def policy_text(document: object) -> str:
    if isinstance(document, Raw):
        return str(document)
    return json.dumps(document).ljust(100)  # trailing whitespace is valid JSON


def image(digest: str, tags: tuple[str, ...], days_ago: float, extra_seconds: float = 0.0) -> Image:
    return Image(digest=digest, tags=tags, pushed_at=NOW - days_ago * DAY - extra_seconds)


def outcome(document: object, images: list[Image]) -> list[tuple[str, int]]:
    return [(e.digest, e.rule_priority) for e in evaluate(parse_policy(policy_text(document)), images, NOW)]


# ---- validation: what ECR refuses ----------------------------------------------------------------

TAGGED_PROD = {"tagStatus": "tagged", "tagPrefixList": ["prod"]}

INVALID = [
    # the text itself
    ("length-short", Raw('{"rules":[]}'), "Member must have length greater than or equal to 100"),
    ("length-long", Raw(" " * 30_721), "Member must have length less than or equal to 30720"),
    (
        "not-json",
        Raw("this is not a lifecycle policy " * 5),
        "Could not map policyString into LifecyclePolicy.",
    ),
    ("json-array", [{"rules": []}], "Could not map policyString into LifecyclePolicy."),
    ("deep-nesting", Raw("[" * 30_000), "Could not map policyString"),
    ("nan", Raw('{"rules":[{"rulePriority":NaN}]}'.ljust(100)), "Could not map policyString"),
    # the document
    ("no-rules", {"Rules": [rule()]}, 'object has missing required properties (["rules"])'),
    ("extra-top", {"rules": [rule()], "version": 1}, 'not allowed by the schema: ["version"]'),
    ("rules-object", {"rules": rule()}, '(allowed: ["array"])'),
    ("rules-empty", {"rules": []}, "array is too short: must have at least 1 elements"),
    (
        "rule-string",
        {"rules": ["rule"]},
        'instance type (string) does not match any allowed primitive type (allowed: ["object"])',
    ),
    # the rule
    ("no-priority", {"rules": [rule(_DROP)]}, 'object has missing required properties (["rulePriority"])'),
    ("no-selection", {"rules": [{"rulePriority": 1, "action": {"type": "expire"}}]}, '(["selection"])'),
    ("no-action", {"rules": [rule(action=_DROP)]}, 'object has missing required properties (["action"])'),
    ("extra-rule-key", {"rules": [rule() | {"enabled": True}]}, 'not allowed by the schema: ["enabled"]'),
    (
        "priority-zero",
        {"rules": [rule(0)]},
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
    ),
    ("priority-negative", {"rules": [rule(-3)]}, "(minimum: 1, found: -3)"),
    (
        "priority-string",
        {"rules": [rule("1")]},
        'instance type (string) does not match any allowed primitive type (allowed: ["integer"])',
    ),
    (
        "priority-bool",
        {"rules": [rule(True)]},
        'instance type (boolean) does not match any allowed primitive type (allowed: ["integer"])',
    ),
    ("priority-float", {"rules": [rule(1.5)]}, "instance type (number)"),
    ("priority-float-whole", {"rules": [rule(1.0)]}, "instance type (number)"),
    ("priority-null", {"rules": [rule(None)]}, "instance type (null)"),
    ("priority-duplicate", {"rules": [rule(1), rule(1, **TAGGED_PROD)]}, "Duplicate rulePriority 1"),
    ("description-number", {"rules": [rule(description=5)]}, '(allowed: ["string"])'),
    ("description-null", {"rules": [rule(description=None)]}, "instance type (null)"),
    # the action
    (
        "action-delete",
        {"rules": [rule(action={"type": "delete"})]},
        'instance value ("delete") not found in enum (possible values: ["expire"])',
    ),
    (
        "action-transition",
        {"rules": [rule(action={"type": "transition"})]},
        'instance value ("transition") not found in enum',
    ),
    ("action-no-type", {"rules": [rule(action={})]}, 'object has missing required properties (["type"])'),
    (
        "action-extra",
        {"rules": [rule(action={"type": "expire", "targetStorageClass": "archive"})]},
        '["targetStorageClass"]',
    ),
    ("action-string", {"rules": [rule(action="expire")]}, '(allowed: ["object"])'),
    # the selection: schema
    (
        "no-tag-status",
        {"rules": [rule(tagStatus=_DROP)]},
        'object has missing required properties (["tagStatus"])',
    ),
    ("no-count-type", {"rules": [rule(countType=_DROP)]}, '(["countType"])'),
    ("no-count-number", {"rules": [rule(countNumber=_DROP)]}, '(["countNumber"])'),
    (
        "no-three",
        {"rules": [rule(tagStatus=_DROP, countType=_DROP, countNumber=_DROP)]},
        '(["countNumber","countType","tagStatus"])',
    ),
    (
        "extra-selection",
        {"rules": [rule(storageClass="standard")]},
        'not allowed by the schema: ["storageClass"]',
    ),
    (
        "tag-status-upper",
        {"rules": [rule(tagStatus="TAGGED")]},
        'instance value ("TAGGED") not found in enum (possible values: ["tagged","untagged","any"])',
    ),
    ("tag-status-bool", {"rules": [rule(tagStatus=True)]}, "instance value (true) not found in enum"),
    (
        "count-number-zero",
        {"rules": [rule(countNumber=0)]},
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
    ),
    (
        "count-number-bool",
        {"rules": [rule(countNumber=True)]},
        'instance type (boolean) does not match any allowed primitive type (allowed: ["integer"])',
    ),
    ("count-number-string", {"rules": [rule(countNumber="5")]}, "instance type (string)"),
    ("count-number-float", {"rules": [rule(countNumber=2.5)]}, "instance type (number)"),
    (
        "count-type-unknown",
        {"rules": [rule(countType="sinceImagePulled", countUnit="days")]},
        "instance failed to match exactly one schema (matched 0 out of 2)",
    ),
    ("count-unit-with-count", {"rules": [rule(countUnit="days")]}, "matched 0 out of 2"),
    ("count-unit-null-with-count", {"rules": [rule(countUnit=None)]}, "matched 0 out of 2"),
    ("age-without-unit", {"rules": [rule(countType="sinceImagePushed")]}, "matched 0 out of 2"),
    (
        "age-in-hours",
        {"rules": [rule(countType="sinceImagePushed", countUnit="hours")]},
        "matched 0 out of 2",
    ),
    ("prefixes-string", {"rules": [rule(tagStatus="tagged", tagPrefixList="prod")]}, '(allowed: ["array"])'),
    ("prefixes-empty", {"rules": [rule(tagStatus="tagged", tagPrefixList=[])]}, "array is too short"),
    (
        "pattern-number",
        {"rules": [rule(tagStatus="tagged", tagPatternList=["v*", 7])]},
        'instance type (integer) does not match any allowed primitive type (allowed: ["string"])',
    ),
    # the selection: ECR's own checks
    (
        "tagged-bare",
        {"rules": [rule(tagStatus="tagged")]},
        "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.",
    ),
    (
        "untagged-prefixes",
        {"rules": [rule(tagPrefixList=["prod"])]},
        "can only be specified when tagStatus=TAGGED, not tagStatus=UNTAGGED",
    ),
    (
        "untagged-patterns",
        {"rules": [rule(tagPatternList=["prod*"])]},
        "can only be specified when tagStatus=TAGGED",
    ),
    ("any-patterns", {"rules": [rule(tagStatus="any", tagPatternList=["*"])]}, "not tagStatus=ANY"),
    (
        "both-lists",
        {"rules": [rule(tagStatus="tagged", tagPrefixList=["a"], tagPatternList=["a*"])]},
        "Cannot specify both tagPrefixList and tagPatternList",
    ),
    (
        "five-wildcards",
        {"rules": [rule(tagStatus="tagged", tagPatternList=["*a*b*c*d*"])]},
        "'*a*b*c*d*' has 5 wildcards; at most 4",
    ),
    (
        "six-wildcards-doc",
        {"rules": [rule(tagStatus="tagged", tagPatternList=["test*1*2*3*4*5*6"])]},
        "has 6 wildcards",
    ),
    # the rule set
    (
        "any-not-last",
        {"rules": [rule(1, tagStatus="any"), rule(2, **TAGGED_PROD)]},
        "Rule for tagStatus=ANY must have the lowest priority per storage class",
    ),
    (
        "any-twice",
        {"rules": [rule(5, tagStatus="any"), rule(9, tagStatus="any")]},
        "Rule for tagStatus=ANY must have the lowest priority",
    ),
    (
        "untagged-twice",
        {"rules": [rule(1), rule(2, countType="sinceImagePushed", countUnit="days")]},
        "Only one rule can select Untagged images per storage class",
    ),
]
LENGTH_CASES = {"length-short", "length-long"}


@pytest.mark.parametrize(
    ("document", "fragment"), [row[1:] for row in INVALID], ids=[row[0] for row in INVALID]
)
def test_parse_policy_refuses_what_ecr_refuses(
    document: object, fragment: str, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(EcrRuleError) as caught:
        parse_policy(policy_text(document))
    error = caught.value
    assert error.code == "InvalidParameterException"
    assert fragment in error.message
    if request.node.callspec.id in LENGTH_CASES:
        assert error.message.startswith("1 validation error detected: Value at 'lifecyclePolicyText'")
    else:
        assert error.message.startswith(WRAPPED) and error.message.endswith("'")


@pytest.mark.parametrize(
    ("document", "expected_priorities"),
    [
        ({"rules": [rule(1)]}, [1]),
        # priorities need not be contiguous, and come back sorted whatever the document's order
        ({"rules": [rule(30, tagStatus="any"), rule(10, **TAGGED_PROD), rule(20)]}, [10, 20, 30]),
        # an untagged rule and an any rule together (the documented "all images" example B)
        ({"rules": [rule(1), rule(2, tagStatus="any")]}, [1, 2]),
        # exactly 4 wildcards per string is allowed (lifecycle_policy_parameters' own example)
        ({"rules": [rule(1, tagStatus="tagged", tagPatternList=["*test*1*2*3", "test*1*2*3*"])]}, [1]),
        ({"rules": [rule(1, tagStatus="tagged", tagPatternList=["*"])]}, [1]),
        (
            {
                "rules": [
                    rule(
                        1,
                        description="keep one",
                        countType="sinceImagePushed",
                        countUnit="days",
                        countNumber=14,
                    )
                ]
            },
            [1],
        ),
        # the same prefix in two rules is accepted; the lower one can then never expire anything
        ({"rules": [rule(1, **TAGGED_PROD), rule(2, **TAGGED_PROD, countNumber=5)]}, [1, 2]),
        ({"rules": [rule(2**40)]}, [2**40]),
    ],
)
def test_parse_policy_accepts_valid_documents(document: object, expected_priorities: list[int]) -> None:
    assert [r.priority for r in parse_policy(policy_text(document)).rules] == expected_priorities


@pytest.mark.parametrize(
    ("length", "fragment"),
    [
        (99, "Member must have length greater than or equal to 100"),
        (100, "Could not map policyString"),  # long enough; the length check passes, the JSON does not
        (30_721, "Member must have length less than or equal to 30720"),
    ],
)
def test_parse_policy_length_bounds(length: int, fragment: str) -> None:
    with pytest.raises(EcrRuleError, match=fragment):
        parse_policy("x" * length)


def test_parse_policy_accepts_the_longest_text() -> None:
    # every valid policy is longer than 100 characters, so only the upper bound can admit a valid one
    text = json.dumps({"rules": [rule()]}).ljust(30_720)
    assert len(text) == 30_720
    assert parse_policy(text).rules[0].count_number == 1


def test_parse_policy_reads_every_field() -> None:
    text = policy_text(
        {
            "rules": [
                rule(
                    7,
                    description="old prod",
                    tagStatus="tagged",
                    tagPatternList=["prod*", "*-ok"],
                    countType="sinceImagePushed",
                    countUnit="days",
                    countNumber=14,
                ),
            ]
        }
    )
    assert parse_policy(text) == LifecyclePolicy(
        rules=(
            Rule(
                priority=7,
                description="old prod",
                tag_status="tagged",
                tag_prefixes=(),
                tag_patterns=("prod*", "*-ok"),
                count_type="sinceImagePushed",
                count_number=14,
                count_unit="days",
            ),
        )
    )


# ---- one table per formula -------------------------------------------------------------------------


def test_policy_invalid_wraps_the_reason() -> None:
    error = policy_invalid("Only one rule can select Untagged images per storage class")
    assert error.code == "InvalidParameterException"
    assert error.message == WRAPPED + "Only one rule can select Untagged images per storage class'"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "boolean"),
        (False, "boolean"),
        (1, "integer"),
        (1.0, "number"),
        (None, "null"),
        ("1", "string"),
        ([], "array"),
        ({}, "object"),
    ],
)
def test_json_type(value: object, expected: str) -> None:
    assert json_type(value) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("prod", 0), ("prod*", 1), ("*test*1*2*3", 4), ("test*1*2*3*4*5*6", 6), ("**", 2)],
)
def test_wildcard_count(pattern: str, expected: int) -> None:
    assert wildcard_count(pattern) == expected


@pytest.mark.parametrize(
    ("tag", "pattern", "expected"),
    [
        ("prod-1", "prod*", True),
        ("prod", "prod*", True),  # * also matches nothing
        ("preprod", "prod*", False),
        ("Prod-1", "prod*", False),  # case-sensitive
        ("latest", "latest", True),  # no wildcard: exact match
        ("latest2", "latest", False),
        ("v1.2-rc", "v*.*-rc", True),
        ("v12-rc", "v*.*-rc", False),  # "." is a literal dot, not a regex
        ("build-123-main", "*-main", True),
        ("anything", "*", True),
        ("a1b2c3", "a*b*c*", True),
        ("x", "", False),
    ],
)
def test_tag_matches_pattern(tag: str, pattern: str, expected: bool) -> None:
    assert tag_matches_pattern(tag, pattern) is expected


def _rule(tag_status: str, prefixes: tuple[str, ...] = (), patterns: tuple[str, ...] = ()) -> Rule:
    return Rule(1, None, tag_status, prefixes, patterns, "imageCountMoreThan", 1, None)


@pytest.mark.parametrize(
    ("selector", "tags", "expected"),
    [
        (_rule("untagged"), (), True),
        (_rule("untagged"), ("v1",), False),
        (_rule("any"), (), True),
        (_rule("any"), ("v1",), True),
        (_rule("tagged", prefixes=("prod",)), ("prod-1",), True),
        (_rule("tagged", prefixes=("prod",)), ("production",), True),  # a prefix, not a word
        (_rule("tagged", prefixes=("prod",)), ("beta-1", "prod-1"), True),  # any one tag will do
        (_rule("tagged", prefixes=("prod",)), ("beta-1",), False),
        (_rule("tagged", prefixes=("prod",)), (), False),
        (_rule("tagged", prefixes=("alpha", "beta")), ("alpha-2", "beta-2"), True),  # every prefix met
        (_rule("tagged", prefixes=("alpha", "beta")), ("alpha-1",), False),
        (_rule("tagged", prefixes=("alpha", "beta")), ("alphabeta",), False),  # one tag meets "alpha" only
        (_rule("tagged", patterns=("alpha*", "beta*")), ("alpha-1", "beta-1", "gamma-1"), True),
        (_rule("tagged", patterns=("*",)), ("x",), True),
        (_rule("tagged", patterns=("*",)), (), False),  # tagged never selects an untagged image
    ],
)
def test_rule_selects(selector: Rule, tags: tuple[str, ...], expected: bool) -> None:
    assert rule_selects(selector, tags) is expected


@pytest.mark.parametrize(
    ("count", "kept_newest", "expected_oldest"),
    [(5, 2, 3), (2, 5, 0), (3, 3, 0), (3, 1, 2), (0, 1, 0)],
)
def test_beyond_count_keeps_the_newest(count: int, kept_newest: int, expected_oldest: int) -> None:
    oldest_first = [image(f"i{n}", (), days_ago=count - n) for n in range(count)]
    assert beyond_count(oldest_first, kept_newest) == oldest_first[:expected_oldest]


@pytest.mark.parametrize(
    ("age_seconds", "days", "expected"),
    [
        (10 * DAY + 1, 10, True),
        (10 * DAY, 10, False),  # exactly 10 days is not *more than* 10 days
        (10 * DAY - 1, 10, False),
        (DAY + 1, 1, True),
        (0, 1, False),
        (-DAY, 1, False),  # pushed "in the future" (clock skew): never expired
        (365 * DAY, 100, True),
    ],
)
def test_pushed_more_than_days_ago(age_seconds: float, days: int, expected: bool) -> None:
    assert pushed_more_than_days_ago(NOW - age_seconds, NOW, days) is expected


# ---- AWS's documented examples (lifecycle_policy_examples.html), with their documented outcome ----------


def tagged_rule(
    priority: int,
    count_number: int,
    *,
    prefixes: list[str] | None = None,
    patterns: list[str] | None = None,
    days: bool = False,
) -> dict[str, Any]:
    lists = {"tagPrefixList": prefixes} if prefixes is not None else {"tagPatternList": patterns}
    age = {"countType": "sinceImagePushed", "countUnit": "days"} if days else {}
    return rule(
        priority, description=f"Rule {priority}", tagStatus="tagged", countNumber=count_number, **lists, **age
    )


MULTIPLE_RULES_REPOSITORY = [
    image("A", ("beta-1", "prod-1"), 10),
    image("B", ("beta-2", "prod-2"), 9),
    image("C", ("beta-3",), 8),
]
MULTIPLE_TAGS_REPOSITORY_A = [
    image("A", ("alpha-1",), 12),
    image("B", ("beta-1",), 11),
    image("C", ("alpha-2", "beta-2"), 10),
    image("D", ("alpha-3",), 4),
    image("E", ("beta-3",), 3),
    image("F", ("alpha-4", "beta-4"), 2),
]
MULTIPLE_TAGS_REPOSITORY_B = [
    image("A", ("alpha-1", "beta-1", "gamma-1"), 10),
    image("B", ("alpha-2", "beta-2"), 9),
    image("C", ("alpha-3", "beta-3", "gamma-2"), 8),
]
ALL_IMAGES_REPOSITORY_A = [
    image("A", ("alpha-1",), 4),
    image("B", ("beta-1",), 3),
    image("C", (), 2),
    image("D", ("alpha-2",), 1),
]
# D and E are both "pushed 1 day ago"; the documented outcome (rule 3 keeps E, marks D) needs E to
# be the newer of the two, and rule 2 ("older than 1 day") to spare E: D 1 day + 1 minute, E 1 day - 1 minute.
ALL_IMAGES_REPOSITORY_B = [
    image("A", ("alpha-1", "beta-1"), 4),
    image("B", (), 3),
    image("C", ("alpha-2",), 2),
    image("D", ("git hash",), 1, extra_seconds=60),
    image("E", (), 1, extra_seconds=-60),
]
ALL_IMAGES_POLICY_B = {
    "rules": [
        tagged_rule(1, 1, patterns=["alpha*"]),
        rule(2, description="Rule 2", countType="sinceImagePushed", countUnit="days", countNumber=1),
        rule(3, description="Rule 3", tagStatus="any"),
    ]
}

DOCUMENTED = [
    # Filtering on multiple rules, example A (2018 text: tagPrefixList; current text: tagPatternList)
    (
        "multiple-rules-A-prefix",
        {"rules": [tagged_rule(1, 1, prefixes=["prod"]), tagged_rule(2, 1, prefixes=["beta"])]},
        MULTIPLE_RULES_REPOSITORY,
        [("A", 1)],
    ),
    (
        "multiple-rules-A-pattern",
        {"rules": [tagged_rule(1, 1, patterns=["prod*"]), tagged_rule(2, 1, patterns=["beta*"])]},
        MULTIPLE_RULES_REPOSITORY,
        [("A", 1)],
    ),
    # example B: the same repository, priorities swapped
    (
        "multiple-rules-B-prefix",
        {"rules": [tagged_rule(1, 1, prefixes=["beta"]), tagged_rule(2, 1, prefixes=["prod"])]},
        MULTIPLE_RULES_REPOSITORY,
        [("A", 1), ("B", 1)],
    ),
    (
        "multiple-rules-B-pattern",
        {"rules": [tagged_rule(1, 1, patterns=["beta*"]), tagged_rule(2, 1, patterns=["prod*"])]},
        MULTIPLE_RULES_REPOSITORY,
        [("A", 1), ("B", 1)],
    ),
    # Filtering on multiple tags in a single rule, example A: only C and F carry both; C is older than 5 days
    (
        "multiple-tags-A-prefix",
        {"rules": [tagged_rule(1, 5, prefixes=["alpha", "beta"], days=True)]},
        MULTIPLE_TAGS_REPOSITORY_A,
        [("C", 1)],
    ),
    (
        "multiple-tags-A-pattern",
        {"rules": [tagged_rule(1, 5, patterns=["alpha*", "beta*"], days=True)]},
        MULTIPLE_TAGS_REPOSITORY_A,
        [("C", 1)],
    ),
    # example B: tags are not exclusive; all three match, keep the newest
    (
        "multiple-tags-B-prefix",
        {"rules": [tagged_rule(1, 1, prefixes=["alpha", "beta"])]},
        MULTIPLE_TAGS_REPOSITORY_B,
        [("A", 1), ("B", 1)],
    ),
    (
        "multiple-tags-B-pattern",
        {"rules": [tagged_rule(1, 1, patterns=["alpha*", "beta*"])]},
        MULTIPLE_TAGS_REPOSITORY_B,
        [("A", 1), ("B", 1)],
    ),
    # Filtering on all images, example A: any, keep 1
    (
        "all-images-A",
        {"rules": [rule(1, description="Rule 1", tagStatus="any")]},
        ALL_IMAGES_REPOSITORY_A,
        [("A", 1), ("B", 1), ("C", 1)],
    ),
    # example B: alpha keep 1 → A; untagged older than 1 day → B; any keep 1 may only mark D
    ("all-images-B", ALL_IMAGES_POLICY_B, ALL_IMAGES_REPOSITORY_B, [("A", 1), ("B", 2), ("D", 3)]),
    # SEMANTICS §6.2 writes the same example with A tagged only alpha-1: same outcome
    (
        "all-images-B-semantics",
        ALL_IMAGES_POLICY_B,
        [image("A", ("alpha-1",), 4), *ALL_IMAGES_REPOSITORY_B[1:]],
        [("A", 1), ("B", 2), ("D", 3)],
    ),
]


@pytest.mark.parametrize(
    ("document", "images", "expected"), [row[1:] for row in DOCUMENTED], ids=[row[0] for row in DOCUMENTED]
)
def test_documented_examples(document: object, images: list[Image], expected: list[tuple[str, int]]) -> None:
    assert outcome(document, images) == expected


def test_filtering_on_image_age_expires_prod_images_older_than_14_days() -> None:
    document = {
        "rules": [
            rule(
                1,
                description="Expire images older than 14 days",
                tagStatus="tagged",
                tagPatternList=["prod*"],
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=14,
            )
        ]
    }
    images = [
        image("prod-old", ("prod-1",), 30),
        image("prod-15d", ("prod",), 15),
        image("prod-new", ("prod-2",), 3),
        image("dev-old", ("dev-1",), 30),
        image("untagged-old", (), 30),
    ]
    assert outcome(document, images) == [("prod-old", 1), ("prod-15d", 1)]


def test_filtering_on_image_age_2018_untagged_older_than_14_days() -> None:
    document = {
        "rules": [
            rule(
                1,
                description="Expire images older than 14 days",
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=14,
            )
        ]
    }
    images = [image("u-20", (), 20), image("u-14", (), 14), image("u-2", (), 2), image("t-20", ("v1",), 20)]
    assert outcome(document, images) == [("u-20", 1)]


def test_filtering_on_image_count_keeps_one_untagged_image() -> None:
    document = {"rules": [rule(1, description="Keep only one untagged image, expire all others")]}
    images = [image("u-3", (), 3), image("t-9", ("v1",), 9), image("u-1", (), 1), image("u-2", (), 2)]
    assert outcome(document, images) == [("u-3", 1), ("u-2", 1)]


# ---- the seed policies, verbatim ------------------------------------------------------------------------

# (digest, tags, days ago, seconds beyond that, the rule priority that expires it or None)
PROD_STAGE_DEV = [
    ("prod-1", ("prod-1",), 120, 0, 1),
    ("prod-2", ("prod-2",), 100, 0, None),  # exactly 100 days: not *older than* 100 days
    ("prod-3", ("prod-3",), 100, 1, 1),
    ("prod-4", ("prod-4",), 5, 0, None),
    ("production", ("production-1",), 140, 0, 1),  # "prod" is a prefix of "production"
    ("stage-and-dev-old", ("stage-1", "dev-1"), 11, 0, 2),
    ("stage-and-dev-new", ("stage-2", "dev-2"), 9, 0, None),
    ("stage-only", ("stage-3",), 50, 0, None),  # rule 2 needs a stage* tag *and* a dev* tag
    ("dev-only", ("dev-3",), 50, 0, None),
    ("devops-and-stage", ("devops-7", "stage-7"), 20, 0, 2),
    (
        "prod-stage-dev-young",
        ("prod-5", "stage-5", "dev-5"),
        50,
        0,
        None,
    ),  # rule 1 selected it: rule 2 may not
    ("prod-stage-dev-old", ("prod-6", "stage-6", "dev-6"), 150, 0, 1),
    ("untagged", (), 365, 0, None),
    ("other", ("latest",), 365, 0, None),
]


def _seed(name: str) -> str:
    return (SEED / name).read_text()


def _seed_images(rows: list[tuple[str, tuple[str, ...], float, float, int | None]]) -> list[Image]:
    return [image(digest, tags, days, extra) for digest, tags, days, extra, _ in rows]


def test_seed_prod_stage_dev_parses() -> None:
    policy = parse_policy(_seed("lifecycle-policy.prod-stage-dev.json"))
    assert [
        (r.priority, r.tag_prefixes, r.count_type, r.count_number, r.count_unit) for r in policy.rules
    ] == [
        (1, ("prod",), "sinceImagePushed", 100, "days"),
        (2, ("stage", "dev"), "sinceImagePushed", 10, "days"),
    ]
    assert policy.rules[0].description == "prod Expire images older than 100 days"


@pytest.mark.parametrize(
    ("digest", "tags", "days", "extra", "expected"), PROD_STAGE_DEV, ids=[r[0] for r in PROD_STAGE_DEV]
)
def test_seed_prod_stage_dev_per_image(
    digest: str, tags: tuple[str, ...], days: float, extra: float, expected: int | None
) -> None:
    policy = parse_policy(_seed("lifecycle-policy.prod-stage-dev.json"))
    expiries = evaluate(policy, [image(digest, tags, days, extra)], NOW)
    assert expiries == ([] if expected is None else [Expiry(digest, expected)])


def test_seed_prod_stage_dev_whole_repository() -> None:
    policy = parse_policy(_seed("lifecycle-policy.prod-stage-dev.json"))
    expiries = evaluate(policy, list(reversed(_seed_images(PROD_STAGE_DEV))), NOW)
    assert expiries == [
        Expiry("prod-stage-dev-old", 1),
        Expiry("production", 1),
        Expiry("prod-1", 1),
        Expiry("prod-3", 1),
        Expiry("devops-and-stage", 2),
        Expiry("stage-and-dev-old", 2),
    ]


def test_seed_untagged_10_days() -> None:
    policy = parse_policy(_seed("lifecycle-policy.untagged-10-days.json"))
    assert policy.rules == (
        Rule(1, "Expire images older than 10 days", "untagged", (), (), "sinceImagePushed", 10, "days"),
    )
    rows = [
        ("u-3", (), 3, 0, None),
        ("u-10", (), 10, 0, None),
        ("u-10-and-a-second", (), 10, 1, 1),
        ("u-11", (), 11, 0, 1),
        ("u-40", (), 40, 0, 1),
        ("v1-40", ("v1",), 40, 0, None),
    ]
    assert evaluate(policy, _seed_images(rows), NOW) == [
        Expiry("u-40", 1),
        Expiry("u-11", 1),
        Expiry("u-10-and-a-second", 1),
    ]


# ---- properties ------------------------------------------------------------------------------------------

TAGS = ("a-1", "a-2", "b-1", "ab", "c", "x")
SELECTIONS = (("a",), ("b",), ("a", "b"), ("c",), ("ab",))
PATTERNS = (("a*",), ("*1",), ("a*", "*1"), ("*",), ("ab",))


@st.composite
def repositories(draw: st.DrawFn) -> list[Image]:
    rows = draw(
        st.lists(
            st.tuples(st.sets(st.sampled_from(TAGS), max_size=3), st.integers(0, 40 * 86_400)), max_size=14
        )
    )
    return [Image(f"sha256:{n:04d}", tuple(sorted(tags)), NOW - age) for n, (tags, age) in enumerate(rows)]


@st.composite
def policies(draw: st.DrawFn) -> LifecyclePolicy:
    priorities = sorted(draw(st.sets(st.integers(1, 60), min_size=1, max_size=5)))
    untagged_at = draw(st.sampled_from([None, *priorities]))
    any_last = draw(st.booleans())
    rules = []
    for priority in priorities:
        if any_last and priority == priorities[-1]:
            status, prefixes, patterns = "any", (), ()
        elif priority == untagged_at:
            status, prefixes, patterns = "untagged", (), ()
        elif draw(st.booleans()):
            status, prefixes, patterns = "tagged", draw(st.sampled_from(SELECTIONS)), ()
        else:
            status, prefixes, patterns = "tagged", (), draw(st.sampled_from(PATTERNS))
        by_age = draw(st.booleans())
        rules.append(
            Rule(
                priority,
                None,
                status,
                prefixes,
                patterns,
                "sinceImagePushed" if by_age else "imageCountMoreThan",
                draw(st.integers(1, 20 if by_age else 6)),
                "days" if by_age else None,
            )
        )
    return LifecyclePolicy(tuple(rules))


@given(policies(), repositories())
def test_an_image_is_expired_at_most_once_and_in_order(policy: LifecyclePolicy, images: list[Image]) -> None:
    expiries = evaluate(policy, images, NOW)
    digests = [e.digest for e in expiries]
    assert len(digests) == len(set(digests))
    pushed = {i.digest: i.pushed_at for i in images}
    assert set(digests) <= set(pushed)
    keys = [(e.rule_priority, pushed[e.digest], e.digest) for e in expiries]
    assert keys == sorted(keys)


@given(policies(), repositories())
def test_no_rule_expires_an_image_a_higher_rule_selected(
    policy: LifecyclePolicy, images: list[Image]
) -> None:
    by_digest = {i.digest: i for i in images}
    for expiry in evaluate(policy, images, NOW):
        tags = by_digest[expiry.digest].tags
        higher = [r for r in policy.rules if r.priority < expiry.rule_priority]
        assert not any(rule_selects(r, tags) for r in higher)
        expiring = next(r for r in policy.rules if r.priority == expiry.rule_priority)
        assert rule_selects(expiring, tags)


@given(repositories(), st.integers(1, 20))
def test_any_keep_n_expires_exactly_the_oldest_surplus(images: list[Image], count_number: int) -> None:
    policy = parse_policy(policy_text({"rules": [rule(1, tagStatus="any", countNumber=count_number)]}))
    expiries = evaluate(policy, images, NOW)
    oldest_first = sorted(images, key=lambda i: (i.pushed_at, i.digest))
    surplus = max(0, len(images) - count_number)
    assert [e.digest for e in expiries] == [i.digest for i in oldest_first[:surplus]]
    kept = oldest_first[surplus:]
    assert all(i.pushed_at >= e.pushed_at for i in kept for e in oldest_first[:surplus])


@given(policies(), repositories())
def test_evaluation_ignores_the_order_images_arrive_in(policy: LifecyclePolicy, images: list[Image]) -> None:
    assert evaluate(policy, images, NOW) == evaluate(policy, list(reversed(images)), NOW)


def _render(parsed: Rule) -> dict[str, Any]:
    selection: dict[str, Any] = {
        "tagStatus": parsed.tag_status,
        "countType": parsed.count_type,
        "countNumber": parsed.count_number,
    }
    if parsed.tag_prefixes:
        selection["tagPrefixList"] = list(parsed.tag_prefixes)
    if parsed.tag_patterns:
        selection["tagPatternList"] = list(parsed.tag_patterns)
    if parsed.count_unit is not None:
        selection["countUnit"] = parsed.count_unit
    return {"rulePriority": parsed.priority, "selection": selection, "action": {"type": "expire"}}


@given(policies(), st.randoms(use_true_random=False))
def test_every_generated_policy_round_trips_through_its_text(policy: LifecyclePolicy, shuffler: Any) -> None:
    rendered = [_render(r) for r in policy.rules]
    shuffler.shuffle(rendered)
    assert parse_policy(policy_text({"rules": rendered})) == policy
