"""Where the API server's worker processes keep their metric values: prometheus-client's
multiprocess mode, a private directory named by ``PROMETHEUS_MULTIPROC_DIR``, which must be set
before prometheus-client is first imported (``python -m control`` does it first thing). The
directory is emptied at start and removed when the server's own process exits. Shell."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare() -> str:
    """Make (or empty) the directory and name it in the environment the workers inherit."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):  # values of a previous run would be summed with ours
            old.unlink(missing_ok=True)
        return str(path)
    made = tempfile.mkdtemp(prefix="tinykube-metrics-")
    os.environ[ENV] = made
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # a forked worker that exits leaves it to the server
            shutil.rmtree(made, ignore_errors=True)

    atexit.register(remove)
    return made


def without(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process with metrics of its own (the controller process)."""
    return {k: v for k, v in env.items() if k != ENV}
