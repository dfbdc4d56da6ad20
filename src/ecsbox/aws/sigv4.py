"""AWS Signature Version 4: who is calling, for which account and region.

Lenient by default: any well-formed SigV4 request is accepted and its region taken from the
credential scope. Strict when access keys are configured: an unknown key or a wrong signature is
refused.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, parse_qsl, quote

from ecsbox.aws.errors import AwsError
from ecsbox.aws.http import HttpRequest

_CREDENTIAL_RE = re.compile(r"Credential=([^,\s]+)")


@dataclass(frozen=True)
class CredentialScope:
    access_key_id: str
    date: str
    region: str
    service: str


@dataclass(frozen=True)
class Principal:
    account_id: str
    region: str
    access_key_id: str
    principal_arn: str


def credential_scope(request: HttpRequest) -> CredentialScope | None:
    """The credential scope a request was signed for, from its Authorization header or its
    pre-signed query string; None when the request is not signed.

    ``Credential=AKID/20260101/eu-west-1/ecs/aws4_request`` → ("AKID", "20260101", "eu-west-1", "ecs").
    """
    auth = request.headers.get("authorization", "")
    raw = ""
    if auth.startswith("AWS4-HMAC-SHA256"):
        match = _CREDENTIAL_RE.search(auth)
        raw = match.group(1) if match else ""
    elif "X-Amz-Credential=" in request.query:
        raw = parse_qs(request.query).get("X-Amz-Credential", [""])[0]
    if not raw:
        return None
    parts = raw.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    return CredentialScope(parts[0], parts[1], parts[2], parts[3])


# ---- checking signatures ---------------------------------------------------------------------

_SIGNED_HEADERS_RE = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE_RE = re.compile(r"Signature=([0-9a-fA-F]+)")
_SPACES_RE = re.compile(r"\s+")
_ACCOUNT_KEY_RE = re.compile(r"^\d{12}$")


def canonical_uri(raw_path: str) -> str:
    """The canonical URI as botocore signs it for every service but S3: the path as sent, with
    dot segments removed, percent-encoded once more. ``/a/./b%3Ac`` → ``/a/b%253Ac``."""
    path = raw_path or "/"
    normalized = posixpath.normpath(path)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return quote(normalized, safe="/~")


def canonical_query(query: str, drop_signature: bool = False) -> str:
    """Query pairs sorted by name then value, each encoded as SigV4 requires."""
    pairs = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if drop_signature and key == "X-Amz-Signature":
            continue
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def expected_signature(
    request: HttpRequest, scope: CredentialScope, secret: str, unsigned_payload: bool = False
) -> str | None:
    """The signature the client should have sent with ``secret``; None for a request whose
    signing parts (signed headers, date) are missing. Pre-signed URLs sign the payload's hash
    (empty body) or, for S3, ``UNSIGNED-PAYLOAD``."""
    presigned = "X-Amz-Signature=" in request.query
    if presigned:
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        signed_headers = params.get("X-Amz-SignedHeaders", "")
        amz_date = params.get("X-Amz-Date", "")
        payload_hash = "UNSIGNED-PAYLOAD" if unsigned_payload else hashlib.sha256(request.body).hexdigest()
    else:
        auth = request.headers.get("authorization", "")
        match = _SIGNED_HEADERS_RE.search(auth)
        signed_headers = match.group(1) if match else ""
        amz_date = request.headers.get("x-amz-date", "")
        body_hash = hashlib.sha256(request.body).hexdigest()
        payload_hash = request.headers.get("x-amz-content-sha256") or body_hash
        if payload_hash != body_hash:
            return None  # the signed hash must be the body's: otherwise any body could ride a signature
    if not signed_headers or not amz_date:
        return None
    if "host" not in signed_headers.split(";") or amz_date[:8] != scope.date:
        return None
    header_lines = []
    for name in signed_headers.split(";"):
        value = request.headers.get(name)
        if value is None:
            return None
        header_lines.append(f"{name}:{_SPACES_RE.sub(' ', value.strip())}\n")
    canonical_request = "\n".join(
        [
            request.method,
            canonical_uri(request.path),
            canonical_query(request.query, drop_signature=presigned),
            "".join(header_lines),
            signed_headers,
            payload_hash,
        ]
    )
    scope_text = f"{scope.date}/{scope.region}/{scope.service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope_text, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = signing_key(secret, scope.date, scope.region, scope.service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _sent_signature(request: HttpRequest) -> str:
    if "X-Amz-Signature=" in request.query:
        return dict(parse_qsl(request.query)).get("X-Amz-Signature", "")
    match = _SIGNATURE_RE.search(request.headers.get("authorization", ""))
    return match.group(1) if match else ""


MAX_SKEW_S = 15 * 60  # AWS refuses a signature dated more than 15 minutes away from its clock


def check_freshness(request: HttpRequest, now: float) -> None:
    """Refuse a signed request dated more than 15 minutes from ``now`` (wall clock), and a
    pre-signed URL past its ``X-Amz-Expires`` — so a captured request cannot be replayed for ever.

    ``X-Amz-Date: 20260101T000000Z`` checked at 2026-01-01T00:20:00Z → refused.
    """
    presigned = "X-Amz-Signature=" in request.query
    params = dict(parse_qsl(request.query, keep_blank_values=True)) if presigned else {}
    amz_date = params.get("X-Amz-Date", "") if presigned else request.headers.get("x-amz-date", "")
    try:
        signed_at = (
            datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC).timestamp()
        )
    except ValueError:
        raise AwsError(
            "IncompleteSignatureException", "X-Amz-Date is missing or not a valid date", 400
        ) from None
    if presigned:
        expires = params.get("X-Amz-Expires", "")
        if not expires.isdigit() or now > signed_at + int(expires) or signed_at > now + MAX_SKEW_S:
            raise AwsError("InvalidSignatureException", f"Signature expired: {amz_date}", 403)
    elif abs(now - signed_at) > MAX_SKEW_S:
        raise AwsError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier or later than 15 minutes from the server's clock.",
            403,
        )


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret: str
    account_id: str


def parse_access_keys(items: tuple[str, ...], default_account_id: str) -> dict[str, AccessKey]:
    """``("AKID:SECRET", "AK2:S2:123456789012")`` → keys by id; the account defaults."""
    keys: dict[str, AccessKey] = {}
    for item in items:
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise ValueError(f"access key {parts[0]!r} is not AKID:SECRET[:ACCOUNT]")
        account = parts[2] if len(parts) == 3 else default_account_id
        keys[parts[0]] = AccessKey(parts[0], parts[1], account)
    return keys


class Authenticator:
    """Decides who a request comes from.

    Lenient (no access keys configured): any well-formed SigV4 request is accepted; the account is
    the access key's own when the key id is a 12-digit account id (as LocalStack users expect), else
    the default account; an unsigned request gets the default account and region.
    Strict: the key must be configured and the signature must match.
    """

    def __init__(
        self,
        default_account_id: str,
        default_region: str,
        access_keys: dict[str, AccessKey],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.wall = wall  # signature freshness is judged on the real wall clock
        self.default_account_id = default_account_id
        self.default_region = default_region
        self.access_keys = access_keys

    @property
    def strict(self) -> bool:
        return bool(self.access_keys)

    def authenticate(self, request: HttpRequest) -> Principal:
        scope = credential_scope(request)
        if scope is None:
            if self.strict:
                raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
            return self._principal(self.default_account_id, self.default_region, "")
        if not self.strict:
            account = (
                scope.access_key_id if _ACCOUNT_KEY_RE.match(scope.access_key_id) else self.default_account_id
            )
            return self._principal(account, scope.region, scope.access_key_id)
        key = self.access_keys.get(scope.access_key_id)
        if key is None:
            raise AwsError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        check_freshness(request, self.wall())
        sent = _sent_signature(request).lower()
        candidates = [expected_signature(request, scope, key.secret)]
        if "X-Amz-Signature=" in request.query and not request.body:
            candidates.append(expected_signature(request, scope, key.secret, unsigned_payload=True))
        if not any(c is not None and hmac.compare_digest(c, sent) for c in candidates):
            raise AwsError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.",
                403,
            )
        return self._principal(key.account_id, scope.region, key.access_key_id)

    @staticmethod
    def _principal(account_id: str, region: str, access_key_id: str) -> Principal:
        return Principal(account_id, region, access_key_id, f"arn:aws:iam::{account_id}:root")
