"""The garbage collector, as Kubernetes' (pkg/controller/garbagecollector), over the shared
informers of every resource that can own or be owned. The caches are its dependency graph: an
object's owners are found by key (O(1)), its dependents by the owner-uid index. Handlers enqueue
``attemptToDelete`` / ``attemptToOrphan`` keys only for the objects an event concerns (a new
dependent whose owner is missing, an owner whose deletion starts or whose dependents go); a sync
plans that one object with ``plan_item`` and applies it through the registry. An owner the cache
lacks, and the object itself, are read once more before anything is collected. Shell.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any

from common import errors
from common.controller import Controller
from common.informer import Handler, Indexer, by_owner_uid, key_of
from common.resources import RESOURCES, ResourceType, by_kind, must
from control.controllers import writes
from control.controllers.gc_plan import (
    ATTEMPT_TO_DELETE,
    ATTEMPT_TO_ORPHAN,
    GcPlan,
    Ref,
    deleting_in_foreground,
    needs,
    owner_key,
    plan_item,
    released,
)
from control.informers import SharedInformers
from control.registry.deletion import FOREGROUND, ORPHAN, without_finalizer
from control.registry.registry import Registry

log = logging.getLogger(__name__)

# Events never own anything and are many: everything else is looked at.
SCANNED = tuple(rt for rt in RESOURCES if rt.plural != "events")
OWNER_INDEX = "owner-uid"
# Kubernetes runs 20 workers; here the GIL makes more than two of little use.
WORKERS = 2

Obj = dict[str, Any]
Owners = dict[tuple[str, str, str], Obj]


def work_key(work: str, rt: ResourceType, obj: Obj) -> str:
    """``attemptToDelete:pods:default/web-1``: the work, the resource and the object's key."""
    return f"{work}:{rt.plural}:{key_of(obj)}"


def _type(obj: Obj) -> ResourceType:
    rt = by_kind(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
    if rt is None:
        raise KeyError(f"{obj.get('apiVersion')}/{obj.get('kind')}")
    return rt


def _where(obj: Obj) -> str:
    m = obj["metadata"]
    return f"{obj.get('kind')} {m.get('namespace') or ''}/{m.get('name')}"


def _refs(obj: Obj) -> list[Ref]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or [])


