"""The OCI distribution API under /v2/ over raw HTTP against a live ecsbox: the status codes, headers
and error codes (``{"errors": [{"code": ...}]}``) the distribution spec asks for, with the ECR
token (``Authorization: Basic``) that GetAuthorizationToken hands out."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from tests.conftest import LiveServer
from tests.contract.aws_clients import aws_client
from tests.contract.oci_client import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Oci,
    canonical,
    digest_of,
    errors,
    index_of,
    make_image,
    registry_host,
    token_secret,
)

from ecsbox.ecr.tokens import issue_token

REGION = "us-east-1"  # with the default account: the default partition, served at localhost:<port>
ACCOUNT = "000000000000"
MISSING = "sha256:" + "0" * 64


@pytest.fixture()
def ecr(ecsbox_endpoint: str) -> Any:
    return aws_client("ecr", ecsbox_endpoint, REGION)


@pytest.fixture()
def token(ecr: Any) -> str:
    return str(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"])


@pytest.fixture()
def oci(ecsbox_endpoint: str, token: str, ecr: Any) -> Oci:
    """The default partition's registry, logged in, with repository ``web`` created."""
    ecr.create_repository(repositoryName="web")
    return Oci(registry_host(ecsbox_endpoint), token)


def upload_location(answer: requests.Response) -> str:
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    assert "/blobs/uploads/" in location
    assert answer.headers["Docker-Upload-UUID"] == location.rsplit("/", 1)[1]
    return location


# ---- the base endpoint and who may call ------------------------------------------------------------------


def test_the_base_endpoint_challenges_without_a_valid_token(
    ecsbox_endpoint: str, token: str, ecsbox_server: LiveServer
) -> None:
    host = registry_host(ecsbox_endpoint)
    secret = token_secret(ecsbox_server)
    expired, _ = issue_token(secret, (ACCOUNT, REGION), time.time() - 12 * 3600 - 1)
    forged, _ = issue_token(b"not the server's secret".ljust(32, b"x"), (ACCOUNT, REGION), time.time())
    password = base64.b64decode(token).decode().partition(":")[2]
    refused_tokens = {
        "none": None,
        "garbage": "not base64 at all!",
        "not ours": base64.b64encode(b"AWS:hunter2").decode(),
        "another user": base64.b64encode(f"admin:{password}".encode()).decode(),
        "expired": expired,
        "forged": forged,
    }
    for case, refused in refused_tokens.items():
        for method in ("GET", "HEAD"):
            answer = Oci(host, refused).request(method, "/v2/")
            assert answer.status_code == 401, (case, method)
            assert answer.headers["WWW-Authenticate"] == (
                f'Basic realm="http://localhost:{urlsplit(host).port}/",service="ecr.amazonaws.com"'
            ), case
            assert answer.headers["Docker-Distribution-API-Version"] == "registry/2.0"
            if method == "GET":
                assert errors(answer) == ["UNAUTHORIZED"], case
    # Refused on every route, not only the base endpoint.
    assert Oci(host, None).request("GET", "/v2/web/tags/list").status_code == 401
    assert Oci(host, expired).request("POST", "/v2/web/blobs/uploads/").status_code == 401

    for method in ("GET", "HEAD"):
        answer = Oci(host, token).request(method, "/v2/")
        assert answer.status_code == 200
        assert answer.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert Oci(host, token).request("GET", "/v2/").json() == {}
    # Any scheme spelling the docker CLI might send.
    assert (
        Oci(host, None).request("GET", "/v2/", headers={"Authorization": f"basic {token}"}).status_code == 200
    )


def test_a_token_works_only_at_the_registry_of_its_partition(ecsbox_endpoint: str, token: str) -> None:
    away = aws_client("ecr", ecsbox_endpoint, "eu-west-1")
    away.create_repository(repositoryName="web")
    (away_data,) = away.get_authorization_token()["authorizationData"]
    away_host = away_data["proxyEndpoint"]
    assert urlsplit(away_host).hostname.startswith("127.1.")
    home_host = registry_host(ecsbox_endpoint)

    assert Oci(home_host, away_data["authorizationToken"]).request("GET", "/v2/").status_code == 401
    refused = Oci(away_host, token).request("GET", "/v2/")
    assert refused.status_code == 401 and errors(refused) == ["UNAUTHORIZED"]
    assert refused.headers["WWW-Authenticate"].startswith(f'Basic realm="{away_host}/"')
    assert Oci(away_host, away_data["authorizationToken"]).request("GET", "/v2/").status_code == 200
    assert Oci(home_host, token).request("GET", "/v2/").status_code == 200
    # Each registry has its own repositories: "web" of eu-west-1 is not "web" of us-east-1.
    assert Oci(away_host, away_data["authorizationToken"]).tags("web") == []
    unknown = Oci(home_host, token).request("GET", "/v2/web/tags/list")
    assert unknown.status_code == 404 and errors(unknown) == ["NAME_UNKNOWN"]


