"""The OCI Distribution API under ``/v2/``: what the docker CLI, skopeo and ORAS push to and pull
from. An ASGI handler of its own, so blob bodies stream both ways instead of being held in memory.

Who is calling and for which registry: the ``Host`` names the partition (see
:mod:`ecsbox.ecr.addresses`), and ``Authorization: Basic`` must carry an ECR token issued for that
partition; anything else gets a 401 with a Basic challenge, so the docker CLI logs in and retries.
Repositories are the ECR repositories of that partition; pushing to one that does not exist is
refused (``NAME_UNKNOWN``), as on ECR.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

import orjson

from ecsbox.core.clock import Clock
from ecsbox.ecr import image_repo
from ecsbox.ecr.addresses import RegistryAddresses
from ecsbox.ecr.blobs import BlobError, BlobStore, BlobUnknown, DigestInvalid
from ecsbox.ecr.manifests import (
    MAX_MANIFEST_BYTES,
    ManifestInvalid,
    digest_of,
    parse_manifest,
)
from ecsbox.ecr.model import DIGEST_RE, TAG_RE, EcrRuleError, Partition, repository_name_valid
from ecsbox.ecr.tokens import TokenRejected, verify_basic
from ecsbox.store import Store

log = logging.getLogger("ecsbox.ecr.registry")

Send = Callable[[dict[str, Any]], Any]
Receive = Callable[[], Any]

API_VERSION = ("docker-distribution-api-version", "registry/2.0")
TAGS_PAGE = 1000

# OCI distribution error code → HTTP status.
STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "PAGINATION_NUMBER_INVALID": 400,  # the reference registry's code for a bad n
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "RANGE_INVALID": 416,
}

_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
_UPLOADS = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<upload>[^/]*)$")
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
# Offsets fit in 19 digits (int64); longer runs of digits are refused, not handed to int().
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?$")
_RANGE = re.compile(r"^bytes=(\d{1,19})-(\d{0,19})$")


class RegistryError(Exception):
    def __init__(
        self, code: str, message: str, detail: Any = None, headers: list[tuple[str, str]] | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers or []


class ClientGone(Exception):
    """The client hung up in the middle of its request."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    receive: Receive
    partition: Partition
    host: str

    def body(self) -> AsyncIterator[bytes]:
        return _body_chunks(self.receive)

    async def read(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.body():
            size += len(chunk)
            if size > limit:
                raise RegistryError("SIZE_INVALID", f"body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    length: int | None = None  # the streamed body's length


def _error_reply(error: RegistryError) -> Reply:
    entry: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.detail is not None:
        entry["detail"] = error.detail
    body = orjson.dumps({"errors": [entry]})
    headers = [("content-type", "application/json"), *error.headers]
    return Reply(STATUS.get(error.code, 400), headers, body)


class Registry:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        blobs: BlobStore,
        addresses: RegistryAddresses,
        token_secret: Callable[[], bytes],
    ) -> None:
        self.store = store
        self.clock = clock
        self.blobs = blobs
        self.addresses = addresses
        self.token_secret = token_secret
        self._uploads: dict[str, tuple[Partition, str]] = {}  # upload id → whose

    # ---- ASGI ------------------------------------------------------------------------------------

    async def __call__(
        self, scope: dict[str, Any], receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        # The decoded path: a client may percent-encode a digest's colon (``sha256%3A…``).
        path = scope["path"]
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        try:
            reply = await self._handle(scope["method"], path, query, headers, receive)
        except RegistryError as error:
            reply = _error_reply(error)
        except ClientGone:
            return
        except Exception:
            log.exception("event=registry_failed method=%s path=%s", scope["method"], path)
            reply = Reply(
                500,
                [("content-type", "application/json")],
                b'{"errors":[{"code":"UNKNOWN","message":"internal error"}]}',
            )
        await self._send(send, reply, head=scope["method"] == "HEAD")

    async def _send(self, send: Send, reply: Reply, head: bool) -> None:
        headers = [API_VERSION, *reply.headers]
        length = reply.length if reply.stream is not None else len(reply.body)
        if not any(name == "content-length" for name, _ in headers):
            headers.append(("content-length", str(length)))
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": raw})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return
        if reply.stream is None:
            await send({"type": "http.response.body", "body": reply.body})
            return
        async for chunk in reply.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    # ---- routing -----------------------------------------------------------------------------------

    async def _handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], receive: Receive
    ) -> Reply:
        host = headers.get("host", "")
        partition = self._authorise(host, headers.get("authorization", ""))
        request = Request(method, path, query, headers, receive, partition, host)
        if path in ("/v2", "/v2/"):
            if method not in ("GET", "HEAD"):
                raise RegistryError("UNSUPPORTED", f"{method} /v2/ is not supported")
            return Reply(200, [("content-type", "application/json")], b"{}")
        if match := _UPLOADS.match(path):
            return await self._uploads_route(request, match["name"], match["upload"])
        if match := _BLOB.match(path):
            return await self._blob_route(request, match["name"], match["digest"])
        if match := _MANIFEST.match(path):
            return await self._manifest_route(request, match["name"], match["reference"])
        if match := _TAGS.match(path):
            if method not in ("GET", "HEAD"):
                raise RegistryError("UNSUPPORTED", f"{method} is not supported on tags/list")
            return await self._tags(request, match["name"])
        raise RegistryError("UNSUPPORTED", f"{method} {path} is not part of the registry API")

    def _authorise(self, host: str, authorization: str) -> Partition:
        """The partition the request is for, once its token proves it may act there."""
        challenge = [("www-authenticate", f'Basic realm="http://{host}/",service="ecr.amazonaws.com"')]
        wanted = self.addresses.partition_of(host)
        if wanted is None:
            raise RegistryError("DENIED", f"no registry answers at {host}")
        if not authorization:
            raise RegistryError("UNAUTHORIZED", "authentication required", headers=challenge)
        try:
            partition = verify_basic(self.token_secret(), authorization, self.clock.wall())
        except TokenRejected as rejected:
            raise RegistryError(
                "UNAUTHORIZED", f"Your authorization token is not valid: {rejected}", headers=challenge
            ) from rejected
        if partition != wanted:
            raise RegistryError(
                "UNAUTHORIZED",
                f"Your authorization token was issued for the registry of account {partition[0]} in "
                f"{partition[1]}, not this one",
                headers=challenge,
            )
        return partition

    async def _repository(self, request: Request, name: str) -> dict[str, Any]:
        if not repository_name_valid(name):
            raise RegistryError("NAME_INVALID", f"invalid repository name '{name}'")
        document = await self.store.read(
            lambda conn: image_repo.repository_document(conn, request.partition, name)
        )
        if document is None:
            raise RegistryError(
                "NAME_UNKNOWN",
                f"The repository with name '{name}' does not exist in the registry with id '{request.partition[0]}'",
            )
        return document

    # ---- blobs -------------------------------------------------------------------------------------

    async def _linked_size(self, request: Request, name: str, digest: str, touch: bool = False) -> int:
        """The blob's size when the repository may serve it. ``touch``: a push checks (HEAD) the
        layers it will reuse, so keep them from garbage collection until its manifest arrives."""
        links = await self.store.read(
            lambda conn: image_repo.blob_links(conn, request.partition, name, [digest])
        )
        size = await self.blobs.stat(digest, touch=touch) if digest in links else None
        if size is None:
            raise RegistryError(
                "BLOB_UNKNOWN", f"blob {digest} unknown to repository {name}", detail={"digest": digest}
            )
        return size

    async def _blob_route(self, request: Request, name: str, digest: str) -> Reply:
        await self._repository(request, name)
        if not DIGEST_RE.match(digest):
            raise RegistryError("DIGEST_INVALID", f"invalid digest {digest}")
        if request.method == "DELETE":
            raise RegistryError(
                "UNSUPPORTED", "blobs are removed by garbage collection once no image uses them"
            )
        if request.method not in ("GET", "HEAD"):
            raise RegistryError("UNSUPPORTED", f"{request.method} is not supported on blobs")
        size = await self._linked_size(request, name, digest, touch=request.method == "HEAD")
        headers = [
            ("content-type", "application/octet-stream"),
            ("docker-content-digest", digest),
            ("accept-ranges", "bytes"),
            ("etag", f'"{digest}"'),
        ]
        start, end, status = 0, size, 200
        wanted = request.headers.get("range")
        if wanted:
            match = _RANGE.match(wanted.strip())
            if match is None or int(match[1]) >= max(size, 1) or (match[2] and int(match[2]) < int(match[1])):
                raise RegistryError(
                    "RANGE_INVALID",
                    f"range {wanted} not satisfiable",
                    headers=[("content-range", f"bytes */{size}")],
                )
            start = int(match[1])
            end = min(size, int(match[2]) + 1) if match[2] else size
            status = 206
            headers.append(("content-range", f"bytes {start}-{end - 1}/{size}"))
        if request.method == "HEAD":
            return Reply(status, headers, stream=_empty(), length=end - start)
        return Reply(status, headers, stream=self.blobs.read(digest, start, end), length=end - start)

    def _upload_headers(self, name: str, upload_id: str, size: int) -> list[tuple[str, str]]:
        return [
            ("location", f"/v2/{name}/blobs/uploads/{upload_id}"),
            ("range", f"0-{max(size - 1, 0)}"),
            ("docker-upload-uuid", upload_id),
        ]

    def _owned_upload(self, request: Request, name: str, upload_id: str) -> None:
        if self._uploads.get(upload_id) != (request.partition, name):
            raise RegistryError(
                "BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} unknown", detail={"uuid": upload_id}
            )

    async def _link(self, request: Request, name: str, digest: str, size: int) -> Reply:
        wall = self.clock.wall()
        await self.store.write(
            lambda conn: image_repo.link_blob(conn, request.partition, name, digest, size, wall)
        )
        return Reply(
            201,
            [
                ("location", f"/v2/{name}/blobs/{digest}"),
                ("docker-content-digest", digest),
                ("content-type", "text/plain"),
            ],
        )

    async def _uploads_route(self, request: Request, name: str, upload_id: str) -> Reply:
        await self._repository(request, name)
        method = request.method
        if method == "POST" and not upload_id:
            return await self._start_upload(request, name)
        if not upload_id:
            raise RegistryError("UNSUPPORTED", f"{method} needs an upload id")
        self._owned_upload(request, name, upload_id)
        try:
            if method == "GET":
                size = await self.blobs.upload_size(upload_id)
                return Reply(204, self._upload_headers(name, upload_id, size))
            if method == "PATCH":
                start = None
                content_range = request.headers.get("content-range")
                if content_range:
                    match = _CONTENT_RANGE.match(content_range.strip())
                    if match is None or int(match[2]) < int(match[1]):
                        raise RegistryError("RANGE_INVALID", f"bad Content-Range {content_range}")
                    start = int(match[1])
                    # As the reference registry does: the chunk must be as long as its range says.
                    length = request.headers.get("content-length")
                    if length is not None and length.strip() != str(int(match[2]) - start + 1):
                        raise RegistryError(
                            "SIZE_INVALID", f"Content-Range {content_range} but Content-Length {length}"
                        )
                size = await self.blobs.append(upload_id, request.body(), start)
                return Reply(202, self._upload_headers(name, upload_id, size))
            if method == "PUT":
                digest = request.query.get("digest", "")
                if not DIGEST_RE.match(digest):
                    raise RegistryError("DIGEST_INVALID", f"invalid or missing digest '{digest}'")
                size = await self.blobs.commit(upload_id, digest, request.body())
                self._uploads.pop(upload_id, None)
                return await self._link(request, name, digest, size)
            if method == "DELETE":
                await self.blobs.cancel(upload_id)
                self._uploads.pop(upload_id, None)
                return Reply(204, [])
        except BlobError as error:
            if isinstance(error, DigestInvalid):
                self._uploads.pop(upload_id, None)
            raise _from_blob_error(error, upload_id) from error
        raise RegistryError("UNSUPPORTED", f"{method} is not supported on uploads")

    async def _start_upload(self, request: Request, name: str) -> Reply:
        mount = request.query.get("mount")
        if mount and DIGEST_RE.match(mount):
            source = request.query.get("from")
            size = await self._mountable(request, mount, source)
            if size is not None:
                return await self._link(request, name, mount, size)
        digest = request.query.get("digest")
        upload_id = await self.blobs.new_upload()
        self._uploads[upload_id] = (request.partition, name)
        if digest is not None:  # monolithic: the whole blob in this request
            if not DIGEST_RE.match(digest):
                await self.blobs.cancel(upload_id)
                raise RegistryError("DIGEST_INVALID", f"invalid digest '{digest}'")
            try:
                size = await self.blobs.commit(upload_id, digest, request.body())
            except BlobError as error:
                raise _from_blob_error(error, upload_id) from error
            finally:
                self._uploads.pop(upload_id, None)
            return await self._link(request, name, digest, size)
        return Reply(202, self._upload_headers(name, upload_id, 0))

    async def _mountable(self, request: Request, digest: str, source: str | None) -> int | None:
        """A blob another repository of the partition holds (``from``, or any when unnamed)."""

        def find(conn: Any) -> int | None:
            if source and repository_name_valid(source):
                return image_repo.blob_links(conn, request.partition, source, [digest]).get(digest)
            return image_repo.partition_blob(conn, request.partition, digest)

        size = await self.store.read(find)
        if size is None or await self.blobs.stat(digest) is None:
            return None
        return size

    # ---- manifests ---------------------------------------------------------------------------------

    async def _manifest_route(self, request: Request, name: str, reference: str) -> Reply:
        repository = await self._repository(request, name)
        by_digest = reference.startswith("sha256:")
        if by_digest and not DIGEST_RE.match(reference):
            raise RegistryError("DIGEST_INVALID", f"invalid digest {reference}")
        if not by_digest and not TAG_RE.match(reference):
            raise RegistryError("TAG_INVALID", f"invalid tag {reference}")
        if request.method in ("GET", "HEAD"):
            return await self._get_manifest(request, name, reference)
        if request.method == "PUT":
            return await self._put_manifest(request, name, reference, repository)
        if request.method == "DELETE":
            return await self._delete_manifest(request, name, reference)
        raise RegistryError("UNSUPPORTED", f"{request.method} is not supported on manifests")

    async def _get_manifest(self, request: Request, name: str, reference: str) -> Reply:
        partition = request.partition

        def look(conn: Any) -> tuple[str, str, bytes] | None:
            digest = image_repo.resolve(conn, partition, name, reference)
            if digest is None:
                return None
            found = image_repo.get_manifest(conn, partition, name, digest)
            return (digest, *found) if found is not None else None

        found = await self.store.read(look)
        if found is None:
            raise RegistryError(
                "MANIFEST_UNKNOWN",
                f"manifest {reference} unknown to repository {name}",
                detail={"reference": reference},
            )
        digest, media_type, data = found
        # A pull: the docker CLI (20.10+) asks with HEAD first and skips the GET when it already
        # holds the layers, so either counts for lastRecordedPullTime.
        now = self.clock.now()
        await self.store.write(lambda conn: image_repo.record_pull(conn, partition, name, digest, now))
        headers = [("content-type", media_type), ("docker-content-digest", digest), ("etag", f'"{digest}"')]
        if request.method == "HEAD":
            return Reply(200, headers, stream=_empty(), length=len(data))
        return Reply(200, headers, data)

    async def _put_manifest(
        self, request: Request, name: str, reference: str, repository: dict[str, Any]
    ) -> Reply:
        data = await request.read(MAX_MANIFEST_BYTES)
        digest = digest_of(data)
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryError("DIGEST_INVALID", f"manifest digest {digest} does not match {reference}")
        try:
            manifest = parse_manifest(data, request.headers.get("content-type"))
        except ManifestInvalid as invalid:
            raise RegistryError("MANIFEST_INVALID", str(invalid)) from invalid
        partition = request.partition
        tag = None if reference.startswith("sha256:") else reference
        immutable = image_repo.tag_immutable(repository, tag)
        now = self.clock.now()
        wanted_blobs = [blob for blob, _ in manifest.blobs]

        def store(conn: Any) -> None:
            links = image_repo.blob_links(conn, partition, name, wanted_blobs)
            missing = [blob for blob in wanted_blobs if blob not in links]
            if missing:
                raise RegistryError(
                    "MANIFEST_BLOB_UNKNOWN",
                    f"blob {missing[0]} unknown to repository {name}",
                    detail={"digest": missing[0]},
                )
            for child in manifest.children:
                if image_repo.resolve(conn, partition, name, child) is None:
                    raise RegistryError(
                        "MANIFEST_BLOB_UNKNOWN",
                        f"manifest {child} unknown to repository {name}",
                        detail={"digest": child},
                    )
            size = manifest.size_bytes or image_repo.total_size(conn, partition, name, manifest.children)
            document = (
                {"artifactMediaType": manifest.artifact_media_type} if manifest.artifact_media_type else {}
            )
            image_repo.put_image(
                conn,
                partition,
                name,
                digest=digest,
                media_type=manifest.media_type,
                manifest=data,
                size_bytes=size,
                references=manifest.references(),
                tag=tag,
                now=now,
                immutable=immutable,
                document=document,
            )

        try:
            await self.store.write(store)
        except EcrRuleError as refused:
            raise RegistryError("TAG_INVALID", refused.message) from refused
        missing_files = [blob for blob in wanted_blobs if await self.blobs.stat(blob) is None]
        if missing_files:  # collected since it was linked: the image needs it pushed again
            log.warning("event=manifest_blob_missing repository=%s digest=%s", name, missing_files[0])
        return Reply(
            201,
            [
                ("location", f"/v2/{name}/manifests/{digest}"),  # pullable as it is
                ("docker-content-digest", digest),
                ("content-type", "text/plain"),
            ],
        )

    async def _delete_manifest(self, request: Request, name: str, reference: str) -> Reply:
        partition = request.partition
        now = self.clock.now()

        def remove(conn: Any) -> bool:
            if not reference.startswith("sha256:"):
                return image_repo.untag(conn, partition, name, reference) is not None
            if image_repo.resolve(conn, partition, name, reference) is None:
                return False
            image_repo.delete_image(conn, partition, name, reference, now)
            return True

        if not await self.store.write(remove):
            raise RegistryError("MANIFEST_UNKNOWN", f"manifest {reference} unknown to repository {name}")
        return Reply(202, [])

    async def _tags(self, request: Request, name: str) -> Reply:
        await self._repository(request, name)
        try:
            limit = int(request.query.get("n", TAGS_PAGE))
        except ValueError:
            raise RegistryError("PAGINATION_NUMBER_INVALID", "n must be an integer") from None
        limit = max(0, min(limit, TAGS_PAGE))
        last = request.query.get("last")
        partition = request.partition
        tags = await self.store.read(
            lambda conn: image_repo.list_tags(conn, partition, name, last, limit + 1)
        )
        headers = [("content-type", "application/json")]
        if len(tags) > limit:
            tags = tags[:limit]
            if tags:
                headers.append(
                    ("link", f'</v2/{name}/tags/list?n={limit}&last={quote(tags[-1])}>; rel="next"')
                )
        return Reply(200, headers, orjson.dumps({"name": name, "tags": tags}))


def _from_blob_error(error: BlobError, upload_id: str) -> RegistryError:
    code = getattr(error, "code", "BLOB_UPLOAD_INVALID")
    headers: list[tuple[str, str]] = []
    size = getattr(error, "size", None)
    if code == "RANGE_INVALID" and size is not None:
        headers.append(("range", f"0-{max(size - 1, 0)}"))
    if isinstance(error, BlobUnknown):
        code = "BLOB_UNKNOWN"
    return RegistryError(code, str(error) or code, detail={"uuid": upload_id}, headers=headers)


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator
