"""The ReplicaSet controller: on every change of a ReplicaSet or a pod it re-reads them all, asks
``plan_replicas`` what each ReplicaSet must do, and applies it: ownership writes (adopt, release),
pod creates in slow-start batches of 1, 2, 4, ... (as Kubernetes, so a broken template fails
once, not 500 times), deletes in rank order, then the status, with ``SuccessfulCreate`` and
``SuccessfulDelete`` events. Level-triggered; writes are compare-and-set. Shell.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import errors, meta
from common.resources import must
from control import events
from control.controllers import writes
from control.controllers.passes import run_passes
from control.controllers.replicaset_plan import (
    ReplicaPlan,
    batch_sizes,
    plan_replicas,
    pod_from_template,
    related_pods,
    replicaset_status,
)
from control.registry.registry import Registry

__all__ = ["ReplicaSetController", "plan_replicas"]

log = logging.getLogger(__name__)

PODS, REPLICASETS = must("pods"), must("replicasets")
COMPONENT = "replicaset-controller"
# A pass even without any change: Kubernetes' controllers resync their informers periodically.
RESYNC_SECONDS = 30.0
# Concurrent creates/deletes of one batch (Kubernetes runs a goroutine per pod).
WRITE_WORKERS = 16

Obj = dict[str, Any]


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _namespaced(objs: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for obj in objs:
        out.setdefault(str(obj["metadata"].get("namespace") or ""), []).append(obj)
    return out


def _terminating_namespace(e: errors.ApiError) -> bool:
    return isinstance(e, errors.ForbiddenError) and "being terminated" in e.message


class ReplicaSetController:
    name = "replicaset"
    watches: tuple[str, ...] = ("replicasets", "pods")

    def __init__(self, registry: Registry, *, clock: Callable[[], dt.datetime] = meta.now) -> None:
        self.registry = registry
        self.clock = clock
        self.wake = threading.Event()
        self._pool = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="replicaset-write")

    def run(self, stop: threading.Event) -> None:
        run_passes(self.name, self.sync_all, self.wake, stop, RESYNC_SECONDS)

    def sync_all(self) -> float | None:
        """One pass over every ReplicaSet; returns seconds until a pass is due anyway."""
        replicasets = self.registry.list(REPLICASETS, "")["items"]
        pods = _namespaced(self.registry.list(PODS, "")["items"])
        siblings = _namespaced(replicasets)
        due: float | None = None
        for rs in replicasets:
            namespace = str(rs["metadata"].get("namespace") or "")
            try:
                after = self.sync(rs, siblings[namespace], pods.get(namespace, []))
            except errors.ApiError as e:
                log.warning("replicaset %s/%s: sync failed: %s", namespace, _name(rs), e)
                after = 1.0
            if after is not None:
                due = after if due is None else min(due, after)
        return due

    def sync(self, rs: Obj, siblings: list[Obj], pods: list[Obj]) -> float | None:
        """Converge one ReplicaSet; returns seconds until it wants another sync."""
        now = self.clock()
        plan = plan_replicas(rs, pods, now, related_pods(rs, siblings, pods))
        owned = writes.write_all(self.registry, PODS, plan.adopt + plan.release)
        if not owned:
            return 0.1  # a pod changed under us: re-read and re-plan
        failure = self._manage(rs, plan)
        status = replicaset_status(rs, plan.claimed, now, failure) if failure else plan.status
        writes.write_status(self.registry, REPLICASETS, rs, status)
        if failure:
            return 1.0
        return plan.requeue_after

    def _manage(self, rs: Obj, plan: ReplicaPlan) -> str:
        if plan.create:
            return self._create(rs, plan.create)
        if plan.delete:
            return self._delete(rs, plan.delete)
        return ""

    def _create(self, rs: Obj, count: int) -> str:
        """slowStartBatch: batches of 1, 2, 4, ...; stop at the first batch with a failure."""
        for size in batch_sizes(count):
            futures = [self._pool.submit(self._create_one, rs) for _ in range(size)]
            failures = [e for e in (f.result() for f in futures) if e]
            if failures:
                return failures[0]
        return ""

    def _create_one(self, rs: Obj) -> str:
        namespace = str(rs["metadata"]["namespace"])
        try:
            pod, _ = self.registry.create(PODS, namespace, pod_from_template(rs))
        except errors.ApiError as e:
            if _terminating_namespace(e):
                return ""
            log.info("replicaset %s/%s: create failed: %s", namespace, _name(rs), e)
            self._event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}")
            return e.message
        self._event(rs, "Normal", "SuccessfulCreate", f"Created pod: {_name(pod)}")
        return ""

    def _delete(self, rs: Obj, pods: list[Obj]) -> str:
        results = list(self._pool.map(lambda p: self._delete_one(rs, p), pods))
        return next((r for r in results if r), "")

    def _delete_one(self, rs: Obj, pod: Obj) -> str:
        try:
            if writes.delete(self.registry, PODS, pod):
                self._event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {_name(pod)}")
        except errors.ApiError as e:
            self._event(rs, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            return e.message
        return ""

    def _event(self, rs: Obj, etype: str, reason: str, message: str) -> None:
        events.record(self.registry, rs, etype, reason, message, COMPONENT)
