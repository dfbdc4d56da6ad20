"""ECR authorization tokens (pure): what GetAuthorizationToken hands out and what the registry
accepts back in ``Authorization: Basic``.

A token is ``base64("AWS:" + password)`` (SEMANTICS §6.1: user always ``AWS``, valid 12 hours of
wall-clock time). The password is ``<payload>.<signature>``: the payload is URL-safe base64 of
``{"a": account, "r": region, "e": expiry in ms}`` and the signature URL-safe base64 of
HMAC-SHA256(secret, payload). So the registry learns the partition from the token alone, and a
token survives restarts as long as the secret does.

>>> token, expires_at = issue_token(b"k" * 32, ("000000000000", "us-east-1"), 1_700_000_000.0)
>>> expires_at
1700043200.0
>>> header = "Basic " + token
>>> verify_basic(b"k" * 32, header, 1_700_000_000.0 + 60)
('000000000000', 'us-east-1')
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math

from ecsbox.ecr.model import TOKEN_LIFETIME_S, Partition

USER = "AWS"

MISSING = "missing"
MALFORMED = "malformed"
WRONG_USER = "wrong user"
BAD_SIGNATURE = "bad signature"
EXPIRED = "expired"


class TokenRejected(Exception):
    """An ``Authorization`` header the registry refuses; ``reason`` is one of the constants above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


def _sign(secret: bytes, payload: str) -> str:
    return _b64url(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def expiry_ms(now_wall: float) -> int:
    """When a token issued at ``now_wall`` stops working, in whole milliseconds, rounded down so a
    token is never valid past 12 hours: ``expiry_ms(1.0009)`` → 43_201_000."""
    return math.floor((now_wall + TOKEN_LIFETIME_S) * 1000)


def issue_password(secret: bytes, partition: Partition, now_wall: float) -> tuple[str, float]:
    """The password ``docker login -u AWS`` takes, and its expiry (seconds since the epoch)."""
    account, region = partition
    expires = expiry_ms(now_wall)
    body = json.dumps({"a": account, "r": region, "e": expires}, separators=(",", ":"))
    payload = _b64url(body.encode())
    return f"{payload}.{_sign(secret, payload)}", expires / 1000


def issue_token(secret: bytes, partition: Partition, now_wall: float) -> tuple[str, float]:
    """(authorizationToken, expiresAt) for ``partition``: the token is ``base64("AWS:" + password)``."""
    password, expires_at = issue_password(secret, partition, now_wall)
    token = base64.b64encode(f"{USER}:{password}".encode("ascii")).decode("ascii")
    return token, expires_at


def verify_password(secret: bytes, password: str, now_wall: float) -> Partition:
    """The partition a password was issued for; :class:`TokenRejected` when it is not ours or has
    expired (at exactly 12 hours it has)."""
    payload, dot, signature = password.partition(".")
    if not dot or not payload or not signature:
        raise TokenRejected(MALFORMED)
    try:
        expected = _sign(secret, payload)
    except UnicodeError as exc:
        raise TokenRejected(MALFORMED) from exc
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise TokenRejected(BAD_SIGNATURE)
    try:
        claims = json.loads(_unb64url(payload))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise TokenRejected(MALFORMED) from exc
    if not isinstance(claims, dict):
        raise TokenRejected(MALFORMED)
    account, region, expires = claims.get("a"), claims.get("r"), claims.get("e")
    if not isinstance(account, str) or not isinstance(region, str) or type(expires) is not int:
        raise TokenRejected(MALFORMED)
    if now_wall * 1000 >= expires:
        raise TokenRejected(EXPIRED)
    return (account, region)


def verify_basic(secret: bytes, authorization_header: str | None, now_wall: float) -> Partition:
    """The partition of ``Authorization: Basic base64("AWS:" + password)``; :class:`TokenRejected`
    for a missing or malformed header, another user, a bad signature or an expired token."""
    if not authorization_header or not authorization_header.strip():
        raise TokenRejected(MISSING)
    scheme, _, credentials = authorization_header.strip().partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        raise TokenRejected(MALFORMED)
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise TokenRejected(MALFORMED) from exc
    user, colon, password = decoded.partition(":")
    if not colon:
        raise TokenRejected(MALFORMED)
    if user != USER:
        raise TokenRejected(WRONG_USER)
    return verify_password(secret, password, now_wall)
