"""The Deployment controller: on every change of a Deployment, ReplicaSet or pod it re-reads them,
asks ``plan_deployment`` what each Deployment needs, and applies the plan with compare-and-set
writes: ReplicaSet adoptions and releases, the new ReplicaSet, resized ones, deleted old
revisions, then the Deployment's revision annotation and status, with ``ScalingReplicaSet``
events. A write that loses to a concurrent change ends the sync; the next pass re-plans. Shell.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from common import errors, meta
from common.resources import must
from common.workloads import RECREATE
from control import events
from control.controllers import deployment_status as ds
from control.controllers import rollout as ro
from control.controllers import writes
from control.controllers.deployment_plan import DeploymentPlan, plan_deployment
from control.controllers.passes import run_passes
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS, REPLICASETS, DEPLOYMENTS = must("pods"), must("replicasets"), must("deployments")
COMPONENT = "deployment-controller"
RESYNC_SECONDS = 30.0
# After a write lost to a concurrent change: look again almost at once.
REPLAN_SECONDS = 0.05

Obj = dict[str, Any]


def _namespaced(objs: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for obj in objs:
        out.setdefault(str(obj["metadata"].get("namespace") or ""), []).append(obj)
    return out


def _recreate(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") == RECREATE


def _soonest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


class DeploymentController:
    name = "deployment"
    watches: tuple[str, ...] = ("deployments", "replicasets", "pods")

    def __init__(self, registry: Registry, *, clock: Callable[[], dt.datetime] = meta.now) -> None:
        self.registry = registry
        self.clock = clock
        self.wake = threading.Event()

    def run(self, stop: threading.Event) -> None:
        run_passes(self.name, self.sync_all, self.wake, stop, RESYNC_SECONDS)

    def sync_all(self) -> float | None:
        """One pass over every Deployment; returns seconds until a pass is due anyway."""
        deployments = self.registry.list(DEPLOYMENTS, "")["items"]
        if not deployments:
            return None
        replicasets = _namespaced(self.registry.list(REPLICASETS, "")["items"])
        # Only Recreate looks at pods (it waits until the old ones are gone).
        pods = _namespaced(self.registry.list(PODS, "")["items"]) if any(
            _recreate(d) for d in deployments
        ) else {}  # fmt: skip
        due: float | None = None
        for d in deployments:
            ns = str(d["metadata"].get("namespace") or "")
            try:
                after = self.sync(d, replicasets.get(ns, []), pods.get(ns, []))
            except errors.ApiError as e:
                log.warning("deployment %s/%s: sync failed: %s", ns, d["metadata"]["name"], e)
                after = 1.0
            due = _soonest(due, after)
        return due

    def sync(self, d: Obj, replicasets: list[Obj], pods: list[Obj]) -> float | None:
        plan = plan_deployment(d, replicasets, pods, self.clock())
        return self.apply(d, plan)

    def apply(self, d: Obj, plan: DeploymentPlan) -> float | None:
        if not writes.write_all(self.registry, REPLICASETS, plan.adopt + plan.release):
            return REPLAN_SECONDS
        written = {""}
        if plan.create is not None:
            if not self._create(d, plan.create):
                return 1.0
            written.add(plan.create["metadata"]["name"])
        for rs in plan.update:
            if writes.replace(self.registry, REPLICASETS, rs) is None:
                self._events(d, plan, written)
                return REPLAN_SECONDS
            written.add(rs["metadata"]["name"])
        for rs in plan.delete:
            writes.delete(self.registry, REPLICASETS, rs)
        self._events(d, plan, written)
        if plan.deployment is not None and not self._write_deployment(d, plan.deployment):
            return REPLAN_SECONDS
        return plan.requeue_after

    def _create(self, d: Obj, rs: Obj) -> bool:
        body = copy.deepcopy(rs)
        body["metadata"].pop("creationTimestamp", None)
        ns, name = d["metadata"]["namespace"], rs["metadata"]["name"]
        try:
            self.registry.create(REPLICASETS, ns, body)
            return True
        except errors.AlreadyExistsError:
            return False  # a stale read: the next pass sees it
        except errors.ApiError as e:
            if isinstance(e, errors.ForbiddenError) and "being terminated" in e.message:
                return False
            message = f'Failed to create new replica set "{name}": {e.message}'
            events.record(self.registry, d, "Warning", "ReplicaSetCreateError", message, COMPONENT)
            if ro.has_progress_deadline(d):
                status = copy.deepcopy(d.get("status") or {})
                cond = ds.new_condition("Progressing", "False", "ReplicaSetCreateError", message,
                                        self.clock())  # fmt: skip
                ds.set_condition(status, cond)
                writes.write_status(self.registry, DEPLOYMENTS, d, status)
            return False

    def _write_deployment(self, d: Obj, new: Obj) -> bool:
        """The revision annotation (an update) and the status (a status update), each CAS."""
        current: Obj | None = d
        annotations = new["metadata"].get("annotations") or {}
        if annotations != (d["metadata"].get("annotations") or {}):
            body = copy.deepcopy(d)
            body["metadata"]["annotations"] = annotations
            current = writes.replace(self.registry, DEPLOYMENTS, body)
        if current is None:
            return False
        return writes.write_status(self.registry, DEPLOYMENTS, current, new["status"]) is not None

    def _events(self, d: Obj, plan: DeploymentPlan, written: set[str]) -> None:
        for rs_name, etype, reason, message in plan.events:
            if rs_name in written:
                events.record(self.registry, d, etype, reason, message, COMPONENT)
