"""The hollow nodes of ``bench/scale.py`` in processes of their own, as kubemark runs them on
machines of their own: K children (``bench/_hollowchild.py``), each with a range of the nodes,
and one more that renews every node's Lease, their reports added up live
(``bench/_hollowwire.py``). The K run at a low priority, to take only the CPU the control plane
leaves; the Lease renewals run at the normal one, as a node's would on a machine of its own: a
node whose pod work waits for the CPU still renews its Lease on time, and the control plane
sees no node go NotReady because the benchmark starved it. A child that dies is a failure the
benchmark reads (``failure``), never a hang; ``stop_all`` ends every child and removes their
directories. Effectful (processes, pipes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench._hollow import ELSEWHERE, ONLY, REGISTERING
from bench._hollowwire import Inbox, Tick, split

REPO = Path(__file__).resolve().parents[1]
# A child has this long to stop its nodes once its stdin is closed, then SIGTERM, then SIGKILL.
STOP_GRACE = 10.0
NODES_PER_PROC = 100


def default_procs(nodes: int) -> int:
    """One process per 100 nodes: a process runs its nodes' threads as greenlets in one OS
    thread (``bench/_hollowchild.py``), so it uses one core at most; 100 nodes with pods over 10
    namespaces are some 1,000 greenlets (each node's pod watch, Services watch and a
    ``kube-root-ca.crt`` ConfigMap watch per namespace, plus the shared pools), which one
    process serves. More processes cost memory (some 200 MB each at 100 nodes) and their own
    idle work for nothing."""
    return max(1, -(-nodes // NODES_PER_PROC))


@dataclass(frozen=True)
class Pools:
    """Sizes of the shared pools of all the hollow nodes together (0: sized from the node count),
    each process taking its nodes' share."""

    workers: int = 0
    timer_threads: int = 0
    senders: int = 0

    def totals(self, nodes: int) -> dict[str, int]:
        # Enough that on a slow server as many calls wait as the agents' own threads would (a
        # lease and a node-status call a node; 16 pod workers each, up to 256 in all), so the
        # harness does not hold back what the nodes send. The timer's pool starts a thread
        # only when all it has are busy; idle workers cost memory, not CPU.
        return {
            "workers": self.workers or min(256, 16 * nodes),
            "timer_threads": self.timer_threads or 2 * nodes,
            "senders": self.senders or min(64, nodes),
        }

    def share(self, nodes: int, of: int) -> dict[str, int]:
        """The pools of a process running ``nodes`` of the ``of`` nodes: its share of the
        totals, rounded up (at least one thread each), so that K processes send the server what
        one would."""
        return {k: max(1, -(-total * nodes // of)) for k, total in self.totals(of).items()}


class Child:
    """One child process and the thread reading its reports."""

    def __init__(self, index: int, first: int, count: int, config: dict[str, Any],
                 inbox: Inbox, lock: threading.Lock) -> None:  # fmt: skip
        self.index, self.first, self.count = index, first, count
        self.dir = tempfile.mkdtemp(prefix=f"tinykube-hollow-{index}-")
        self.stderr = open(Path(self.dir) / "stderr", "w+b")  # noqa: SIM115 - closed in stop
        full = {**config, "first": first, "count": count, "root": str(Path(self.dir) / "nodes")}
        # A session of its own: the child lowers its session's priority (``nice_session``).
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench._hollowchild", json.dumps(full)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            text=True, bufsize=1, start_new_session=True)  # fmt: skip
        self.inbox, self.lock = inbox, lock
        self.stopping = False
        self.exit_message: str | None = None
        self.reader = threading.Thread(target=self._read, name=f"hollow-proc-{index}", daemon=True)
        self.reader.start()

    @property
    def title(self) -> str:
        return f"hollow process {self.index} (nodes {self.first}-{self.first + self.count - 1})"

    def _read(self) -> None:
        out: IO[str] = self.proc.stdout  # type: ignore[assignment]
        for line in out:
            with self.lock:
                self.inbox.take(self.index, line)
        code = self.proc.wait()
        if not self.stopping:
            self.exit_message = f"{self.title} exited with code {code}: {self.tail()}"

    def tail(self) -> str:
        try:
            text = (Path(self.dir) / "stderr").read_bytes()[-400:].decode(errors="replace")
        except OSError:
            return "(no output)"
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return " | ".join(lines[-3:]) or "(no output)"

    def send(self, command: dict[str, Any]) -> None:
        try:
            stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
            stdin.write(json.dumps(command) + "\n")
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # it died: the reader says so

    def close_stdin(self) -> None:
        self.stopping = True
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass


class HollowProcs:
    """N hollow nodes in ``procs`` child processes, at niceness ``nice``; the same surface to
    the benchmark as one ``HollowNodes`` (``start``, ``stop_all``, ``ticks``) plus the children's
    answers (``inbox``), CPU seconds and ``failure``."""

    def __init__(self, server: str, ca_file: str | None, token: str, nodes: int, *,
                 procs: int, nice: int, pools: Pools, verbose: bool = False) -> None:  # fmt: skip
        self.inbox = Inbox()
        self.lock = threading.Lock()
        self.children: list[Child] = []
        base = {"server": server, "ca": ca_file, "token": token, "nice": nice, "verbose": verbose,
                "parent": os.getpid()}  # fmt: skip
        self.leases: Child | None = None
        groups = split(nodes, procs)
        # The Lease keeper looks for the Nodes in the order they are registered: one of each
        # process's in turn.
        self.order = [first + i for i in range(max(c for _, c in groups))
                      for first, count in groups if i < count]  # fmt: skip
        try:
            for k, (first, count) in enumerate(groups, 1):
                config = {**base, **pools.share(count, nodes), "leases": ELSEWHERE}
                self.children.append(Child(k, first, count, config, self.inbox, self.lock))
            config = {**base, "nice": 0, "leases": ONLY, "workers": 0, "senders": 1,
                      "timer_threads": pools.totals(nodes)["timer_threads"]}  # fmt: skip
            self.leases = Child(len(groups) + 1, 1, nodes, config, self.inbox, self.lock)
            self.children.append(self.leases)
        except BaseException:
            self.stop_all()
            raise

    @property
    def ticks(self) -> list[Tick]:
        with self.lock:
            return list(self.inbox.ticks)

    def running(self) -> dict[str, float]:
        with self.lock:
            return dict(self.inbox.running)

    def cpu_seconds(self) -> float:
        with self.lock:
            return self.inbox.cpu_seconds

    def pending(self) -> int:
        """The work every node has yet to do (pod syncs, events to send), as last reported."""
        with self.lock:
            return sum(self.inbox.pending.values())

    def failure(self) -> str | None:
        """Why the nodes cannot go on (a child died or said its nodes could not start), if so."""
        for child in self.children:
            if child.exit_message:
                return child.exit_message
        with self.lock:
            return self.inbox.errors[0] if self.inbox.errors else None

    def start(self, deadline: float) -> None:
        """Every child registers its nodes, as many at once in all as one process would."""
        nodes = [c for c in self.children if c is not self.leases]
        parallel = max(1, REGISTERING // len(nodes)) if nodes else 1
        when = None if deadline == float("inf") else deadline
        for child in nodes:
            child.send({"start": when, "parallel": parallel})
        if self.leases is not None:  # as many waiting for their Node as are registered at once
            self.leases.send({"start": when, "parallel": REGISTERING, "order": self.order})

    def stop_all(self) -> None:
        """Every child told to stop (its stdin closed), then ended if it does not in time;
        their last reports read, their directories removed."""
        for child in self.children:
            child.close_stdin()
        end = time.monotonic() + STOP_GRACE
        for child in self.children:
            _wait(child.proc, end - time.monotonic())
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.terminate()
                if not _wait(child.proc, 5.0):
                    child.proc.kill()
                    child.proc.wait()
            child.reader.join(5.0)
            child.stderr.close()
            shutil.rmtree(child.dir, ignore_errors=True)


def _wait(proc: subprocess.Popen[str], seconds: float) -> bool:
    try:
        proc.wait(max(0.0, seconds))
    except subprocess.TimeoutExpired:
        return False
    return True
