"""Staging-label moves, version pruning, filters and the package's public surface."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ecsbox.secrets
from ecsbox.secrets.filters import (
    ParameterFilter,
    ParameterSummary,
    SecretSummary,
    check_parameter_filters,
    matches_parameter,
    matches_secret,
    words,
)
from ecsbox.secrets.model import SecretsRuleError
from ecsbox.secrets.paging import decode_token, encode_token
from ecsbox.secrets.stages import move_stages, version_with_stage, versions_to_drop

C, P, PENDING = "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"


@pytest.mark.parametrize(
    ("versions", "new", "stages", "expected"),
    [
        ({}, "v1", [C], {"v1": [C]}),
        ({"v1": [C]}, "v2", [C], {"v1": [P], "v2": [C]}),
        ({"v1": [P], "v2": [C]}, "v3", [C], {"v1": [], "v2": [P], "v3": [C]}),
        ({"v1": [C]}, "v2", [PENDING], {"v1": [C], "v2": [PENDING]}),  # staged for rotation
        ({"v1": [P], "v2": [C, "beta"]}, "v3", ["beta"], {"v1": [P], "v2": [C], "v3": ["beta"]}),
        ({"v1": [P], "v2": [C], "v3": [PENDING]}, "v3", [C], {"v1": [], "v2": [P], "v3": [PENDING, C]}),
    ],
)
def test_stage_moves(
    versions: dict[str, list[str]], new: str, stages: list[str], expected: dict[str, list[str]]
) -> None:
    assert move_stages(versions, new, stages) == expected


@given(st.lists(st.sampled_from([[C], [PENDING], [C, "x"], ["x"]]), min_size=1, max_size=12))
def test_each_label_is_on_at_most_one_version_and_current_is_never_lost(writes: list[list[str]]) -> None:
    versions: dict[str, list[str]] = {}
    had_current = False
    for index, stages in enumerate(writes):
        versions = move_stages(versions, f"v{index}", stages)
        had_current = had_current or C in stages
        labels = [label for labelled in versions.values() for label in labelled]
        assert len(labels) == len(set(labels))
        assert (version_with_stage(versions, C) is not None) == had_current


def test_only_unlabelled_versions_are_dropped_oldest_first() -> None:
    assert versions_to_drop({"a": [], "b": [P], "c": [], "d": [C]}, 2) == ["a", "c"]
    assert versions_to_drop({"a": [P], "b": [C]}, 1) == []
    assert versions_to_drop({"a": []}, 100) == []


SUMMARY = ParameterSummary(
    "/app/db/password", "SecureString", "alias/aws/ssm", "Standard", "text", {"team": "core"}
)


@pytest.mark.parametrize(
    ("flt", "hit"),
    [
        (ParameterFilter("Name", "Equals", ("/app/db/password",)), True),
        (ParameterFilter("Name", "Equals", ("app/db/password",)), True),  # the leading slash is optional
        (ParameterFilter("Name", "BeginsWith", ("/app/d",)), True),
        (ParameterFilter("Name", "Contains", ("db/pass",)), True),
        (ParameterFilter("Type", "Equals", ("String",)), False),
        (ParameterFilter("KeyId", "Equals", ("alias/aws/ssm",)), True),
        (ParameterFilter("Path", "OneLevel", ("/app",)), False),
        (ParameterFilter("Path", "OneLevel", ("/app/db",)), True),
        (ParameterFilter("Path", "Recursive", ("/app",)), True),
        (ParameterFilter("tag:team", "Equals", ()), True),
        (ParameterFilter("tag:team", "Equals", ("ops",)), False),
        (ParameterFilter("tag:owner", "Equals", ()), False),
        (ParameterFilter("Label", "Equals", ("prod",)), False),
    ],
)
def test_parameter_filters(flt: ParameterFilter, hit: bool) -> None:
    assert matches_parameter(SUMMARY, [flt]) is hit


@pytest.mark.parametrize(
    ("raw", "by_path", "code"),
    [
        ([{"Key": "Label", "Values": ["x"]}], False, "InvalidFilterKey"),
        ([{"Key": "Name", "Values": ["x"]}], True, "InvalidFilterKey"),
        (
            [{"Key": "Type", "Values": ["x"]}, {"Key": "Type", "Values": ["String"]}],
            False,
            "InvalidFilterOption",
        ),
        (
            [{"Key": "Type", "Values": ["String"]}, {"Key": "Type", "Values": ["String"]}],
            False,
            "InvalidFilterKey",
        ),
        ([{"Key": "Path", "Option": "Equals", "Values": ["/a"]}], False, "InvalidFilterOption"),
        ([{"Key": "Type", "Option": "Contains", "Values": ["String"]}], False, "InvalidFilterOption"),
        ([{"Key": "Name"}], False, "InvalidFilterValue"),
        ([{"Key": "Path", "Values": ["/ssm/x"]}], False, "ValidationException"),
        ([{"Key": "Path", "Values": ["nope"]}], False, "ValidationException"),
    ],
)
def test_invalid_parameter_filters(raw: list[dict[str, object]], by_path: bool, code: str) -> None:
    with pytest.raises(SecretsRuleError) as caught:
        check_parameter_filters(raw, by_path)  # type: ignore[arg-type]
    assert caught.value.code == code


SECRET = SecretSummary("prod/DbPassword", "Primary database", {"team": "core", "env": "prod"})


@pytest.mark.parametrize(
    ("filters", "hit"),
    [
        ([{"Key": "name", "Values": ["prod/"]}], True),
        ([{"Key": "name", "Values": ["Prod/"]}], False),  # name: case-sensitive prefix
        ([{"Key": "name", "Values": ["!dev"]}], True),
        ([{"Key": "name", "Values": ["!prod"]}], False),
        ([{"Key": "description", "Values": ["primary"]}], True),  # description: not case-sensitive
        ([{"Key": "tag-key", "Values": ["te"]}], True),
        ([{"Key": "tag-value", "Values": ["co"]}], True),
        ([{"Key": "tag-value", "Values": ["ops"]}], False),
        ([{"Key": "all", "Values": ["password"]}], True),
        ([{"Key": "all", "Values": ["database core"]}], True),
        ([{"Key": "all", "Values": ["staging"]}], False),
        ([{"Key": "name", "Values": ["prod"]}, {"Key": "tag-key", "Values": ["owner"]}], False),
        ([{"Key": "primary-region", "Values": ["us-east-1"]}], False),
    ],
)
def test_secret_filters(filters: list[dict[str, object]], hit: bool) -> None:
    assert matches_secret(SECRET, filters) is hit


def test_words_split_punctuation_and_camel_case() -> None:
    assert words("prod/DbPassword-main") == ["prod", "db", "password", "main"]
    assert words("HTTPServer2") == ["http", "server", "2"]


@given(st.text(max_size=40))
def test_any_token_decodes_or_is_refused(token: str) -> None:
    assert decode_token(token, "s") is None or isinstance(decode_token(token, "s"), list)


def test_token_is_bound_to_its_listing() -> None:
    assert decode_token(encode_token("a", ["k"]), "a") == ["k"]
    assert decode_token(encode_token("a", ["k"]), "b") is None


def test_public_surface() -> None:
    assert sorted(ecsbox.secrets.__all__) == [
        "SecretNotFound",
        "register",
        "resolve_secret_reference",
        "secretsmanager_operations",
        "ssm_operations",
    ]
    for name in ecsbox.secrets.__all__:
        assert hasattr(ecsbox.secrets, name)
