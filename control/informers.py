"""The control plane's shared informers, as client-go's SharedInformerFactory: one list+watch per
resource for every controller of the process, each into one indexed cache that the controllers
read instead of the store. Each is fed from the store's list and change log (``StoreSource``),
not through a watch cache of the process: as kube-controller-manager's informers, which hold
the only copy of the objects in their process (the watch caches are the API server's), and as
kube-apiserver, which keeps no watch cache of Events at all. A watch cache here would hold every
pod, node, Lease and Event a second time, as JSON, to hand each change to one watcher that
decodes it again. Shell."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from common.informer import IndexFunc, Informer, by_namespace
from common.meta import without_managed_fields
from common.resources import must
from control.registry.registry import Registry
from control.registry.source import StoreSource

Obj = dict[str, Any]

# Kubernetes' controller-manager resyncs every 12 h or so; a resync here replays the cache to
# the handlers (no store read), so it may be more frequent and still cost little.
RESYNC_SECONDS = 300.0
EVENT_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
EVENT_TIMES = ("firstTimestamp", "lastTimestamp", "eventTime")


def event_sighting(event: Obj) -> Obj:
    """What the controllers read of an Event: its key, identity and times (the event TTL
    controller's ``last_seen``). A 1,000-node cluster's last hour holds some 40,000 Events (four
    a pod started), which the controller process's informer kept whole, for this."""
    m = event.get("metadata") or {}
    out: Obj = {"metadata": {k: m[k] for k in EVENT_METADATA if k in m}}
    out.update((k, event[k]) for k in EVENT_TIMES if k in event)
    return out


# What the shared informer of a resource keeps of each object (client-go's SetTransform): a
# controller that needs more of an Event widens ``event_sighting``.
VIEWS = {"events": event_sighting}

# How often a wait for the first lists looks at its stop event (client-go: 100 ms).
SYNC_POLL_SECONDS = 0.1


class SharedInformers:
    def __init__(self, registry: Registry, *, resync: float = RESYNC_SECONDS) -> None:
        self.registry = registry
        self.resync = resync
        self._lock = threading.Lock()
        self._informers: dict[str, Informer] = {}
        self._started: set[str] = set()

    def informer(self, resource: str, indexers: Mapping[str, IndexFunc] | None = None) -> Informer:
        """The informer of ``resource`` (a plural), created on first use; ``indexers`` are added
        to its cache. Every informer is indexed by namespace."""
        with self._lock:
            inf = self._informers.get(resource)
            if inf is None:
                view = VIEWS.get(resource, without_managed_fields)
                source = StoreSource(self.registry.store, must(resource), view=view)
                inf = Informer(
                    source,
                    {"namespace": by_namespace},
                    resync=self.resync,
                    name=f"{resource}-informer",
                )
                self._informers[resource] = inf
        if indexers:
            inf.store.add_indexers(indexers)
        return inf

    def start(self, stop: threading.Event) -> None:
        """Start every informer asked for so far that is not running yet."""
        with self._lock:
            todo = [(r, i) for r, i in self._informers.items() if r not in self._started]
            self._started.update(r for r, _ in todo)
        for _, inf in todo:
            inf.start(stop)

    def wait_for_sync(self, stop: threading.Event, timeout: float | None = None) -> bool:
        """Wait until every informer has listed once (False on ``stop`` or after ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            informers = list(self._informers.values())
        for inf in informers:
            while not inf.wait_for_sync(SYNC_POLL_SECONDS):
                if stop.is_set() or (deadline is not None and time.monotonic() > deadline):
                    return False
        return True
