"""The API server's process lifecycle under gunicorn: a worker dies with its master (a worker
orphaned by a killed master kept the port, so the next master could not bind it for seconds),
and gunicorn's control socket lives in the server's data dir instead of the one
``~/.gunicorn/gunicorn.ctl`` that every cluster on a machine would share. Effectful.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# prctl(2) option: the signal the kernel sends this process when its parent thread dies.
PR_SET_PDEATHSIG = 1
CONTROL_SOCKET = "gunicorn.ctl"


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` dies (Linux); if it already died
    between the fork and now, exit at once. SIGKILL, not SIGTERM: a graceful worker shutdown
    waits for open watches, holding the port the next master needs."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
    if os.getppid() != parent:
        os._exit(1)


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn's ``post_fork`` hook: runs in each new worker."""
    die_with_parent(worker.ppid)


def control_socket_options(directory: Path | None, known: set[str]) -> dict[str, Any]:
    """gunicorn settings for its control socket: in ``directory`` (the server's data dir), or
    none at all without one; nothing for a gunicorn too old to have the setting (``known``)."""
    if "control_socket" not in known:
        return {}
    if directory is None:
        return {"control_socket_disable": True}
    return {"control_socket": str(directory / CONTROL_SOCKET), "control_socket_mode": 0o600}
