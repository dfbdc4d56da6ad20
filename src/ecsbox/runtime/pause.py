"""The awsvpc pause image, built locally and never pulled.

A task in ``awsvpc`` mode gets its network namespace from a pause container that its containers
join (``container:<id>``). The image must always be there, so ecsbox builds it itself: a
``FROM scratch`` image whose only file is a static ELF of 129 (x86_64) or 148 (aarch64) bytes,
written here byte by byte, that waits forever in a system call:

- x86_64: ``loop: mov eax, 34 (pause); syscall; jmp loop``
- aarch64 has no ``pause``: ``loop: ppoll(NULL, 0, NULL, NULL); b loop`` (syscall 73), which
  blocks until a signal arrives, like ``pause``.

It uses no CPU. As PID 1 of its PID namespace with no signal handler, it ignores SIGTERM (the
kernel drops default-action signals sent to a namespace's init), so ``docker stop`` waits the
whole timeout: remove it with SIGKILL (``kill`` or ``remove``, which forces). The build context is
an in-memory tar; no compiler, no registry.
"""

from __future__ import annotations

import hashlib
import struct

import ecsbox
from ecsbox.runtime.docker import DockerRuntime
from ecsbox.runtime.images import build_image, image_exists
from ecsbox.runtime.port import RuntimeFailure

PAUSE_REPOSITORY = "ecsbox/pause"
PAUSE_PATH = "/pause"
PAUSE_DOCKERFILE = 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n'

_LOAD_ADDRESS = 0x400000  # page-aligned for 4 KiB and 64 KiB pages
_ELF_HEADER_SIZE = 64
_PROGRAM_HEADER_SIZE = 56

_EM_X86_64 = 62
_EM_AARCH64 = 183

# x86_64: b8 22 00 00 00  mov eax, 34 (SYS_pause) / 0f 05 syscall / eb f7 jmp -9 (back to mov)
_X86_64_CODE = bytes.fromhex("b8220000000f05ebf7")


def _a64(*words: int) -> bytes:
    return b"".join(struct.pack("<I", word) for word in words)


# aarch64: x0..x3 = 0 (fds NULL, nfds 0, timeout NULL = forever, sigmask NULL); x8 = 73 (ppoll)
_AARCH64_CODE = _a64(
    0xD2800000,  # movz x0, #0
    0xD2800001,  # movz x1, #0
    0xD2800002,  # movz x2, #0
    0xD2800003,  # movz x3, #0
    0xD2800928,  # movz x8, #73 (SYS_ppoll)
    0xD4000001,  # svc #0
    0x17FFFFFA,  # b -24 (back to the first movz)
)

_MACHINES: dict[str, tuple[int, bytes]] = {
    "x86_64": (_EM_X86_64, _X86_64_CODE),
    "amd64": (_EM_X86_64, _X86_64_CODE),
    "aarch64": (_EM_AARCH64, _AARCH64_CODE),
    "arm64": (_EM_AARCH64, _AARCH64_CODE),
}


def pause_elf(architecture: str) -> bytes:
    """A static ELF64 executable that only waits: one PT_LOAD segment mapping the whole file
    (headers and code) read+execute at 0x400000, entry right after the headers.

    ``len(pause_elf("x86_64")) == 64 + 56 + 9 == 129``.
    """
    try:
        machine, code = _MACHINES[architecture]
    except KeyError:
        raise RuntimeFailure(f"no pause program for architecture {architecture!r}") from None
    headers = _ELF_HEADER_SIZE + _PROGRAM_HEADER_SIZE
    size = headers + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, version 1, SysV
    elf_header = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # e_type: ET_EXEC
        machine,
        1,  # e_version
        _LOAD_ADDRESS + headers,  # e_entry
        _ELF_HEADER_SIZE,  # e_phoff
        0,  # e_shoff: no sections
        0,  # e_flags
        _ELF_HEADER_SIZE,
        _PROGRAM_HEADER_SIZE,
        1,  # e_phnum
        0,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    program_header = struct.pack(
        "<IIQQQQQQ",
        1,  # p_type: PT_LOAD
        5,  # p_flags: R + X
        0,  # p_offset
        _LOAD_ADDRESS,  # p_vaddr
        _LOAD_ADDRESS,  # p_paddr
        size,  # p_filesz
        size,  # p_memsz
        0x10000,  # p_align
    )
    return elf_header + program_header + code


def pause_image_tag(architecture: str) -> str:
    """``ecsbox/pause:<ecsbox version>-<12 hex of the content>``: a new program gets a new tag."""
    digest = hashlib.sha256(pause_elf(architecture) + PAUSE_DOCKERFILE.encode()).hexdigest()[:12]
    return f"{PAUSE_REPOSITORY}:{ecsbox.__version__}-{digest}"


async def ensure_pause_image(runtime: DockerRuntime) -> str:
    """The pause image's tag, built on the engine when it is not there yet."""
    info = await runtime.info()
    tag = pause_image_tag(info.architecture)
    if not await image_exists(runtime, tag):
        files = {"pause": (pause_elf(info.architecture), 0o755)}
        await build_image(runtime, tag, files, PAUSE_DOCKERFILE, labels={"ecsbox.pause": "1"})
    return tag
