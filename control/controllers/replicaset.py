"""The ReplicaSet controller, as Kubernetes' (pkg/controller/replicaset): informer handlers map
each ReplicaSet or pod event to the ReplicaSet keys it concerns (a pod to its controller, an
orphan to every ReplicaSet of its namespace that selects it), and ``sync(key)`` reads the caches,
asks ``plan_replicas`` what that ReplicaSet must do and applies it: ownership writes (adopt,
release), pod creates in slow-start batches of 1, 2, 4, ... (a broken template fails once, not
500 times), deletes in rank order, then the status, with ``SuccessfulCreate`` and
``SuccessfulDelete`` events. Expectations keep a sync from creating or deleting again before the
cache has seen its last creates and deletes. Writes go through the registry. Shell.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import errors, meta
from common.objects import as_replicaset
from common.resources import must
from control import events
from control.controllers import owners, writes
from control.controllers.ownership import controller_of
from control.controllers.owning import OwnerController
from control.controllers.replicaset_plan import (
    ReplicaPlan,
    batch_sizes,
    min_ready_seconds,
    plan_replicas,
    pod_from_template,
    related_pods,
    replicaset_status,
)
from control.informers import SharedInformers
from control.registry.registry import Registry

__all__ = ["ReplicaSetController", "plan_replicas"]

log = logging.getLogger(__name__)

PODS, REPLICASETS = must("pods"), must("replicasets")
KIND = "ReplicaSet"
COMPONENT = "replicaset-controller"
# kube-controller-manager's --concurrent-replicaset-syncs.
WORKERS = 5
# Concurrent creates/deletes of one batch (Kubernetes runs a goroutine per pod).
WRITE_WORKERS = 16

Obj = dict[str, Any]


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def _key(obj: Obj) -> str:
    return f"{owners.namespace_of(obj)}/{_name(obj)}"


def _terminating_namespace(e: errors.ApiError) -> bool:
    return isinstance(e, errors.ForbiddenError) and "being terminated" in e.message


class ReplicaSetController(OwnerController):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
        workers: int = WORKERS,
    ) -> None:
        super().__init__("replicaset", KIND, registry, informers, "replicasets", clock=clock,
                         workers=workers)  # fmt: skip
        self._pool = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="replicaset-write")
        self.replicasets = self.owner_cache
        self.pods = self.watch("pods", ready_after=min_ready_seconds)

    # -- the sync -------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        """syncReplicaSet: converge one ReplicaSet from the caches."""
        rs = self.replicasets.get(key)
        if rs is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key)
        now = self.clock()
        candidates = owners.owned(self.pods, rs) + self.pods.by_index(
            owners.ORPHANS, owners.namespace_of(rs)
        )
        plan = plan_replicas(as_replicaset(rs), candidates, now)
        ref = controller_of(rs)
        if plan.delete and ref is not None:
            related = self._related(rs, str(ref.get("uid")))
            plan = plan_replicas(as_replicaset(rs), candidates, now, related)
        if plan.adopt:
            self._recheck(key, rs)
        if not writes.write_all(self.registry, PODS, plan.adopt + plan.release):
            raise errors.ConflictError(f"replicaset {key}: a pod changed while it was claimed")
        failure = self._manage(key, rs, plan) if needs_sync else ""
        status = (
            replicaset_status(as_replicaset(rs), plan.claimed, now, failure)
            if failure
            else plan.status
        )
        if writes.write_status(self.registry, REPLICASETS, rs, status) is None:
            raise errors.ConflictError(f"replicaset {key}: changed while its status was written")
        if failure:
            raise writes.SyncError(failure)
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)

    def _related(self, rs: Obj, controller: str) -> list[Obj]:
        """getIndirectlyRelatedPods: the pods of the ReplicaSets with the same controller (the
        rank of deletions counts them per node)."""
        siblings = self.replicasets.by_index(owners.CONTROLLER_UID, controller)
        pods = self.pods.by_index(owners.NAMESPACE, owners.namespace_of(rs))
        return related_pods(rs, siblings, pods)

    def _recheck(self, key: str, rs: Obj) -> None:
        """RecheckDeletionTimestamp: before adopting, a fresh read (not the cache) must show
        the same ReplicaSet, not being deleted."""
        try:
            fresh = self.registry.get(REPLICASETS, owners.namespace_of(rs), _name(rs))
        except errors.NotFoundError:
            fresh = {"metadata": {}}
        m = fresh["metadata"]
        if m.get("uid") != rs["metadata"].get("uid") or m.get("deletionTimestamp"):
            raise errors.ConflictError(f"replicaset {key}: gone or going: it adopts nothing")

    def _manage(self, key: str, rs: Obj, plan: ReplicaPlan) -> str:
        """manageReplicas: the creates or deletes of the plan; the first error, if any."""
        if rs["metadata"].get("deletionTimestamp"):
            return ""
        if plan.create:
            return self._create(key, rs, plan.create)
        if plan.delete:
            return self._delete(key, rs, plan.delete)
        return ""

    def _create(self, key: str, rs: Obj, count: int) -> str:
        """slowStartBatch: batches of 1, 2, 4, ...; stop after the first batch with a failure.
        The creates never tried are not awaited."""
        self.expectations.expect_creations(key, count)
        done, failure = 0, ""
        for size in batch_sizes(count):
            futures = [self._pool.submit(self._create_one, rs) for _ in range(size)]
            failures = [e for e in (f.result() for f in futures) if e]
            done += size - len(failures)
            if failures:
                failure = failures[0]
                break
        for _ in range(count - done):
            self.expectations.creation_observed(key)
        return failure

    def _create_one(self, rs: Obj) -> str:
        namespace = owners.namespace_of(rs)
        try:
            pod, _ = self.registry.create(PODS, namespace, pod_from_template(as_replicaset(rs)))
        except errors.ApiError as e:
            if _terminating_namespace(e):
                return ""
            log.info("replicaset %s/%s: create failed: %s", namespace, _name(rs), e)
            self._event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}")
            return e.message
        self._event(rs, "Normal", "SuccessfulCreate", f"Created pod: {_name(pod)}")
        return ""

    def _delete(self, key: str, rs: Obj, pods: list[Obj]) -> str:
        self.expectations.expect_deletions(key, [_key(p) for p in pods])
        results = list(self._pool.map(lambda p: self._delete_one(key, rs, p), pods))
        return next((r for r in results if r), "")

    def _delete_one(self, key: str, rs: Obj, pod: Obj) -> str:
        """Delete that very pod (by uid); a deletion that will not happen is not awaited."""
        options = {"preconditions": {"uid": pod["metadata"].get("uid")}}
        try:
            self.registry.delete(PODS, owners.namespace_of(pod), _name(pod), options)
        except (errors.NotFoundError, errors.ConflictError):
            self.expectations.deletion_observed(key, _key(pod))  # gone already
            return ""
        except errors.ApiError as e:
            self.expectations.deletion_observed(key, _key(pod))
            self._event(rs, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            return e.message
        self._event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {_name(pod)}")
        return ""

    def _event(self, rs: Obj, etype: str, reason: str, message: str) -> None:
        events.record(self.registry, rs, etype, reason, message, COMPONENT)