# ---- blob uploads --------------------------------------------------------------------------------------------


def assert_blob(oci: Oci, name: str, data: bytes) -> None:
    digest = digest_of(data)
    head = oci.request("HEAD", f"/v2/{name}/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Length"] == str(len(data))
    assert head.content == b""
    got = oci.request("GET", f"/v2/{name}/blobs/{digest}")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["Docker-Content-Digest"] == digest
    assert got.headers["Content-Length"] == str(len(data))


def assert_no_blob(oci: Oci, name: str, digest: str) -> None:
    head = oci.request("HEAD", f"/v2/{name}/blobs/{digest}")
    assert head.status_code == 404
    got = oci.request("GET", f"/v2/{name}/blobs/{digest}")
    assert got.status_code == 404 and errors(got) == ["BLOB_UNKNOWN"]


def test_monolithic_upload_in_one_post(oci: Oci) -> None:
    data = b"a monolithic layer " * 1000
    digest = digest_of(data)
    assert_no_blob(oci, "web", digest)
    answer = oci.request("POST", "/v2/web/blobs/uploads/", params={"digest": digest}, data=data)
    assert answer.status_code == 201
    assert answer.headers["Location"] == f"/v2/web/blobs/{digest}"
    assert answer.headers["Docker-Content-Digest"] == digest
    assert answer.content == b""
    assert_blob(oci, "web", data)
    # The Location is where the blob is.
    assert oci.request("GET", answer.headers["Location"]).content == data


def test_monolithic_upload_as_post_then_put(oci: Oci) -> None:
    data = b"post, then put " * 300
    digest = digest_of(data)
    started = oci.request("POST", "/v2/web/blobs/uploads/")
    location = upload_location(started)
    assert started.headers["Range"] == "0-0"
    assert started.headers["Docker-Upload-UUID"] == location.rsplit("/", 1)[1]
    assert_no_blob(oci, "web", digest)
    put = oci.request("PUT", location, params={"digest": digest}, data=data)
    assert put.status_code == 201
    assert put.headers["Location"] == f"/v2/web/blobs/{digest}"
    assert put.headers["Docker-Content-Digest"] == digest
    assert_blob(oci, "web", data)
    # The session is over once its blob is in.
    gone = oci.request("GET", location)
    assert gone.status_code == 404 and errors(gone) == ["BLOB_UPLOAD_UNKNOWN"]


def test_chunked_upload_in_order_then_out_of_order(oci: Oci) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    digest = digest_of(data)
    location = upload_location(oci.request("POST", "/v2/web/blobs/uploads/"))

    first = oci.request("PATCH", location, data=data[:4000], headers={"Content-Range": "0-3999"})
    assert first.status_code == 202
    assert first.headers["Range"] == "0-3999"
    location = first.headers["Location"]
    second = oci.request("PATCH", location, data=data[4000:8000], headers={"Content-Range": "4000-7999"})
    assert second.status_code == 202 and second.headers["Range"] == "0-7999"
    location = second.headers["Location"]

    status = oci.request("GET", location)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-7999"
    assert status.headers["Location"] == location

    for wrong_start in ("9000-9999", "0-999", "7999-8998"):  # ahead, from the start again, overlapping
        refused = oci.request("PATCH", location, data=data[8000:9000], headers={"Content-Range": wrong_start})
        assert refused.status_code == 416, wrong_start
        assert refused.headers["Range"] == "0-7999"
        assert errors(refused) == ["RANGE_INVALID"]
    # A refused chunk leaves the upload where it was: the client resumes from the Range.
    assert oci.request("GET", location).headers["Range"] == "0-7999"
    third = oci.request("PATCH", location, data=data[8000:9000], headers={"Content-Range": "8000-8999"})
    assert third.status_code == 202 and third.headers["Range"] == "0-8999"
    # docker streams its chunk without a Content-Range; the final piece comes with the PUT.
    streamed = oci.request("PATCH", location, data=data[9000:10000])
    assert streamed.status_code == 202 and streamed.headers["Range"] == "0-9999"
    assert_no_blob(oci, "web", digest)
    done = oci.request("PUT", location, params={"digest": digest}, data=data[10000:])
    assert done.status_code == 201 and done.headers["Docker-Content-Digest"] == digest
    assert_blob(oci, "web", data)


