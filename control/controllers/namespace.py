"""The namespace controller: a Namespace being deleted (phase Terminating, finalizer
``kubernetes`` in spec.finalizers) has everything in it deleted; while content remains its status
says what (Kubernetes' NamespaceContentRemaining / NamespaceFinalizersRemaining conditions); once
nothing is left it removes its finalizer through ``namespaces/NAME/finalize`` and the registry
removes the Namespace. ``namespace_conditions`` is pure; the loop is a shell.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from common import errors, meta
from common.resources import RESOURCES, ResourceType, must
from control.controllers import writes
from control.controllers.passes import run_passes
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
# Cascading deletes need not react within milliseconds: one pass per burst of pod changes.
MIN_INTERVAL = 0.25
RESYNC_SECONDS = 30.0

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
        before = previous.get(ctype) or {}
        since = before.get("lastTransitionTime") if before.get("status") == status else None
        out.append({"type": ctype, "status": status,
                    "lastTransitionTime": since or meta.timestamp(now),
                    "reason": reason, "message": message})  # fmt: skip
    return out


class NamespaceController:
    name = "namespace"
    watches: tuple[str, ...] = ("namespaces", "deployments", "replicasets", "pods")

    def __init__(self, registry: Registry, *, clock: Callable[[], dt.datetime] = meta.now) -> None:
        self.registry = registry
        self.clock = clock
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        run_passes(self.name, self.sync_all, self.wake, stop, RESYNC_SECONDS, MIN_INTERVAL)

    def sync_all(self) -> float | None:
        due: float | None = None
        for ns in self.registry.list(NAMESPACES, "")["items"]:
            if ns["metadata"].get("deletionTimestamp"):
                after = self.sync(ns)
                if after is not None:
                    due = after if due is None else min(due, after)
        return due

    def sync(self, ns: Obj) -> float | None:
        """Delete what is left in ``ns``; finalize it once empty. Seconds until a new look."""
        name = ns["metadata"]["name"]
        if NAMESPACE_FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None
        remaining: dict[ResourceType, int] = {}
        finalizers: dict[str, int] = {}
        for rt in CONTENT:
            for obj in self.registry.list(rt, name)["items"]:
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
        if remaining:
            return POLL_SECONDS
        self._finalize(written or ns)
        return None

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
        if writes.replace(self.registry, NAMESPACES, body, sub="finalize") is not None:
            log.info("namespace %s: empty, finalized", ns["metadata"]["name"])
