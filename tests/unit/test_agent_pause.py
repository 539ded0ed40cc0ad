"""The generated pause binary: ELF structure, the build context, and that it really runs."""

from __future__ import annotations

import io
import os
import platform
import signal
import struct
import subprocess
import tarfile
import tempfile
import time

import pytest

from agent import pause


@pytest.mark.parametrize(
    ("machine", "e_machine"), [("x86_64", 62), ("aarch64", 183), ("arm64", 183)]
)
def test_elf_header(machine: str, e_machine: int) -> None:
    elf = pause.pause_elf(machine)
    assert elf[:4] == b"\x7fELF"
    assert elf[4] == 2 and elf[5] == 1  # 64-bit, little endian
    e_type, got_machine, _, entry, phoff = struct.unpack_from("<HHIQQ", elf, 16)
    assert (e_type, got_machine, phoff) == (2, e_machine, 64)
    p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = struct.unpack_from(
        "<IIQQQQQQ", elf, 64
    )
    assert (p_type, p_offset) == (1, 0)
    assert p_flags & 1  # executable
    assert p_filesz == p_memsz == len(elf)
    assert p_vaddr <= entry < p_vaddr + len(elf)
    assert len(elf) < 256


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="riscv64"):
        pause.pause_elf("riscv64")


def test_build_context_holds_dockerfile_and_executable() -> None:
    with tarfile.open(fileobj=io.BytesIO(pause.build_context("x86_64"))) as tar:
        names = tar.getnames()
        assert sorted(names) == ["Dockerfile", "pause"]
        assert tar.getmember("pause").mode & 0o111
        dockerfile = tar.extractfile("Dockerfile")
        assert dockerfile is not None
        text = dockerfile.read().decode()
    assert text.startswith("FROM scratch")
    assert 'ENTRYPOINT ["/pause"]' in text


@pytest.mark.skipif(
    pause.ARCHITECTURES.get(platform.machine()) is None, reason="no pause binary for this machine"
)
def test_binary_runs_and_keeps_sleeping() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pause")
        with open(path, "wb") as f:
            f.write(pause.pause_elf(platform.machine()))
        os.chmod(path, 0o755)
        proc = subprocess.Popen([path])
        try:
            time.sleep(0.3)
            assert proc.poll() is None, f"pause exited with {proc.returncode}"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=5)
        assert proc.returncode == -signal.SIGKILL
