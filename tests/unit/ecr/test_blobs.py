"""The registry's blob store: nothing is visible before its digest is verified, uploads resume and
race safely, and garbage collection keeps what is referenced, recent or being pushed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import tempfile
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsbox.ecr.blobs import (
    BUFFER_BYTES,
    BlobStore,
    BlobUnknown,
    DigestInvalid,
    UploadRangeInvalid,
    UploadUnknown,
)

MIB = 1024 * 1024


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(0)  # a request body yields to the loop between chunks
        yield chunk


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def read_all(store: BlobStore, digest: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(digest, start, end)])


def blob_files(root: Path) -> list[Path]:
    return sorted(path for path in (root / "blobs").rglob("*") if path.is_file())


def upload_files(root: Path) -> list[Path]:
    return sorted((root / "uploads").iterdir())


def layer(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# -- uploads ---------------------------------------------------------------------------------------


def test_a_monolithic_upload_becomes_a_blob_under_its_digest(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(3 * MIB + 17)

    async def scenario() -> None:
        upload = await store.new_upload()
        assert await store.upload_size(upload) == 0
        assert await store.commit(upload, digest_of(data), body(*pieces(data, 64 * 1024))) == len(data)
        assert await store.stat(digest_of(data)) == len(data)
        assert await read_all(store, digest_of(data)) == data
        with pytest.raises(UploadUnknown):
            await store.upload_size(upload)  # the upload is gone once committed

    run(scenario())
    hex_digest = hashlib.sha256(data).hexdigest()
    assert blob_files(tmp_path) == [tmp_path / "blobs" / "sha256" / hex_digest[:2] / hex_digest]
    assert upload_files(tmp_path) == []
    assert store.disk_usage() == len(data)


def test_a_chunked_upload_reports_its_size_after_each_chunk(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(2 * MIB + 5)
    first, second, third = data[:700_000], data[700_000 : 2 * MIB], data[2 * MIB :]

    async def scenario() -> None:
        upload = await store.new_upload()
        assert await store.append(upload, body(*pieces(first, 10_000)), start=0) == len(first)
        assert await store.upload_size(upload) == len(first)
        assert await store.append(upload, body(second), start=len(first)) == 2 * MIB
        assert await store.append(upload, body(third)) == len(data)  # no Content-Range: at the end
        assert await store.commit(upload, digest_of(data)) == len(data)
        assert await read_all(store, digest_of(data)) == data

    run(scenario())


def test_a_wrong_digest_leaves_nothing_visible_and_discards_the_upload(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(MIB + 1)
    claimed = digest_of(b"something else")

    async def scenario() -> None:
        upload = await store.new_upload()
        await store.append(upload, body(data))
        with pytest.raises(DigestInvalid) as refused:
            await store.commit(upload, claimed)
        assert refused.value.code == "DIGEST_INVALID"
        assert await store.stat(claimed) is None
        assert await store.stat(digest_of(data)) is None
        with pytest.raises(UploadUnknown):
            await store.upload_size(upload)

    run(scenario())
    assert blob_files(tmp_path) == []
    assert upload_files(tmp_path) == []


def test_a_malformed_digest_at_commit_keeps_the_upload(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def scenario() -> None:
        upload = await store.new_upload()
        await store.append(upload, body(b"abc"))
        with pytest.raises(DigestInvalid):
            await store.commit(upload, "sha256:ABC")
        assert await store.commit(upload, digest_of(b"abc")) == 3

    run(scenario())


def test_a_chunk_that_does_not_start_at_the_end_is_refused_with_the_current_size(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    consumed: list[bytes] = []

    async def spy() -> AsyncIterator[bytes]:
        consumed.append(b"x")
        yield b"x"

    async def scenario() -> None:
        upload = await store.new_upload()
        await store.append(upload, body(b"abc"), start=0)
        for start in (0, 2, 5):
            with pytest.raises(UploadRangeInvalid) as refused:
                await store.append(upload, spy(), start=start)
            assert refused.value.size == 3
            assert refused.value.code == "RANGE_INVALID"
        assert consumed == []
        assert await store.upload_size(upload) == 3

    run(scenario())


def test_an_interrupted_chunk_keeps_what_was_written_and_the_upload_resumes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(5 * MIB)

    async def dropped_connection() -> AsyncIterator[bytes]:
        for chunk in pieces(data[: 3 * MIB + 100], 64 * 1024):
            yield chunk
        raise ConnectionResetError("client went away")

    async def scenario() -> None:
        upload = await store.new_upload()
        with pytest.raises(ConnectionResetError):
            await store.append(upload, dropped_connection())
        size = await store.upload_size(upload)
        assert 0 < size <= 3 * MIB + 100
        await store.append(upload, body(*pieces(data[size:], 64 * 1024)), start=size)
        assert await store.commit(upload, digest_of(data)) == len(data)
        assert await read_all(store, digest_of(data)) == data

    run(scenario())


def test_a_cancelled_append_releases_the_upload_in_a_consistent_state(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(4 * MIB)

    async def scenario() -> None:
        upload = await store.new_upload()
        stalled = asyncio.Event()

        async def stalls() -> AsyncIterator[bytes]:
            for chunk in pieces(data[: 2 * MIB + 1], 64 * 1024):
                await asyncio.sleep(0)
                yield chunk
            stalled.set()
            await asyncio.Event().wait()
            yield b""  # pragma: no cover

        task = asyncio.create_task(store.append(upload, stalls()))
        await stalled.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        size = await store.upload_size(upload)
        await store.append(upload, body(data[size:]), start=size)
        assert await store.commit(upload, digest_of(data)) == len(data)

    run(scenario())


def test_concurrent_pushes_of_the_same_layer_all_succeed_and_leave_one_intact_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(3 * MIB + 3)

    async def push(chunk_size: int) -> int:
        upload = await store.new_upload()
        await store.append(upload, body(*pieces(data, chunk_size)))
        return await store.commit(upload, digest_of(data))

    async def scenario() -> list[int]:
        return await asyncio.gather(*(push(size) for size in (4096, 65536, 1 << 20, 3 << 20, 999_999)))

    assert run(scenario()) == [len(data)] * 5
    assert len(blob_files(tmp_path)) == 1
    assert blob_files(tmp_path)[0].read_bytes() == data
    assert upload_files(tmp_path) == []


def test_an_upload_half_written_before_a_restart_commits_by_rehashing(tmp_path: Path) -> None:
    data = layer(3 * MIB)
    half = len(data) // 2

    async def before_restart() -> str:
        store = BlobStore(tmp_path)
        upload = await store.new_upload()
        await store.append(upload, body(*pieces(data[:half], 64 * 1024)))
        return upload

    upload = run(before_restart())

    async def after_restart() -> None:
        store = BlobStore(tmp_path)  # no in-memory hash of the first half
        assert await store.upload_size(upload) == half
        await store.append(upload, body(data[half:]), start=half)
        assert await store.commit(upload, digest_of(data)) == len(data)
        assert await read_all(store, digest_of(data)) == data

    run(after_restart())


def test_a_hash_out_of_step_with_the_file_is_not_trusted(tmp_path: Path) -> None:
    data = layer(2 * MIB + 9)

    async def scenario() -> None:
        first = BlobStore(tmp_path)
        second = BlobStore(tmp_path)  # another process appending to the same upload
        upload = await first.new_upload()
        await first.append(upload, body(data[:MIB]))
        await second.append(upload, body(data[MIB:]), start=MIB)
        assert await first.commit(upload, digest_of(data)) == len(data)

    run(scenario())


def test_put_stores_a_small_blob_and_is_idempotent(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    config = b'{"architecture":"amd64","os":"linux"}'

    async def scenario() -> None:
        assert await store.put(config) == digest_of(config)
        assert await store.put(config) == digest_of(config)
        assert await read_all(store, digest_of(config)) == config

    run(scenario())
    assert len(blob_files(tmp_path)) == 1
    assert upload_files(tmp_path) == []


def test_a_cancelled_upload_is_gone(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def scenario() -> None:
        upload = await store.new_upload()
        await store.append(upload, body(b"partial"))
        await store.cancel(upload)
        for operation in (
            store.upload_size(upload),
            store.append(upload, body(b"more")),
            store.commit(upload, digest_of(b"partial")),
            store.cancel(upload),
        ):
            with pytest.raises(UploadUnknown) as refused:
                await operation
            assert refused.value.code == "BLOB_UPLOAD_UNKNOWN"

    run(scenario())
    assert upload_files(tmp_path) == []
    assert blob_files(tmp_path) == []


# -- names -----------------------------------------------------------------------------------------

BAD_UPLOAD_IDS = [
    "../../etc/passwd",
    "..",
    ".",
    "",
    "a/b",
    "/tmp/x",
    "0" * 31,
    "0" * 33,
    "A" * 32,
    "0" * 32 + "\n",
    "../blobs/sha256",
]
BAD_DIGESTS = [
    "sha256:" + "0" * 63,
    "sha256:" + "0" * 65,
    "sha256:" + "A" * 64,
    "sha256:" + "0" * 64 + "\n",
    "sha256:../../../../etc/passwd",
    "sha256:" + "../" * 21 + "a",
    "sha512:" + "0" * 128,
    "md5:" + "0" * 32,
    "0" * 64,
    "",
]


@pytest.mark.parametrize("upload_id", BAD_UPLOAD_IDS)
def test_an_upload_id_that_is_not_a_uuid_hex_is_unknown(tmp_path: Path, upload_id: str) -> None:
    store = BlobStore(tmp_path / "store")
    (tmp_path / "passwd").write_bytes(b"secret")

    async def scenario() -> None:
        for operation in (
            store.upload_size(upload_id),
            store.append(upload_id, body(b"x")),
            store.commit(upload_id, digest_of(b"x")),
            store.cancel(upload_id),
        ):
            with pytest.raises(UploadUnknown):
                await operation

    run(scenario())
    assert (tmp_path / "passwd").read_bytes() == b"secret"


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_a_digest_that_is_not_sha256_hex_is_invalid(tmp_path: Path, digest: str) -> None:
    store = BlobStore(tmp_path)

    async def scenario() -> None:
        with pytest.raises(DigestInvalid):
            store.blob_path(digest)
        with pytest.raises(DigestInvalid):
            await store.stat(digest)
        with pytest.raises(DigestInvalid):
            await store.remove(digest)
        with pytest.raises(DigestInvalid):
            store.read(digest)
        upload = await store.new_upload()
        with pytest.raises(DigestInvalid):
            await store.commit(upload, digest)

    run(scenario())


# -- reads -----------------------------------------------------------------------------------------


def test_ranged_reads_return_exactly_the_bytes_asked_for(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(2 * MIB + 500)
    digest = digest_of(data)
    ranges = [
        (0, None),
        (10, 20),
        (MIB - 5, 2 * MIB + 7),
        (2 * MIB, None),
        (0, len(data) + 1000),  # an end past the blob stops at the blob's end
        (len(data), None),
        (7, 7),
    ]

    async def scenario() -> None:
        await store.put(data)
        for start, end in ranges:
            assert await read_all(store, digest, start, end) == data[start:end]
        sizes = [len(chunk) async for chunk in store.read(digest)]
        assert max(sizes) <= BUFFER_BYTES and sum(sizes) == len(data)
        with pytest.raises(ValueError):
            store.read(digest, 10, 5)

    run(scenario())


def test_reading_an_absent_blob_is_blob_unknown(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def scenario() -> None:
        with pytest.raises(BlobUnknown) as refused:
            await read_all(store, digest_of(b"nothing"))
        assert refused.value.code == "BLOB_UNKNOWN"

    run(scenario())


def test_a_reader_keeps_reading_a_blob_removed_under_it(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(3 * MIB)
    digest = digest_of(data)

    async def scenario() -> None:
        await store.put(data)
        reader = store.read(digest)
        first = await anext(reader)
        assert await store.remove(digest) is True
        rest = b"".join([chunk async for chunk in reader])
        assert first + rest == data
        assert await store.remove(digest) is False
        assert await store.stat(digest) is None

    run(scenario())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc")
def test_a_download_abandoned_part_way_closes_its_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = layer(4 * MIB)

    async def scenario() -> None:
        await store.put(data)
        open_before = len(os.listdir("/proc/self/fd"))
        for _ in range(5):
            reader = store.read(digest_of(data), 0, None)
            await anext(reader)
            await reader.aclose()  # the client went away; a read-ahead may still be running
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(os.listdir("/proc/self/fd")) <= open_before:
                break
        assert len(os.listdir("/proc/self/fd")) <= open_before

    run(scenario())


# -- cleaning up -----------------------------------------------------------------------------------


def test_sweep_deletes_only_uploads_idle_since_the_cutoff(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def scenario() -> None:
        stale, fresh = await store.new_upload(), await store.new_upload()
        await store.append(stale, body(b"old"))
        os.utime(tmp_path / "uploads" / stale, (1000.0, 1000.0))
        fresh_mtime = (tmp_path / "uploads" / fresh).stat().st_mtime
        assert await store.sweep_uploads(fresh_mtime - 3600) == 1
        with pytest.raises(UploadUnknown):
            await store.upload_size(stale)
        assert await store.upload_size(fresh) == 0
        assert await store.sweep_uploads(fresh_mtime - 3600) == 0

    run(scenario())


def test_sweep_leaves_an_upload_that_is_being_written(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"slow client"

    async def scenario() -> None:
        upload = await store.new_upload()
        os.utime(tmp_path / "uploads" / upload, (1000.0, 1000.0))
        started, release = asyncio.Event(), asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            started.set()
            await release.wait()
            yield data

        appending = asyncio.create_task(store.append(upload, slow()))
        await started.wait()
        assert await store.sweep_uploads(2000.0) == 0
        release.set()
        assert await appending == len(data)
        assert await store.commit(upload, digest_of(data)) == len(data)

    run(scenario())


def age(store: BlobStore, digest: str, mtime: float = 1000.0) -> None:
    os.utime(store.blob_path(digest), (mtime, mtime))


def test_collect_removes_old_unreferenced_blobs_only(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    kept_by_manifest, garbage, just_pushed = b"referenced layer", b"orphan layer" * 100, b"new layer"
    asked: list[int] = []

    async def referenced() -> set[str]:
        asked.append(len(blob_files(tmp_path)))
        return {digest_of(kept_by_manifest)}

    async def scenario() -> tuple[int, int]:
        for data in (kept_by_manifest, garbage, just_pushed):
            await store.put(data)
        age(store, digest_of(kept_by_manifest))
        age(store, digest_of(garbage))
        now = store.blob_path(digest_of(just_pushed)).stat().st_mtime
        return await store.collect(referenced, grace_s=3600, now_wall=now)

    assert run(scenario()) == (1, len(garbage))
    assert asked == [3]  # asked once, after listing and before removing anything
    survivors = {path.name for path in blob_files(tmp_path)}
    assert survivors == {hashlib.sha256(d).hexdigest() for d in (kept_by_manifest, just_pushed)}


def test_collect_keeps_a_blob_referenced_after_the_listing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"layer of a manifest stored during the collection"

    async def referenced() -> set[str]:
        return {digest_of(data)}  # the manifest arrived between the listing and this call

    async def scenario() -> tuple[int, int]:
        await store.put(data)
        age(store, digest_of(data))
        return await store.collect(referenced, grace_s=60, now_wall=1_000_000.0)

    assert run(scenario()) == (0, 0)
    assert len(blob_files(tmp_path)) == 1


def test_a_blob_pushed_again_or_found_by_a_push_gets_a_new_grace_period(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    pushed_again, found_by_head, forgotten = b"pushed again", b"found by HEAD", b"forgotten"

    async def nothing() -> set[str]:
        return set()

    async def scenario() -> tuple[int, int]:
        for data in (pushed_again, found_by_head, forgotten):
            await store.put(data)
            age(store, digest_of(data))
        upload = await store.new_upload()
        await store.commit(upload, digest_of(pushed_again), body(pushed_again))
        assert await store.stat(digest_of(found_by_head), touch=True) == len(found_by_head)
        now = store.blob_path(digest_of(pushed_again)).stat().st_mtime
        return await store.collect(nothing, grace_s=3600, now_wall=now)

    assert run(scenario()) == (1, len(forgotten))
    assert {path.name for path in blob_files(tmp_path)} == {
        hashlib.sha256(pushed_again).hexdigest(),
        hashlib.sha256(found_by_head).hexdigest(),
    }


def test_a_layer_pushed_while_the_collector_runs_is_kept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"old layer, listed as garbage, then pushed again before the manifest"

    async def referenced() -> set[str]:
        upload = await store.new_upload()
        await store.commit(upload, digest_of(data), body(data))
        return set()  # the push's manifest is not stored yet

    async def scenario() -> tuple[int, int]:
        await store.put(data)
        age(store, digest_of(data))
        now = (tmp_path / "blobs").stat().st_mtime
        return await store.collect(referenced, grace_s=3600, now_wall=now)

    assert run(scenario()) == (0, 0)
    assert [path.read_bytes() for path in blob_files(tmp_path)] == [data]


def test_a_blob_committed_from_a_long_idle_upload_starts_its_grace_period(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"uploaded long ago, committed now"

    async def nothing() -> set[str]:
        return set()

    async def scenario() -> tuple[int, int]:
        upload = await store.new_upload()
        await store.append(upload, body(data))
        os.utime(tmp_path / "uploads" / upload, (1000.0, 1000.0))
        await store.commit(upload, digest_of(data))
        now = (tmp_path / "blobs").stat().st_mtime
        return await store.collect(nothing, grace_s=3600, now_wall=now)

    assert run(scenario()) == (0, 0)
    assert len(blob_files(tmp_path)) == 1


def test_collect_never_touches_uploads(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def nothing() -> set[str]:
        return set()

    async def scenario() -> None:
        upload = await store.new_upload()
        await store.append(upload, body(b"in flight"))
        os.utime(tmp_path / "uploads" / upload, (1000.0, 1000.0))
        assert await store.collect(nothing, grace_s=0, now_wall=1_000_000.0) == (0, 0)
        assert await store.commit(upload, digest_of(b"in flight")) == len(b"in flight")

    run(scenario())


# -- property --------------------------------------------------------------------------------------


@st.composite
def chunked_layers(draw: st.DrawFn) -> tuple[bytes, list[list[bytes]], list[bytes]]:
    """Random data cut into chunks, the chunks grouped into PATCH requests and a final PUT tail."""
    if draw(st.booleans()):
        data = draw(st.binary(max_size=5000))
    else:
        data = layer(draw(st.integers(0, 3 * MIB)), seed=draw(st.integers(0, 2**32)))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    groups = sorted(draw(st.lists(st.integers(0, len(chunks)), max_size=4)))
    requests = [chunks[a:b] for a, b in zip([0, *groups], [*groups, len(chunks)], strict=True)]
    return data, requests[:-1], requests[-1]


@settings(max_examples=40, deadline=None)
@given(chunked_layers())
def test_any_chunking_of_the_same_bytes_gives_the_same_blob(
    layer_cut: tuple[bytes, list[list[bytes]], list[bytes]],
) -> None:
    data, patches, tail = layer_cut

    async def scenario(store: BlobStore) -> None:
        upload = await store.new_upload()
        offset = 0
        for patch in patches:
            offset = await store.append(upload, body(*patch), start=offset)
        assert await store.commit(upload, digest_of(data), body(*tail)) == len(data)
        assert await read_all(store, digest_of(data)) == data

    with tempfile.TemporaryDirectory() as root:
        run(scenario(BlobStore(Path(root))))
        assert [path.read_bytes() for path in blob_files(Path(root))] == [data]
