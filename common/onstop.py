"""Callbacks run once a ``threading.Event`` is set: one thread waits on each Event (never
polling), however many callbacks are registered against it, and leaves within ``LINGER`` seconds
once none is left; a ``StopEvent`` runs them itself when set, with no waiting thread at all. An
informer's watches register the cut of their stream here, so a node's dozen watches cost no
thread of their own and no wake-up while they run. Effectful (threads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from itertools import count

# How long a waiter with no callback left stays for a next registration.
LINGER = 30.0

_lock = threading.Lock()
_ids = count()
# id(event) -> (the event, its callbacks by registration number)
_waiting: dict[int, tuple[threading.Event, dict[int, Callable[[], object]]]] = {}


class StopEvent(threading.Event):
    """An Event that runs the callbacks registered by ``on_stop`` on the thread that sets it,
    so that many short-lived stop Events (one per watched object) cost no waiter thread each.
    Callbacks must be quick (they cut a stream)."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._callbacks_lock = threading.Lock()

    def set(self) -> None:
        with self._callbacks_lock:
            super().set()
            callbacks, self._callbacks = list(self._callbacks.values()), {}
        for callback in callbacks:
            callback()

    def on_stop(self, callback: Callable[[], object]) -> Callable[[], None]:
        number = next(_ids)
        with self._callbacks_lock:
            if not self.is_set():
                self._callbacks[number] = callback
                return lambda: self._take_back(number)
        callback()  # already set: run it at once
        return lambda: None

    def _take_back(self, number: int) -> None:
        with self._callbacks_lock:
            self._callbacks.pop(number, None)


def on_stop(stop: threading.Event, callback: Callable[[], object]) -> Callable[[], None]:
    """Run ``callback`` (on the waiter's thread, or the setter's for a ``StopEvent``) once
    ``stop`` is set; returns the function that takes it back (harmless after it ran)."""
    if isinstance(stop, StopEvent):
        return stop.on_stop(callback)
    number = next(_ids)
    with _lock:
        entry = _waiting.get(id(stop))
        if entry is None:
            entry = _waiting[id(stop)] = (stop, {})
            threading.Thread(target=_wait, args=(stop,), name="on-stop", daemon=True).start()
        entry[1][number] = callback

    def cancel() -> None:
        with _lock:
            found = _waiting.get(id(stop))
            if found is not None and found[0] is stop:
                found[1].pop(number, None)

    return cancel


def _wait(stop: threading.Event) -> None:
    while True:
        if stop.wait(LINGER):
            with _lock:
                _, callbacks = _waiting.pop(id(stop), (stop, {}))
            for callback in callbacks.values():
                callback()
            return
        with _lock:
            if not _waiting[id(stop)][1]:
                del _waiting[id(stop)]
                return
