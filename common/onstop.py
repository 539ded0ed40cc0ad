"""Callbacks run once a ``threading.Event`` is set: one thread waits on each Event (never
polling), however many callbacks are registered against it, and leaves within ``LINGER`` seconds
once none is left. An informer's watches register the cut of their stream here, so a node's
dozen watches cost no thread of their own and no wake-up while they run. Effectful (threads).
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


def on_stop(stop: threading.Event, callback: Callable[[], object]) -> Callable[[], None]:
    """Run ``callback`` (on the waiter's thread) once ``stop`` is set; returns the function that
    takes it back (harmless after it ran)."""
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
