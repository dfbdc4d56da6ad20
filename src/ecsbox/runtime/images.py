"""Build images on the engine from an in-memory build context: no registry, no files on disk.

Used for the pause image, by tests (busybox in ``FROM scratch``) and wherever ecsbox needs an image
that must exist without a pull.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Mapping
from pathlib import Path

import docker
import docker.errors

from ecsbox.runtime.docker import DockerRuntime
from ecsbox.runtime.port import RuntimeFailure

# A file's content, or its content and its mode (0o644 when not given).
FileContent = bytes | tuple[bytes, int]


def build_context(
    files: Mapping[str, FileContent], dockerfile: str, symlinks: Mapping[str, str] | None = None
) -> bytes:
    """A tar build context: ``Dockerfile`` plus ``files`` (path → content or (content, mode)) and
    ``symlinks`` (path → target). Deterministic: same input, same bytes (mtime 0, sorted)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        entries: dict[str, FileContent] = {"Dockerfile": dockerfile.encode(), **files}
        for path in sorted(entries):
            content = entries[path]
            data, mode = content if isinstance(content, tuple) else (content, 0o644)
            member = tarfile.TarInfo(path.lstrip("/"))
            member.size = len(data)
            member.mode = mode
            archive.addfile(member, io.BytesIO(data))
        for path, target in sorted((symlinks or {}).items()):
            link = tarfile.TarInfo(path.lstrip("/"))
            link.type = tarfile.SYMTYPE
            link.linkname = target
            link.mode = 0o777
            archive.addfile(link)
    return buffer.getvalue()


def files_from_directory(directory: str | os.PathLike[str]) -> dict[str, FileContent]:
    """Every regular file under ``directory`` (relative path → (content, mode))."""
    root = Path(directory)
    files: dict[str, FileContent] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[path.relative_to(root).as_posix()] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return files


def build_image_with_client(
    client: docker.APIClient,
    tag: str,
    files: Mapping[str, FileContent],
    dockerfile: str,
    *,
    symlinks: Mapping[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """Build and tag an image (blocking); returns its id. Raises :class:`RuntimeFailure` with the
    builder's message when a step fails."""
    context = io.BytesIO(build_context(files, dockerfile, symlinks))
    try:
        output = client.build(
            fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, decode=True, labels=labels
        )
        for message in output:
            if isinstance(message, dict) and message.get("error"):
                raise RuntimeFailure(f"image build {tag} failed: {str(message['error']).strip()}")
    except docker.errors.APIError as error:
        raise RuntimeFailure(f"image build {tag} failed: {error.explanation or error}") from error
    try:
        return str(client.inspect_image(tag)["Id"])
    except docker.errors.NotFound as error:
        raise RuntimeFailure(f"image build {tag} finished but the image is not there") from error


async def build_image(
    runtime: DockerRuntime,
    tag: str,
    files: Mapping[str, FileContent],
    dockerfile: str,
    *,
    symlinks: Mapping[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """:func:`build_image_with_client` on the runtime's thread pool."""
    return await runtime.run(
        lambda client: build_image_with_client(
            client, tag, files, dockerfile, symlinks=symlinks, labels=labels
        ),
        "wait",
    )


async def image_exists(runtime: DockerRuntime, image: str) -> bool:
    def blocking(client: docker.APIClient) -> bool:
        try:
            client.inspect_image(image)
        except docker.errors.NotFound:
            return False
        return True

    return await runtime.run(blocking)