def test_an_upload_can_be_cancelled(oci: Oci, ecr: Any) -> None:
    data = b"never finished " * 100
    location = upload_location(oci.request("POST", "/v2/web/blobs/uploads/"))
    assert oci.request("PATCH", location, data=data).status_code == 202
    assert oci.request("DELETE", location).status_code == 204
    for method, params in (("GET", {}), ("PATCH", {}), ("PUT", {"digest": digest_of(data)}), ("DELETE", {})):
        answer = oci.request(method, location, params=params, data=b"x" if method == "PATCH" else None)
        assert answer.status_code == 404, method
        assert errors(answer) == ["BLOB_UPLOAD_UNKNOWN"], method
    assert_no_blob(oci, "web", digest_of(data))
    # An upload belongs to the repository it was started in.
    ecr.create_repository(repositoryName="other")
    mine = upload_location(oci.request("POST", "/v2/web/blobs/uploads/"))
    stolen = oci.request("PATCH", mine.replace("/v2/web/", "/v2/other/"), data=data)
    assert stolen.status_code == 404 and errors(stolen) == ["BLOB_UPLOAD_UNKNOWN"]
    assert oci.request("GET", mine).headers["Range"] == "0-0"


def test_a_wrong_digest_is_refused_and_leaves_nothing_visible(oci: Oci) -> None:
    data = b"the real content " * 64
    claimed = digest_of(b"something else")
    answer = oci.request("POST", "/v2/web/blobs/uploads/", params={"digest": claimed}, data=data)
    assert answer.status_code == 400 and errors(answer) == ["DIGEST_INVALID"]
    assert_no_blob(oci, "web", claimed)
    assert_no_blob(oci, "web", digest_of(data))

    location = upload_location(oci.request("POST", "/v2/web/blobs/uploads/"))
    assert oci.request("PATCH", location, data=data).status_code == 202
    answer = oci.request("PUT", location, params={"digest": claimed})
    assert answer.status_code == 400 and errors(answer) == ["DIGEST_INVALID"]
    assert_no_blob(oci, "web", claimed)
    assert_no_blob(oci, "web", digest_of(data))
    assert oci.request("GET", location).status_code == 404  # the failed upload is gone

    # A digest that is not a digest at all.
    for bad in ("sha256:xyz", "md5:" + "a" * 32, "sha256:" + "A" * 64, "sha256:" + "a" * 65):
        answer = oci.request("POST", "/v2/web/blobs/uploads/", params={"digest": bad}, data=data)
        assert answer.status_code == 400 and errors(answer) == ["DIGEST_INVALID"], bad
    location = upload_location(oci.request("POST", "/v2/web/blobs/uploads/"))
    answer = oci.request("PUT", location, data=data)  # no digest
    assert answer.status_code == 400 and errors(answer) == ["DIGEST_INVALID"]
    assert_no_blob(oci, "web", digest_of(data))


def test_blob_reads_with_ranges(oci: Oci) -> None:
    data = bytes(range(100))
    digest = digest_of(data)
    oci.push_blob("web", data)
    assert_blob(oci, "web", data)
    for wanted, status, body, content_range in (
        ("bytes=10-19", 206, data[10:20], "bytes 10-19/100"),
        ("bytes=90-", 206, data[90:], "bytes 90-99/100"),
        ("bytes=95-200", 206, data[95:], "bytes 95-99/100"),
        ("bytes=0-0", 206, data[:1], "bytes 0-0/100"),
    ):
        got = oci.request("GET", f"/v2/web/blobs/{digest}", headers={"Range": wanted})
        assert got.status_code == status, wanted
        assert got.content == body, wanted
        assert got.headers["Content-Range"] == content_range
        assert got.headers["Content-Length"] == str(len(body))
        assert got.headers["Docker-Content-Digest"] == digest
    for unsatisfiable in ("bytes=100-", "bytes=20-10", "lines=1-2"):
        got = oci.request("GET", f"/v2/web/blobs/{digest}", headers={"Range": unsatisfiable})
        assert got.status_code == 416, unsatisfiable
        assert got.headers["Content-Range"] == "bytes */100"
    # Removing a blob directly is not how ECR works: images go, their blobs are collected.
    deleted = oci.request("DELETE", f"/v2/web/blobs/{digest}")
    assert deleted.status_code == 405 and errors(deleted) == ["UNSUPPORTED"]
    assert_blob(oci, "web", data)
    invalid = oci.request("GET", "/v2/web/blobs/sha256:nothex")
    assert invalid.status_code == 400 and errors(invalid) == ["DIGEST_INVALID"]


