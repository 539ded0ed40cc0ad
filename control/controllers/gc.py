"""The garbage collector loop: re-reads every object that can own or be owned, asks
``plan_collection`` what is garbage, and applies it through the registry: drops references to gone
owners, deletes dependents whose owners are all gone (after checking each owner once more by a
fresh read, as a just-created owner may be missing from the lists), releases the dependents of an
owner deleted with ``orphan`` and then removes that finalizer, and removes ``foregroundDeletion``
once no blocking dependent remains. Shell.
"""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any

from common import errors
from common.resources import RESOURCES, ResourceType, by_kind
from control.controllers import writes
from control.controllers.gc_plan import Deletion, GcPlan, Ref, owner_key, plan_collection
from control.controllers.passes import run_passes
from control.registry.deletion import FOREGROUND, ORPHAN, without_finalizer
from control.registry.registry import Registry

log = logging.getLogger(__name__)

# Events never own anything and are many: everything else is looked at.
SCANNED = tuple(rt for rt in RESOURCES if rt.plural != "events")
# Cascading deletes need not react within milliseconds: one pass per burst of pod changes.
MIN_INTERVAL = 0.25
RESYNC_SECONDS = 10.0

Obj = dict[str, Any]


def _type(obj: Obj) -> ResourceType:
    rt = by_kind(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
    if rt is None:
        raise KeyError(f"{obj.get('apiVersion')}/{obj.get('kind')}")
    return rt


def _where(obj: Obj) -> str:
    m = obj["metadata"]
    return f"{obj.get('kind')} {m.get('namespace') or ''}/{m.get('name')}"


class GarbageCollector:
    name = "garbage-collector"
    watches: tuple[str, ...] = ("deployments", "replicasets", "pods")

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        run_passes(self.name, self.sync_all, self.wake, stop, RESYNC_SECONDS, MIN_INTERVAL)

    def sync_all(self) -> float | None:
        objects = [
            (rt.plural, obj) for rt in SCANNED for obj in self.registry.list(rt, "")["items"]
        ]
        plan = plan_collection(objects)
        return self.apply(plan)

    def apply(self, plan: GcPlan) -> float | None:
        lost = False
        for obj in plan.strip:
            lost = self._write(obj) is False or lost
        for owner, dependents in plan.orphan:
            released = [self._write(d) for d in dependents]
            if all(r is not False for r in released):
                log.info("gc: %s: dependents orphaned", _where(owner))
                lost = self._write(without_finalizer(copy.deepcopy(owner), ORPHAN)) is False or lost
            else:
                lost = True
        for deletion in plan.delete:
            self._collect(deletion)
        for owner in plan.unblock:
            log.info("gc: %s: no blocking dependents left", _where(owner))
            lost = self._write(without_finalizer(copy.deepcopy(owner), FOREGROUND)) is False or lost
        return 0.1 if lost else None

    def _write(self, obj: Obj) -> bool | None:
        """Update at the read resourceVersion: True done, None gone meanwhile, False lost."""
        m = obj["metadata"]
        try:
            self.registry.replace(_type(obj), str(m.get("namespace") or ""), m["name"], obj)
            return True
        except errors.NotFoundError:
            return None
        except errors.ConflictError:
            return False

    def _collect(self, deletion: Deletion) -> None:
        obj = deletion.obj
        if not all(self._dangling(obj, ref) for ref in deletion.dangling):
            return
        log.info("gc: deleting %s (%s)", _where(obj), deletion.policy)
        try:
            writes.delete(self.registry, _type(obj), obj, propagationPolicy=deletion.policy)
        except errors.ApiError as e:
            log.info("gc: %s not deleted: %s", _where(obj), e)

    def _dangling(self, dependent: Obj, ref: Ref) -> bool:
        """isDangling: a fresh read says the owner (by this uid) is gone."""
        key = owner_key(dependent, ref)
        if key is None:
            return False
        resource, namespace, name = key
        rt = next(t for t in RESOURCES if t.plural == resource)
        try:
            owner = self.registry.get(rt, namespace, name)
        except errors.NotFoundError:
            return True
        return bool(owner["metadata"].get("uid") != ref.get("uid"))
