"""The controller manager's process under ``tinykube control``: the scheduler and every controller,
fed by informers and writing through the Registry in-process (never over HTTP), so every write
passes the same admission and validation as a client's. Real threads, not greenlets: the loops
compute more than they wait, and a thread switch every few milliseconds keeps leader election
renewing while a loop computes.

``Supervisor`` is the gunicorn master's side: it starts the process with the master's own flags,
starts it again when it dies (with a back-off) and stops it with the master; the kernel kills it
if the master dies first. ``main`` is the process itself (``python -m control.controllerprocess``).
Effectful.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from common import errors
from common.resources import RESOURCES
from control import flags, lifecycle, metricsdir, metricsserver, redisauth, serverdata
from control.cache import WatchCache
from control.controllers import nodelifecycle
from control.informers import SharedInformers
from control.manager import Manager, default_loops
from control.registry.registry import Registry

log = logging.getLogger(__name__)

# The controllers' informers read the store, not these caches (``control/informers.py``): the
# caches here serve the Registry's own lookups (admission's, a status write's base). The
# resources whose objects are many (a pod per ten of a 1,000-node cluster's, four Events a pod),
# should such a lookup load them, keep no managedFields. Not the kinds whose status the
# controllers write most (Deployments, ReplicaSets, ...): a status write on a trimmed cache's
# object reads the store first.
TRIMMED = frozenset({"pods", "events"})
# No client watches these caches and no informer resumes from their rings: they need not hold
# the API's 75 s of changes.
RING_UPPER = 8192

# The master's pid, so the process dies with it; and the leader identity it keeps across
# restarts, so a restarted process leads again at once instead of waiting out its own lease.
PARENT_ENV = "TINYKUBE_CONTROLLERS_PARENT"
IDENTITY_ENV = "TINYKUBE_CONTROLLERS_IDENTITY"
# The static token file whose admins may read the process's /metrics.
TOKEN_FILE_ENV = "TINYKUBE_CONTROLLERS_TOKEN_FILE"
# Redis connections of the process: a few per loop for its writes; for its stream reads, one
# for each resource's informer and one for each resource's watch cache (the Registry's lookups),
# which each hold theirs while their XREAD blocks, and a few to spare. Fewer, and the readers
# queue for a connection: with 32, two dozen informers beside a dozen caches left some
# informers (the Jobs', the disruption budgets') without one for minutes.
CONNECTIONS = 32
STREAM_CONNECTIONS = 2 * len(RESOURCES) + 8
# Restart back-off after the process died: doubling from FIRST_DELAY up to MAX_DELAY, reset once
# it has run for STABLE_AFTER seconds.
FIRST_DELAY = 0.5
MAX_DELAY = 30.0
STABLE_AFTER = 60.0
# Seconds a stopping process gets to leave before it is killed.
STOP_TIMEOUT = 5.0


class Supervisor:
    """Keeps one controller process running beside the API workers (the master's side). The
    process is made with posix_spawn, not fork: gunicorn stops and restarts its control socket
    around every fork of the master, and the child needs nothing of the master's memory."""

    def __init__(self, argv: list[str], token_file: Path | None = None) -> None:
        self.argv = argv
        self.token_file = token_file  # whose admins may read the process's /metrics
        self.identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        self.pid: int | None = None
        self.started = 0.0
        self.delay = FIRST_DELAY
        self.next_start = 0.0

    def ensure(self) -> None:
        """Start the process if it is not running and its back-off has passed (called from the
        master's loop, about every second)."""
        if self.pid is not None:
            code = self._exit_code()
            if code is None:
                return
            ran = time.monotonic() - self.started
            if ran >= STABLE_AFTER:
                self.delay = FIRST_DELAY
            self.next_start = time.monotonic() + self.delay
            log.warning("controller process %d exited (%s) after %.1fs; starting it again in "
                        "%.1fs", self.pid, code, ran, self.delay)  # fmt: skip
            self.delay = min(self.delay * 2, MAX_DELAY)
            self.pid = None
        if time.monotonic() >= self.next_start:
            self.start()

    def start(self) -> None:
        env = {**metricsdir.without(dict(os.environ)), PARENT_ENV: str(os.getpid()),
               IDENTITY_ENV: self.identity}  # fmt: skip
        if self.token_file is not None:
            env[TOKEN_FILE_ENV] = str(self.token_file)
        command = [sys.executable, "-m", "control.controllerprocess", *self.argv]
        self.pid = os.posix_spawn(sys.executable, command, env)
        self.started = time.monotonic()
        log.info("controller process %d started", self.pid)

    def _exit_code(self) -> str | None:
        """How the process ended, or None while it runs."""
        assert self.pid is not None
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return "status reaped by the master"  # gunicorn reaps every child it sees end
        if pid == 0:
            return None
        return str(os.waitstatus_to_exitcode(status))

    def stop(self) -> None:
        if self.pid is None or self._exit_code() is not None:
            self.pid = None  # never signal a pid that may no longer be ours
            return
        pid, self.pid = self.pid, None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def main(argv: list[str] | None = None) -> int:
    parent = int(os.environ.get(PARENT_ENV) or 0)
    if parent:
        lifecycle.die_with_parent(parent)
    args = flags.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        store = redisauth.connect(args, CONNECTIONS, STREAM_CONNECTIONS)
    except (errors.ServiceUnavailableError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    # Until here SIGTERM ends the process at once: there was nothing to stop.
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # Its caches serve only its own controllers: no managedFields in the numerous ones (WatchCache).
    cache = WatchCache(store, trim=TRIMMED, ring_upper=RING_UPPER)
    registry = Registry(store, cache=cache,
                        service_accounts=serverdata.signs_tokens(args),
                        **flags.admission(args))  # fmt: skip
    informers = SharedInformers(registry)
    loops = default_loops(registry, nodelifecycle.config_from(args),
                          args.terminated_pod_gc_threshold, informers=informers,
                          max_endpoints_per_slice=args.max_endpoints_per_slice)  # fmt: skip
    loops += serverdata.loops(args, registry, informers)
    manager = Manager(registry, identity=os.environ.get(IDENTITY_ENV), loops=loops,
                      informers=informers)  # fmt: skip
    lifecycle.settle()
    manager.start()
    log.info("controller process: %d loops started", len(loops))
    token_file = os.environ.get(TOKEN_FILE_ENV)
    served = metricsserver.start(args.controller_metrics_address,
                                 Path(token_file) if token_file else None)  # fmt: skip
    while not stop.wait(1.0):
        pass
    if served is not None:
        served.stop()
    manager.shutdown()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