class GarbageCollector(Controller):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers | None = None,
        *,
        workers: int = WORKERS,
    ) -> None:
        super().__init__("garbage-collector", self.sync_item, workers=workers, initial=self.pending)
        self.registry = registry
        informers = informers if informers is not None else SharedInformers(registry)
        self.caches: dict[str, Indexer] = {}
        for rt in SCANNED:
            informer = informers.informer(rt.plural, {OWNER_INDEX: by_owner_uid})
            self.caches[rt.plural] = informer.store
            informer.add_handler(self._handler(rt))

    # -- the graph, read from the caches ---------------------------------------------------

    def _cached(self, key: tuple[str, str, str]) -> Obj | None:
        cache = self.caches.get(key[0])
        if cache is None:
            return None
        return cache.get(f"{key[1]}/{key[2]}" if key[1] else key[2])

    def owners(self, obj: Obj, *, fresh: bool = False) -> Owners:
        """The owners of ``obj`` that exist, by ``owner_key``; with ``fresh``, one the cache
        lacks (or holds under another uid) is read from the registry, as Kubernetes' isDangling
        does: a dependent may reach its cache before its owner reaches another."""
        out: Owners = {}
        for ref in _refs(obj):
            key = owner_key(obj, ref)
            if key is None:
                continue
            owner = self._cached(key)
            if fresh and (owner is None or owner["metadata"].get("uid") != ref.get("uid")):
                owner = self._read(key)
            if owner is not None:
                out[key] = owner
        return out

    def _read(self, key: tuple[str, str, str]) -> Obj | None:
        resource, namespace, name = key
        try:
            return self.registry.get(must(resource), namespace, name)
        except errors.NotFoundError:
            return None

    def dependents(self, uid: str) -> Iterator[tuple[ResourceType, Obj]]:
        for rt in SCANNED:
            for obj in self.caches[rt.plural].by_index(OWNER_INDEX, uid):
                yield rt, obj

    def pending(self) -> Iterator[str]:
        """Every key the caches say needs work: the queue of a new leadership term."""
        for rt in SCANNED:
            for obj in self.caches[rt.plural].objects():
                for work in needs(obj, self.owners(obj)):
                    yield work_key(work, rt, obj)

    # -- handlers: keys only for what an event concerns -------------------------------------

    def _handler(self, rt: ResourceType) -> Handler:
        def on_update(old: Obj, new: Obj) -> None:
            self._look(rt, new)
            if old is not new:
                self._changed(old, new)

        return Handler(lambda obj: self._look(rt, obj), on_update, lambda obj: self._gone(obj))

    def _look(self, rt: ResourceType, obj: Obj) -> None:
        for work in needs(obj, self.owners(obj)):
            self.queue.add(work_key(work, rt, obj))

    def _changed(self, old: Obj, new: Obj) -> None:
        if deleting_in_foreground(new) and not deleting_in_foreground(old):
            self._enqueue_dependents(new)
        for ref in released(old, new):
            self._enqueue_waiting_owner(new, ref)

    def _gone(self, obj: Obj) -> None:
        self._enqueue_dependents(obj)
        for ref in _refs(obj):
            self._enqueue_waiting_owner(obj, ref)

    def _enqueue_dependents(self, owner: Obj) -> None:
        for rt, dependent in self.dependents(str(owner["metadata"].get("uid") or "")):
            self.queue.add(work_key(ATTEMPT_TO_DELETE, rt, dependent))

    def _enqueue_waiting_owner(self, dependent: Obj, ref: Ref) -> None:
        """An owner deleted in the foreground looks again when a dependent stops blocking it."""
        key = owner_key(dependent, ref)
        if key is None:
            return
        owner = self._cached(key)
        if owner is not None and deleting_in_foreground(owner):
            self.queue.add(work_key(ATTEMPT_TO_DELETE, must(key[0]), owner))

    # -- sync -------------------------------------------------------------------------------

    def sync_item(self, key: str) -> None:
        work, resource, name = key.split(":", 2)
        obj = self.caches[resource].get(name)
        if obj is None:
            return  # gone: its deletion told its owners and dependents
        plan = self._plan(obj)
        if work == ATTEMPT_TO_ORPHAN:
            self._orphan(plan)
            return
        if plan.strip or plan.delete:
            # Acting on an owner found gone: the object itself is read afresh first, as
            # Kubernetes does (its cache may still show a reference already removed).
            namespace, _, short = name.rpartition("/")
            latest = self._read((resource, namespace, short))
            if latest is None or latest["metadata"].get("uid") != obj["metadata"].get("uid"):
                return
            plan = self._plan(latest)
        self._delete(must(resource), plan)

    def _plan(self, obj: Obj) -> GcPlan:
        uid = str(obj["metadata"].get("uid") or "")
        return plan_item(obj, self.owners(obj, fresh=True), [d for _, d in self.dependents(uid)])

    def _orphan(self, plan: GcPlan) -> None:
        for owner, dependents in plan.orphan:
            for dependent in dependents:
                self._write(_type(dependent), dependent)
            log.info("gc: %s: dependents orphaned", _where(owner))
            self._write(_type(owner), without_finalizer(copy.deepcopy(owner), ORPHAN))

    def _delete(self, rt: ResourceType, plan: GcPlan) -> None:
        for obj in plan.strip:
            self._write(rt, obj)
        for deletion in plan.delete:
            obj = deletion.obj
            log.info("gc: deleting %s (%s)", _where(obj), deletion.policy)
            # Only that very object as read (uid and resourceVersion): if it changed meanwhile,
            # its update enqueues it again.
            m = obj["metadata"]
            exact = {"uid": m.get("uid"), "resourceVersion": m.get("resourceVersion")}
            writes.delete(
                self.registry, rt, obj, preconditions=exact, propagationPolicy=deletion.policy
            )
        for owner in plan.unblock:
            log.info("gc: %s: no blocking dependents left", _where(owner))
            self._write(rt, without_finalizer(copy.deepcopy(owner), FOREGROUND))

    def _write(self, rt: ResourceType, obj: Obj) -> None:
        """Update at the cached resourceVersion; an object gone meanwhile needs nothing, one
        changed meanwhile fails the sync (it is retried once the cache has the change)."""
        m = obj["metadata"]
        try:
            self.registry.replace(rt, str(m.get("namespace") or ""), m["name"], obj)
        except errors.NotFoundError:
            return
