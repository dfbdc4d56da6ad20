"""ECR authorization tokens: what GetAuthorizationToken issues and what the registry accepts."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecr.model import TOKEN_LIFETIME_S
from ecsbox.ecr.tokens import (
    BAD_SIGNATURE,
    EXPIRED,
    MALFORMED,
    MISSING,
    WRONG_USER,
    TokenRejected,
    issue_token,
    verify_basic,
)

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
DEFAULT = ("000000000000", "us-east-1")
OTHER = ("123456789012", "eu-west-1")
T0 = 1_700_000_000.25


def password_of(token: str) -> str:
    user, _, password = base64.b64decode(token).decode().partition(":")
    assert user == "AWS"
    return password


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def tampered(password: str) -> str:
    """The same password with one character of its payload changed."""
    payload, _, signature = password.partition(".")
    flipped = "A" if payload[3] != "A" else "B"
    return f"{payload[:3]}{flipped}{payload[4:]}.{signature}"


TOKEN, EXPIRES_AT = issue_token(SECRET, DEFAULT, T0)
PASSWORD = password_of(TOKEN)
OTHER_PASSWORD = password_of(issue_token(SECRET, OTHER, T0)[0])


def test_token_is_base64_of_user_aws_and_expires_in_12_hours() -> None:
    assert base64.b64decode(TOKEN).decode().startswith("AWS:")
    assert abs(EXPIRES_AT - (T0 + TOKEN_LIFETIME_S)) < 0.001
    assert EXPIRES_AT <= T0 + TOKEN_LIFETIME_S
    assert basic("AWS", PASSWORD) == "Basic " + TOKEN  # what docker sends after `docker login -u AWS`


@pytest.mark.parametrize(
    ("case", "header", "now", "expected"),
    [
        ("good token", basic("AWS", PASSWORD), T0 + 1, DEFAULT),
        ("good, lower-case scheme", "basic " + TOKEN, T0 + 1, DEFAULT),
        ("good, one second before expiry", basic("AWS", PASSWORD), T0 + TOKEN_LIFETIME_S - 1, DEFAULT),
        ("other partition", basic("AWS", OTHER_PASSWORD), T0 + 1, OTHER),
        ("missing", None, T0, MISSING),
        ("empty", "  ", T0, MISSING),
        ("bearer, not basic", "Bearer " + TOKEN, T0, MALFORMED),
        ("not base64", "Basic !!!", T0, MALFORMED),
        ("no colon", "Basic " + base64.b64encode(b"AWS").decode(), T0, MALFORMED),
        ("wrong user", basic("admin", PASSWORD), T0 + 1, WRONG_USER),
        ("tampered payload", basic("AWS", tampered(PASSWORD)), T0 + 1, BAD_SIGNATURE),
        ("no signature", basic("AWS", PASSWORD.split(".")[0]), T0 + 1, MALFORMED),
        ("made up password", basic("AWS", "abc.def"), T0 + 1, BAD_SIGNATURE),
        ("expired at exactly 12 h", basic("AWS", PASSWORD), T0 + TOKEN_LIFETIME_S, EXPIRED),
        ("expired a day later", basic("AWS", PASSWORD), T0 + 2 * TOKEN_LIFETIME_S, EXPIRED),
    ],
)
def test_verify_basic(case: str, header: str | None, now: float, expected: object) -> None:
    if isinstance(expected, tuple):
        assert verify_basic(SECRET, header, now) == expected, case
    else:
        with pytest.raises(TokenRejected) as rejected:
            verify_basic(SECRET, header, now)
        assert rejected.value.reason == expected, case


def test_another_servers_secret_rejects_the_token() -> None:
    with pytest.raises(TokenRejected) as rejected:
        verify_basic(OTHER_SECRET, "Basic " + TOKEN, T0 + 1)
    assert rejected.value.reason == BAD_SIGNATURE


@given(
    account=st.from_regex(r"[0-9]{12}", fullmatch=True),
    region=st.from_regex(r"[a-z]{2}-[a-z]{4,9}-[1-9]", fullmatch=True),
    issued=st.floats(min_value=0, max_value=4e9),
    age=st.floats(min_value=0, max_value=2 * TOKEN_LIFETIME_S),
)
def test_a_token_names_its_partition_for_exactly_12_hours(
    account: str, region: str, issued: float, age: float
) -> None:
    token, _ = issue_token(SECRET, (account, region), issued)
    now = issued + age
    if age < TOKEN_LIFETIME_S - 0.002:  # (expiry is kept to the millisecond, rounded down)
        assert verify_basic(SECRET, "Basic " + token, now) == (account, region)
    elif age >= TOKEN_LIFETIME_S:
        with pytest.raises(TokenRejected) as rejected:
            verify_basic(SECRET, "Basic " + token, now)
        assert rejected.value.reason == EXPIRED


@given(garbage=st.text(max_size=200))
def test_garbage_is_rejected_never_crashes(garbage: str) -> None:
    with pytest.raises(TokenRejected):
        verify_basic(SECRET, garbage, T0)
