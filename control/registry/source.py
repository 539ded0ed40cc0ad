"""The store as the controllers' informers' source (``common.informer.ListerWatcher``): each
lists the store and follows its change log in-process, with no HTTP and no watch cache in
between (the API server's caches serve clients; a cache here would hold each object twice). The
informers' copies leave out ``metadata.managedFields``, as kube-scheduler's and
controller-runtime's caches do (``TransformStripManagedFields``): no controller reads them, and
an update that sends none keeps the stored ones. Their short strings are shared
(``share_strings``). Reads only: every write goes through the
Registry. Effectful: reads the store.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from common.meta import without_managed_fields as trimmed
from common.resources import ResourceType
from control.registry.filtering import complete
from control.store import Store, parse_rv

Obj = dict[str, Any]
# How often a quiet watch looks at its stop event, in seconds.
POLL_SECONDS = 1.0
# A watch ends after this long and is resumed from its last resourceVersion by the informer.
WATCH_SECONDS = 300.0
# Strings up to this long are shared between the cached objects; longer ones are seldom equal.
SHARED_LENGTH = 64


def share_strings(value: Any) -> Any:
    """``value`` (decoded JSON), its strings of up to SHARED_LENGTH characters replaced in place
    by the one interned copy of their text. A decoded pod holds some 70 strings, most of them
    equal to another pod's ("True", "Ready", an image, a namespace, a timestamp of the same
    second, the service account volume's paths): sharing them makes a cached pod a third smaller
    (11.8 KB to 8.1), 40 MB at 10,000 pods, for some 13 us a pod. The keys are already shared
    (orjson's key cache); an interned string is freed with its last object."""
    items = value.items() if type(value) is dict else enumerate(value)
    for k, v in items:
        t = type(v)
        if t is str:
            if len(v) <= SHARED_LENGTH:
                value[k] = sys.intern(v)
        elif t is dict or t is list:
            share_strings(v)
    return value


class StoreSource:
    """Every object of a resource, listed from the store and watched on its change log, for an
    informer over all namespaces with no selector: each change is decoded once, for the
    informer, and no watch cache of the resource holds it a second time. A log trimmed past
    the informer's revision is the 410 that makes it list again."""

    def __init__(self, store: Store, rt: ResourceType, *, view: Callable[[Obj], Obj] = trimmed):
        self.store = store
        self.rt = rt
        self.view = view

    def list_all(self, resource_version: str = "") -> tuple[list[Obj], str]:
        """A consistent read, whatever the version asked for (a store list is always current)."""
        del resource_version
        items, rev = self.store.list(self.rt.plural)
        return [share_strings(self.view(complete(self.rt, o))) for o in items], str(rev)

    def watch(self, resource_version: str, stop: threading.Event) -> Iterator[Obj]:
        since = parse_rv(resource_version) or 0
        until = time.monotonic() + WATCH_SECONDS
        for ev in self.store.watch(self.rt.plural, since, poll=POLL_SECONDS, until=until):
            if stop.is_set():
                return
            if ev is not None:
                obj = share_strings(self.view(complete(self.rt, ev.object)))
                yield {"type": ev.type, "object": obj}
