"""The registry's content-addressable blob store: layers and configs on disk, named by their sha256.

Layout under ``root``::

    blobs/sha256/<first 2 hex>/<64 hex>   final blobs, visible to readers
    uploads/<upload id>                   in-progress uploads (uuid4 hex)

A blob becomes visible only after its digest is verified, its data fsynced and the upload file
renamed into place (``os.replace``), so a crash never leaves a partial blob under a final name.
Hashing and file I/O run in an executor: incoming chunks are buffered to ~1 MiB and each buffer is
written and hashed in one executor call, overlapping with the loop receiving the next buffer.

Three things may race on one blob, and a striped thread lock per digest serialises the short
filesystem steps that decide them: a commit publishing (or re-pushing) the blob, ``remove``, and
the garbage collector deciding whether a blob is old enough to go. A commit of content that already
exists refreshes the blob's mtime, so the collector's grace period covers it again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ecsbox.ecr.model import DIGEST_RE

T = TypeVar("T")

BUFFER_BYTES = 1024 * 1024  # one executor call per MiB written, hashed or read
_UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")  # uuid4().hex; nothing else may name a file under uploads/
_BLOB_NAME_RE = re.compile(r"[0-9a-f]{64}")
_DIGEST_LOCK_STRIPES = 256


class BlobError(Exception):
    """A blob-store refusal; ``code`` is the OCI distribution error code the registry answers with."""

    code = "UNKNOWN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DigestInvalid(BlobError):
    code = "DIGEST_INVALID"


class BlobUnknown(BlobError):
    code = "BLOB_UNKNOWN"


class UploadUnknown(BlobError):
    code = "BLOB_UPLOAD_UNKNOWN"


class UploadRangeInvalid(BlobError):
    """A chunk that does not start where the upload ends; ``size`` is where it does end."""

    code = "RANGE_INVALID"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


@dataclass
class _Upload:
    """What this process knows about one upload: the sha256 of its first ``hashed_size`` bytes.

    ``hasher`` is None once the hash is out of step with the file (after a restart, or a failed
    write); the commit then re-hashes the file.
    """

    hasher: Any = field(default_factory=hashlib.sha256)  # hashlib's type is private
    hashed_size: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class BlobStore:
    def __init__(self, root: Path, executor: concurrent.futures.Executor | None = None) -> None:
        self.root = Path(root)
        self._blobs = self.root / "blobs" / "sha256"
        self._upload_dir = self.root / "uploads"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._upload_dir.mkdir(parents=True, exist_ok=True)
        self._executor = executor  # None: the running loop's default executor
        self._uploads: dict[str, _Upload] = {}
        # Uploads an operation is working on; sweep_uploads leaves them alone. Guarded by a thread
        # lock because the sweep decides in an executor thread.
        self._busy: Counter[str] = Counter()
        self._busy_guard = threading.Lock()
        self._digest_locks = [threading.Lock() for _ in range(_DIGEST_LOCK_STRIPES)]

    # -- names ---------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """``blob_path("sha256:ab12…")`` → ``root/blobs/sha256/ab/ab12…``; DigestInvalid for any
        digest that is not ``sha256:`` and 64 lowercase hex."""
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            raise DigestInvalid(f"invalid or unsupported digest {digest!r}")
        hex_digest = digest[len("sha256:") :]
        return self._blobs / hex_digest[:2] / hex_digest

    def _upload_path(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not _UPLOAD_ID_RE.fullmatch(upload_id):
            raise UploadUnknown(f"unknown upload {upload_id!r}")
        return self._upload_dir / upload_id

    def _digest_lock(self, digest: str) -> threading.Lock:
        return self._digest_locks[int(digest[7:9], 16)]

    # -- blobs ---------------------------------------------------------------------------------

    async def stat(self, digest: str, *, touch: bool = False) -> int | None:
        """The blob's size, or None when absent.

        ``touch=True`` also refreshes the blob's mtime, so :meth:`collect` keeps it for another
        grace period: a push that finds a layer already present (HEAD) is about to reference it.
        """
        path = self.blob_path(digest)
        lock = self._digest_lock(digest)
        return await self._run(_stat_blob, path, lock if touch else None)

    async def put(self, data: bytes) -> str:
        """Store a small blob (a config, a manifest's blob copy) in one go; returns its digest."""
        upload_id = uuid.uuid4().hex
        path = self._upload_dir / upload_id
        with self._working_on(upload_id):
            try:
                digest = await self._run(_write_new_file, path, data)
                await self._publish(path, digest)
            except BaseException:
                await self._run(_unlink_quietly, path)
                raise
        return digest

    def read(self, digest: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The blob's bytes ``[start, end)`` (``end`` None or past the end: to the end), in ~1 MiB
        chunks read in the executor.

        DigestInvalid is raised here; BlobUnknown on the first ``__anext__``, which opens the file.
        From then on the reader holds the open file, so a concurrent :meth:`remove` or collection
        does not cut it short.
        """
        path = self.blob_path(digest)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid range [{start}, {end})")
        return self._read(path, digest, start, end)

    async def _read(self, path: Path, digest: str, start: int, end: int | None) -> AsyncIterator[bytes]:
        try:
            fd, size = await self._open(_open_read, path)
        except FileNotFoundError:
            raise BlobUnknown(f"blob {digest} not found") from None
        pending: asyncio.Future[bytes] | None = None
        try:
            stop = size if end is None else min(end, size)
            offset = start
            if offset < stop:
                pending = self._submit(os.pread, fd, min(BUFFER_BYTES, stop - offset), offset)
            while pending is not None:
                chunk = await asyncio.shield(pending)
                pending = None
                if not chunk:  # cannot shrink (content-addressed), but never loop on an empty read
                    break
                offset += len(chunk)
                if offset < stop:  # read ahead while the consumer sends this chunk
                    pending = self._submit(os.pread, fd, min(BUFFER_BYTES, stop - offset), offset)
                yield chunk
        finally:
            if pending is None:
                os.close(fd)
            else:  # a read still running in a thread: close the file once it is over
                pending.add_done_callback(functools.partial(_close_after, fd))

    async def remove(self, digest: str) -> bool:
        """Delete a blob; False when it was not there. Readers that already opened it keep reading."""
        path = self.blob_path(digest)
        return await self._run(_unlink_blob, path, self._digest_lock(digest))

    def disk_usage(self) -> int:
        """Bytes held by final blobs (walks the tree: call it in an executor for a large store)."""
        return sum(size for _, _, size in _list_blobs(self._blobs))

    # -- uploads -------------------------------------------------------------------------------

    async def new_upload(self) -> str:
        """A fresh upload id (uuid4 hex), with an empty data file."""
        upload_id = uuid.uuid4().hex
        await self._run(_create_empty, self._upload_dir / upload_id)
        self._uploads[upload_id] = _Upload()
        return upload_id

    async def upload_size(self, upload_id: str) -> int:
        path = self._upload_path(upload_id)
        try:
            return await self._run(_file_size, path)
        except FileNotFoundError:
            raise UploadUnknown(f"unknown upload {upload_id!r}") from None

    async def append(self, upload_id: str, chunks: AsyncIterator[bytes], start: int | None = None) -> int:
        """Write ``chunks`` at the end of the upload; returns its new size.

        ``start`` (from ``Content-Range``) must equal the current size, else UploadRangeInvalid
        carrying that size, and nothing of ``chunks`` is consumed. If ``chunks`` raises part way
        (a client that went away), what was received before stays written: the client may resume
        from :meth:`upload_size`.
        """
        path = self._upload_path(upload_id)
        with self._working_on(upload_id):
            state = self._uploads.setdefault(upload_id, _Upload(hasher=None))
            async with state.lock:
                return await self._append_locked(upload_id, path, state, chunks, start)

    async def _append_locked(
        self, upload_id: str, path: Path, state: _Upload, chunks: AsyncIterator[bytes], start: int | None
    ) -> int:
        try:
            fd, size = await self._open(_open_append, path)
        except FileNotFoundError:
            self._forget(upload_id, state)
            raise UploadUnknown(f"unknown upload {upload_id!r}") from None
        pending: asyncio.Future[int] | None = None
        try:
            if start is not None and start != size:
                raise UploadRangeInvalid(f"chunk starts at {start}, upload is {size} bytes", size)
            if state.hasher is not None and state.hashed_size != size:
                state.hasher = None  # out of step: the commit re-hashes the file
            buffer: list[bytes] = []
            buffered = 0
            async for chunk in chunks:
                if not chunk:
                    continue
                buffer.append(chunk)
                buffered += len(chunk)
                if buffered >= BUFFER_BYTES:
                    if pending is not None:
                        size = await asyncio.shield(pending)
                    # Written and hashed in a thread while the loop receives the next buffer.
                    pending = self._submit(_write_and_hash, fd, buffer, state)
                    buffer, buffered = [], 0
            if pending is not None:
                size = await asyncio.shield(pending)
                pending = None
            if buffer:
                size = await self._run(_write_and_hash, fd, buffer, state)
            return size
        finally:
            # Whatever went wrong (the client went away, the task was cancelled), the lock is held
            # and the file open until no thread writes to it or updates the hash any more.
            if pending is not None:
                await _settle(pending)
            os.close(fd)

    async def commit(self, upload_id: str, digest: str, tail: AsyncIterator[bytes] | None = None) -> int:
        """Append ``tail``, verify ``digest``, and make the blob visible; returns the blob size.

        A digest that does not parse raises DigestInvalid and leaves the upload as it was. A digest
        that does not match raises DigestInvalid and discards the upload. When the blob already
        exists (the same layer pushed twice, or concurrently), the upload is just dropped.
        """
        self.blob_path(digest)  # DigestInvalid before anything is consumed
        path = self._upload_path(upload_id)
        with self._working_on(upload_id):
            state = self._uploads.setdefault(upload_id, _Upload(hasher=None))
            async with state.lock:
                if tail is not None:
                    await self._append_locked(upload_id, path, state, tail, None)
                try:
                    actual, size = await self._run(_digest_of, path, state.hasher, state.hashed_size)
                except FileNotFoundError:
                    self._forget(upload_id, state)
                    raise UploadUnknown(f"unknown upload {upload_id!r}") from None
                if actual != digest:
                    self._forget(upload_id, state)
                    await self._run(_unlink_quietly, path)
                    raise DigestInvalid(f"upload has digest {actual}, not {digest}")
                try:
                    await self._publish(path, digest)
                except FileNotFoundError:  # cancelled meanwhile
                    raise UploadUnknown(f"unknown upload {upload_id!r}") from None
                finally:
                    self._forget(upload_id, state)
        return size

    async def cancel(self, upload_id: str) -> None:
        path = self._upload_path(upload_id)
        self._uploads.pop(upload_id, None)
        try:
            await self._run(os.unlink, path)
        except FileNotFoundError:
            raise UploadUnknown(f"unknown upload {upload_id!r}") from None

    async def sweep_uploads(self, older_than_wall: float) -> int:
        """Delete the uploads not written to since ``older_than_wall`` (epoch seconds, compared with
        the file's mtime) that no operation is working on; returns how many."""
        removed = await self._run(self._sweep, older_than_wall)
        for upload_id in removed:
            self._uploads.pop(upload_id, None)
        return len(removed)

    def _sweep(self, older_than_wall: float) -> list[str]:
        removed = []
        with os.scandir(self._upload_dir) as entries:
            names = [entry.name for entry in entries]
        for name in names:
            if not _UPLOAD_ID_RE.fullmatch(name):
                continue
            with self._busy_guard:
                if self._busy[name]:
                    continue
                try:
                    path = self._upload_dir / name
                    if path.stat().st_mtime < older_than_wall:
                        path.unlink()
                        removed.append(name)
                except FileNotFoundError:
                    continue
        return removed

    # -- garbage collection --------------------------------------------------------------------

    async def collect(
        self, referenced: Callable[[], Awaitable[set[str]]], grace_s: float, now_wall: float
    ) -> tuple[int, int]:
        """Remove every blob not in ``referenced()`` whose mtime is older than ``now_wall - grace_s``;
        returns (blobs removed, bytes freed).

        The candidates are listed before ``referenced()`` is asked, so a blob that becomes referenced
        in between is kept; a blob committed (or re-pushed) within the grace period is kept because
        its manifest may not be stored yet. Each removal re-checks the mtime under the digest lock.
        """
        cutoff = now_wall - grace_s
        listed = await self._run(_list_blobs, self._blobs)
        candidates = [(digest, mtime) for digest, mtime, _ in listed if mtime < cutoff]
        if not candidates:
            return 0, 0
        keep = await referenced()
        removed = freed = 0
        for digest, _ in candidates:
            if digest in keep:
                continue
            path = self.blob_path(digest)
            size = await self._run(_unlink_if_older, path, cutoff, self._digest_lock(digest))
            if size is not None:
                removed += 1
                freed += size
        return removed, freed

    # -- plumbing ------------------------------------------------------------------------------

    async def _publish(self, path: Path, digest: str) -> None:
        await self._run(_publish, path, self.blob_path(digest), self._digest_lock(digest))

    def _forget(self, upload_id: str, state: _Upload) -> None:
        if self._uploads.get(upload_id) is state:
            del self._uploads[upload_id]

    @contextlib.contextmanager
    def _working_on(self, upload_id: str) -> Iterator[None]:
        with self._busy_guard:
            self._busy[upload_id] += 1
        try:
            yield
        finally:
            with self._busy_guard:
                self._busy[upload_id] -= 1
                if not self._busy[upload_id]:
                    del self._busy[upload_id]

    def _submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the executor. A cancelled caller still waits until the thread is done, so
        no executor work outlives the lock or the file descriptor its caller holds."""
        job = self._submit(fn, *args)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            await _settle(job)
            raise

    async def _open(self, opener: Callable[[Path], tuple[int, int]], path: Path) -> tuple[int, int]:
        """Open a file in the executor; a cancelled caller does not leak the descriptor."""
        job = self._submit(opener, path)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            await _settle(job)
            if not job.exception():
                os.close(job.result()[0])
            raise


async def _settle(job: asyncio.Future[Any]) -> None:
    """Wait until an executor job is over, whatever it returns or raises (its outcome is someone
    else's to report); a cancellation received meanwhile is re-raised once it is."""
    cancelled = False
    while not job.done():
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:
            break
    if not job.cancelled():
        job.exception()  # retrieved: no "exception was never retrieved" warning
    if cancelled:
        raise asyncio.CancelledError


def _close_after(fd: int, job: asyncio.Future[Any]) -> None:
    if not job.cancelled():
        job.exception()
    os.close(fd)


# -- what runs in the executor -------------------------------------------------------------------


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_and_hash(fd: int, buffer: list[bytes], state: _Upload) -> int:
    """Append one buffer and, when the upload's hash is in step, hash it; returns the file size."""
    data = buffer[0] if len(buffer) == 1 else b"".join(buffer)
    _write_all(fd, data)
    if state.hasher is not None:
        # Hashed only once written: a failed write leaves hashed_size behind the file, and the
        # commit notices and re-hashes.
        state.hasher.update(data)  # releases the GIL for large buffers
        state.hashed_size += len(data)
    return os.fstat(fd).st_size


def _open_append(path: Path) -> tuple[int, int]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))  # no O_CREAT
    return fd, os.fstat(fd).st_size


def _open_read(path: Path) -> tuple[int, int]:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    return fd, os.fstat(fd).st_size


def _create_empty(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


def _file_size(path: Path) -> int:
    return path.stat().st_size


def _digest_of(path: Path, hasher: Any, hashed_size: int) -> tuple[str, int]:
    """The upload's digest and size: from the in-memory hash when it covers the whole file, else by
    re-reading the file."""
    size = path.stat().st_size
    if hasher is None or hashed_size != size:
        hasher = hashlib.sha256()
        size = 0
        with open(path, "rb", buffering=0) as upload:
            while chunk := upload.read(BUFFER_BYTES):
                hasher.update(chunk)
                size += len(chunk)
    return "sha256:" + hasher.hexdigest(), size


def _write_new_file(path: Path, data: bytes) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(upload: Path, blob: Path, lock: threading.Lock) -> None:
    """Make a verified upload the blob: fsync its data, rename it into place, fsync the directory.

    When the blob exists already, drop the upload and refresh the blob's mtime, so the collector
    (which re-checks mtimes under the same lock) keeps it for the push under way.
    """
    fd = os.open(upload, os.O_RDONLY)
    try:
        os.fsync(fd)  # the data is on disk before any name points at it
    finally:
        os.close(fd)
    shard = blob.parent
    created_shard = not shard.is_dir()
    if created_shard:
        shard.mkdir(parents=True, exist_ok=True)
    with lock:
        if blob.exists():
            os.utime(blob)
            os.unlink(upload)
            return
        os.replace(upload, blob)
        os.utime(blob)  # its mtime was the upload's last write, which may be long ago
    _fsync_dir(shard)
    if created_shard:
        _fsync_dir(shard.parent)


def _stat_blob(path: Path, lock: threading.Lock | None) -> int | None:
    try:
        if lock is None:
            return path.stat().st_size
        with lock:
            os.utime(path)
            return path.stat().st_size
    except FileNotFoundError:
        return None


def _unlink_blob(path: Path, lock: threading.Lock) -> bool:
    with lock:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
    return True


def _unlink_if_older(path: Path, cutoff: float, lock: threading.Lock) -> int | None:
    """Unlink the blob if its mtime is still before ``cutoff``; its size, or None when kept."""
    with lock:
        try:
            info = path.stat()
            if info.st_mtime >= cutoff:
                return None
            path.unlink()
        except FileNotFoundError:
            return None
    return info.st_size


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _list_blobs(blobs: Path) -> list[tuple[str, float, int]]:
    """Every final blob as (digest, mtime, size)."""
    found = []
    with os.scandir(blobs) as shards:
        shard_paths = [entry.path for entry in shards if entry.is_dir(follow_symlinks=False)]
    for shard in shard_paths:
        with os.scandir(shard) as entries:
            for entry in entries:
                if not _BLOB_NAME_RE.fullmatch(entry.name):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                found.append(("sha256:" + entry.name, info.st_mtime, info.st_size))
    return found
