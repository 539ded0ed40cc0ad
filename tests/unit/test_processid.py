"""The process id kept without a system call follows forks."""

from __future__ import annotations

import os

from common import processid


def test_the_id_is_the_process_s_and_a_forked_child_s_its_own() -> None:
    parent = os.getpid()
    assert processid.pid() == parent
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        ok = processid.pid() == os.getpid() != parent
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(child, 0)
