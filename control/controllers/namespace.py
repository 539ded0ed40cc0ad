"""The namespace controller: a Namespace being deleted (phase Terminating, finalizer
``kubernetes`` in spec.finalizers) has everything in it deleted; while content remains its status
says what (Kubernetes' NamespaceContentRemaining / NamespaceFinalizersRemaining conditions); once
nothing is left it removes its finalizer through ``namespaces/NAME/finalize`` and the registry
removes the Namespace. ``namespace_conditions`` is pure; the controller (``sync(name)`` over the
shared informers' caches, deletes through the registry) is a shell.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from common import conditions as cond
from common import errors, meta
from common.controller import Controller
from common.informer import Handler, Indexer, key_of
from common.resources import RESOURCES, ResourceType, must
from control.controllers import writes
from control.informers import SharedInformers
from control.registry.deletion import NAMESPACE_FINALIZER
from control.registry.registry import Registry

log = logging.getLogger(__name__)

NAMESPACES = must("namespaces")
# Workloads first, so their controllers stop replacing what is deleted below them.
ORDER = ("deployments", "replicasets", "pods")
CONTENT = tuple(
    sorted((rt for rt in RESOURCES if rt.namespaced),
           key=lambda rt: (ORDER.index(rt.plural) if rt.plural in ORDER else len(ORDER)))
)  # fmt: skip
# While content remains (pods finishing their grace period), look again this often.
POLL_SECONDS = 1.0

Obj = dict[str, Any]
# Remaining objects per resource type, and per finalizer the number of objects holding it.
Remaining = Mapping[ResourceType, int]


def _resource(rt: ResourceType) -> str:
    return f"{rt.plural}.{rt.group}"


def namespace_conditions(
    old: list[Obj], remaining: Remaining, finalizers: Mapping[str, int], now: dt.datetime
) -> list[Obj]:
    """The deletion conditions Kubernetes' namespace controller reports, in its words."""
    content = sorted(f"{_resource(rt)} has {n} resource instances" for rt, n in remaining.items())
    held = sorted(f"{f} in {n} resource instances" for f, n in finalizers.items())
    wanted = [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
         "All resources successfully discovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
         "All legacy kube types successfully parsed"),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted",
         "All content successfully deleted, may be waiting on finalization"),
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain",
         "Some resources are remaining: " + ", ".join(content)) if content else
        ("NamespaceContentRemaining", "False", "ContentRemoved",
         "All content successfully removed"),
        ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
         "Some content in the namespace has finalizers remaining: " + ", ".join(held)) if held else
        ("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
         "All content-preserving finalizers finished"),
    ]  # fmt: skip
    previous = {c.get("type"): c for c in old}
    out = []
    for ctype, status, reason, message in wanted:
        out.append(cond.build(ctype, status, meta.timestamp(now), reason, message,
                              previous=previous.get(ctype), keep_empty=True))  # fmt: skip
    return out


class NamespaceController(Controller):
    """Key: the namespace's name. A Namespace event enqueues its own name; an event of content in
    a namespace being deleted enqueues that namespace (a Lease renewal elsewhere enqueues
    nothing). A sync reads the content from the caches' namespace index."""

    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers | None = None,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        super().__init__("namespace", self.sync_namespace, initial=self.terminating)
        self.registry = registry
        self.clock = clock
        informers = informers if informers is not None else SharedInformers(registry)
        namespaces = informers.informer(NAMESPACES.plural)
        self.namespaces = namespaces.store
        namespaces.add_handler(self.handler())
        self.content: list[tuple[ResourceType, Indexer]] = []
        for rt in CONTENT:
            informer = informers.informer(rt.plural)
            self.content.append((rt, informer.store))
            informer.add_handler(
                Handler(self._content, lambda _old, new: self._content(new), self._content)
            )

    def terminating(self) -> list[str]:
        return [key_of(ns) for ns in self.namespaces.objects() if _deleting(ns)]

    def _content(self, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("namespace") or "")
        ns = self.namespaces.get(name) if name else None
        if ns is not None and _deleting(ns):
            self.queue.add(name)

    def sync_namespace(self, name: str) -> None:
        """Delete what is left in the namespace; finalize it once empty."""
        ns = self.namespaces.get(name)
        if ns is None or not _deleting(ns):
            return
        if NAMESPACE_FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        remaining: dict[ResourceType, int] = {}
        finalizers: dict[str, int] = {}
        for rt, cache in self.content:
            for obj in cache.by_index("namespace", name):
                remaining[rt] = remaining.get(rt, 0) + 1
                for f in obj["metadata"].get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(rt, obj)
        status = {**(ns.get("status") or {})}
        status["conditions"] = namespace_conditions(
            status.get("conditions") or [], remaining, finalizers, self.clock()
        )
        written = writes.write_status(self.registry, NAMESPACES, ns, status)
        if remaining or self._left_in_store(name):
            # The deletions below reach the caches as events that enqueue the namespace again;
            # the delayed look is for content finishing a grace period or held by a finalizer.
            self.queue.add_after(name, POLL_SECONDS)
            return
        self._finalize(written or ns)

    def _left_in_store(self, name: str) -> bool:
        """The caches say the namespace is empty: the store must agree before it is finalized
        (an object created just before the deletion may not have reached its cache yet). A
        count, not a list: no object is read, and no watch cache of this process is loaded."""
        return any(self.registry.count(rt, name) for rt, _ in self.content)

    def _delete(self, rt: ResourceType, obj: Obj) -> None:
        try:
            writes.delete(self.registry, rt, obj)
        except errors.ApiError as e:
            log.info("namespace: %s %s not deleted: %s", rt.kind, obj["metadata"]["name"], e)

    def _finalize(self, ns: Obj) -> None:
        body = copy.deepcopy(ns)
        body["spec"]["finalizers"] = [
            f for f in body["spec"].get("finalizers") or [] if f != NAMESPACE_FINALIZER
        ]
        if writes.replace(self.registry, NAMESPACES, body, sub="finalize") is None:
            raise errors.ConflictError(f"namespace {ns['metadata']['name']}: not finalized yet")
        log.info("namespace %s: empty, finalized", ns["metadata"]["name"])


def _deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))
