"""ECS secrets[].valueFrom: what each form names, and ARNs of parameters and secrets."""

from __future__ import annotations

import pytest

from ecsbox.secrets.arns import (
    InvalidReference,
    ParameterReference,
    SecretReference,
    parameter_arn,
    parse_parameter_arn,
    parse_secret_arn,
    parse_value_from,
    secret_arn,
)

ACCOUNT, REGION = "111122223333", "ap-northeast-1"
SM = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        ("/app/db/password", ParameterReference(ACCOUNT, REGION, "/app/db/password")),
        ("app-param", ParameterReference(ACCOUNT, REGION, "app-param")),
        ("app-param:2", ParameterReference(ACCOUNT, REGION, "app-param:2")),
        (
            "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db/password",
            ParameterReference("123456789012", "eu-west-1", "app/db/password"),
        ),
        (
            "arn:aws:ssm:eu-west-1:123456789012:parameter/app-param",
            ParameterReference("123456789012", "eu-west-1", "app-param"),
        ),
        (SM, SecretReference("123456789012", "us-east-1", SM)),
        (f"{SM}:password::", SecretReference("123456789012", "us-east-1", SM, json_key="password")),
        (
            f"{SM}::AWSPREVIOUS:",
            SecretReference("123456789012", "us-east-1", SM, version_stage="AWSPREVIOUS"),
        ),
        (
            f"{SM}:password:AWSCURRENT:",
            SecretReference("123456789012", "us-east-1", SM, "password", "AWSCURRENT"),
        ),
        (
            f"{SM}:::0f8a6c3e-1111-2222-3333-444455556666",
            SecretReference(
                "123456789012", "us-east-1", SM, version_id="0f8a6c3e-1111-2222-3333-444455556666"
            ),
        ),
        (f"{SM}:username", SecretReference("123456789012", "us-east-1", SM, json_key="username")),
        (  # a partial ARN (no suffix) is looked up as the secret's name
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db:password::",
            SecretReference(
                "123456789012",
                "us-east-1",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db",
                "password",
            ),
        ),
    ],
)
def test_value_from_forms(value_from: str, expected: ParameterReference | SecretReference) -> None:
    assert parse_value_from(value_from, ACCOUNT, REGION) == expected


@pytest.mark.parametrize(
    "value_from",
    [
        "",
        "   ",
        f"{SM}:a:b:c:d",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
        "arn:aws:s3:::bucket/key",
    ],
)
def test_invalid_value_from(value_from: str) -> None:
    with pytest.raises(InvalidReference):
        parse_value_from(value_from, ACCOUNT, REGION)


def test_parameter_arns_drop_the_leading_slash() -> None:
    assert parameter_arn(REGION, ACCOUNT, "/a/b") == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/a/b"
    assert parameter_arn(REGION, ACCOUNT, "a") == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/a"
    parsed = parse_parameter_arn(parameter_arn(REGION, ACCOUNT, "/a/b"))
    assert parsed is not None and (parsed.account_id, parsed.region, parsed.key) == (ACCOUNT, REGION, "a/b")
    assert parse_parameter_arn("arn:aws:ssm:us-east-1:1:document/x") is None


def test_secret_arns() -> None:
    arn = secret_arn(REGION, ACCOUNT, "prod/db", "AbCdEf")
    assert arn == f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-AbCdEf"
    parsed = parse_secret_arn(arn)
    assert parsed is not None and parsed.secret_id == "prod/db-AbCdEf"
    assert parse_secret_arn(arn + ":password::") is None
