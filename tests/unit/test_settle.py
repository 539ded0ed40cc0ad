"""``lifecycle.settle``: what a process made before it serves is out of the garbage collector's
reach (gunicorn's master before each fork, the controller process before its loops start)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from control import lifecycle
assert gc.get_freeze_count() == 0
lifecycle.pre_fork(None, None)
frozen = gc.get_freeze_count()
assert frozen > 10000, frozen  # the modules imported and every object made so far
assert len(gc.get_objects(2)) < frozen / 10, "a full collection has little left to scan"
keep = [[i] for i in range(1000)]
assert gc.get_freeze_count() == frozen, "objects made afterwards are collected as before"
assert gc.get_threshold() == lifecycle.GC_THRESHOLDS
print("ok")
"""


def test_pre_fork_freezes_the_objects_made_so_far_and_not_later_ones() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
