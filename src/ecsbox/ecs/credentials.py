"""The secrets a task's containers hold: metadata tokens, the credentials-endpoint id and task-role
credentials. Pure: no I/O; the per-server key and the wall time come in as arguments.

Nothing here is stored. Every value is an HMAC under the server's key (kept in ``ecsbox_meta``), so
the environment the agent gives a container (fixed when the container is created) can be computed
again at any time, and a value a container presents is checked by recomputing it:

- a metadata token ``<task id>-<mac>`` (the path of ``ECS_CONTAINER_METADATA_URI_V4``); the mac
  covers the task ARN and, optionally, one container's name, so a token opens one task (or one
  container) and a guess opens nothing;
- a credentials id ``<task id>-<mac>`` (``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``);
- task-role credentials, which carry their own claims as STS session tokens do: the session token
  is ``base64url(claims).mac``, and the access key id and secret key are derived from the claims.
  A request signed with them is checked by deriving the secret again from the token it carries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

MAC_HEX = 32  # 128 bits: unguessable
ACCESS_KEY_PREFIX = "ASIA"  # AWS's prefix for temporary (session) access keys
TOKEN_VERSION = "1"
TASK_LIFETIME = "task"  # claims that expire with the task, not at a time (environment-variable mode)


def _mac(key: bytes, *parts: str) -> bytes:
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()


def _mac_hex(key: bytes, *parts: str) -> str:
    return _mac(key, *parts).hex()[:MAC_HEX]


# ---- ids in paths ------------------------------------------------------------------------------


def metadata_token(key: bytes, task_arn: str, task_id: str, container_name: str = "") -> str:
    """The path segment of a task's (or one container's) metadata URI.

    ``metadata_token(b"k", "arn:…/t1", "t1")`` → ``"t1-<32 hex>"``; a different task ARN or
    container name gives a different mac.
    """
    return f"{task_id}-{_mac_hex(key, 'metadata', task_arn, container_name)}"


def credentials_id(key: bytes, task_arn: str, task_id: str) -> str:
    """The id in ``/v2/credentials/<id>``: ``"t1-<32 hex>"``."""
    return f"{task_id}-{_mac_hex(key, 'credentials', task_arn)}"


def split_id(value: str) -> tuple[str, str] | None:
    """``"t1-abc…"`` → ``("t1", "abc…")``; None for anything that is not ``<id>-<32 hex>``."""
    task_id, sep, mac = value.rpartition("-")
    if not sep or not task_id or len(mac) != MAC_HEX or not _is_hex(mac) or "/" in task_id:
        return None
    return task_id, mac


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def metadata_target(key: bytes, task_arn: str, container_names: list[str], token: str) -> str | None:
    """Whom a metadata token of this task opens: ``""`` for the task as a whole, a container's name
    for that container, None when the token is not this task's."""
    parts = split_id(token)
    if parts is None:
        return None
    for name in ["", *container_names]:
        if hmac.compare_digest(metadata_token(key, task_arn, parts[0], name), token):
            return name
    return None


def credentials_id_matches(key: bytes, task_arn: str, value: str) -> bool:
    parts = split_id(value)
    return parts is not None and hmac.compare_digest(credentials_id(key, task_arn, parts[0]), value)


# ---- task-role credentials ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claims:
    """What a session token says: whose task, which role, until when (None: while the task runs)."""

    task_arn: str
    role_arn: str
    expires_at: float | None
    nonce: str

    def encode(self) -> str:
        expiry = TASK_LIFETIME if self.expires_at is None else str(int(self.expires_at))
        return "|".join([TOKEN_VERSION, self.task_arn, self.role_arn, expiry, self.nonce])

    @classmethod
    def decode(cls, text: str) -> Claims | None:
        parts = text.split("|")
        if len(parts) != 5 or parts[0] != TOKEN_VERSION or not parts[1] or not parts[2]:
            return None
        if parts[3] == TASK_LIFETIME:
            expires_at = None
        elif parts[3].isdigit():
            expires_at = float(parts[3])
        else:
            return None
        return cls(parts[1], parts[2], expires_at, parts[4])


@dataclass(frozen=True)
class TaskCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    claims: Claims

    def endpoint_document(self) -> dict[str, str]:
        """The body of ``GET /v2/credentials/<id>`` as the ECS agent serves it."""
        document = {
            "RoleArn": self.claims.role_arn,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "Token": self.session_token,
        }
        if self.claims.expires_at is not None:
            document["Expiration"] = iso_seconds(self.claims.expires_at)
        return document


def issue(key: bytes, claims: Claims) -> TaskCredentials:
    """Credentials for ``claims``; the same claims always give the same credentials.

    The access key id is ``ASIA`` and 16 base32 characters, the secret 40 base64 characters, as
    AWS's temporary credentials look.
    """
    body = claims.encode()
    token = f"{_b64(body.encode())}.{_b64(_mac(key, 'token', body))}"
    access_key_id = ACCESS_KEY_PREFIX + base64.b32encode(_mac(key, "akid", body)).decode()[:16]
    secret = base64.b64encode(_mac(key, "secret", body)).decode()[:40]
    return TaskCredentials(access_key_id, secret, token, claims)


def redeem(key: bytes, session_token: str, access_key_id: str) -> TaskCredentials | None:
    """The credentials a session token stands for, when this server issued it and it goes with
    ``access_key_id``; None otherwise. Expiry is the caller's business (see :func:`expired`)."""
    encoded, sep, mac = session_token.partition(".")
    if not sep:
        return None
    try:
        body = _unb64(encoded).decode()
        sent_mac = _unb64(mac)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    if not hmac.compare_digest(_mac(key, "token", body), sent_mac):
        return None
    claims = Claims.decode(body)
    if claims is None:
        return None
    credentials = issue(key, claims)
    if not hmac.compare_digest(credentials.access_key_id, access_key_id):
        return None
    return credentials


def expired(claims: Claims, wall_now: float) -> bool:
    """Past its expiry (wall clock: a credential lifetime protects people, it is not scaled)."""
    return claims.expires_at is not None and wall_now >= claims.expires_at


def assumed_role_arn(role_arn: str, session_name: str) -> str:
    """``arn:aws:iam::123456789012:role/app/web`` → ``arn:aws:sts::123456789012:assumed-role/web/<session>``."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return role_arn
    name = parts[5].rsplit("/", 1)[-1]
    return f"arn:{parts[1]}:sts::{parts[4]}:assumed-role/{name}/{session_name}"


def iso_seconds(epoch: float) -> str:
    """``iso_seconds(0)`` → ``"1970-01-01T00:00:00Z"``."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
