"""ECR's image and lifecycle-policy operations through boto3 against a live ecsbox: content pushed
through the layer operations and PutImage, or through the registry's HTTP API, and read back as
DescribeImages, ListImages, BatchGetImage and the registry show it."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from tests.conftest import LiveServer
from tests.contract.aws_clients import aws_client, error_of
from tests.contract.oci_client import (
    DOCKER_CONFIG,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    Oci,
    digest_of,
    image_actions,
    index_of,
    make_image,
    registry_host,
)

REGION = "us-east-1"
ACCOUNT = "000000000000"
MISSING = "sha256:" + "0" * 64
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"


@pytest.fixture()
def ecr(ecsbox_endpoint: str) -> Any:
    client = aws_client("ecr", ecsbox_endpoint, REGION)
    client.create_repository(repositoryName="web")
    return client


@pytest.fixture()
def raw(ecsbox_endpoint: str) -> Any:
    """A client that sends what it is given (botocore checks nothing on its side)."""
    return boto3.client(
        "ecr",
        endpoint_url=ecsbox_endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


@pytest.fixture()
def oci(ecsbox_endpoint: str, ecr: Any) -> Oci:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return Oci(registry_host(ecsbox_endpoint), token)


def upload_layer(ecr: Any, repository: str, data: bytes, part: int | None = None) -> str:
    """A blob pushed as the ECR API pushes one: Initiate, UploadLayerPart (in parts), Complete."""
    started = ecr.initiate_layer_upload(repositoryName=repository)
    upload_id, part = started["uploadId"], part or started["partSize"]
    for first in range(0, len(data), part):
        chunk = data[first : first + part]
        sent = ecr.upload_layer_part(
            repositoryName=repository,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + len(chunk) - 1,
            layerPartBlob=chunk,
        )
        assert sent["lastByteReceived"] == first + len(chunk) - 1
        assert (sent["uploadId"], sent["repositoryName"], sent["registryId"]) == (
            upload_id,
            repository,
            ACCOUNT,
        )
    done = ecr.complete_layer_upload(
        repositoryName=repository, uploadId=upload_id, layerDigests=[digest_of(data)]
    )
    assert (done["layerDigest"], done["uploadId"]) == (digest_of(data), upload_id)
    return digest_of(data)


def put(ecr: Any, repository: str, image: Image, tag: str | None = None, **params: Any) -> dict[str, Any]:
    """Every blob the repository lacks (BatchCheckLayerAvailability, as clients ask first) through
    the layer operations, then PutImage."""
    blobs = list(image.blobs.values())
    checked = ecr.batch_check_layer_availability(
        repositoryName=repository, layerDigests=[digest_of(b) for b in blobs]
    )
    available = {
        layer["layerDigest"] for layer in checked["layers"] if layer["layerAvailability"] == "AVAILABLE"
    }
    for blob in blobs:
        if digest_of(blob) not in available:
            upload_layer(ecr, repository, blob)
    if tag is not None:
        params["imageTag"] = tag
    return dict(
        ecr.put_image(repositoryName=repository, imageManifest=image.manifest.decode(), **params)["image"]
    )


def details(ecr: Any, repository: str = "web", **params: Any) -> dict[str, dict[str, Any]]:
    """DescribeImages as digest → detail."""
    return {
        d["imageDigest"]: d for d in ecr.describe_images(repositoryName=repository, **params)["imageDetails"]
    }


def tags_of(ecr: Any, repository: str = "web") -> dict[str, list[str]]:
    return {digest: sorted(d.get("imageTags", [])) for digest, d in details(ecr, repository).items()}


# ---- pushing through the API ---------------------------------------------------------------------------------


def test_push_through_the_layer_operations_and_put_image(ecr: Any, oci: Oci) -> None:
    image = make_image("api push", layers=3)
    digests = list(image.blobs)
    checked = ecr.batch_check_layer_availability(repositoryName="web", layerDigests=[*digests, "sha256:nope"])
    assert checked["layers"] == [{"layerDigest": d, "layerAvailability": "UNAVAILABLE"} for d in digests]
    assert checked["failures"] == [
        {
            "layerDigest": "sha256:nope",
            "failureCode": "InvalidLayerDigest",
            "failureReason": "Invalid layer digest",
        }
    ]

    upload_layer(ecr, "web", image.config)
    for layer in image.layers:
        upload_layer(ecr, "web", layer, part=100)  # several parts each
    checked = ecr.batch_check_layer_availability(repositoryName="web", layerDigests=digests)
    assert checked["layers"] == [
        {"layerDigest": d, "layerAvailability": "AVAILABLE", "layerSize": len(image.blobs[d])}
        for d in digests
    ]
    assert checked["failures"] == []

    before = time.time()
    answer = ecr.put_image(
        repositoryName="web",
        imageManifest=image.manifest.decode(),
        imageManifestMediaType=DOCKER_MANIFEST,
        imageTag="v1",
    )["image"]
    assert answer == {
        "registryId": ACCOUNT,
        "repositoryName": "web",
        "imageId": {"imageDigest": image.digest, "imageTag": "v1"},
        "imageManifest": image.manifest.decode(),
        "imageManifestMediaType": DOCKER_MANIFEST,
    }
    (detail,) = ecr.describe_images(repositoryName="web")["imageDetails"]
    assert detail["imageDigest"] == image.digest
    assert detail["imageTags"] == ["v1"]
    assert detail["imageSizeInBytes"] == image.size
    assert detail["imageManifestMediaType"] == DOCKER_MANIFEST
    assert detail["artifactMediaType"] == DOCKER_CONFIG
    assert (detail["registryId"], detail["repositoryName"]) == (ACCOUNT, "web")
    assert before - 5 <= detail["imagePushedAt"].timestamp() <= time.time() + 5
    assert "lastRecordedPullTime" not in detail

    # The registry serves what the API pushed, byte for byte, and a pull is recorded.
    got = oci.request("GET", "/v2/web/manifests/v1")
    assert got.status_code == 200 and got.content == image.manifest
    assert got.headers["Content-Type"] == DOCKER_MANIFEST
    for digest, blob in image.blobs.items():
        assert oci.request("GET", f"/v2/web/blobs/{digest}").content == blob
    (detail,) = ecr.describe_images(repositoryName="web")["imageDetails"]
    assert before - 5 <= detail["lastRecordedPullTime"].timestamp() <= time.time() + 5
    # A layer is available only in the repository it was pushed to.
    ecr.create_repository(repositoryName="other")
    assert ecr.batch_check_layer_availability(repositoryName="other", layerDigests=digests[:1])["layers"] == [
        {"layerDigest": digests[0], "layerAvailability": "UNAVAILABLE"}
    ]


def test_completing_a_layer_the_repository_has_is_refused_and_ends_the_upload(ecr: Any) -> None:
    data = b"layer bytes" * 10
    upload_layer(ecr, "web", data)
    again = ecr.initiate_layer_upload(repositoryName="web")["uploadId"]
    last = len(data) - 1
    ecr.upload_layer_part(
        repositoryName="web", uploadId=again, partFirstByte=0, partLastByte=last, layerPartBlob=data
    )
    code, status, message = error_of(
        ecr.complete_layer_upload, repositoryName="web", uploadId=again, layerDigests=[digest_of(data)]
    )
    assert (code, status) == ("LayerAlreadyExistsException", 400)
    assert message == "The image layer already exists in the associated repository."
    assert error_of(
        ecr.complete_layer_upload, repositoryName="web", uploadId=again, layerDigests=[digest_of(data)]
    )[:2] == ("UploadNotFoundException", 400)
    # Another repository does not have it: there the same bytes complete.
    ecr.create_repository(repositoryName="api")
    assert upload_layer(ecr, "api", data) == digest_of(data)


def test_layer_upload_errors(ecr: Any, raw: Any) -> None:
    data = b"0123456789" * 10
    upload_id = ecr.initiate_layer_upload(repositoryName="web")["uploadId"]
    ecr.upload_layer_part(
        repositoryName="web", uploadId=upload_id, partFirstByte=0, partLastByte=49, layerPartBlob=data[:50]
    )
    # A part that does not start where the upload ends, or whose bytes disagree with its range.
    for first, last, blob in ((60, 99, data[60:]), (0, 49, data[:50]), (50, 99, data[50:90])):
        code, status, _ = error_of(
            ecr.upload_layer_part,
            repositoryName="web",
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=last,
            layerPartBlob=blob,
        )
        assert (code, status) == ("InvalidLayerPartException", 400), (first, last)
    # The upload goes on from where it was.
    ecr.upload_layer_part(
        repositoryName="web", uploadId=upload_id, partFirstByte=50, partLastByte=99, layerPartBlob=data[50:]
    )
    # The digest must be the layer's.
    code, status, _ = error_of(
        ecr.complete_layer_upload,
        repositoryName="web",
        uploadId=upload_id,
        layerDigests=[digest_of(b"other")],
    )
    assert (code, status) == ("InvalidLayerException", 400)
    available = ecr.batch_check_layer_availability(
        repositoryName="web", layerDigests=[digest_of(data), digest_of(b"other")]
    )["layers"]
    assert {layer["layerAvailability"] for layer in available} == {"UNAVAILABLE"}
    # ... and the failed upload is over.
    for call, params in (
        (ecr.complete_layer_upload, {"layerDigests": [digest_of(data)]}),
        (ecr.upload_layer_part, {"partFirstByte": 0, "partLastByte": 0, "layerPartBlob": b"x"}),
    ):
        assert error_of(call, repositoryName="web", uploadId=upload_id, **params)[:2] == (
            "UploadNotFoundException",
            400,
        )

    # Unknown uploads, uploads of another repository, empty uploads, unknown repositories.
    ecr.create_repository(repositoryName="other")
    other_upload = ecr.initiate_layer_upload(repositoryName="other")["uploadId"]
    for upload in ("00000000-0000-4000-8000-000000000000", other_upload):
        assert error_of(
            ecr.upload_layer_part,
            repositoryName="web",
            uploadId=upload,
            partFirstByte=0,
            partLastByte=0,
            layerPartBlob=b"x",
        )[:2] == ("UploadNotFoundException", 400)
        assert error_of(
            ecr.complete_layer_upload, repositoryName="web", uploadId=upload, layerDigests=[digest_of(b"x")]
        )[:2] == ("UploadNotFoundException", 400)
    assert error_of(
        ecr.upload_layer_part,
        repositoryName="web",
        uploadId="not-an-upload",
        partFirstByte=0,
        partLastByte=0,
        layerPartBlob=b"x",
    )[:2] == ("InvalidParameterException", 400)
    assert error_of(
        ecr.complete_layer_upload,
        repositoryName="other",
        uploadId=other_upload,
        layerDigests=[digest_of(b"")],
    )[:2] == ("EmptyUploadException", 400)
    assert error_of(ecr.initiate_layer_upload, repositoryName="nope")[:2] == (
        "RepositoryNotFoundException",
        400,
    )
    assert error_of(
        raw.complete_layer_upload, repositoryName="other", uploadId=other_upload, layerDigests=["md5:abc"]
    )[:2] == ("InvalidParameterException", 400)


def test_get_download_url_for_layer(ecr: Any, oci: Oci) -> None:
    layer = b"downloadable " * 500
    oci.push_blob("web", layer)
    answer = ecr.get_download_url_for_layer(repositoryName="web", layerDigest=digest_of(layer))
    assert answer["layerDigest"] == digest_of(layer)
    url = answer["downloadUrl"]
    assert url == f"{oci.base}/v2/web/blobs/{digest_of(layer)}"
    token = oci.session.headers["Authorization"]
    with urllib.request.urlopen(
        urllib.request.Request(url, headers={"Authorization": token}), timeout=10
    ) as got:
        assert got.read() == layer
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 401
    code, status, message = error_of(
        ecr.get_download_url_for_layer, repositoryName="web", layerDigest=MISSING
    )
    assert (code, status) == ("LayersNotFoundException", 400)
    assert MISSING in message
    assert error_of(ecr.get_download_url_for_layer, repositoryName="nope", layerDigest=MISSING)[0] == (
        "RepositoryNotFoundException"
    )


# ---- reading images -----------------------------------------------------------------------------------------


def three_images(ecr: Any, oci: Oci) -> tuple[Image, Image, Image]:
    """``old`` tagged v1 and stable, ``oci`` tagged v2 (an OCI manifest), ``bare`` untagged."""
    old, oci_image, bare = make_image("old"), make_image("oci", OCI_MANIFEST, layers=1), make_image("bare")
    assert oci.push_image("web", old, "v1").status_code == 201
    assert oci.put_manifest("web", "stable", old.manifest, DOCKER_MANIFEST).status_code == 201
    assert oci.push_image("web", oci_image, "v2").status_code == 201
    assert oci.push_image("web", bare).status_code == 201
    return old, oci_image, bare


def test_describe_images(ecr: Any, oci: Oci) -> None:
    old, oci_image, bare = three_images(ecr, oci)
    every = details(ecr)
    assert {digest: sorted(d.get("imageTags", [])) for digest, d in every.items()} == {
        old.digest: ["stable", "v1"],
        oci_image.digest: ["v2"],
        bare.digest: [],
    }
    assert "imageTags" not in every[bare.digest]
    assert every[oci_image.digest]["imageManifestMediaType"] == OCI_MANIFEST
    assert every[oci_image.digest]["artifactMediaType"] == OCI_CONFIG
    assert {digest: d["imageSizeInBytes"] for digest, d in every.items()} == {
        image.digest: image.size for image in (old, oci_image, bare)
    }

    by_id = ecr.describe_images(
        repositoryName="web",
        imageIds=[{"imageTag": "stable"}, {"imageDigest": bare.digest}, {"imageTag": "v1"}],
    )["imageDetails"]
    assert [d["imageDigest"] for d in by_id] == [old.digest, bare.digest]  # each image once
    assert set(details(ecr, filter={"tagStatus": "TAGGED"})) == {old.digest, oci_image.digest}
    assert set(details(ecr, filter={"tagStatus": "UNTAGGED"})) == {bare.digest}
    assert set(details(ecr, filter={"tagStatus": "ANY"})) == set(every)

    pages = list(
        ecr.get_paginator("describe_images").paginate(repositoryName="web", PaginationConfig={"PageSize": 2})
    )
    assert [len(page["imageDetails"]) for page in pages] == [2, 1]
    assert [d["imageDigest"] for page in pages for d in page["imageDetails"]] == list(every)
    assert "nextToken" not in pages[-1]

    for missing in (
        {"imageTag": "nope"},
        {"imageDigest": MISSING},
        {"imageDigest": old.digest, "imageTag": "v2"},
    ):
        code, status, message = error_of(ecr.describe_images, repositoryName="web", imageIds=[missing])
        assert (code, status) == ("ImageNotFoundException", 400), missing
        assert "does not exist within the repository with name 'web'" in message
    assert error_of(ecr.describe_images, repositoryName="nope")[:2] == ("RepositoryNotFoundException", 400)
    assert error_of(ecr.describe_images, repositoryName="web", nextToken="garbage")[:2] == (
        "InvalidParameterException",
        400,
    )


def test_list_images(ecr: Any, oci: Oci) -> None:
    old, oci_image, bare = three_images(ecr, oci)
    everything = ecr.list_images(repositoryName="web")["imageIds"]
    assert sorted(everything, key=lambda i: (i["imageDigest"], i.get("imageTag", ""))) == sorted(
        [
            {"imageDigest": old.digest, "imageTag": "stable"},
            {"imageDigest": old.digest, "imageTag": "v1"},
            {"imageDigest": oci_image.digest, "imageTag": "v2"},
            {"imageDigest": bare.digest},
        ],
        key=lambda i: (i["imageDigest"], i.get("imageTag", "")),
    )
    tagged = ecr.list_images(repositoryName="web", filter={"tagStatus": "TAGGED"})["imageIds"]
    assert sorted(i["imageTag"] for i in tagged) == ["stable", "v1", "v2"]
    assert ecr.list_images(repositoryName="web", filter={"tagStatus": "UNTAGGED"})["imageIds"] == [
        {"imageDigest": bare.digest}
    ]
    pages = list(
        ecr.get_paginator("list_images").paginate(repositoryName="web", PaginationConfig={"PageSize": 3})
    )
    assert [len(page["imageIds"]) for page in pages] == [3, 1]
    assert [i for page in pages for i in page["imageIds"]] == everything
    first = ecr.list_images(repositoryName="web", maxResults=1)
    second = ecr.list_images(repositoryName="web", maxResults=1, nextToken=first["nextToken"])
    assert first["imageIds"] + second["imageIds"] == everything[:2]
    assert error_of(ecr.list_images, repositoryName="nope")[:2] == ("RepositoryNotFoundException", 400)


def test_batch_get_image(ecr: Any, oci: Oci, raw: Any) -> None:
    old, _, bare = three_images(ecr, oci)
    answer = raw.batch_get_image(
        repositoryName="web",
        imageIds=[
            {"imageTag": "v1"},
            {"imageDigest": bare.digest},
            {"imageTag": "nope"},
            {"imageDigest": "sha256:bad"},
            {"imageDigest": MISSING},
            {},
        ],
    )
    assert answer["images"] == [
        {
            "registryId": ACCOUNT,
            "repositoryName": "web",
            "imageId": {"imageDigest": old.digest, "imageTag": "v1"},
            "imageManifest": old.manifest.decode(),
            "imageManifestMediaType": DOCKER_MANIFEST,
        },
        {
            "registryId": ACCOUNT,
            "repositoryName": "web",
            "imageId": {"imageDigest": bare.digest},
            "imageManifest": bare.manifest.decode(),
            "imageManifestMediaType": DOCKER_MANIFEST,
        },
    ]
    assert [(f["imageId"], f["failureCode"]) for f in answer["failures"]] == [
        ({"imageTag": "nope"}, "ImageNotFound"),
        ({"imageDigest": "sha256:bad"}, "InvalidImageDigest"),
        ({"imageDigest": MISSING}, "ImageNotFound"),
        ({}, "MissingDigestAndTag"),
    ]
    assert all(f["failureReason"] for f in answer["failures"])
    accepted = ecr.batch_get_image(
        repositoryName="web",
        imageIds=[{"imageTag": "v1"}, {"imageTag": "v2"}],
        acceptedMediaTypes=[OCI_MANIFEST],
    )
    assert [i["imageId"]["imageTag"] for i in accepted["images"]] == ["v2"]
    assert [f["imageId"] for f in accepted["failures"]] == [{"imageTag": "v1"}]
    assert error_of(ecr.batch_get_image, repositoryName="nope", imageIds=[{"imageTag": "v1"}])[0] == (
        "RepositoryNotFoundException"
    )


def test_batch_delete_image(ecr: Any, oci: Oci, raw: Any) -> None:
    old, oci_image, bare = three_images(ecr, oci)
    # By tag: the tag goes, the image keeps its other tags.
    answer = ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageTag": "v1"}])
    assert answer == {
        "imageIds": [{"imageDigest": old.digest, "imageTag": "v1"}],
        "failures": [],
        **_meta(answer),
    }
    assert tags_of(ecr)[old.digest] == ["stable"]
    assert oci.request("GET", "/v2/web/manifests/v1").status_code == 404
    assert oci.request("GET", "/v2/web/manifests/stable").content == old.manifest
    # The last tag: the image goes with it.
    answer = ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageTag": "stable"}])
    assert answer["imageIds"] == [{"imageDigest": old.digest, "imageTag": "stable"}]
    assert old.digest not in tags_of(ecr)
    assert oci.request("GET", f"/v2/web/manifests/{old.digest}").status_code == 404
    # By digest: the image and every tag it had.
    answer = ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageDigest": oci_image.digest}])
    assert answer["imageIds"] == [{"imageDigest": oci_image.digest, "imageTag": "v2"}]
    answer = ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageDigest": bare.digest}])
    assert answer["imageIds"] == [{"imageDigest": bare.digest}]
    assert tags_of(ecr) == {}

    again, other = make_image("again"), make_image("other")
    assert oci.push_image("web", again, "v3").status_code == 201
    assert oci.push_image("web", other, "v4").status_code == 201
    answer = raw.batch_delete_image(
        repositoryName="web",
        imageIds=[
            {"imageTag": "nope"},
            {"imageDigest": old.digest},
            {"imageDigest": again.digest, "imageTag": "v4"},
            {"imageDigest": "sha256:bad"},
            {},
        ],
    )
    assert answer["imageIds"] == []
    assert [(f["imageId"], f["failureCode"]) for f in answer["failures"]] == [
        ({"imageTag": "nope"}, "ImageNotFound"),
        ({"imageDigest": old.digest}, "ImageNotFound"),
        ({"imageDigest": again.digest, "imageTag": "v4"}, "ImageTagDoesNotMatchDigest"),
        ({"imageDigest": "sha256:bad"}, "InvalidImageDigest"),
        ({}, "MissingDigestAndTag"),
    ]
    assert tags_of(ecr) == {again.digest: ["v3"], other.digest: ["v4"]}
    assert error_of(ecr.batch_delete_image, repositoryName="nope", imageIds=[{"imageTag": "v1"}])[0] == (
        "RepositoryNotFoundException"
    )


def _meta(answer: dict[str, Any]) -> dict[str, Any]:
    return {"ResponseMetadata": answer["ResponseMetadata"]}


def test_an_image_in_a_manifest_list_is_not_deleted_from_under_it(ecr: Any, oci: Oci) -> None:
    children = [make_image("amd64"), make_image("arm64")]
    for child in children:
        assert oci.push_image("web", child).status_code == 201
    listed = index_of(children, DOCKER_LIST)
    assert oci.put_manifest("web", "multi", listed, DOCKER_LIST).status_code == 201
    answer = ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageDigest": children[0].digest}])
    assert answer["imageIds"] == []
    assert [f["failureCode"] for f in answer["failures"]] == ["ImageReferencedByManifestList"]
    assert children[0].digest in tags_of(ecr)
    # The list first, then its children.
    ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageTag": "multi"}])
    answer = ecr.batch_delete_image(
        repositoryName="web", imageIds=[{"imageDigest": c.digest} for c in children]
    )
    assert [i["imageDigest"] for i in answer["imageIds"]] == [c.digest for c in children]
    assert tags_of(ecr) == {}


def test_a_manifest_list_is_as_big_as_its_children_however_pushed(ecr: Any, oci: Oci) -> None:
    children = [make_image("amd64", OCI_MANIFEST), make_image("arm64", OCI_MANIFEST, layers=3)]
    for child in children:
        assert oci.push_image("web", child).status_code == 201
    by_registry = index_of(children, OCI_INDEX)
    by_api = index_of(children[::-1], OCI_INDEX)  # another list of the same children
    assert oci.put_manifest("web", "registry", by_registry, OCI_INDEX).status_code == 201
    ecr.put_image(
        repositoryName="web", imageManifest=by_api.decode(), imageManifestMediaType=OCI_INDEX, imageTag="api"
    )
    every = details(ecr)
    for listed in (by_registry, by_api):
        detail = every[digest_of(listed)]
        assert detail["imageManifestMediaType"] == OCI_INDEX
        assert detail["imageSizeInBytes"] == sum(child.size for child in children)
        assert "artifactMediaType" not in detail


# ---- PutImage -------------------------------------------------------------------------------------------------


def test_put_image_retags_and_refuses(ecr: Any, oci: Oci, raw: Any) -> None:
    image = make_image("retag")
    assert oci.push_image("web", image, "v1").status_code == 201
    (got,) = ecr.batch_get_image(repositoryName="web", imageIds=[{"imageTag": "v1"}])["images"]
    manifest = got["imageManifest"]
    retagged = ecr.put_image(repositoryName="web", imageManifest=manifest, imageTag="release")["image"]
    assert retagged["imageId"] == {"imageDigest": image.digest, "imageTag": "release"}
    assert tags_of(ecr) == {image.digest: ["release", "v1"]}
    assert oci.request("GET", "/v2/web/manifests/release").content == image.manifest

    code, status, message = error_of(
        ecr.put_image, repositoryName="web", imageManifest=manifest, imageTag="v1"
    )
    assert (code, status) == ("ImageAlreadyExistsException", 400)
    assert image.digest in message and "'v1'" in message
    assert (
        error_of(ecr.put_image, repositoryName="web", imageManifest=manifest)[0]
        == "ImageAlreadyExistsException"
    )
    code, status, _ = error_of(
        ecr.put_image, repositoryName="web", imageManifest=manifest, imageTag="v9", imageDigest=MISSING
    )
    assert (code, status) == ("ImageDigestDoesNotMatchException", 400)
    ecr.put_image(repositoryName="web", imageManifest=manifest, imageTag="v9", imageDigest=image.digest)

    unpushed = make_image("layers never pushed")
    code, status, _ = error_of(
        ecr.put_image, repositoryName="web", imageManifest=unpushed.manifest.decode(), imageTag="v1"
    )
    assert (code, status) == ("LayersNotFoundException", 400)
    dangling = index_of([image, unpushed], DOCKER_LIST).decode()
    assert error_of(ecr.put_image, repositoryName="web", imageManifest=dangling, imageTag="multi")[:2] == (
        "ReferencedImagesNotFoundException",
        400,
    )
    for broken in (
        "not json",
        json.dumps({"schemaVersion": 1}),
        json.dumps({"schemaVersion": 2, "layers": 1}),
    ):
        assert error_of(ecr.put_image, repositoryName="web", imageManifest=broken, imageTag="v1")[:2] == (
            "InvalidParameterException",
            400,
        )
    assert error_of(raw.put_image, repositoryName="web", imageManifest=manifest, imageTag="bad tag!")[:2] == (
        "InvalidParameterException",
        400,
    )
    assert (
        error_of(ecr.put_image, repositoryName="nope", imageManifest=manifest)[0]
        == "RepositoryNotFoundException"
    )
    assert tags_of(ecr) == {image.digest: ["release", "v1", "v9"]}

    # A tag moves in a MUTABLE repository...
    moved = make_image("moved")
    put(ecr, "web", moved, "v1")
    assert tags_of(ecr) == {image.digest: ["release", "v9"], moved.digest: ["v1"]}


def test_put_image_in_an_immutable_repository(ecr: Any) -> None:
    ecr.create_repository(repositoryName="frozen", imageTagMutability="IMMUTABLE")
    first, second = make_image("first"), make_image("second")
    put(ecr, "frozen", first, "v1")
    put(ecr, "frozen", second, "v2")
    ecr.put_image(repositoryName="frozen", imageManifest=first.manifest.decode(), imageTag="release")
    code, status, message = error_of(
        ecr.put_image, repositoryName="frozen", imageManifest=second.manifest.decode(), imageTag="v1"
    )
    assert (code, status) == ("ImageTagAlreadyExistsException", 400)
    assert message == (
        "The image tag 'v1' already exists in the 'frozen' repository and cannot be overwritten because the "
        "repository is immutable."
    )
    assert tags_of(ecr, "frozen") == {first.digest: ["release", "v1"], second.digest: ["v2"]}


def test_put_image_follows_the_exclusion_filters(ecr: Any) -> None:
    ecr.create_repository(
        repositoryName="frozen",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    first, second = make_image("first"), make_image("second")
    put(ecr, "frozen", first, "v1")
    ecr.put_image(repositoryName="frozen", imageManifest=first.manifest.decode(), imageTag="latest")
    put(ecr, "frozen", second, "latest")  # excluded: it moves
    assert error_of(
        ecr.put_image, repositoryName="frozen", imageManifest=second.manifest.decode(), imageTag="v1"
    )[:2] == ("ImageTagAlreadyExistsException", 400)
    assert tags_of(ecr, "frozen") == {first.digest: ["v1"], second.digest: ["latest"]}
    # Switched to MUTABLE_WITH_EXCLUSION, only the filter's tags are pinned.
    ecr.put_image_tag_mutability(
        repositoryName="frozen",
        imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    ecr.put_image(repositoryName="frozen", imageManifest=second.manifest.decode(), imageTag="v1")
    assert error_of(
        ecr.put_image, repositoryName="frozen", imageManifest=first.manifest.decode(), imageTag="latest"
    )[:2] == ("ImageTagAlreadyExistsException", 400)
    assert tags_of(ecr, "frozen") == {first.digest: [], second.digest: ["latest", "v1"]}


# ---- the outbox ------------------------------------------------------------------------------------------------


def test_pushes_and_deletes_write_image_action_events(ecr: Any, oci: Oci, ecsbox_server: LiveServer) -> None:
    assert image_actions(ecsbox_server) == []
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/web"
    first, second = make_image("first"), make_image("second")
    assert oci.push_image("web", first, "v1").status_code == 201  # through the registry
    assert oci.put_manifest("web", "v1", first.manifest, DOCKER_MANIFEST).status_code == 201  # nothing new
    ecr.put_image(repositoryName="web", imageManifest=first.manifest.decode(), imageTag="release")  # the API
    put(ecr, "web", second)  # untagged
    ecr.batch_delete_image(repositoryName="web", imageIds=[{"imageDigest": first.digest}])
    assert oci.request("DELETE", f"/v2/web/manifests/{second.digest}").status_code == 202

    events = image_actions(ecsbox_server)
    assert [
        (e["detail"]["action-type"], e["detail"]["image-digest"], e["detail"].get("image-tag"))
        for e in events
    ] == [
        ("PUSH", first.digest, "v1"),
        ("PUSH", first.digest, "release"),
        ("PUSH", second.digest, None),
        ("DELETE", first.digest, events[3]["detail"].get("image-tag")),
        ("DELETE", second.digest, None),
    ]
    assert events[3]["detail"]["image-tag"] in ("v1", "release")  # one event for the image, naming a tag
    for event in events:
        assert (event["account"], event["region"], event["source"]) == (ACCOUNT, REGION, "aws.ecr")
        assert event["resources"] == [arn]
        assert event["detail"]["repository-name"] == "web"
        assert event["detail"]["result"] == "SUCCESS"


# ---- lifecycle policies --------------------------------------------------------------------------------------

UNTAGGED_KEEP_ONE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep one untagged image",
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


def policy(*rules: dict[str, Any]) -> str:
    return json.dumps(
        {
            "rules": [
                {"rulePriority": n, "description": f"rule {n}", "action": {"type": "expire"}, **rule}
                for n, rule in enumerate(rules, start=1)
            ]
        }
    )


def test_put_get_delete_lifecycle_policy(ecr: Any, raw: Any) -> None:
    not_found = (
        "LifecyclePolicyNotFoundException",
        400,
        f"Lifecycle policy does not exist for the repository with name 'web' in the registry with id '{ACCOUNT}'",
    )
    assert error_of(ecr.get_lifecycle_policy, repositoryName="web") == not_found
    assert error_of(ecr.delete_lifecycle_policy, repositoryName="web") == not_found

    for seed in ("lifecycle-policy.prod-stage-dev.json", "lifecycle-policy.untagged-10-days.json"):
        text = (SEED / seed).read_text()  # verbatim, as `--lifecycle-policy-text file://…` sends it
        answer = ecr.put_lifecycle_policy(repositoryName="web", lifecyclePolicyText=text)
        assert (answer["registryId"], answer["repositoryName"], answer["lifecyclePolicyText"]) == (
            ACCOUNT,
            "web",
            text,
        )
        assert ecr.get_lifecycle_policy(repositoryName="web")["lifecyclePolicyText"] == text

    refused = {
        "not json": "x" * 120,
        "no rules": json.dumps({"rules": [], "padding": "x" * 100}),
        "countUnit with a count": policy(
            {
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countUnit": "days",
                    "countNumber": 3,
                }
            }
        ),
        "tagged without a list": policy(
            {"selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 3}}
        ),
        "two untagged rules": policy(
            {"selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 3}},
            {"selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5}},
        ),
        "any not last": policy(
            {"selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3}},
            {"selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5}},
        ),
        "zero": policy(
            {"selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 0}}
        ),
        "five wildcards": policy(
            {
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*a*b*c*d*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                }
            }
        ),
    }
    for case, text in refused.items():
        code, status, message = error_of(
            ecr.put_lifecycle_policy, repositoryName="web", lifecyclePolicyText=text
        )
        assert (code, status) == ("InvalidParameterException", 400), case
        assert message.startswith(
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint"
        ), case
    assert error_of(raw.put_lifecycle_policy, repositoryName="web", lifecyclePolicyText="{}")[:2] == (
        "InvalidParameterException",
        400,
    )
    # Nothing refused replaced the policy.
    kept = ecr.get_lifecycle_policy(repositoryName="web")
    assert kept["lifecyclePolicyText"] == (SEED / "lifecycle-policy.untagged-10-days.json").read_text()

    deleted = ecr.delete_lifecycle_policy(repositoryName="web")
    assert deleted["lifecyclePolicyText"] == kept["lifecyclePolicyText"]
    assert error_of(ecr.get_lifecycle_policy, repositoryName="web") == not_found
    assert error_of(ecr.delete_lifecycle_policy, repositoryName="web") == not_found
    assert error_of(ecr.put_lifecycle_policy, repositoryName="nope", lifecyclePolicyText=UNTAGGED_KEEP_ONE)[
        0
    ] == ("RepositoryNotFoundException")


def test_lifecycle_policy_preview_then_the_real_evaluation(
    ecr: Any, oci: Oci, ecsbox_endpoint: str, raw: Any
) -> None:
    assert error_of(ecr.get_lifecycle_policy_preview, repositoryName="web")[:2] == (
        "LifecyclePolicyPreviewNotFoundException",
        400,
    )
    assert error_of(ecr.start_lifecycle_policy_preview, repositoryName="web")[:2] == (
        "LifecyclePolicyNotFoundException",
        400,
    )
    untagged = [make_image(f"untagged {n}") for n in range(4)]
    tagged = make_image("tagged")
    for image in untagged:
        assert oci.push_image("web", image).status_code == 201
    assert oci.push_image("web", tagged, "v1").status_code == 201
    pushed_at = {digest: d["imagePushedAt"] for digest, d in details(ecr).items()}
    by_age = sorted(untagged, key=lambda image: (pushed_at[image.digest], image.digest))

    started = ecr.start_lifecycle_policy_preview(repositoryName="web", lifecyclePolicyText=UNTAGGED_KEEP_ONE)
    assert (started["registryId"], started["repositoryName"]) == (ACCOUNT, "web")
    assert started["lifecyclePolicyText"] == UNTAGGED_KEEP_ONE
    assert started["status"] in ("IN_PROGRESS", "COMPLETE")
    preview = ecr.get_lifecycle_policy_preview(repositoryName="web")
    assert preview["status"] == "COMPLETE"
    assert preview["lifecyclePolicyText"] == UNTAGGED_KEEP_ONE
    assert preview["summary"]["expiringImageTotalCount"] == 3
    expiring = [image.digest for image in by_age[:3]]
    assert [r["imageDigest"] for r in preview["previewResults"]] == expiring
    for result in preview["previewResults"]:
        assert result["action"] == {"type": "EXPIRE"}
        assert result["appliedRulePriority"] == 1
        assert result["imagePushedAt"] == pushed_at[result["imageDigest"]]
        assert "imageTags" not in result
    pages = list(
        ecr.get_paginator("get_lifecycle_policy_preview").paginate(
            repositoryName="web", PaginationConfig={"PageSize": 2}
        )
    )
    assert [[r["imageDigest"] for r in page["previewResults"]] for page in pages] == [
        expiring[:2],
        expiring[2:],
    ]
    assert (
        ecr.get_lifecycle_policy_preview(repositoryName="web", filter={"tagStatus": "TAGGED"})[
            "previewResults"
        ]
        == []
    )
    # A preview is a preview: nothing went, and no policy was stored.
    assert len(details(ecr)) == 5
    assert error_of(ecr.get_lifecycle_policy, repositoryName="web")[0] == "LifecyclePolicyNotFoundException"
    assert error_of(raw.start_lifecycle_policy_preview, repositoryName="web", lifecyclePolicyText="{}")[
        0
    ] == ("InvalidParameterException")

    # The stored policy, previewed without a text, then applied for real.
    ecr.put_lifecycle_policy(repositoryName="web", lifecyclePolicyText=UNTAGGED_KEEP_ONE)
    ecr.start_lifecycle_policy_preview(repositoryName="web")
    assert [
        r["imageDigest"] for r in ecr.get_lifecycle_policy_preview(repositoryName="web")["previewResults"]
    ] == (expiring)
    report = _operator(ecsbox_endpoint, "ecr/lifecycle")
    assert report["images_expired"] == 3
    assert tags_of(ecr) == {by_age[3].digest: [], tagged.digest: ["v1"]}
    for digest in expiring:
        assert oci.request("GET", f"/v2/web/manifests/{digest}").status_code == 404
    evaluated = ecr.get_lifecycle_policy(repositoryName="web")["lastEvaluatedAt"]
    assert isinstance(evaluated, datetime)
    # Nothing more to expire.
    assert _operator(ecsbox_endpoint, "ecr/lifecycle")["images_expired"] == 0


def _operator(endpoint: str, action: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{endpoint}/_ecsbox/{action}",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
        return dict(json.loads(answer.read()))
