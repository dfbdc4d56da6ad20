"""The secrets a task's containers hold: metadata tokens, credentials ids and task-role credentials
(ecsbox.ecs.credentials). Each is an HMAC under the server's key; a value that is not this task's,
or was tampered with, opens nothing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecs import credentials as c

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
TASK_A = "arn:aws:ecs:ap-northeast-1:123456789012:task/default/0123456789abcdef0123456789abcdef"
TASK_B = "arn:aws:ecs:ap-northeast-1:123456789012:task/default/fedcba9876543210fedcba9876543210"
ID_A = TASK_A.rsplit("/", 1)[1]
ID_B = TASK_B.rsplit("/", 1)[1]
ROLE = "arn:aws:iam::123456789012:role/service/app-role"


def test_a_metadata_token_names_its_task_and_carries_a_128_bit_mac() -> None:
    token = c.metadata_token(KEY, TASK_A, ID_A)
    assert re.fullmatch(rf"{ID_A}-[0-9a-f]{{32}}", token)
    assert token == c.metadata_token(KEY, TASK_A, ID_A)  # the agent may ask again: same answer
    assert token != c.metadata_token(OTHER_KEY, TASK_A, ID_A)
    assert token != c.metadata_token(KEY, TASK_A, ID_A, "web")


def test_a_token_opens_its_task_or_its_container_and_nothing_else() -> None:
    names = ["web", "sidecar"]
    assert c.metadata_target(KEY, TASK_A, names, c.metadata_token(KEY, TASK_A, ID_A)) == ""
    assert c.metadata_target(KEY, TASK_A, names, c.metadata_token(KEY, TASK_A, ID_A, "sidecar")) == "sidecar"
    # Task B's token with task A's id in front (a container guessing its neighbour's path).
    forged = f"{ID_A}-{c.metadata_token(KEY, TASK_B, ID_B).rpartition('-')[2]}"
    assert c.metadata_target(KEY, TASK_A, names, forged) is None
    assert c.metadata_target(KEY, TASK_A, names, c.metadata_token(OTHER_KEY, TASK_A, ID_A)) is None
    assert c.metadata_target(KEY, TASK_A, names, c.metadata_token(KEY, TASK_A, ID_A, "gone")) is None


@pytest.mark.parametrize(
    "value",
    ["", "-", ID_A, f"{ID_A}-", f"{ID_A}-xyz", f"{ID_A}-{'g' * 32}", f"-{'a' * 32}", f"a/b-{'a' * 32}"],
)
def test_malformed_ids_are_refused(value: str) -> None:
    assert c.split_id(value) is None
    assert c.metadata_target(KEY, TASK_A, ["web"], value) is None
    assert not c.credentials_id_matches(KEY, TASK_A, value)


def test_a_credentials_id_is_not_the_metadata_token() -> None:
    credentials_id = c.credentials_id(KEY, TASK_A, ID_A)
    assert c.credentials_id_matches(KEY, TASK_A, credentials_id)
    assert not c.credentials_id_matches(KEY, TASK_B, credentials_id)
    assert credentials_id != c.metadata_token(KEY, TASK_A, ID_A)
    assert c.metadata_target(KEY, TASK_A, [], credentials_id) is None


@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_no_task_opens_another(first: str, second: str) -> None:
    if first == second:
        return
    token = c.metadata_token(KEY, first, "id")
    assert c.metadata_target(KEY, second, [], token) is None
    assert not c.credentials_id_matches(KEY, second, c.credentials_id(KEY, first, "id"))


# ---- task-role credentials ---------------------------------------------------------------------


def test_issued_credentials_look_like_aws_temporary_credentials() -> None:
    issued = c.issue(KEY, c.Claims(TASK_A, ROLE, 1_700_000_000.0, "n1"))
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", issued.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", issued.secret_access_key)
    assert issued.endpoint_document() == {
        "RoleArn": ROLE,
        "AccessKeyId": issued.access_key_id,
        "SecretAccessKey": issued.secret_access_key,
        "Token": issued.session_token,
        "Expiration": "2023-11-14T22:13:20Z",
    }
    assert issued == c.issue(KEY, c.Claims(TASK_A, ROLE, 1_700_000_000.0, "n1"))
    assert issued.access_key_id != c.issue(KEY, c.Claims(TASK_A, ROLE, 1_700_000_000.0, "n2")).access_key_id


def test_a_session_token_redeems_to_its_claims_and_secret() -> None:
    claims = c.Claims(TASK_A, ROLE, None, "n1")
    issued = c.issue(KEY, claims)
    redeemed = c.redeem(KEY, issued.session_token, issued.access_key_id)
    assert redeemed == issued
    assert redeemed is not None and redeemed.claims == claims
    assert "Expiration" not in issued.endpoint_document()  # lives as long as the task


def test_a_session_token_is_refused_with_another_key_id_another_server_or_tampered() -> None:
    issued = c.issue(KEY, c.Claims(TASK_A, ROLE, 2_000_000_000.0, "n1"))
    other = c.issue(KEY, c.Claims(TASK_B, ROLE, 2_000_000_000.0, "n1"))
    assert c.redeem(KEY, issued.session_token, other.access_key_id) is None
    assert c.redeem(OTHER_KEY, issued.session_token, issued.access_key_id) is None
    body, _, mac = issued.session_token.partition(".")
    # Claims rewritten to task B (a container trying to act as another task) keep A's mac.
    forged = c._b64(c.Claims(TASK_B, ROLE, 2_000_000_000.0, "n1").encode().encode()) + "." + mac
    assert c.redeem(KEY, forged, other.access_key_id) is None
    for broken in ("", "x", body, f"{body}.", f"{body}.!!", f"{body}.{mac[:-2]}", "a.b.c"):
        assert c.redeem(KEY, broken, issued.access_key_id) is None


def test_expiry_is_on_the_wall_clock_given() -> None:
    timed = c.Claims(TASK_A, ROLE, 1000.0, "n")
    assert not c.expired(timed, 999.0)
    assert c.expired(timed, 1000.0)
    assert not c.expired(c.Claims(TASK_A, ROLE, None, "n"), 10**12)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (ROLE, "arn:aws:sts::123456789012:assumed-role/app-role/t1"),
        ("arn:aws:iam::000000000000:role/r", "arn:aws:sts::000000000000:assumed-role/r/t1"),
        ("not-an-arn", "not-an-arn"),
    ],
)
def test_the_caller_is_the_assumed_role_session(role: str, expected: str) -> None:
    assert c.assumed_role_arn(role, "t1") == expected


def test_claims_that_do_not_parse_are_none() -> None:
    for text in ("", "2|a|b|task|n", "1|a|b|soon|n", "1||b|task|n", "1|a|b|task"):
        assert c.Claims.decode(text) is None
