"""One hollow-node process of ``bench/scale.py`` (``python -m bench._hollowchild CONFIG``): runs
``HollowNodes`` for its range of nodes at its niceness (or only their Lease renewals), starts
them on the line ``{"start": deadline, "parallel": n, "order": [indices] | null}`` of its
stdin, reports on stdout (``bench/_hollowwire.py``) twice a second, and stops its nodes and
exits when stdin ends (the benchmark stopped or died).

The nodes' threads are greenlets: the process is monkey-patched by gevent before anything else
is imported, so the agent's own code (its threads, sockets, locks and events) runs unchanged, in
one OS thread that switches only where a call would block. As OS threads (some 900 a process at
1,000 nodes) they cost the machine more than the control plane they measure: the kernel handed
the GIL around thousands of runnable threads (load average over 1,000). Effectful (greenlets,
HTTP)."""

from __future__ import annotations

if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()

    from common import greenevent

    greenevent.patch()  # gevent's Event can lose a wait (common/greenevent.py)

import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import gevent
import gevent.util
from gevent.fileobject import FileObject

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._hollow import HERE, HollowNodes
from bench._hollowwire import Outbox
from bench._observe import Answers
from control import lifecycle

REPORT_EVERY = 0.5


class Reporter:
    """Writes a report line every ``REPORT_EVERY`` seconds, and a last one on ``close``."""

    def __init__(self, answers: Answers, hollow: HollowNodes, out: TextIO) -> None:
        self.answers, self.hollow, self.out = answers, hollow, out
        self.outbox = Outbox()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        threading.Thread(target=self._run, name="hollow-report", daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(REPORT_EVERY):
            try:
                self.send()
            except OSError:  # the benchmark is gone: main sees its stdin end and cleans up
                return

    def send(self, extra: dict[str, Any] | None = None) -> None:
        with self.answers.lock:
            running = list(self.answers.running.items())
            by_kind = self.answers.by_kind.copy()
            messages = dict(self.answers.first_message)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self.lock:
            line = self.outbox.line(running, list(self.hollow.timer.ticks), by_kind, messages,
                                    usage.ru_utime + usage.ru_stime,
                                    threading.active_count(), self.hollow.pending())  # fmt: skip
            if extra:
                line = json.dumps({**json.loads(line), **extra})
            self.out.write(line + "\n")
            self.out.flush()

    def close(self) -> None:
        self.stop.set()
        self.send()


def start(hollow: HollowNodes, reporter: Reporter, command: dict[str, Any]) -> None:
    deadline = command["start"]
    try:
        hollow.start(float("inf") if deadline is None else deadline, command["parallel"],
                     command.get("order"))  # fmt: skip
    except Exception as e:  # reported to the benchmark, which stops the point
        reporter.send({"error": f"the nodes could not be started: {e!r}"})


def nice_session(nice: int) -> None:
    """Lower the CPU priority of this process's session, not only of its threads: where the
    kernel groups tasks by session (autogroup, on in Debian's kernels), it shares the CPU among
    sessions first, and a thread's niceness only weighs against the threads of its own session.
    The benchmark starts each hollow-node process in a session of its own, so this is theirs
    alone. Nothing to do where there is no autogroup, or where the process sits in a CPU cgroup
    of its own (the file then reads empty): the threads' niceness then holds."""
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(f"{nice}\n")


def dump_greenlets(root: str) -> None:
    """Write every greenlet's stack to ``greenlets.txt`` beside the nodes' directory: what a
    stuck node waits on (``kill -USR1`` the process; py-spy sees only the running greenlet)."""
    path = Path(root).parent / "greenlets.txt"
    path.write_text("\n".join(gevent.util.format_run_info()))
    print(f"hollow nodes: stacks in {path}", file=sys.stderr)


def main(config: dict[str, Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the benchmark's to handle
    gevent.signal_handler(signal.SIGUSR1, dump_greenlets, config["root"])
    if config["nice"]:
        os.nice(config["nice"])
        nice_session(config["nice"])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.basicConfig(level=logging.WARNING if config["verbose"] else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    answers = Answers()
    hollow = HollowNodes(
        config["server"], config["ca"], config["token"], config["count"], answers,
        workers=config["workers"], timer_threads=config["timer_threads"],
        senders=config["senders"], first=config["first"], root=config["root"],
        leases=config.get("leases", HERE))  # fmt: skip
    # A hundred nodes' objects in one process make full collections long (up to 1 s at 500
    # nodes), which a node's own agent, one process each, never has: as the control plane.
    lifecycle.settle()
    # Reports on a stdout of their own: anything else printed goes to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    reporter = Reporter(answers, hollow, out)
    # Read without blocking the other greenlets: gevent leaves ``sys.stdin`` unpatched.
    for line in FileObject(sys.stdin.fileno(), "r", close=False):
        command = json.loads(line)
        if "start" in command:
            threading.Thread(target=start, args=(hollow, reporter, command),
                             name="hollow-start", daemon=True).start()  # fmt: skip
    try:
        hollow.stop_all()
    finally:
        if os.getppid() != config["parent"]:  # the benchmark died: nobody else removes its dir
            _remove(Path(config["root"]).parent)
            os._exit(0)
    time.sleep(REPORT_EVERY)  # the last answers of calls under way
    with contextlib.suppress(OSError):  # the benchmark stopped reading
        reporter.close()
    # The nodes' pools would be joined at exit, each behind calls that may take their time.
    os._exit(0)


def _remove(path: Path) -> None:
    """``path`` removed, though a node's sync still under way may add a file as it goes."""
    for _ in range(5):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.2)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
