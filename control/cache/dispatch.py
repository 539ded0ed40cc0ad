"""Which watchers an event goes to, and as what, as kube-apiserver's cacher dispatches: watchers
are indexed by namespace and, for pods, by the ``spec.nodeName`` their field selector demands (an
agent's watch is visited only for events whose new or previous node is its own); each candidate sees
the event as MODIFIED when the object matched its selectors before and after, ADDED when only after,
DELETED when only before. A watcher whose buffer is full is closed, never waited for (the client
re-watches from its last revision). Pure apart from the watcher's queue and its wake-up lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from common.selectors import FieldSelector, LabelSelector
from control.cache.ring import Delivered, Entry

# Events a watcher may have waiting before it is closed for not keeping up.
BUFFER = 1024


@dataclass(frozen=True)
class Filter:
    """What one watch (or list) selects: a namespace ("" for all), its selectors, the node its
    field selector demands of ``spec.nodeName`` (None: no such demand, or not a pod) and the
    name it demands of ``metadata.name`` (None: no such demand)."""

    namespace: str = ""
    labels: LabelSelector = field(default_factory=LabelSelector)
    fields: FieldSelector = field(default_factory=FieldSelector)
    node: str | None = None
    name: str | None = None

    @property
    def everything(self) -> bool:
        return self.labels.empty and self.fields.empty

    def matches(self, labels: dict[str, str], fields: dict[str, str]) -> bool:
        return self.labels.matches(labels) and self.fields.matches(fields)


def classify(entry: Entry, f: Filter) -> str | None:
    """The event type this change has for a watch with filter ``f`` (None: it does not see it)."""
    if f.namespace and entry.namespace != f.namespace:
        return None
    now = entry.type != "DELETED" and f.matches(entry.labels, entry.fields)
    was = entry.prev is not None and f.matches(entry.prev_labels, entry.prev_fields)
    if now and was:
        return entry.type
    if now:
        return "ADDED"
    if was:
        return "DELETED"
    return None


class Watcher:
    """One open watch: a bounded queue of events filled by the cache's reader, emptied by the
    request that serves the watch. Thousands wait at once, so each holds little: a list and one
    lock used as a wake-up signal (released when the queue may have something), not a
    condition with its re-entrant lock and deque of waiters."""

    __slots__ = ("_queue", "_signal", "buffer", "closed", "filter", "notify")

    def __init__(self, f: Filter, buffer: int = BUFFER) -> None:
        self.filter = f
        self.buffer = buffer
        self.closed = False
        # Called (in the pusher's thread) after each push and at the close, when a watch is
        # served from the event loop rather than by a request waiting in ``next``.
        self.notify: Callable[[], None] | None = None
        self._queue: list[Delivered] = []
        self._signal = threading.Lock()
        self._signal.acquire()  # held while there is nothing to wake for

    def push(self, event: Delivered) -> bool:
        """Queue an event without waiting; a full queue closes the watcher (False)."""
        if self.closed:
            return False
        if len(self._queue) >= self.buffer:
            self.closed = True
        else:
            self._queue.append(event)
        self._wake()
        return not self.closed

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # already released: a wake-up is pending
            self._signal.release()
        if self.notify is not None:
            self.notify()

    def pending(self) -> int:
        return len(self._queue)

    def drain(self) -> list[Delivered]:
        """Every event waiting, at once, without waiting for any."""
        taken, self._queue = self._queue, []
        return taken

    def next(self, timeout: float) -> Delivered | None:
        """The next event, or None after ``timeout`` seconds without one; raises ``Closed`` once
        the watcher is closed and its queue is drained."""
        deadline = time.monotonic() + timeout
        while True:
            if self._queue:
                return self._queue.pop(0)
            if self.closed:
                raise Closed
            left = deadline - time.monotonic()
            # A wake-up left by an event already taken returns at once: look again.
            if left <= 0 or not self._signal.acquire(timeout=left):
                return None


class Closed(Exception):
    """The cache closed the watcher: too slow, or the cache had to list the store again."""


class WatcherIndex:
    """Watchers by namespace ("" for all namespaces), node-bound pod watchers by node, and the
    watchers of one object (``metadata.name=``: an agent's watch of its own Node, of a ConfigMap
    its pods use) by ``<namespace>/<name>``, the namespace "" for all namespaces or none, as
    kube-apiserver's cacher indexes Nodes by name: an event visits only the watchers that may
    see it, not every node's."""

    def __init__(self, indexed: str = "spec.nodeName") -> None:
        self.indexed = indexed  # the field node-bound watchers are indexed by (the kind's)
        self.by_namespace: dict[str, set[Watcher]] = {}
        self.by_node: dict[str, set[Watcher]] = {}
        self.by_name: dict[str, set[Watcher]] = {}

    def _tables(self) -> tuple[dict[str, set[Watcher]], ...]:
        return self.by_namespace, self.by_node, self.by_name

    def __len__(self) -> int:
        return sum(len(s) for table in self._tables() for s in table.values())

    def add(self, w: Watcher) -> None:
        self._table(w).setdefault(self._slot(w), set()).add(w)

    def remove(self, w: Watcher) -> None:
        table, slot = self._table(w), self._slot(w)
        found = table.get(slot)
        if found is not None:
            found.discard(w)
            if not found:
                del table[slot]

    def all(self) -> list[Watcher]:
        return [w for table in self._tables() for s in table.values() for w in s]

    def candidates(self, entry: Entry) -> list[Watcher]:
        """The watchers that may see this change: every watcher of all namespaces or of its
        namespace, those bound to its node before or after the change, and those of the object
        itself (a name never changes)."""
        out = list(self.by_namespace.get("", ()))
        if entry.namespace:
            out.extend(self.by_namespace.get(entry.namespace, ()))
        new, old = entry.indexed_values(self.indexed)
        out.extend(self.by_node.get(new, ()))
        if old != new:
            out.extend(self.by_node.get(old, ()))
        if self.by_name:
            name = entry.key.rpartition("/")[2]
            out.extend(self.by_name.get(f"{entry.namespace}/{name}", ()))
            if entry.namespace:
                out.extend(self.by_name.get(f"/{name}", ()))
        return out

    def _table(self, w: Watcher) -> dict[str, set[Watcher]]:
        if w.filter.node is not None:
            return self.by_node
        return self.by_namespace if w.filter.name is None else self.by_name

    @staticmethod
    def _slot(w: Watcher) -> str:
        f = w.filter
        if f.node is not None:
            return f.node
        return f.namespace if f.name is None else f"{f.namespace}/{f.name}"
