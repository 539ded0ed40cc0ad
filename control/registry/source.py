"""The registry as an informer's source (``common.informer.ListerWatcher``): the controllers'
informers list and watch in-process, through the same reads the API serves (selectors, 410 for
a trimmed history), with no HTTP in between. The informers' copies leave out
``metadata.managedFields``, as kube-scheduler's and controller-runtime's caches do
(``TransformStripManagedFields``): no controller reads them, and an update that sends none
keeps the stored ones. ``StoreSource`` feeds an informer of a resource the process keeps no
watch cache of (Events, as kube-apiserver, whose watch cache leaves them out) straight from the
store's list and change log. Effectful: reads the store, through the registry or not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from common.meta import without_managed_fields as trimmed
from common.resources import ResourceType
from control import fastjson
from control.cache.ring import Delivered
from control.registry.filtering import complete
from control.registry.registry import Registry
from control.store import Store, parse_rv

Obj = dict[str, Any]
# How often a quiet watch looks at its stop event, in seconds.
POLL_SECONDS = 1.0
# A watch ends after this long and is resumed from its last resourceVersion by the informer.
WATCH_SECONDS = 300.0


class RegistrySource:
    def __init__(
        self,
        registry: Registry,
        rt: ResourceType,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        view: Callable[[Obj], Obj] = trimmed,
    ) -> None:
        # What the informer keeps of each object (client-go's SetTransform): by default all of
        # it but managedFields; a new object, never the registry's own.
        self.view = view
        self.registry = registry
        self.rt = rt
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector

    def list_all(self, resource_version: str = "") -> tuple[list[Obj], str]:
        """In-process, every list is a consistent read of the registry."""
        del resource_version
        listing = self.registry.list(
            self.rt,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        items = [self.view(i) for i in listing["items"]]
        return items, str(listing["metadata"]["resourceVersion"])

    def watch(self, resource_version: str, stop: threading.Event) -> Iterator[Obj]:
        events = self.registry.watch(
            self.rt,
            self.namespace,
            resource_version=resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            poll=POLL_SECONDS,
            timeout=WATCH_SECONDS,
        )
        for event in events:
            if stop.is_set():
                return
            if isinstance(event, Delivered):
                # A watch cache's event decodes a new object for each reader.
                yield {"type": event.type, "object": self.view(event["object"])}
            elif event is not None:
                obj = event.get("object")
                yield fastjson.copy({**event, "object": self.view(obj)} if isinstance(obj, dict)
                                    else event)  # fmt: skip


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
        return [self.view(complete(self.rt, o)) for o in items], str(rev)

    def watch(self, resource_version: str, stop: threading.Event) -> Iterator[Obj]:
        since = parse_rv(resource_version) or 0
        until = time.monotonic() + WATCH_SECONDS
        for ev in self.store.watch(self.rt.plural, since, poll=POLL_SECONDS, until=until):
            if stop.is_set():
                return
            if ev is not None:
                yield {"type": ev.type, "object": self.view(complete(self.rt, ev.object))}
