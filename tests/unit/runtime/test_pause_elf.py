"""The pause program's bytes: a valid static ELF64 for each architecture, and on this machine's
own architecture a process that really waits without using the CPU."""

from __future__ import annotations

import os
import platform
import struct
import subprocess
import time
from pathlib import Path

import pytest

from ecsbox.runtime.pause import PAUSE_REPOSITORY, pause_elf, pause_image_tag
from ecsbox.runtime.port import RuntimeFailure


@pytest.mark.parametrize(
    ("architecture", "machine", "size", "code"),
    [
        ("x86_64", 62, 129, "b8220000000f05ebf7"),
        ("amd64", 62, 129, "b8220000000f05ebf7"),
        (
            "aarch64",
            183,
            148,
            "000080d2010080d2020080d2030080d2280980d2010000d4faffff17",
        ),
    ],
)
def test_elf_layout(architecture: str, machine: int, size: int, code: str) -> None:
    elf = pause_elf(architecture)
    assert len(elf) == size
    assert elf[:8] == b"\x7fELF\x02\x01\x01\x00"  # ELF64, little-endian, version 1, System V
    e_type, e_machine, e_version, e_entry, e_phoff, e_shoff = struct.unpack_from("<HHIQQQ", elf, 16)
    assert (e_type, e_machine, e_version, e_phoff, e_shoff) == (2, machine, 1, 64, 0)
    ehsize, phentsize, phnum = struct.unpack_from("<HHH", elf, 52)
    assert (ehsize, phentsize, phnum) == (64, 56, 1)
    p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from("<IIQQQQQQ", elf, 64)
    assert (p_type, p_flags, p_offset, p_filesz, p_memsz) == (1, 5, 0, size, size)
    assert e_entry == p_vaddr + 120  # the code right after the two headers
    assert elf[120:].hex() == code


def test_unknown_architecture() -> None:
    with pytest.raises(RuntimeFailure, match="riscv64"):
        pause_elf("riscv64")


def test_tag_names_the_content() -> None:
    assert pause_image_tag("x86_64").startswith(PAUSE_REPOSITORY + ":")
    assert pause_image_tag("x86_64") == pause_image_tag("amd64") != pause_image_tag("aarch64")


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"), reason="Linux"
)
def test_runs_waits_and_uses_no_cpu(tmp_path: Path) -> None:
    program = tmp_path / "pause"
    program.write_bytes(pause_elf(platform.machine()))
    program.chmod(0o755)
    process = subprocess.Popen([str(program)])
    try:
        time.sleep(0.5)
        assert process.poll() is None  # still waiting
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        state, user_ticks, system_ticks = fields[0], int(fields[11]), int(fields[12])
        assert state == "S" and user_ticks + system_ticks <= 1  # asleep in the syscall
    finally:
        process.kill()  # not PID 1 here, so SIGKILL and SIGTERM both end it
        assert process.wait(timeout=5) == -9
    assert os.path.getsize(program) < 200
