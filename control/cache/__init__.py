"""The API server's watch cache: per process, one ``Cacher`` per resource, started on first use
(so in each worker process, after the fork), feeding every watch and most lists of that resource
from one read of the store's change log. Effectful."""

from __future__ import annotations

import os
import threading

from common.resources import ResourceType
from control.cache import dispatch
from control.cache.cacher import Cacher
from control.store import Store


class WatchCache:
    def __init__(self, store: Store, *, buffer: int = dispatch.BUFFER) -> None:
        self.store = store
        self.buffer = buffer
        self._lock = threading.Lock()
        self._cachers: dict[str, Cacher] = {}
        self._pid = os.getpid()

    def cacher(self, rt: ResourceType) -> Cacher:
        """The resource's cache, started (its first load runs in the caller, whose request gets
        the 503 of a store that cannot be reached)."""
        with self._lock:
            if os.getpid() != self._pid:
                # A forked worker: the parent's reader threads did not come along.
                self._cachers, self._pid = {}, os.getpid()
            found = self._cachers.get(rt.plural)
            if found is None:
                found = self._cachers[rt.plural] = Cacher(self.store, rt, buffer=self.buffer)
        found.start()
        return found

    def stop(self) -> None:
        with self._lock:
            cachers = list(self._cachers.values())
        for c in cachers:
            c.stop()