def test_cross_repository_mount(oci: Oci, ecr: Any) -> None:
    ecr.create_repository(repositoryName="team/app")
    ecr.create_repository(repositoryName="empty")
    data = b"a shared base layer " * 200
    digest = digest_of(data)
    oci.push_blob("web", data)
    assert_no_blob(oci, "team/app", digest)  # a blob is served only by repositories that have it

    mounted = oci.request("POST", "/v2/team/app/blobs/uploads/", params={"mount": digest, "from": "web"})
    assert mounted.status_code == 201
    assert mounted.headers["Location"] == f"/v2/team/app/blobs/{digest}"
    assert mounted.headers["Docker-Content-Digest"] == digest
    assert_blob(oci, "team/app", data)

    # A source without the blob, or a blob nobody has: an ordinary upload session instead.
    for params in ({"mount": digest, "from": "empty"}, {"mount": MISSING, "from": "web"}):
        fallback = oci.request("POST", "/v2/empty/blobs/uploads/", params=params)
        assert upload_location(fallback).startswith("/v2/empty/blobs/uploads/"), params
        assert fallback.headers["Range"] == "0-0"
    assert_no_blob(oci, "empty", digest)
    # ... which works like any other.
    location = upload_location(oci.request("POST", "/v2/empty/blobs/uploads/", params={"mount": MISSING}))
    assert oci.request("PUT", location, params={"digest": digest}, data=data).status_code == 201
    assert_blob(oci, "empty", data)


# ---- manifests -----------------------------------------------------------------------------------------------


def assert_manifest(oci: Oci, name: str, reference: str, manifest: bytes, media_type: str) -> None:
    digest = digest_of(manifest)
    got = oci.request("GET", f"/v2/{name}/manifests/{reference}", headers={"Accept": media_type})
    assert got.status_code == 200, (reference, got.text)
    assert got.content == manifest  # byte for byte: the digest is of these bytes
    assert got.headers["Content-Type"] == media_type
    assert got.headers["Docker-Content-Digest"] == digest
    head = oci.request("HEAD", f"/v2/{name}/manifests/{reference}")
    assert head.status_code == 200
    assert head.headers["Content-Type"] == media_type
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Length"] == str(len(manifest))
    assert head.content == b""


def assert_no_manifest(oci: Oci, name: str, reference: str) -> None:
    got = oci.request("GET", f"/v2/{name}/manifests/{reference}")
    assert got.status_code == 404, reference
    assert errors(got) == ["MANIFEST_UNKNOWN"]
    assert oci.request("HEAD", f"/v2/{name}/manifests/{reference}").status_code == 404


