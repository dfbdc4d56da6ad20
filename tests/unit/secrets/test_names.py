"""Parameter names, selectors and hierarchy paths."""

from __future__ import annotations

import pytest

from ecsbox.secrets.model import SecretsRuleError
from ecsbox.secrets.names import (
    HIERARCHY_TOO_DEEP,
    INVALID_NAME,
    NOT_FULLY_QUALIFIED,
    RESERVED_PATH_PREFIX,
    RESERVED_PREFIX,
    check_parameter_name,
    check_path,
    in_path,
    parameter_key,
    split_selector,
)

PREFIX = "arn:aws:ssm:us-east-1:000000000000:parameter/"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("app-param", "app-param"),
        ("/app/db/password", "/app/db/password"),
        ("  /app/db/password ", "/app/db/password"),  # AWS drops surrounding spaces
        ("a_b.c-d", "a_b.c-d"),
        ("/" + "/".join(f"l{i}" for i in range(15)), "/" + "/".join(f"l{i}" for i in range(15))),
        ("myaws", "myaws"),  # only a leading aws/ssm is reserved
    ],
)
def test_valid_names(raw: str, stored: str) -> None:
    assert check_parameter_name(raw, PREFIX) == stored


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ("app/db", "ValidationException", NOT_FULLY_QUALIFIED),
        ("/app//db", "ValidationException", INVALID_NAME),
        ("/app/db/", "ValidationException", INVALID_NAME),
        ("bad name", "ValidationException", INVALID_NAME),
        ("name:1", "ValidationException", INVALID_NAME),
        ("/app/pass$word", "ValidationException", INVALID_NAME),
        ("awsParam", "ValidationException", RESERVED_PREFIX),
        ("SSM-param", "ValidationException", RESERVED_PREFIX),
        ("/ssm/x", "ValidationException", RESERVED_PATH_PREFIX),
        ("/aws/x", "AccessDeniedException", "No access to reserved parameter name: /aws/x."),
        (
            "/" + "/".join(f"l{i}" for i in range(16)),
            "HierarchyLevelLimitExceededException",
            HIERARCHY_TOO_DEEP,
        ),
    ],
)
def test_invalid_names(raw: str, code: str, message: str) -> None:
    with pytest.raises(SecretsRuleError) as caught:
        check_parameter_name(raw, PREFIX)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_name_length_counts_the_arn_prefix() -> None:
    room = 1011 - len(PREFIX)
    assert check_parameter_name("x" * room, PREFIX) == "x" * room
    assert check_parameter_name("/" + "x" * room, PREFIX)  # the leading slash is not in the ARN
    with pytest.raises(SecretsRuleError):
        check_parameter_name("x" * (room + 1), PREFIX)


def test_top_level_names_with_and_without_slash_are_one_parameter() -> None:
    assert parameter_key("/app-param") == parameter_key("app-param") == "app-param"
    assert parameter_key("/a/b") == "a/b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/app/db/password", ("/app/db/password", None)),
        ("/app/db/password:3", ("/app/db/password", "3")),
        ("app-param:prod", ("app-param", "prod")),
    ],
)
def test_selectors(text: str, expected: tuple[str, str | None]) -> None:
    assert split_selector(text) == expected


@pytest.mark.parametrize(
    ("path", "checked"), [("/", "/"), ("/app", "/app"), ("/app/", "/app"), ("/a/b.c", "/a/b.c")]
)
def test_valid_paths(path: str, checked: str) -> None:
    assert check_path(path) == checked


@pytest.mark.parametrize("path", ["app", "/a//b", "/a b", "//"])
def test_invalid_paths(path: str) -> None:
    with pytest.raises(SecretsRuleError) as caught:
        check_path(path)
    assert caught.value.code == "ValidationException"


@pytest.mark.parametrize(
    ("name", "path", "recursive", "inside"),
    [
        ("/app/a", "/app", False, True),
        ("/app/db/a", "/app", False, False),
        ("/app/db/a", "/app", True, True),
        ("/application/a", "/app", True, False),
        ("app-param", "/", False, True),  # names without a slash sit at the root
        ("/app-param", "/", False, True),
        ("/app/a", "/", False, False),
        ("/app/a", "/", True, True),
    ],
)
def test_in_path(name: str, path: str, recursive: bool, inside: bool) -> None:
    assert in_path(name, path, recursive) is inside
