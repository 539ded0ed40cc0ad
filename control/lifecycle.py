"""The API server's process lifecycle under gunicorn: a worker dies with its master (a worker
orphaned by a killed master kept the port, so the next master could not bind it for seconds),
the objects made before a process serves are out of the garbage collector's reach (``settle``),
and gunicorn's control socket lives in the server's data dir instead of the one
``~/.gunicorn/gunicorn.ctl`` that every cluster on a machine would share. Effectful.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The garbage collector's thresholds: Python's young collections (every 700 allocations, cheap,
# so cycles go soon), a full one only after 100 middle ones instead of 10. A worker under load
# ran a full collection every second or two (30-200 ms each at 500 nodes), each time some 25 %
# more objects had lived long: now some 10 times less often.
GC_THRESHOLDS = (700, 10, 100)
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


def settle() -> None:
    """Take every object made so far (the modules, the application) out of the garbage
    collector's reach (``gc.freeze``): a full collection scanned them all again, some 100,000 in
    each process, and a collection stops the whole process (a worker's every connection) while
    it runs: 230-290 ms at 1,000 nodes, 400,000 objects. Made before a fork (Python's advice),
    the workers' collections also leave the pages they share with the master alone. Objects
    frozen are still freed when their last reference goes; only a cycle among them would stay,
    and these live as long as their process.

    And full collections are made rarer (``GC_THRESHOLDS``)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn's ``pre_fork`` hook: runs in the master before each worker is forked."""
    settle()


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
