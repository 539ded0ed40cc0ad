"""A worker set to die with its parent (``control.lifecycle.die_with_parent``, what every
gunicorn worker of the API server runs after the fork) is gone once its parent is SIGKILLed, and
the supervisor kills what is left of a dead child's process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.supervisor import Child

ROOT = Path(__file__).resolve().parents[2]
# The parent starts a child that calls die_with_parent, prints the child's pid, then sleeps.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import os, time; from control.lifecycle import die_with_parent; "
    "die_with_parent(os.getppid()); print('ready', flush=True); time.sleep(60)"],
    stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "ready"
print(child.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_worker_dies_with_its_killed_parent() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 5
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()


def test_supervisor_kills_what_is_left_of_a_dead_childs_group(tmp_path: Path) -> None:
    child = Child("orphaner", ["sh", "-c", "sleep 60 & echo $!; wait"], tmp_path / "out.log")
    child.start()
    assert child.proc is not None
    deadline = time.monotonic() + 5
    while not (tmp_path / "out.log").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    orphan = int((tmp_path / "out.log").read_text())
    os.kill(child.proc.pid, signal.SIGKILL)  # the leader dies; its child lives on
    child.proc.wait(10)
    assert alive(orphan)
    child.kill_group()
    deadline = time.monotonic() + 5
    while alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(orphan)
    child.kill_group()  # nothing left: no error