def test_docker_and_oci_manifests_by_tag_and_by_digest(oci: Oci) -> None:
    docker = make_image("docker", DOCKER_MANIFEST)
    pushed = oci.push_image("web", docker, "v1")
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["Docker-Content-Digest"] == docker.digest
    assert_manifest(oci, "web", "v1", docker.manifest, DOCKER_MANIFEST)
    assert_manifest(oci, "web", docker.digest, docker.manifest, DOCKER_MANIFEST)
    # The Location of a pushed manifest pulls it.
    located = oci.request("GET", pushed.headers["Location"])
    assert located.status_code == 200, (pushed.headers["Location"], located.text)
    assert located.content == docker.manifest

    oci_image = make_image("oci", OCI_MANIFEST, layers=3)
    pushed = oci.push_image("web", oci_image)  # by digest: no tag
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["Docker-Content-Digest"] == oci_image.digest
    assert_manifest(oci, "web", oci_image.digest, oci_image.manifest, OCI_MANIFEST)
    assert oci.request("GET", pushed.headers["Location"]).content == oci_image.manifest
    assert oci.tags("web") == ["v1"]

    # The same manifest under a second tag; then a tag moved to another manifest.
    assert oci.put_manifest("web", "latest", docker.manifest, DOCKER_MANIFEST).status_code == 201
    assert oci.put_manifest("web", "v1", oci_image.manifest, OCI_MANIFEST).status_code == 201
    assert_manifest(oci, "web", "v1", oci_image.manifest, OCI_MANIFEST)
    assert_manifest(oci, "web", "latest", docker.manifest, DOCKER_MANIFEST)
    assert oci.tags("web") == ["latest", "v1"]

    # Without a Content-Type the manifest's own mediaType says what it is.
    bare = make_image("bare", OCI_MANIFEST)
    for blob in bare.blobs.values():
        oci.push_blob("web", blob)
    answer = oci.request("PUT", "/v2/web/manifests/bare", data=bare.manifest)
    assert answer.status_code == 201, answer.text
    assert_manifest(oci, "web", "bare", bare.manifest, OCI_MANIFEST)


@pytest.mark.parametrize(
    ("list_type", "child_type"), [(DOCKER_LIST, DOCKER_MANIFEST), (OCI_INDEX, OCI_MANIFEST)]
)
def test_manifest_lists_and_indexes(oci: Oci, list_type: str, child_type: str) -> None:
    children = [make_image(f"arch-{n}", child_type) for n in range(2)]
    for child in children:
        assert oci.push_image("web", child).status_code == 201
    listed = index_of(children, list_type)
    answer = oci.put_manifest("web", "multi", listed, list_type)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Docker-Content-Digest"] == digest_of(listed)
    assert_manifest(oci, "web", "multi", listed, list_type)
    assert_manifest(oci, "web", digest_of(listed), listed, list_type)
    for child in children:
        assert_manifest(oci, "web", child.digest, child.manifest, child_type)

    orphan = make_image("never pushed", child_type)
    dangling = index_of([children[0], orphan], list_type)
    refused = oci.put_manifest("web", "dangling", dangling, list_type)
    assert refused.status_code == 400
    assert errors(refused) == ["MANIFEST_BLOB_UNKNOWN"]
    assert refused.json()["errors"][0]["detail"] == {"digest": orphan.digest}
    assert_no_manifest(oci, "web", "dangling")
    assert_no_manifest(oci, "web", digest_of(dangling))
    assert oci.tags("web") == ["multi"]


def test_manifests_that_are_refused(oci: Oci) -> None:
    image = make_image("refused")
    # The layers never arrived.
    answer = oci.put_manifest("web", "v1", image.manifest, DOCKER_MANIFEST)
    assert answer.status_code == 400
    assert errors(answer) == ["MANIFEST_BLOB_UNKNOWN"]
    assert answer.json()["errors"][0]["detail"]["digest"] in image.blobs
    # Only the config arrived.
    oci.push_blob("web", image.config)
    answer = oci.put_manifest("web", "v1", image.manifest, DOCKER_MANIFEST)
    assert answer.status_code == 400 and errors(answer) == ["MANIFEST_BLOB_UNKNOWN"]
    assert answer.json()["errors"][0]["detail"] == {"digest": digest_of(image.layers[0])}

    for blob in image.blobs.values():
        oci.push_blob("web", blob)
    document = json.loads(image.manifest)
    invalid = {
        "not json": b"{this is not json",
        "not an object": b"[]",
        "schema 1": canonical({**document, "schemaVersion": 1}),
        "no layers": canonical({k: v for k, v in document.items() if k != "layers"}),
        "bad digest": canonical({**document, "config": {**document["config"], "digest": "sha256:zz"}}),
        "negative size": canonical({**document, "config": {**document["config"], "size": -1}}),
        "mismatched type": canonical({**document, "mediaType": OCI_MANIFEST}),
    }
    for case, manifest in invalid.items():
        answer = oci.put_manifest("web", "v1", manifest, DOCKER_MANIFEST)
        assert answer.status_code == 400, case
        assert errors(answer) == ["MANIFEST_INVALID"], case
    answer = oci.put_manifest("web", "v1", image.manifest, "text/plain")
    assert answer.status_code == 201, answer.text  # the document's own mediaType decides

    # By digest, the digest must be the manifest's.
    other = make_image("other")
    for blob in other.blobs.values():
        oci.push_blob("web", blob)
    answer = oci.put_manifest("web", image.digest, other.manifest, DOCKER_MANIFEST)
    assert answer.status_code == 400 and errors(answer) == ["DIGEST_INVALID"]
    assert_no_manifest(oci, "web", other.digest)
    answer = oci.put_manifest("web", "bad tag!", image.manifest, DOCKER_MANIFEST)
    assert answer.status_code == 400 and errors(answer) == ["TAG_INVALID"]
    assert oci.tags("web") == ["v1"]
    assert_manifest(oci, "web", "v1", image.manifest, DOCKER_MANIFEST)


