"""The small rules behind the repository operations: names, ARNs, tags, settings, policies."""

from __future__ import annotations

from typing import Any

import pytest

from ecsbox.ecr.model import EcrRuleError
from ecsbox.ecr.repositories import (
    check_policy_text,
    check_repository_name,
    check_tags,
    encryption_settings,
    mutability_settings,
    parse_repository_arn,
)

CONSTRAINT = "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
REGEX = "(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"  # as ECR's message writes it


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("web", None),
        ("team/web-app", None),
        ("a__b/c.d/e---f", None),
        ("w", CONSTRAINT + "'must have length greater than or equal to 2'"),
        ("w" * 257, CONSTRAINT + "'must have length less than or equal to 256'"),
        ("Web", CONSTRAINT + f"'must satisfy regular expression '{REGEX}''"),
        ("web//app", CONSTRAINT + f"'must satisfy regular expression '{REGEX}''"),
        ("-web", CONSTRAINT + f"'must satisfy regular expression '{REGEX}''"),
        ("web_", CONSTRAINT + f"'must satisfy regular expression '{REGEX}''"),
        ("a___b", CONSTRAINT + f"'must satisfy regular expression '{REGEX}''"),
    ],
)
def test_repository_names(name: str, message: str | None) -> None:
    if message is None:
        assert check_repository_name(name) == name
        return
    with pytest.raises(EcrRuleError) as error:
        check_repository_name(name)
    assert (error.value.code, error.value.message) == ("InvalidParameterException", message)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:ecr:us-east-1:123456789012:repository/team/web",
            (("123456789012", "us-east-1"), "team/web"),
        ),
        ("arn:aws-cn:ecr:cn-north-1:123456789012:repository/web", (("123456789012", "cn-north-1"), "web")),
        ("invalid", None),
        ("arn:aws:ecs:us-east-1:123456789012:cluster/web", None),
        ("arn:aws:ecr:us-east-1:1234:repository/web", None),
        ("arn:aws:ecr:us-east-1:123456789012:repository/Web", None),
        ("arn:aws:ecr:us-east-1:123456789012:repository/", None),
    ],
)
def test_repository_arns(arn: str, expected: Any) -> None:
    if expected is not None:
        assert parse_repository_arn(arn) == expected
        return
    with pytest.raises(EcrRuleError) as error:
        parse_repository_arn(arn)
    assert (error.value.code, error.value.message) == (
        "InvalidParameterException",
        "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'",
    )


def test_tags_keep_the_last_value_and_bound_lengths() -> None:
    assert check_tags([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]) == {"a": "2"}
    assert check_tags([{"Key": "k" * 128, "Value": "v" * 256}]) == {"k" * 128: "v" * 256}
    for bad in ({"Key": "k" * 129, "Value": ""}, {"Key": "k", "Value": "v" * 257}, {"Key": "", "Value": "v"}):
        with pytest.raises(EcrRuleError) as error:
            check_tags([bad])
        assert error.value.code == "InvalidTagParameterException"


FILTERS = [{"filterType": "WILDCARD", "filter": "latest"}]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"imageTagMutability": "MUTABLE"}),
        ({"imageTagMutability": "IMMUTABLE"}, {"imageTagMutability": "IMMUTABLE"}),
        (
            {"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": FILTERS},
            {"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": FILTERS},
        ),
        ({"imageTagMutability": "MUTABLE_WITH_EXCLUSION"}, None),
        ({"imageTagMutability": "MUTABLE", "imageTagMutabilityExclusionFilters": FILTERS}, None),
    ],
)
def test_mutability_settings(params: dict[str, Any], expected: dict[str, Any] | None) -> None:
    if expected is not None:
        assert mutability_settings(params) == expected
        return
    with pytest.raises(EcrRuleError) as error:
        mutability_settings(params)
    assert error.value.code == "InvalidParameterException"


def test_encryption_settings() -> None:
    assert encryption_settings({}) == {"encryptionType": "AES256"}
    kms = {"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/k"}
    assert encryption_settings({"encryptionConfiguration": kms}) == kms
    with pytest.raises(EcrRuleError):
        encryption_settings({"encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": "k"}})


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ('{"Version": "2012-10-17", "Statement": []}', True),
        ('{"Statement": {"Effect": "Allow"}}', True),
        ('{"Version": "2012-10-17"}', False),
        ('{"Statement": "all"}', False),
        ("[]", False),
        ("", False),
        ("{", False),
    ],
)
def test_policy_text(text: str, valid: bool) -> None:
    if valid:
        assert check_policy_text(text) == text
        return
    with pytest.raises(EcrRuleError) as error:
        check_policy_text(text)
    assert error.value.code == "InvalidParameterException"
