"""Image manifests as the registry takes them: which kind, what they reference, how big the image is.

Pure: bytes in, facts out. A manifest is refused (``MANIFEST_INVALID``) unless it is one of the
four kinds ECR stores — Docker image manifest v2 schema 2, Docker manifest list, OCI image
manifest, OCI image index — with well-formed digests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from ecsbox.ecr.model import ANY_DIGEST_RE, DIGEST_RE

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_KINDS = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
LIST_KINDS = frozenset({DOCKER_LIST, OCI_INDEX})
MANIFEST_TYPES = IMAGE_KINDS | LIST_KINDS
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # ECR's limit on a manifest


class ManifestInvalid(Exception):
    """The bytes are not a manifest ecsbox stores; the message says why."""


@dataclass(frozen=True)
class Manifest:
    media_type: str
    blobs: tuple[tuple[str, int], ...]  # (digest, size): the config first, then the layers
    children: tuple[str, ...]  # a list's / index's manifests
    artifact_media_type: str | None  # the config's media type

    @property
    def size_bytes(self) -> int:
        """The image's size as DescribeImages reports it: config plus layers (0 for a list)."""
        return sum(size for _, size in self.blobs)

    def references(self) -> list[tuple[str, str]]:
        """(target, kind) pairs for the references table."""
        return [(digest, "blob") for digest, _ in self.blobs] + [
            (child, "manifest") for child in self.children
        ]


def digest_of(data: bytes) -> str:
    """``digest_of(b"")`` → ``sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(value: Any, where: str) -> tuple[str, int, str]:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} is not a descriptor")
    digest = value.get("digest")
    size = value.get("size")
    media_type = value.get("mediaType", "")
    if not isinstance(digest, str) or not ANY_DIGEST_RE.match(digest):
        raise ManifestInvalid(f"{where} has an invalid digest")
    if not DIGEST_RE.match(digest):
        raise ManifestInvalid(f"{where}: only sha256 digests are supported")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ManifestInvalid(f"{where} has an invalid size")
    if not isinstance(media_type, str):
        raise ManifestInvalid(f"{where} has an invalid mediaType")
    return digest, size, media_type


def parse_manifest(data: bytes, content_type: str | None) -> Manifest:
    """What a pushed manifest is and references; raises :class:`ManifestInvalid`.

    The kind comes from the ``Content-Type`` when it names one, else from the document's
    ``mediaType``, else from its shape (``manifests`` → index, ``config`` + ``layers`` → image).
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"manifest over {MAX_MANIFEST_BYTES} bytes")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ManifestInvalid(f"manifest is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ManifestInvalid("manifest is not a JSON object")
    if document.get("schemaVersion") != 2:
        raise ManifestInvalid("only schemaVersion 2 manifests are supported")
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("mediaType is not a string")
    header = (content_type or "").split(";", 1)[0].strip().lower()
    if header in MANIFEST_TYPES:
        media_type = header
        if declared and declared != header:
            raise ManifestInvalid(f"mediaType {declared} does not match Content-Type {header}")
    elif declared in MANIFEST_TYPES:
        media_type = str(declared)
    elif "manifests" in document:
        media_type = OCI_INDEX
    elif "config" in document and "layers" in document:
        media_type = OCI_MANIFEST
    else:
        raise ManifestInvalid(f"unsupported manifest media type {header or declared or '(none)'}")
    if media_type in LIST_KINDS:
        entries = document.get("manifests")
        if not isinstance(entries, list):
            raise ManifestInvalid("manifests is not a list")
        children = tuple(_descriptor(entry, f"manifests[{n}]")[0] for n, entry in enumerate(entries))
        return Manifest(media_type, (), children, None)
    config = _descriptor(document.get("config"), "config")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise ManifestInvalid("layers is not a list")
    blobs = [config[:2]] + [_descriptor(layer, f"layers[{n}]")[:2] for n, layer in enumerate(layers)]
    return Manifest(media_type, tuple(blobs), (), config[2] or None)
