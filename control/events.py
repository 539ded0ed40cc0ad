"""Recording Kubernetes Events from the control loops (scheduler, controllers), built by
``common.events``. ``record`` writes at once; a ``Recorder`` writes off its caller's path, as
client-go's event broadcaster does (a queue of at most 1,000 events, dropped when full), so a
component's own work never waits for its events. Shell: it writes through the registry."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from common import errors
from common.events import build_event
from common.resources import must
from control.registry.registry import Registry

log = logging.getLogger(__name__)

EVENTS = must("events")
# client-go's broadcaster: maxQueuedEvents, and the events dropped beyond it.
MAX_QUEUED = 1000
# Writers of a Recorder: each event is one store round trip, which overlap. A writer with
# nothing to write for IDLE_SECONDS ends; the next event starts it again.
WRITERS = 4
IDLE_SECONDS = 5.0


def record(
    registry: Registry, obj: dict[str, Any], etype: str, reason: str, message: str, component: str
) -> None:
    """Best effort, as in Kubernetes: a lost event never fails the action it describes."""
    _write(registry, build_event(obj, etype, reason, message, component), reason, obj)


def _write(registry: Registry, ev: dict[str, Any], reason: str, obj: dict[str, Any]) -> None:
    try:
        registry.create(EVENTS, ev["metadata"]["namespace"], ev)
    except errors.ApiError as e:
        log.info("event %s for %s: not recorded: %s", reason, obj["metadata"].get("name"), e)


class Recorder:
    """A component's events, built when they happen and written by threads of their own."""

    def __init__(
        self, registry: Registry, component: str, *, writers: int = WRITERS,
        max_queued: int = MAX_QUEUED,
    ) -> None:  # fmt: skip
        self.registry = registry
        self.component = component
        self.writers = writers
        self._queue: queue.Queue[tuple[dict[str, Any], str, dict[str, Any]]] = queue.Queue(
            max_queued
        )
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # queued or being written
        self._threads: list[threading.Thread] = []
        self.dropped = 0

    def record(self, obj: dict[str, Any], etype: str, reason: str, message: str) -> None:
        """Queue the event (timestamped now); dropped, as client-go drops it, when the queue is
        full."""
        ev = build_event(obj, etype, reason, message, self.component)
        with self._lock:
            self._start()
            try:
                self._queue.put_nowait((ev, reason, obj))
            except queue.Full:
                self.dropped += 1
                log.warning("event %s for %s: dropped, %d events queued already", reason,
                            obj["metadata"].get("name"), self._queue.maxsize)  # fmt: skip
                return
            self._pending += 1

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every event queued so far is written (or given up)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _start(self) -> None:
        """The writers, on the first event (under the lock)."""
        while len(self._threads) < self.writers:
            t = threading.Thread(target=self._run, name=f"{self.component}-events", daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self) -> None:
        while True:
            try:
                ev, reason, obj = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._threads.remove(threading.current_thread())
                        return
                continue
            try:
                _write(self.registry, ev, reason, obj)
            except Exception:
                log.exception("event %s: not recorded", reason)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()
