"""ECR's image operations: DescribeImages, ListImages, BatchGetImage, BatchDeleteImage, PutImage,
and the layer operations (BatchCheckLayerAvailability, Initiate/UploadLayerPart/CompleteLayerUpload,
GetDownloadUrlForLayer) that push and pull through the API instead of the registry."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Connection

from ecsbox.aws.context import RequestContext
from ecsbox.ecr import image_repo
from ecsbox.ecr.blobs import BlobError, BlobStore, DigestInvalid, UploadRangeInvalid, UploadUnknown
from ecsbox.ecr.handling import Deps, aws_errors, partition_of
from ecsbox.ecr.image_repo import StoredImage
from ecsbox.ecr.manifests import ManifestInvalid, digest_of, parse_manifest
from ecsbox.ecr.model import (
    DIGEST_RE,
    TAG_RE,
    EcrRuleError,
    Partition,
    invalid_parameter,
    repository_not_found,
)
from ecsbox.ecr.paging import decode_token, encode_token, page_size

PART_SIZE = 10 * 1024 * 1024  # InitiateLayerUpload's partSize: what ECR answers


def _image_id(image: StoredImage, tag: str | None = None) -> dict[str, Any]:
    identifier: dict[str, Any] = {"imageDigest": image.digest}
    if tag:
        identifier["imageTag"] = tag
    return identifier


def _tag_status(images: list[StoredImage], status: str | None) -> list[StoredImage]:
    if status == "TAGGED":
        return [image for image in images if image.tags]
    if status == "UNTAGGED":
        return [image for image in images if not image.tags]
    return images


class Images:
    def __init__(self, deps: Deps, blobs: BlobStore) -> None:
        self.deps = deps
        self.blobs = blobs
        self._uploads: dict[str, tuple[Partition, str]] = {}

    async def _images(self, partition: Partition, name: str) -> list[StoredImage]:
        def read(conn: Connection) -> list[StoredImage] | None:
            if image_repo.repository_document(conn, partition, name) is None:
                return None
            return image_repo.list_images(conn, partition, name)

        images = await self.deps.store.read(read)
        if images is None:
            raise repository_not_found(partition, name)
        return images

    async def _require_repository(self, partition: Partition, name: str) -> None:
        found = await self.deps.store.read(lambda conn: image_repo.repository_document(conn, partition, name))
        if found is None:
            raise repository_not_found(partition, name)

    def _detail(self, partition: Partition, name: str, image: StoredImage) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "registryId": partition[0],
            "repositoryName": name,
            "imageDigest": image.digest,
            "imageSizeInBytes": image.size_bytes,
            "imagePushedAt": image.pushed_at,
            "imageManifestMediaType": image.media_type,
            "imageStatus": "ACTIVE",
        }
        if image.tags:
            detail["imageTags"] = list(image.tags)
        if image.document.get("artifactMediaType"):
            detail["artifactMediaType"] = image.document["artifactMediaType"]
        if image.last_pulled_at is not None:
            detail["lastRecordedPullTime"] = image.last_pulled_at
        return detail

    @aws_errors
    async def describe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        images = await self._images(partition, name)
        wanted = params.get("imageIds")
        if wanted:
            if params.get("nextToken") or params.get("maxResults"):
                raise invalid_parameter("Cannot specify nextToken or maxResults with imageIds")
            found: list[StoredImage] = []
            for identifier in wanted:
                image = _find(images, identifier)
                if image is None:
                    raise EcrRuleError(
                        "ImageNotFoundException",
                        f"The image with imageId {_describe_id(identifier)} does not exist within the repository "
                        f"with name '{name}' in the registry with id '{partition[0]}'",
                    )
                if image not in found:
                    found.append(image)
            return {"imageDetails": [self._detail(partition, name, image) for image in found]}
        images = _tag_status(images, (params.get("filter") or {}).get("tagStatus"))
        page, token = _page(images, params, "images", 100, 1000)
        result: dict[str, Any] = {"imageDetails": [self._detail(partition, name, image) for image in page]}
        if token:
            result["nextToken"] = token
        return result

    @aws_errors
    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        images = await self._images(partition, name)
        identifiers: list[dict[str, Any]] = []
        status = (params.get("filter") or {}).get("tagStatus")
        for image in images:
            if image.tags and status != "UNTAGGED":
                identifiers += [_image_id(image, tag) for tag in sorted(image.tags)]
            elif not image.tags and status != "TAGGED":
                identifiers.append(_image_id(image))
        page, token = _page(identifiers, params, "image-ids", 100, 1000)
        result: dict[str, Any] = {"imageIds": page}
        if token:
            result["nextToken"] = token
        return result

    @aws_errors
    async def batch_get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        images = await self._images(partition, name)
        accepted = set(params.get("acceptedMediaTypes") or [])
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for identifier in params["imageIds"]:
            failure = _identifier_failure(identifier)
            image = None if failure else _find(images, identifier)
            if image is None:
                code, reason = failure or ("ImageNotFound", "Requested image not found")
                failures.append({"imageId": identifier, "failureCode": code, "failureReason": reason})
                continue
            if accepted and image.media_type not in accepted:
                failures.append(
                    {
                        "imageId": identifier,
                        "failureCode": "ImageNotFound",
                        "failureReason": f"The image's media type {image.media_type} is not accepted",
                    }
                )
                continue
            digest = image.digest
            manifest = await self.deps.store.read(
                lambda conn: image_repo.get_manifest(conn, partition, name, digest)  # noqa: B023 - awaited here
            )
            if manifest is None:
                continue
            image_id = {"imageDigest": image.digest}
            if identifier.get("imageTag"):
                image_id["imageTag"] = identifier["imageTag"]
            found.append(
                {
                    "registryId": partition[0],
                    "repositoryName": name,
                    "imageId": image_id,
                    "imageManifest": manifest[1].decode("utf-8", "replace"),
                    "imageManifestMediaType": manifest[0],
                }
            )
        return {"images": found, "failures": failures}

    @aws_errors
    async def batch_delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        await self._require_repository(partition, name)
        now = self.deps.clock.now()
        identifiers = params["imageIds"]

        def remove(conn: Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            deleted: list[dict[str, Any]] = []
            failures: list[dict[str, Any]] = []
            for identifier in identifiers:
                failure = _identifier_failure(identifier)
                if failure is not None:
                    failures.append(
                        {"imageId": identifier, "failureCode": failure[0], "failureReason": failure[1]}
                    )
                    continue
                tag = identifier.get("imageTag")
                digest = identifier.get("imageDigest") or image_repo.resolve(conn, partition, name, tag)
                if digest is None or image_repo.resolve(conn, partition, name, digest) is None:
                    failures.append(
                        {
                            "imageId": identifier,
                            "failureCode": "ImageNotFound",
                            "failureReason": "Requested image not found",
                        }
                    )
                    continue
                if tag and image_repo.tag_owner(conn, partition, name, tag) != digest:
                    failures.append(
                        {
                            "imageId": identifier,
                            "failureCode": "ImageTagDoesNotMatchDigest",
                            "failureReason": "Invalid image tag: the tag does not match the digest",
                        }
                    )
                    continue
                if image_repo.referenced_by_others(conn, partition, name, digest):
                    failures.append(
                        {
                            "imageId": identifier,
                            "failureCode": "ImageReferencedByManifestList",
                            "failureReason": "Requested image is referenced by a manifest list",
                        }
                    )
                    continue
                if tag and not identifier.get("imageDigest"):
                    # A tag alone: the tag goes; the image goes with its last tag.
                    image_repo.untag(conn, partition, name, tag)
                    left = [i for i in image_repo.list_images(conn, partition, name) if i.digest == digest]
                    if left and not left[0].tags:
                        image_repo.delete_image(conn, partition, name, digest, now)
                    deleted.append({"imageDigest": digest, "imageTag": tag})
                    continue
                tags = image_repo.delete_image(conn, partition, name, digest, now)
                deleted += [{"imageDigest": digest, "imageTag": t} for t in tags] or [{"imageDigest": digest}]
            return deleted, failures

        deleted, failures = await self.deps.store.write(remove)
        return {"imageIds": deleted, "failures": failures}

    @aws_errors
    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        data = params["imageManifest"].encode("utf-8")
        digest = digest_of(data)
        if params.get("imageDigest") and params["imageDigest"] != digest:
            raise EcrRuleError(
                "ImageDigestDoesNotMatchException",
                f"Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The image digest "
                f"{params['imageDigest']} does not match the digest of the manifest {digest}'",
            )
        tag = params.get("imageTag")
        if tag is not None and not TAG_RE.match(tag):
            raise invalid_parameter(
                f"Invalid parameter at 'imageTag' failed to satisfy constraint: 'invalid tag {tag}'"
            )
        try:
            manifest = parse_manifest(data, params.get("imageManifestMediaType"))
        except ManifestInvalid as invalid:
            raise invalid_parameter(
                f"Invalid parameter at 'imageManifest' failed to satisfy constraint: '{invalid}'"
            ) from invalid
        now = self.deps.clock.now()
        blobs = [blob for blob, _ in manifest.blobs]

        def store(conn: Connection) -> None:
            repository = image_repo.repository_document(conn, partition, name)
            if repository is None:
                raise repository_not_found(partition, name)
            links = image_repo.blob_links(conn, partition, name, blobs)
            missing = [blob for blob in blobs if blob not in links]
            if missing:
                raise EcrRuleError(
                    "LayersNotFoundException",
                    f"The image manifest references layers {missing} that are not in the repository",
                )
            for child in manifest.children:
                if image_repo.resolve(conn, partition, name, child) is None:
                    raise EcrRuleError(
                        "ReferencedImagesNotFoundException",
                        f"The manifest list references {child}, which is not here",
                    )
            existing = image_repo.resolve(conn, partition, name, digest)
            if existing is not None and (
                tag is None or image_repo.tag_owner(conn, partition, name, tag) == digest
            ):
                raise EcrRuleError(
                    "ImageAlreadyExistsException",
                    f"Image with digest '{digest}' "
                    + (f"and tag '{tag}' " if tag else "")
                    + "already exists in the repository with name "
                    f"'{name}' in registry with id '{partition[0]}'",
                )
            image_repo.put_image(
                conn,
                partition,
                name,
                digest=digest,
                media_type=manifest.media_type,
                manifest=data,
                size_bytes=manifest.size_bytes
                or image_repo.total_size(conn, partition, name, manifest.children),
                references=manifest.references(),
                tag=tag,
                now=now,
                immutable=image_repo.tag_immutable(repository, tag),
                document={"artifactMediaType": manifest.artifact_media_type}
                if manifest.artifact_media_type
                else {},
            )

        await self.deps.store.write(store)
        image_id: dict[str, Any] = {"imageDigest": digest}
        if tag:
            image_id["imageTag"] = tag
        return {
            "image": {
                "registryId": partition[0],
                "repositoryName": name,
                "imageId": image_id,
                "imageManifest": params["imageManifest"],
                "imageManifestMediaType": manifest.media_type,
            }
        }

    # ---- layers --------------------------------------------------------------------------------

    @aws_errors
    async def check_layers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        await self._require_repository(partition, name)
        digests = list(params["layerDigests"])
        valid = [d for d in digests if DIGEST_RE.match(d)]
        links = await self.deps.store.read(lambda conn: image_repo.blob_links(conn, partition, name, valid))
        layers: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for digest in digests:
            if not DIGEST_RE.match(digest):
                failures.append(
                    {
                        "layerDigest": digest,
                        "failureCode": "InvalidLayerDigest",
                        "failureReason": "Invalid layer digest",
                    }
                )
                continue
            size = await self.blobs.stat(digest) if digest in links else None
            if size is None:
                layers.append({"layerDigest": digest, "layerAvailability": "UNAVAILABLE"})
            else:
                layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": size})
        return {"layers": layers, "failures": failures}

    @aws_errors
    async def initiate_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        await self._require_repository(partition, name)
        # ECR's upload ids are UUIDs in their dashed form (the model's pattern, which the wire layer
        # checks on the way in); the blob store names the same upload by its 32 hex digits.
        upload_id = str(uuid.UUID(await self.blobs.new_upload()))
        self._uploads[upload_id] = (partition, name)
        return {"uploadId": upload_id, "partSize": PART_SIZE}

    def _owned(self, partition: Partition, name: str, upload_id: str) -> str:
        """The blob store's id of an upload this repository started."""
        if self._uploads.get(upload_id) != (partition, name):
            raise EcrRuleError(
                "UploadNotFoundException",
                f"Upload with id '{upload_id}' is not found in repository '{name}' of registry '{partition[0]}'",
            )
        return uuid.UUID(upload_id).hex

    @aws_errors
    async def upload_part(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        await self._require_repository(partition, name)
        upload_id = params["uploadId"]
        stored = self._owned(partition, name, upload_id)
        blob: bytes = params["layerPartBlob"]
        if isinstance(blob, str):
            blob = base64.b64decode(blob)
        first, last = int(params["partFirstByte"]), int(params["partLastByte"])
        if last - first + 1 != len(blob):
            raise EcrRuleError(
                "InvalidLayerPartException",
                f"The part is {len(blob)} bytes, not {last - first + 1} ({first}-{last})",
            )
        try:
            size = await self.blobs.append(stored, _one(blob), first)
        except UploadRangeInvalid as error:
            raise EcrRuleError(
                "InvalidLayerPartException", f"The part must start at byte {error.size}, not {first}"
            ) from error
        except UploadUnknown as error:
            raise EcrRuleError("UploadNotFoundException", str(error)) from error
        return {
            "registryId": partition[0],
            "repositoryName": name,
            "uploadId": upload_id,
            "lastByteReceived": size - 1,
        }

    @aws_errors
    async def complete_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        await self._require_repository(partition, name)
        upload_id = params["uploadId"]
        stored = self._owned(partition, name, upload_id)
        digests = params["layerDigests"]
        if len(digests) != 1 or not DIGEST_RE.match(digests[0]):
            raise invalid_parameter(
                "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'one sha256 digest'"
            )
        digest = digests[0]
        links = await self.deps.store.read(
            lambda conn: image_repo.blob_links(conn, partition, name, [digest])
        )
        if digest in links and await self.blobs.stat(digest) is not None:
            await self.blobs.cancel(stored)
            self._uploads.pop(upload_id, None)
            raise EcrRuleError(
                "LayerAlreadyExistsException", "The image layer already exists in the associated repository."
            )
        try:
            if await self.blobs.upload_size(stored) == 0:
                raise EcrRuleError("EmptyUploadException", f"The upload {upload_id} has no data")
            size = await self.blobs.commit(stored, digest)
        except DigestInvalid as error:
            self._uploads.pop(upload_id, None)
            raise EcrRuleError("InvalidLayerException", f"The layer's digest is not {digest}") from error
        except BlobError as error:
            raise EcrRuleError("UploadNotFoundException", str(error)) from error
        self._uploads.pop(upload_id, None)
        wall = self.deps.clock.wall()
        await self.deps.store.write(
            lambda conn: image_repo.link_blob(conn, partition, name, digest, size, wall)
        )
        return {
            "registryId": partition[0],
            "repositoryName": name,
            "uploadId": upload_id,
            "layerDigest": digest,
        }

    @aws_errors
    async def download_url(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        partition = partition_of(ctx, params)
        name = params["repositoryName"]
        await self._require_repository(partition, name)
        digest = params["layerDigest"]
        if not DIGEST_RE.match(digest):
            raise invalid_parameter(
                f"Invalid parameter at 'layerDigest' failed to satisfy constraint: '{digest}'"
            )
        links = await self.deps.store.read(
            lambda conn: image_repo.blob_links(conn, partition, name, [digest])
        )
        if digest not in links or await self.blobs.stat(digest) is None:
            raise EcrRuleError(
                "LayersNotFoundException",
                f"The layer with digest '{digest}' does not exist in the repository '{name}'",
            )
        host = self.deps.addresses.host(partition)
        return {"downloadUrl": f"http://{host}/v2/{name}/blobs/{digest}", "layerDigest": digest}


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _find(images: list[StoredImage], identifier: dict[str, Any]) -> StoredImage | None:
    digest, tag = identifier.get("imageDigest"), identifier.get("imageTag")
    for image in images:
        if digest and image.digest != digest:
            continue
        if tag and tag not in image.tags:
            continue
        if digest or tag:
            return image
    return None


def _identifier_failure(identifier: dict[str, Any]) -> tuple[str, str] | None:
    digest, tag = identifier.get("imageDigest"), identifier.get("imageTag")
    if not digest and not tag:
        return ("MissingDigestAndTag", "Missing image digest and tag")
    if digest and not DIGEST_RE.match(digest):
        return ("InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex")
    if tag and not TAG_RE.match(tag):
        return ("InvalidImageTag", "Invalid request parameters: image tag should satisfy the regex")
    return None


def _describe_id(identifier: dict[str, Any]) -> str:
    parts = []
    if identifier.get("imageDigest"):
        parts.append(f"imageDigest={identifier['imageDigest']}")
    if identifier.get("imageTag"):
        parts.append(f"imageTag={identifier['imageTag']}")
    return "{" + ", ".join(parts) + "}"


def _page(
    items: list[Any], params: dict[str, Any], scope: str, default: int, upper: int
) -> tuple[list[Any], str | None]:
    """A page of a listing in its stable order; the token carries the offset of the next item."""
    size = page_size(params.get("maxResults"), default, upper)
    start = 0
    if params.get("nextToken"):
        key = decode_token(params["nextToken"], scope)
        if len(key) != 1 or not isinstance(key[0], int) or key[0] < 0:
            raise invalid_parameter(
                "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid nextToken'"
            )
        start = key[0]
    page = items[start : start + size]
    token = encode_token(scope, [start + size]) if start + size < len(items) else None
    return page, token