def test_deleting_manifests_by_digest_and_by_tag(oci: Oci) -> None:
    first, second = make_image("first"), make_image("second")
    assert oci.push_image("web", first, "v1").status_code == 201
    assert oci.put_manifest("web", "stable", first.manifest, DOCKER_MANIFEST).status_code == 201
    assert oci.push_image("web", second, "v2").status_code == 201

    deleted = oci.request("DELETE", f"/v2/web/manifests/{first.digest}")
    assert deleted.status_code == 202
    for reference in (first.digest, "v1", "stable"):
        assert_no_manifest(oci, "web", reference)
    again = oci.request("DELETE", f"/v2/web/manifests/{first.digest}")
    assert again.status_code == 404 and errors(again) == ["MANIFEST_UNKNOWN"]
    assert oci.tags("web") == ["v2"]

    untagged = oci.request("DELETE", "/v2/web/manifests/v2")
    assert untagged.status_code == 202
    assert_no_manifest(oci, "web", "v2")
    assert oci.tags("web") == []
    # The tag went; the image stays, untagged, under its digest.
    assert_manifest(oci, "web", second.digest, second.manifest, DOCKER_MANIFEST)
    gone = oci.request("DELETE", "/v2/web/manifests/v2")
    assert gone.status_code == 404 and errors(gone) == ["MANIFEST_UNKNOWN"]
    assert_no_manifest(oci, "web", "never-pushed")


def test_tags_list_pages_with_n_last_and_link(oci: Oci) -> None:
    image = make_image("tagged")
    assert oci.push_image("web", image, "t3").status_code == 201
    for tag in ("t1", "a0", "t2", "t0"):
        assert oci.put_manifest("web", tag, image.manifest, DOCKER_MANIFEST).status_code == 201
    assert oci.tags("web") == ["a0", "t0", "t1", "t2", "t3"]

    first = oci.request("GET", "/v2/web/tags/list", params={"n": 2})
    assert first.status_code == 200
    assert first.json() == {"name": "web", "tags": ["a0", "t0"]}
    assert first.headers["Link"] == '</v2/web/tags/list?n=2&last=t0>; rel="next"'
    second = oci.request("GET", first.headers["Link"].split(";")[0].strip("<>"))
    assert second.json()["tags"] == ["t1", "t2"]
    third = oci.request("GET", second.headers["Link"].split(";")[0].strip("<>"))
    assert third.json()["tags"] == ["t3"]
    assert "Link" not in third.headers

    assert oci.tags("web", last="t1") == ["t2", "t3"]
    assert oci.tags("web", n=1, last="a0") == ["t0"]
    assert oci.tags("web", n=5) == ["a0", "t0", "t1", "t2", "t3"]
    exact = oci.request("GET", "/v2/web/tags/list", params={"n": 5})
    assert "Link" not in exact.headers
    nothing = oci.request("GET", "/v2/web/tags/list", params={"n": 0})
    assert nothing.json()["tags"] == [] and "Link" not in nothing.headers
    assert oci.tags("web", last="t3") == []
    for bad in ("abc", "1.5"):
        refused = oci.request("GET", "/v2/web/tags/list", params={"n": bad})
        assert refused.status_code == 400 and errors(refused) == ["PAGINATION_NUMBER_INVALID"], bad


def test_unknown_repository_and_invalid_names(oci: Oci) -> None:
    image = make_image("nowhere")
    for method, path, kwargs in (
        ("GET", "/v2/nope/tags/list", {}),
        ("GET", "/v2/nope/manifests/latest", {}),
        ("HEAD", f"/v2/nope/blobs/{MISSING}", {}),
        ("POST", "/v2/nope/blobs/uploads/", {}),
        ("PUT", "/v2/nope/manifests/v1", {"data": image.manifest}),
        ("GET", "/v2/web/sub/tags/list", {}),
    ):
        answer = oci.request(method, path, **kwargs)
        assert answer.status_code == 404, path
        if method != "HEAD":
            assert errors(answer) == ["NAME_UNKNOWN"], path
    for name in ("Web", "web//app", "-web", "w", "web_"):
        answer = oci.request("GET", f"/v2/{name}/tags/list")
        assert answer.status_code == 400, name
        assert errors(answer) == ["NAME_INVALID"], name


def test_an_immutable_repository_refuses_to_move_a_tag(oci: Oci, ecr: Any) -> None:
    ecr.create_repository(repositoryName="frozen", imageTagMutability="IMMUTABLE")
    first, second = make_image("first"), make_image("second")
    assert oci.push_image("frozen", first, "v1").status_code == 201
    again = oci.put_manifest("frozen", "v1", first.manifest, DOCKER_MANIFEST)
    assert again.status_code == 201  # the same manifest again: nothing moves
    moved = oci.push_image("frozen", second, "v1")
    assert moved.status_code == 400
    assert errors(moved) == ["TAG_INVALID"]
    assert "already exists" in moved.json()["errors"][0]["message"]
    assert_manifest(oci, "frozen", "v1", first.manifest, DOCKER_MANIFEST)
    assert_no_manifest(oci, "frozen", second.digest)
    # A new tag, or the digest alone, is fine.
    assert oci.put_manifest("frozen", "v2", second.manifest, DOCKER_MANIFEST).status_code == 201
    assert oci.put_manifest("frozen", second.digest, second.manifest, DOCKER_MANIFEST).status_code == 201
    assert oci.tags("frozen") == ["v1", "v2"]
    # The mutable repository next door moves its tags freely.
    assert oci.push_image("web", first, "v1").status_code == 201
    assert oci.push_image("web", second, "v1").status_code == 201
    assert_manifest(oci, "web", "v1", second.manifest, DOCKER_MANIFEST)


def test_exclusion_filters_decide_which_tags_are_pinned(oci: Oci, ecr: Any) -> None:
    ecr.create_repository(
        repositoryName="mostly-frozen",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}],
    )
    ecr.create_repository(
        repositoryName="mostly-free",
        imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "release-*"}],
    )
    first, second = make_image("first"), make_image("second")
    for name, pinned, free in (("mostly-frozen", "v1", "dev-1"), ("mostly-free", "release-1", "latest")):
        for tag in (pinned, free):
            assert oci.push_image(name, first, tag).status_code == 201
        refused = oci.push_image(name, second, pinned)
        assert refused.status_code == 400 and errors(refused) == ["TAG_INVALID"], name
        assert oci.push_image(name, second, free).status_code == 201, name
        assert_manifest(oci, name, pinned, first.manifest, DOCKER_MANIFEST)
        assert_manifest(oci, name, free, second.manifest, DOCKER_MANIFEST)


# ---- robustness --------------------------------------------------------------------------------------------


