"""The API server's watch cache: per process, one ``Cacher`` per resource, started on first use
(so in each worker process, after the fork), feeding every watch and most lists of that resource
from one read of the store's change log. A process about to fork the workers reads through
``snapshots()`` instead, which starts no reader. Effectful."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from common.resources import ResourceType
from control.cache import dispatch, ring
from control.cache.cacher import Cacher
from control.store import Store


class WatchCache:
    """``trim``: the resources (plurals) whose caches keep their objects without
    ``metadata.managedFields`` (42 % of a Running pod's memory), for a process that serves no
    client: the controller process, whose informers drop them anyway. Their reads then have
    none, as the informers' copies, and a status write must not take such an object for the
    stored one (``Registry._cached_status_base``): it reads the store first. ``ring_upper``:
    the most changes a resource's ring keeps (kube-apiserver's 102,400 by default), for a process
    whose only watchers follow every change as it comes."""

    def __init__(
        self,
        store: Store,
        *,
        buffer: int = dispatch.BUFFER,
        trim: frozenset[str] = frozenset(),
        ring_upper: int = ring.UPPER_CAPACITY,
    ) -> None:
        self.store = store
        self.buffer = buffer
        self.ring_upper = ring_upper
        self.trim = trim
        self._lock = threading.Lock()
        self._cachers: dict[str, Cacher] = {}
        self._pid = os.getpid()
        # Within ``snapshots()``: per resource, the store's objects as last read.
        self._snapshots: dict[str, Cacher] | None = None

    def cacher(self, rt: ResourceType) -> Cacher:
        """The resource's cache, started (its first load runs in the caller, whose request gets
        the 503 of a store that cannot be reached)."""
        if self._snapshots is not None:
            return self._snapshot(rt)
        with self._lock:
            if os.getpid() != self._pid:
                # A forked worker: the parent's reader threads did not come along.
                self._cachers, self._pid = {}, os.getpid()
            found = self._cachers.get(rt.plural)
            if found is None:
                found = self._cachers[rt.plural] = self._new(rt)
        found.start()
        return found

    @contextlib.contextmanager
    def snapshots(self) -> Iterator[None]:
        """Within, every look at a resource is served from its objects as read from the store in
        the caller (read again once the resource's log has moved on), and no cache is started:
        for the gunicorn master's start-up writes, whose reader threads would be copied into
        every forked worker, still reading on the master's Redis connection."""
        self._snapshots = {}
        try:
            yield
        finally:
            self._snapshots = None

    def trims(self, rt: ResourceType) -> bool:
        """Whether ``rt``'s cache keeps its objects without managedFields."""
        return rt.plural in self.trim

    def _new(self, rt: ResourceType) -> Cacher:
        return Cacher(
            self.store, rt, buffer=self.buffer, trim=self.trims(rt), ring_upper=self.ring_upper
        )

    def _snapshot(self, rt: ResourceType) -> Cacher:
        assert self._snapshots is not None
        found = self._snapshots.get(rt.plural)
        if found is None or found.applied < self.store.progress(rt.plural).last:
            found = self._new(rt)
            found.snapshot()
            self._snapshots[rt.plural] = found
        return found

    def stop(self) -> None:
        with self._lock:
            cachers = list(self._cachers.values())
        for c in cachers:
            c.stop()
