"""The event wiring of a controller of owned objects, which Kubernetes writes again in each of its
ReplicaSet, DaemonSet, StatefulSet, Deployment, Job and CronJob controllers: the owner's own events
enqueue its key; a dependent's events (a pod, ReplicaSet, ControllerRevision or Job) enqueue its
controlling owner's key, and an orphan's the keys of the owners whose selector picks it (who may
adopt it). Reads only the informer caches. Shell (informer handlers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from common.controller import Controller
from common.informer import Handler, Indexer, IndexFunc
from control.controllers import owners
from control.controllers.expectations import Expectations
from control.controllers.ownership import controller_of
from control.controllers.ranking import is_ready
from control.informers import SharedInformers
from control.registry.registry import Registry

Obj = dict[str, Any]
key = owners.key_of


class OwnerController(Controller):
    """A Controller of one owner kind (``kind``, cached from ``resource``): the owners' keys are
    its queue keys, and what it awaits of its own creates and deletes is in ``expectations``."""

    def __init__(
        self,
        name: str,
        kind: str,
        registry: Registry,
        informers: SharedInformers,
        resource: str,
        *,
        clock: Callable[[], dt.datetime],
        workers: int,
        indexers: Mapping[str, IndexFunc] | None = owners.INDEXERS,
    ) -> None:
        super().__init__(name, self.sync, workers=workers, initial=self._all_keys)
        self.kind = kind
        self.registry = registry
        self.clock = clock
        self.informers = informers
        self.expectations = Expectations()
        informer = informers.informer(resource, indexers)
        self.owner_cache = informer.store
        informer.add_handler(Handler(self.owner_added, self.owner_updated, self.owner_deleted))

    def _all_keys(self) -> list[str]:
        return self.owner_cache.keys()

    def owner_of(self, obj: Obj) -> Obj | None:
        """resolveControllerRef: the cached owner the object's controllerRef names."""
        return owners.resolve(self.owner_cache, owners.namespace_of(obj), controller_of(obj),
                              self.kind)  # fmt: skip

    def watch(
        self,
        resource: str,
        *,
        adopt: bool = True,
        replace_deleting: bool = True,
        ready_after: Callable[[Obj], float] | None = None,
    ) -> Indexer:
        """The cache of a dependent resource, its events mapped to the owners' keys (see
        ``Dependents``)."""
        informer = self.informers.informer(resource, owners.INDEXERS)
        dependents = Dependents(self, adopt=adopt, replace_deleting=replace_deleting,
                                ready_after=ready_after)  # fmt: skip
        informer.add_handler(Handler(dependents.add, dependents.update, dependents.delete))
        return informer.store

    # -- the owner's own events ---------------------------------------------------------------

    def owner_added(self, obj: Obj) -> None:
        self.queue.add(key(obj))

    def owner_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("uid") != cur["metadata"].get("uid"):
            self.owner_deleted(old)  # deleted and made again between two looks
        self.queue.add(key(cur))  # a resync too: a failed write is retried

    def owner_deleted(self, obj: Obj) -> None:
        self.expectations.delete(key(obj))
        self.queue.add(key(obj))


class Dependents:
    """The handlers of a dependent kind (addPod/updatePod/deletePod of Kubernetes' controllers):
    its creates and deletes are what the owner's expectations await; an orphan is offered to the
    owners that select it when it appears or its labels or controller change (``adopt``); a
    graceful deletion counts as the deletion (``replace_deleting``: a pod is replaced at once);
    a dependent turning ready brings its owner back ``ready_after(owner)`` seconds later
    (minReadySeconds, plus one against clock skew)."""

    def __init__(
        self,
        ctl: OwnerController,
        *,
        adopt: bool,
        replace_deleting: bool,
        ready_after: Callable[[Obj], float] | None,
    ) -> None:
        self.ctl = ctl
        self.adopt = adopt
        self.replace_deleting = replace_deleting
        self.ready_after = ready_after

    def add(self, obj: Obj) -> None:
        if obj["metadata"].get("deletionTimestamp"):
            self.delete(obj)  # seen for the first time while already going
            return
        if controller_of(obj) is not None:
            owner = self.ctl.owner_of(obj)
            if owner is not None:
                self.ctl.expectations.creation_observed(key(owner))
                self.ctl.queue.add(key(owner))
            return
        self._offer(obj)

    def update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return  # a resync: the owners' own resync covers it
        labels_changed = old["metadata"].get("labels") != cur["metadata"].get("labels")
        if self.replace_deleting and cur["metadata"].get("deletionTimestamp"):
            self.delete(cur)
            if labels_changed:
                self.delete(old)
            return
        cur_ref, old_ref = controller_of(cur), controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            self._enqueue(self.ctl.owner_of(old))
        if cur_ref is not None:
            owner = self.ctl.owner_of(cur)
            self._enqueue(owner)
            if owner is not None:
                self._when_ready(owner, old, cur)
            return
        if labels_changed or ref_changed:
            self._offer(cur)

    def delete(self, obj: Obj) -> None:
        owner = self.ctl.owner_of(obj)  # none for an orphan: no owner waits for it
        if owner is not None:
            self.ctl.expectations.deletion_observed(key(owner), key(obj))
            self.ctl.queue.add(key(owner))

    def _enqueue(self, owner: Obj | None) -> None:
        if owner is not None:
            self.ctl.queue.add(key(owner))

    def _offer(self, orphan: Obj) -> None:
        if self.adopt:
            for owner in owners.selecting(self.ctl.owner_cache, orphan):
                self.ctl.queue.add(key(owner))

    def _when_ready(self, owner: Obj, old: Obj, cur: Obj) -> None:
        seconds = self.ready_after(owner) if self.ready_after is not None else 0
        if seconds > 0 and not is_ready(old) and is_ready(cur):
            self.ctl.queue.add_after(key(owner), seconds + 1.0)