def test_malformed_requests_never_fail_the_server(oci: Oci, ecsbox_endpoint: str) -> None:
    location = upload_location(oci.request("POST", "/v2/web/blobs/uploads/"))
    blob = oci.push_blob("web", b"a blob to read in pieces").headers["Docker-Content-Digest"]
    huge = "9" * 5000  # past the 4,300 digits Python turns into an int
    garbage = bytes(range(256)) * 8
    requests_: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/v2/web", {}),
        ("GET", "/v2//tags/list", {}),
        ("GET", "/v2/web/tags/list/extra", {}),
        ("GET", "/v2/web/tags/list?n=abc", {}),
        ("GET", f"/v2/web/tags/list?n={huge}", {}),
        ("GET", "/v2/web/blobs/", {}),
        ("GET", "/v2/web/blobs/sha256:", {}),
        ("GET", "/v2/web/blobs/sha256:" + "g" * 64, {}),
        ("GET", "/v2/web/blobs/sha512:" + "a" * 128, {}),
        ("GET", "/v2/web/blobs/%00", {}),
        ("GET", "/v2/web/manifests/", {}),
        ("GET", "/v2/web/manifests/sha256:zzz", {}),
        ("GET", "/v2/web/manifests/" + "x" * 400, {}),
        ("GET", "/v2/web/manifests/..%2F..%2Fetc%2Fpasswd", {}),
        ("GET", "/v2/web/..%2F..%2Fx/tags/list", {}),
        ("GET", "/v2/web/blobs/uploads/not-an-upload", {}),
        ("GET", "/v2/web/blobs/uploads/..%2F..%2Fetc%2Fpasswd", {}),
        ("GET", "/v2/web/blobs/uploads/%2E%2E", {}),
        ("PUT", "/v2/web/blobs/uploads/" + "a" * 32 + "?digest=" + MISSING, {"data": b"x"}),
        ("PATCH", location, {"data": b"x", "headers": {"Content-Range": f"{huge}-{huge}"}}),
        ("PATCH", location, {"data": b"x", "headers": {"Content-Range": f"0-{huge}"}}),
        ("PATCH", location, {"data": b"xy", "headers": {"Content-Range": "0-0"}}),
        ("PATCH", location, {"data": b"x", "headers": {"Content-Range": "5-0"}}),
        ("PATCH", location, {"data": b"x", "headers": {"Content-Range": "bytes=oops"}}),
        ("PATCH", location, {"data": b"x", "headers": {"Content-Range": "-1-5"}}),
        ("PUT", location + "?digest=sha256:", {"data": garbage}),
        ("PUT", location + "?digest=" + huge, {"data": garbage}),
        ("GET", f"/v2/web/blobs/{blob}", {"headers": {"Range": f"bytes={huge}-"}}),
        ("GET", f"/v2/web/blobs/{blob}", {"headers": {"Range": f"bytes=0-{huge}"}}),
        ("GET", f"/v2/web/blobs/{blob}", {"headers": {"Range": "bytes=--"}}),
        ("GET", f"/v2/web/blobs/{MISSING}", {"headers": {"Range": "bytes=0-1"}}),
        ("PUT", "/v2/web/manifests/v1", {"data": garbage}),
        ("PUT", "/v2/web/manifests/v1", {"data": b'{"schemaVersion": 2, "manifests": "x"}'}),
        ("PUT", "/v2/web/manifests/v1", {"data": b'{"schemaVersion": 2, "config": 1, "layers": []}'}),
        ("PUT", "/v2/web/manifests/v1", {"data": b'{"schemaVersion": 2, "layers": [1], "config": {}}'}),
        ("PUT", "/v2/web/manifests/v1", {"data": b'{"schemaVersion": 1e999}'}),
        ("PUT", "/v2/web/manifests/v1", {"data": b"[" * 100_000}),
        ("PUT", "/v2/web/manifests/v1", {"data": b"", "headers": {"Content-Type": OCI_INDEX}}),
        ("DELETE", "/v2/web/manifests/sha256:" + "1" * 64, {}),
        ("POST", "/v2/web/manifests/v1", {}),
        ("OPTIONS", "/v2/", {}),
        ("POST", "/v2/", {}),
        ("DELETE", "/v2/web/tags/list", {}),
        ("GET", "/v2/web/blobs/uploads/", {}),
    ]
    for method, path, kwargs in requests_:
        answer = oci.request(method, path, **kwargs)
        assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text)
        if method != "HEAD":
            assert errors(answer), (method, path)

    # Answered, though not refused: a mount that cannot be is an upload session (as the spec says),
    # a page size out of range is clamped.
    for query in ("mount=garbage&from=../../x", f"mount={MISSING}&from=NOT VALID", "mount=&from="):
        upload_location(oci.request("POST", f"/v2/web/blobs/uploads/?{query}"))
    for n in ("-5", "9" * 400):
        answer = oci.request("GET", f"/v2/web/tags/list?n={n}")
        assert answer.status_code == 200 and answer.json() == {"name": "web", "tags": []}
    # None of the refused chunks went in: the upload is still the empty blob.
    empty = oci.request("PUT", location, params={"digest": digest_of(b"")})
    assert empty.status_code == 201, empty.text

    # Still healthy, and still a registry.
    with urllib.request.urlopen(f"{ecsbox_endpoint}/_ecsbox/health", timeout=10) as health:
        assert health.status == 200
    image = make_image("after the storm")
    assert oci.push_image("web", image, "ok").status_code == 201
    assert_manifest(oci, "web", "ok", image.manifest, DOCKER_MANIFEST)
    assert oci.tags("web") == ["ok"]
