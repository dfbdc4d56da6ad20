"""Who a request comes from: botocore's own signer makes the requests."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ecsbox.aws.errors import AwsError
from ecsbox.aws.http import HttpRequest
from ecsbox.aws.sigv4 import (
    Authenticator,
    canonical_query,
    canonical_uri,
    credential_scope,
    parse_access_keys,
)

TARGET = {
    "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
    "Content-Type": "application/x-amz-json-1.1",
}


def signed(
    url: str,
    *,
    key: str = "AKID",
    secret: str = "SECRET",
    region: str = "eu-west-1",
    method: str = "POST",
    body: bytes = b"{}",
    presign: bool = False,
) -> HttpRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(TARGET))
    signer = SigV4QueryAuth if presign else SigV4Auth
    signer(Credentials(key, secret), "ecs", region).add_auth(request)
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = parts.netloc
    return HttpRequest(method, parts.path, parts.query, headers, body if not presign else b"")


STRICT = Authenticator(
    "000000000000", "us-east-1", parse_access_keys(("AKID:SECRET:123456789012",), "0" * 12)
)
LENIENT = Authenticator("000000000000", "us-east-1", {})


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:4566/",
        "http://localhost:4566/Traces/arn%3Aaws%3Ax?b=2&a=1&a=0&c=x%20y",
        "http://localhost:4566/a/./b/",
    ],
)
def test_strict_accepts_a_correct_signature(url: str) -> None:
    principal = STRICT.authenticate(signed(url))
    assert (principal.account_id, principal.region, principal.access_key_id) == (
        "123456789012",
        "eu-west-1",
        "AKID",
    )


def test_strict_accepts_a_presigned_url() -> None:
    request = signed("http://localhost:4566/?Action=ListClusters", method="GET", body=b"", presign=True)
    assert STRICT.authenticate(request).region == "eu-west-1"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"secret": "wrong"}, "SignatureDoesNotMatch"),
        ({"key": "UNKNOWN"}, "UnrecognizedClientException"),
        ({"secret": "wrong", "presign": True, "method": "GET", "body": b""}, "SignatureDoesNotMatch"),
    ],
)
def test_strict_refuses(kwargs: dict, code: str) -> None:
    with pytest.raises(AwsError) as info:
        STRICT.authenticate(signed("http://localhost:4566/", **kwargs))
    assert info.value.code == code
    assert info.value.status == 403


def test_strict_refuses_a_tampered_body() -> None:
    request = signed("http://localhost:4566/", body=b'{"a": 1}')
    request.body = b'{"a": 2}'
    with pytest.raises(AwsError) as info:
        STRICT.authenticate(request)
    assert info.value.code == "SignatureDoesNotMatch"


def test_strict_refuses_unsigned() -> None:
    with pytest.raises(AwsError) as info:
        STRICT.authenticate(HttpRequest("POST", "/", "", {"host": "localhost"}, b"{}"))
    assert info.value.code == "MissingAuthenticationTokenException"


def test_lenient_takes_region_from_scope_and_any_signature() -> None:
    principal = LENIENT.authenticate(
        signed("http://localhost:4566/", secret="anything", region="ap-northeast-1")
    )
    assert (principal.account_id, principal.region) == ("000000000000", "ap-northeast-1")
    assert principal.principal_arn == "arn:aws:iam::000000000000:root"


def test_lenient_account_from_a_twelve_digit_key() -> None:
    assert (
        LENIENT.authenticate(signed("http://localhost:4566/", key="111122223333")).account_id
        == "111122223333"
    )


def test_lenient_unsigned_gets_defaults() -> None:
    principal = LENIENT.authenticate(HttpRequest("POST", "/", "", {"host": "localhost"}, b"{}"))
    assert (principal.account_id, principal.region) == ("000000000000", "us-east-1")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/ecs/aws4_request, SignedHeaders=host, Signature=ab",
            ("AK", "20260101", "eu-west-1", "ecs"),
        ),
        ("AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/ecs, SignedHeaders=host, Signature=ab", None),
        ("Bearer token", None),
        ("", None),
    ],
)
def test_credential_scope(header: str, expected: tuple | None) -> None:
    scope = credential_scope(HttpRequest("POST", "/", "", {"authorization": header}))
    assert (
        None if scope is None else (scope.access_key_id, scope.date, scope.region, scope.service)
    ) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("/", "/"), ("", "/"), ("/a/./b", "/a/b"), ("/a/b/", "/a/b/"), ("/a%3Ab", "/a%253Ab"), ("//x", "/x")],
)
def test_canonical_uri(raw: str, expected: str) -> None:
    assert canonical_uri(raw) == expected


def test_canonical_query_sorts_and_encodes() -> None:
    assert canonical_query("b=2&a=x y&a=1") == "a=1&a=x%20y&b=2"


def test_access_keys_parse_and_reject() -> None:
    keys = parse_access_keys(("A:S", "B:T:111122223333"), "000000000000")
    assert keys["A"].account_id == "000000000000" and keys["B"].account_id == "111122223333"
    with pytest.raises(ValueError):
        parse_access_keys(("nosecret",), "000000000000")


def test_strict_refuses_a_replaced_body_that_claims_the_old_hash() -> None:
    import hashlib

    request = signed("http://localhost:4566/", body=b'{"a": 1}')
    request.headers["x-amz-content-sha256"] = hashlib.sha256(b'{"a": 1}').hexdigest()
    request.body = b'{"a": 2}'
    with pytest.raises(AwsError) as info:
        STRICT.authenticate(request)
    assert info.value.code == "SignatureDoesNotMatch"


def test_strict_refuses_a_stale_signature() -> None:
    request = signed("http://localhost:4566/")
    late = Authenticator(
        "000000000000", "us-east-1", STRICT.access_keys, wall=lambda: STRICT.wall() + 16 * 60
    )
    with pytest.raises(AwsError) as info:
        late.authenticate(request)
    assert (info.value.code, info.value.status) == ("InvalidSignatureException", 403)


def test_strict_refuses_an_expired_presigned_url() -> None:
    request = signed("http://localhost:4566/?Action=ListClusters", method="GET", body=b"", presign=True)
    late = Authenticator("000000000000", "us-east-1", STRICT.access_keys, wall=lambda: STRICT.wall() + 3601)
    with pytest.raises(AwsError) as info:
        late.authenticate(request)
    assert info.value.code == "InvalidSignatureException"
