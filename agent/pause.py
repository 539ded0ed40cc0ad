"""The sandbox ("pause") image made from nothing: a tiny static ELF written byte by byte.

A pod sandbox only has to hold its namespaces and never exit, so tinykube needs no registry and
no host file for it: ``pause_elf`` emits a ~140-byte Linux executable that loops on ``pause(2)``
(x86_64) or ``ppoll(NULL, 0, NULL, NULL)`` (aarch64), and ``build_context`` wraps it in a
``FROM scratch`` Docker build context. Pure: no I/O.
"""

from __future__ import annotations

import io
import struct
import tarfile

# ELF machine numbers and the instructions of the loop, per architecture.
_EM_X86_64 = 62
_EM_AARCH64 = 183
_X86_64_CODE = bytes.fromhex(
    "b822000000"  # mov eax, 34 (SYS_pause)
    "0f05"  # syscall
    "ebf7"  # jmp back to mov
)
_AARCH64_CODE = b"".join(
    struct.pack("<I", insn)
    for insn in (
        0xD2800000,  # mov x0, #0   (fds = NULL)
        0xD2800001,  # mov x1, #0   (nfds = 0)
        0xD2800002,  # mov x2, #0   (timeout = NULL: wait forever)
        0xD2800003,  # mov x3, #0   (sigmask = NULL)
        0xD2800928,  # mov x8, #73  (SYS_ppoll)
        0xD4000001,  # svc #0
        0x17FFFFFA,  # b back to the first mov
    )
)
_LOAD_ADDRESS = 0x400000
_EHDR_SIZE = 64
_PHDR_SIZE = 56

ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def pause_elf(machine: str) -> bytes:
    """A static ELF64 executable that sleeps forever, for ``platform.machine()`` ``machine``."""
    arch = ARCHITECTURES.get(machine.lower())
    if arch == "x86_64":
        e_machine, code = _EM_X86_64, _X86_64_CODE
    elif arch == "aarch64":
        e_machine, code = _EM_AARCH64, _AARCH64_CODE
    else:
        raise ValueError(f"no pause binary for architecture {machine!r}")
    code_offset = _EHDR_SIZE + _PHDR_SIZE
    total = code_offset + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, SysV
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # e_type: ET_EXEC
        e_machine,
        1,  # e_version
        _LOAD_ADDRESS + code_offset,  # e_entry
        _EHDR_SIZE,  # e_phoff
        0,  # e_shoff: no sections
        0,  # e_flags
        _EHDR_SIZE,
        _PHDR_SIZE,
        1,  # e_phnum
        0,  # e_shentsize
        0,  # e_shnum
        0,  # e_shstrndx
    )
    phdr = struct.pack(
        "<IIQQQQQQ",
        1,  # p_type: PT_LOAD
        5,  # p_flags: R + X
        0,  # p_offset: map the whole file
        _LOAD_ADDRESS,  # p_vaddr
        _LOAD_ADDRESS,  # p_paddr
        total,  # p_filesz
        total,  # p_memsz
        0x1000,  # p_align
    )
    return ehdr + phdr + code


DOCKERFILE = b"""FROM scratch
COPY pause /pause
STOPSIGNAL SIGKILL
ENTRYPOINT ["/pause"]
"""


def build_context(machine: str) -> bytes:
    """A tar Docker build context holding the Dockerfile and the pause binary."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in (
            ("Dockerfile", DOCKERFILE, 0o644),
            ("pause", pause_elf(machine), 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
