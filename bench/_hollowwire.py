"""What a hollow-node process tells ``bench/scale.py``, one JSON line at a time: the pods its
nodes reported Running, its periodic loops' ticks, its 5xx answers by kind (with the first
message of each), its CPU seconds and threads; ``Outbox`` makes each line from what is new since the
last, ``Inbox`` adds the lines of every process up. Pure: no I/O, no clock."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Tick:
    """One call of a periodic loop: when it was due, when it ran, how long, whether it failed."""

    loop: str
    due: float
    start: float
    seconds: float
    failed: bool


def split(nodes: int, procs: int) -> list[tuple[int, int]]:
    """Node indices 1..nodes as ``(first, count)`` for each of ``procs`` processes, as even as
    can be (none empty: never more processes than nodes)."""
    procs = max(1, min(procs, nodes))
    base, extra = divmod(nodes, procs)
    out, first = [], 1
    for k in range(procs):
        count = base + (1 if k < extra else 0)
        out.append((first, count))
        first += count
    return out


@dataclass
class Outbox:
    """A process's side: remembers how much of each record it has sent already."""

    sent_running: int = 0
    sent_ticks: int = 0
    sent_kinds: Counter[str] = field(default_factory=Counter)
    sent_messages: set[str] = field(default_factory=set)

    def line(
        self,
        running: list[tuple[str, float]],
        ticks: list[Tick],
        by_kind: Counter[str],
        first_message: dict[str, str],
        cpu: float,
        threads: int = 0,
        pending: int = 0,
    ) -> str:
        """The next report from the whole records so far (``running`` and ``ticks`` only ever
        grow at their end): only what is new goes in it, the CPU seconds so far, the threads
        running now and the work its nodes have yet to do (``pending``)."""
        report: dict[str, Any] = {"cpu": cpu, "threads": threads, "pending": pending}
        if len(running) > self.sent_running:
            report["running"] = running[self.sent_running :]
            self.sent_running = len(running)
        if len(ticks) > self.sent_ticks:
            new = ticks[self.sent_ticks :]
            report["ticks"] = [[t.loop, t.due, t.start, t.seconds, t.failed] for t in new]
            self.sent_ticks = len(ticks)
        kinds = by_kind - self.sent_kinds
        if kinds:
            report["5xx"] = dict(kinds)
            self.sent_kinds.update(kinds)
        messages = {k: m for k, m in first_message.items() if k not in self.sent_messages}
        if messages:
            report["messages"] = messages
            self.sent_messages.update(messages)
        return json.dumps(report)


@dataclass
class Inbox:
    """The benchmark's side: every process's reports added up."""

    running: dict[str, float] = field(default_factory=dict)
    ticks: list[Tick] = field(default_factory=list)
    by_kind: Counter[str] = field(default_factory=Counter)
    first_message: dict[str, str] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)  # by process: the last figure sent
    threads: dict[int, int] = field(default_factory=dict)  # by process: the most it reported
    pending: dict[int, int] = field(default_factory=dict)  # by process: its work yet to do, now
    errors: list[str] = field(default_factory=list)  # what a process said went wrong

    def take(self, proc: int, line: str) -> None:
        """Add one report line of process ``proc``; a line that is not a report is an error."""
        try:
            report = json.loads(line)
            if not isinstance(report, dict):
                raise ValueError("not an object")
            self._take(proc, report)
        except (ValueError, TypeError, KeyError, IndexError) as e:
            self.errors.append(f"hollow process {proc} sent a bad report ({e}): {line[:120]!r}")

    def _take(self, proc: int, report: dict[str, Any]) -> None:
        if "error" in report:
            self.errors.append(f"hollow process {proc}: {report['error']}")
        if "cpu" in report:
            self.cpu[proc] = float(report["cpu"])
        self.threads[proc] = max(self.threads.get(proc, 0), int(report.get("threads", 0)))
        self.pending[proc] = int(report.get("pending", 0))
        for key, when in report.get("running", ()):
            self.running.setdefault(str(key), float(when))
        for loop, due, start, seconds, failed in report.get("ticks", ()):
            self.ticks.append(Tick(str(loop), due, start, seconds, bool(failed)))
        self.by_kind.update({str(k): int(n) for k, n in report.get("5xx", {}).items()})
        for kind, message in report.get("messages", {}).items():
            self.first_message.setdefault(str(kind), str(message))

    @property
    def errors_5xx(self) -> int:
        return sum(self.by_kind.values())

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    @property
    def threads_peak(self) -> int | None:
        """The most threads any one process reported."""
        return max(self.threads.values(), default=None)
