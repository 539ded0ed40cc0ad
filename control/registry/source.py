"""The registry as an informer's source (``common.informer.ListerWatcher``): the controllers'
informers list and watch in-process, through the same reads the API serves (selectors, 410 for
a trimmed history), with no HTTP in between. The informers' copies leave out
``metadata.managedFields``, as kube-scheduler's and controller-runtime's caches do
(``TransformStripManagedFields``): no controller reads them, and an update that sends none
keeps the stored ones. Effectful: reads the store through the registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from common.meta import without_managed_fields as trimmed
from common.resources import ResourceType
from control import fastjson
from control.cache.ring import Delivered
from control.registry.registry import Registry

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
