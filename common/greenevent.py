"""``threading.Event`` for the processes gevent monkey-patches (the API server, the benchmark's
hollow nodes): gevent's Event, but ``wait`` on an Event already set returns True at once.

gevent's own ``wait`` on a set Event, while the greenlets that waited before are still to be
woken (its notifier is pending), puts the caller in that notifier's line, with no timeout. If
the one earlier waiter times out before the notifier runs, it unlinks itself, finds no link
left and cancels the notifier: the caller is never woken and waits for good, whatever timeout
it gave. A hollow node's pod stayed Pending so, its sync waiting in
``Informer.wait_for_sync(5)`` for minutes after the Services watch had listed. Reproduced
with gevent 24.11.1, 25.9.1 and 26.9.0 alike (tests/unit/test_greenevent.py). Effectful: it
replaces ``threading.Event``.
"""

from __future__ import annotations

import threading

import gevent.event


class Event(gevent.event.Event):  # type: ignore[misc]
    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        return bool(super().wait(timeout))


def patch() -> None:
    """Make ``threading.Event`` this one; after gevent's ``monkey.patch_all()``, before any
    Event is made."""
    threading.Event = Event  # type: ignore[misc]
