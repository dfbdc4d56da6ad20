"""Manifest parsing (pure): which of the four kinds a pushed manifest is, what it references, how big
the image is, and what is refused as MANIFEST_INVALID."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsbox.ecr.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    ManifestInvalid,
    digest_of,
    parse_manifest,
)

CONFIG = "sha256:" + "c" * 64
LAYER_1 = "sha256:" + "1" * 64
LAYER_2 = "sha256:" + "2" * 64
CHILD_1 = "sha256:" + "a" * 64
CHILD_2 = "sha256:" + "b" * 64
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def descriptor(digest: str, size: int, media_type: str = "application/octet-stream") -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def image(
    media_type: str | None = DOCKER_MANIFEST, config_type: str = DOCKER_CONFIG, **extra: Any
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "config": descriptor(CONFIG, 100, config_type),
        "layers": [descriptor(LAYER_1, 2000), descriptor(LAYER_2, 30_000)],
        **extra,
    }
    if media_type is not None:
        document["mediaType"] = media_type
    return document


def index(media_type: str | None = OCI_INDEX, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "manifests": [descriptor(CHILD_1, 500, OCI_MANIFEST), descriptor(CHILD_2, 600, OCI_MANIFEST)],
        **extra,
    }
    if media_type is not None:
        document["mediaType"] = media_type
    return document


def raw(document: Any) -> bytes:
    return json.dumps(document).encode()


IMAGE_BLOBS = ((CONFIG, 100), (LAYER_1, 2000), (LAYER_2, 30_000))

ACCEPTED = [
    # (case, document, Content-Type, kind, artifact media type)
    ("docker by header and body", image(), DOCKER_MANIFEST, DOCKER_MANIFEST, DOCKER_CONFIG),
    ("docker by body alone", image(), None, DOCKER_MANIFEST, DOCKER_CONFIG),
    (
        "header parameters ignored",
        image(),
        f"{DOCKER_MANIFEST}; charset=utf-8",
        DOCKER_MANIFEST,
        DOCKER_CONFIG,
    ),
    ("header in upper case", image(), DOCKER_MANIFEST.upper(), DOCKER_MANIFEST, DOCKER_CONFIG),
    ("oci by header, no mediaType", image(None, OCI_CONFIG), OCI_MANIFEST, OCI_MANIFEST, OCI_CONFIG),
    ("oci by shape alone", image(None, OCI_CONFIG), None, OCI_MANIFEST, OCI_CONFIG),
    (
        "a generic header: the body decides",
        image(OCI_MANIFEST, OCI_CONFIG),
        "application/json",
        OCI_MANIFEST,
        OCI_CONFIG,
    ),
    (
        "an artifact (ORAS)",
        image(OCI_MANIFEST, "application/vnd.example+type"),
        OCI_MANIFEST,
        OCI_MANIFEST,
        "application/vnd.example+type",
    ),
    ("annotations and subject are fine", image(annotations={"a": "b"}), None, DOCKER_MANIFEST, DOCKER_CONFIG),
]


@pytest.mark.parametrize(
    ("document", "content_type", "kind", "artifact"),
    [row[1:] for row in ACCEPTED],
    ids=[row[0] for row in ACCEPTED],
)
def test_image_manifests(
    document: dict[str, Any], content_type: str | None, kind: str, artifact: str
) -> None:
    parsed = parse_manifest(raw(document), content_type)
    assert parsed == Manifest(kind, IMAGE_BLOBS, (), artifact)
    assert parsed.size_bytes == 32_100  # config and layers
    assert parsed.references() == [(CONFIG, "blob"), (LAYER_1, "blob"), (LAYER_2, "blob")]


LISTS = [
    ("oci index by header", index(), OCI_INDEX, OCI_INDEX),
    ("oci index by shape", index(None), None, OCI_INDEX),
    ("docker list by body", index(DOCKER_LIST), None, DOCKER_LIST),
    ("docker list by header", index(None), DOCKER_LIST, DOCKER_LIST),
]


@pytest.mark.parametrize(
    ("document", "content_type", "kind"), [row[1:] for row in LISTS], ids=[row[0] for row in LISTS]
)
def test_lists_and_indexes(document: dict[str, Any], content_type: str | None, kind: str) -> None:
    parsed = parse_manifest(raw(document), content_type)
    assert parsed == Manifest(kind, (), (CHILD_1, CHILD_2), None)
    assert parsed.size_bytes == 0  # a list's size is its children's, which the registry adds up
    assert parsed.references() == [(CHILD_1, "manifest"), (CHILD_2, "manifest")]


def test_an_image_without_layers() -> None:
    parsed = parse_manifest(raw(image(layers=[])), None)
    assert parsed.blobs == ((CONFIG, 100),)
    assert parsed.size_bytes == 100


REFUSED = [
    ("not json", b"{oops", None, "not JSON"),
    ("not utf-8", b"\xff\xfe{}", None, "not JSON"),
    ("an array", b"[]", None, "not a JSON object"),
    ("a string", b'"manifest"', None, "not a JSON object"),
    ("schema 1", raw(image(schemaVersion=1)), None, "schemaVersion 2"),
    (
        "no schemaVersion",
        raw({k: v for k, v in image().items() if k != "schemaVersion"}),
        None,
        "schemaVersion 2",
    ),
    ("schemaVersion as text", raw(image(schemaVersion="2")), None, "schemaVersion 2"),
    ("mediaType not a string", raw(image(None, mediaType=5)), None, "mediaType is not a string"),
    ("header and body disagree", raw(image(DOCKER_MANIFEST)), OCI_MANIFEST, "does not match Content-Type"),
    (
        "an unknown kind",
        raw({"schemaVersion": 2, "mediaType": "application/x"}),
        None,
        "unsupported manifest",
    ),
    ("no shape at all", raw({"schemaVersion": 2}), "application/json", "unsupported manifest"),
    ("layers not a list", raw(image(layers={"0": descriptor(LAYER_1, 1)})), None, "layers is not a list"),
    ("config not a descriptor", raw(image(config="sha256:x")), None, "config is not a descriptor"),
    (
        "config missing",
        raw({k: v for k, v in image().items() if k != "config"}),
        DOCKER_MANIFEST,
        "config is not",
    ),
    ("a layer without a digest", raw(image(layers=[{"size": 1}])), None, "layers[0] has an invalid digest"),
    ("a malformed digest", raw(image(layers=[descriptor("sha256", 1)])), None, "invalid digest"),
    ("an upper-case digest", raw(image(layers=[descriptor("sha256:" + "A" * 64, 1)])), None, "only sha256"),
    ("a sha512 digest", raw(image(layers=[descriptor("sha512:" + "a" * 128, 1)])), None, "only sha256"),
    ("a short sha256", raw(image(layers=[descriptor("sha256:abc", 1)])), None, "only sha256"),
    ("a negative size", raw(image(layers=[descriptor(LAYER_1, -1)])), None, "layers[0] has an invalid size"),
    ("a fractional size", raw(image(layers=[descriptor(LAYER_1, 1.5)])), None, "invalid size"),
    ("a boolean size", raw(image(layers=[descriptor(LAYER_1, True)])), None, "invalid size"),
    ("a size as text", raw(image(layers=[descriptor(LAYER_1, "1")])), None, "invalid size"),
    (
        "a descriptor's mediaType not text",
        raw(image(layers=[{**descriptor(LAYER_1, 1), "mediaType": 1}])),
        None,
        "invalid mediaType",
    ),
    ("manifests not a list", raw(index(manifests={})), None, "manifests is not a list"),
    ("a child not a descriptor", raw(index(manifests=[CHILD_1])), None, "manifests[0] is not a descriptor"),
    (
        "a child with a bad digest",
        raw(index(manifests=[descriptor("x", 1)])),
        None,
        "manifests[0] has an invalid",
    ),
    ("an image sent as a list", raw(image(None)), OCI_INDEX, "manifests is not a list"),
    ("too deep to parse", b"[" * 10_000 + b"]" * 10_000, None, "not JSON"),
    ("too big", b" " * MAX_MANIFEST_BYTES + raw(image()), None, "over"),
]


@pytest.mark.parametrize(
    ("data", "content_type", "reason"), [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED]
)
def test_refused(data: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(ManifestInvalid) as refused:
        parse_manifest(data, content_type)
    assert reason in str(refused.value)


def test_digest_of() -> None:
    assert digest_of(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # The digest is of the exact bytes: the same document spelled differently is another manifest.
    assert digest_of(raw(image())) != digest_of(json.dumps(image(), indent=3).encode())


@given(
    st.binary(max_size=300) | st.text(max_size=300).map(str.encode), st.sampled_from([None, OCI_INDEX, "x/y"])
)
def test_anything_parses_or_is_refused_never_crashes(data: bytes, content_type: str | None) -> None:
    try:
        parsed = parse_manifest(data, content_type)
    except ManifestInvalid:
        return
    assert parsed.media_type in {DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX}
