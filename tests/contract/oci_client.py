"""What the ECR contract tests share: the OCI distribution API spoken over raw HTTP (requests) with
an ECR token, content to push (blobs, Docker and OCI manifests, lists / indexes), and the live
server's database read the way a user can read it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from tests.conftest import LiveServer

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def errors(response: requests.Response) -> list[str]:
    """The OCI error codes of a response body (``{"errors": [{"code": ...}]}``)."""
    return [entry["code"] for entry in response.json()["errors"]]


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(
        document, indent=3
    ).encode()  # pretty, as docker pushes them: digests are of these bytes


@dataclass
class Image:
    """An image ready to push: its config and layer blobs and the manifest bytes naming them."""

    config: bytes
    layers: list[bytes]
    media_type: str = DOCKER_MANIFEST
    manifest: bytes = b""
    blobs: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        oci = self.media_type == OCI_MANIFEST
        config_type, layer_type = (OCI_CONFIG, OCI_LAYER) if oci else (DOCKER_CONFIG, DOCKER_LAYER)
        self.blobs = {digest_of(blob): blob for blob in [self.config, *self.layers]}
        self.manifest = canonical(
            {
                "schemaVersion": 2,
                "mediaType": self.media_type,
                "config": {
                    "mediaType": config_type,
                    "size": len(self.config),
                    "digest": digest_of(self.config),
                },
                "layers": [
                    {"mediaType": layer_type, "size": len(layer), "digest": digest_of(layer)}
                    for layer in self.layers
                ],
            }
        )

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def size(self) -> int:
        return sum(len(blob) for blob in [self.config, *self.layers])


def make_image(seed: str, media_type: str = DOCKER_MANIFEST, layers: int = 2) -> Image:
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    return Image(config, [f"{seed} layer {n} ".encode() * (50 + n) for n in range(layers)], media_type)


def index_of(images: list[Image], media_type: str = OCI_INDEX) -> bytes:
    """A manifest list / OCI index whose children are ``images``."""
    return canonical(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [
                {
                    "mediaType": image.media_type,
                    "size": len(image.manifest),
                    "digest": image.digest,
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for image, arch in zip(images, ("amd64", "arm64", "s390x", "ppc64le"), strict=False)
            ],
        }
    )


class Oci:
    """The registry at ``base`` (``http://host:port``) as a client without docker sees it."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base.rstrip("/")
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Basic {token}"

    def url(self, path_or_location: str) -> str:
        return urljoin(self.base + "/", path_or_location)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.url(path), **kwargs)

    def push_blob(self, name: str, data: bytes) -> requests.Response:
        """A monolithic upload in one POST; asserts it was accepted."""
        answer = self.request(
            "POST", f"/v2/{name}/blobs/uploads/", params={"digest": digest_of(data)}, data=data
        )
        assert answer.status_code == 201, answer.text
        return answer

    def push_image(self, name: str, image: Image, reference: str | None = None) -> requests.Response:
        """Every blob, then the manifest under ``reference`` (its digest when None)."""
        for blob in image.blobs.values():
            self.push_blob(name, blob)
        return self.put_manifest(name, reference or image.digest, image.manifest, image.media_type)

    def put_manifest(self, name: str, reference: str, manifest: bytes, media_type: str) -> requests.Response:
        return self.request(
            "PUT", f"/v2/{name}/manifests/{reference}", data=manifest, headers={"Content-Type": media_type}
        )

    def tags(self, name: str, **params: Any) -> list[str]:
        answer = self.request("GET", f"/v2/{name}/tags/list", params=params)
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] == name
        return list(answer.json()["tags"])


def registry_host(endpoint: str) -> str:
    """``http://localhost:<port>``: the default partition's registry (us-east-1, the default account)."""
    return f"http://localhost:{urlsplit(endpoint).port}"


def database(server: LiveServer) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(server.data_dir / "ecsbox.db", timeout=10))


def token_secret(server: LiveServer) -> bytes:
    with database(server) as conn:
        row = conn.execute("SELECT value FROM ecsbox_meta WHERE key = 'ecr_token_secret'").fetchone()
    return bytes.fromhex(row[0])


def image_actions(server: LiveServer) -> list[dict[str, Any]]:
    """The 'ECR Image Action' events in the outbox, oldest first."""
    with database(server) as conn:
        rows = conn.execute(
            "SELECT account_id, region, source, detail_type, resources, detail FROM outbox ORDER BY seq"
        ).fetchall()
    return [
        {
            "account": account,
            "region": region,
            "source": source,
            "detail-type": detail_type,
            "resources": json.loads(resources),
            "detail": json.loads(detail),
        }
        for account, region, source, detail_type, resources, detail in rows
        if detail_type == "ECR Image Action"
    ]
