"""The in-memory build context."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from ecsbox.runtime.images import build_context, files_from_directory


def test_build_context_members() -> None:
    context = build_context(
        {"bin/tool": (b"\x7fELF", 0o755), "etc/conf": b"x=1"}, "FROM scratch\n", symlinks={"bin/t": "tool"}
    )
    with tarfile.open(fileobj=io.BytesIO(context)) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert set(members) == {"Dockerfile", "bin/tool", "etc/conf", "bin/t"}
        assert archive.extractfile("Dockerfile").read() == b"FROM scratch\n"  # type: ignore[union-attr]
        assert members["bin/tool"].mode == 0o755 and members["etc/conf"].mode == 0o644
        assert members["bin/t"].issym() and members["bin/t"].linkname == "tool"
        assert all(m.mtime == 0 for m in members.values())


def test_build_context_is_deterministic() -> None:
    files = {"b": b"2", "a": b"1"}
    assert build_context(files, "FROM scratch\n") == build_context(
        dict(reversed(files.items())), "FROM scratch\n"
    )


def test_files_from_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.sh").write_bytes(b"#!/bin/sh\n")
    (tmp_path / "sub" / "run.sh").chmod(0o750)
    (tmp_path / "data.txt").write_bytes(b"hello")
    (tmp_path / "link").symlink_to("data.txt")
    assert files_from_directory(tmp_path) == {
        "data.txt": (b"hello", 0o644),
        "sub/run.sh": (b"#!/bin/sh\n", 0o750),
    }
