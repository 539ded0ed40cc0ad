"""The Deployment controller, as Kubernetes' (pkg/controller/deployment): informer handlers map
each Deployment, ReplicaSet or pod event to the Deployment keys it concerns (a ReplicaSet to its
controller, an orphan ReplicaSet to every Deployment of its namespace that selects it, the last
pod of a Recreate Deployment going away to that Deployment), and ``sync(key)`` reads the caches,
asks ``plan_deployment`` what the Deployment needs and applies the plan: ReplicaSet adoptions and
releases, the new ReplicaSet, resized ones, deleted old revisions, then the Deployment's revision
annotation and status, with ``ScalingReplicaSet`` events. Every write is compare-and-set through
the registry; one that loses to a concurrent change (the cache was behind) ends the sync, which
runs again with its key's back-off once the cache has caught up. Shell.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from common import errors, meta
from common.informer import Handler
from common.resources import must
from common.workloads import RECREATE
from control import events
from control.controllers import deployment_status as ds
from control.controllers import owners, writes
from control.controllers import rollout as ro
from control.controllers.deployment_plan import DeploymentPlan, plan_deployment
from control.controllers.ownership import controller_of, controller_uid
from control.controllers.owning import OwnerController
from control.controllers.replicaset_plan import selector_of
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS, REPLICASETS, DEPLOYMENTS = must("pods"), must("replicasets"), must("deployments")
KIND = "Deployment"
COMPONENT = "deployment-controller"
# kube-controller-manager's --concurrent-deployment-syncs.
WORKERS = 5

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    return f"{owners.namespace_of(obj)}/{obj['metadata']['name']}"


def _recreate(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") == RECREATE


def _lost(key: str, what: str) -> errors.ConflictError:
    return errors.ConflictError(f"deployment {key}: {what} changed meanwhile: syncing again")


class DeploymentController(OwnerController):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
        workers: int = WORKERS,
    ) -> None:
        super().__init__("deployment", KIND, registry, informers, "deployments", clock=clock,
                         workers=workers, indexers=None)  # fmt: skip
        self.deployments = self.owner_cache
        self.replicasets = self.watch("replicasets", replace_deleting=False)
        pods = informers.informer("pods", owners.INDEXERS)
        self.pods = pods.store
        pods.add_handler(Handler(on_delete=self._delete_pod))

    # -- event handlers: which Deployment keys a pod event concerns ---------------------------

    def _delete_pod(self, pod: Obj) -> None:
        """A Recreate Deployment waits for its old pods to go: sync it when its last one has."""
        rs = owners.resolve(self.replicasets, owners.namespace_of(pod), controller_of(pod),
                            "ReplicaSet")  # fmt: skip
        d = None if rs is None else self.owner_of(rs)
        if d is not None and _recreate(d) and not self._pods_of(d):
            self.queue.add(_key(d))

    # -- the sync -------------------------------------------------------------------------------

    def _pods_of(self, d: Obj) -> list[Obj]:
        """getPodMapForDeployment: the pods of the ReplicaSets the Deployment owns or selects
        (Recreate waits until the old ones are gone)."""
        selector = selector_of(d)
        uid = d["metadata"].get("uid")
        out: list[Obj] = []
        for rs in self.replicasets.by_index(owners.NAMESPACE, owners.namespace_of(d)):
            owner = controller_uid(rs)
            labels = rs["metadata"].get("labels") or {}
            if owner == uid or (not owner and selector.matches(labels)):
                out += owners.owned(self.pods, rs)
        return out

    def sync(self, key: str) -> None:
        """syncDeployment: converge one Deployment from the caches."""
        d = self.deployments.get(key)
        if d is None:
            return  # deleted: the garbage collector removes what it owned
        # The planner changes the ReplicaSets it resizes: give it copies, never the cache's.
        replicasets = copy.deepcopy(
            self.replicasets.by_index(owners.NAMESPACE, owners.namespace_of(d))
        )
        pods = self._pods_of(d) if _recreate(d) else []
        plan = plan_deployment(d, replicasets, pods, self.clock())
        self.apply(key, d, plan)
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)

    def apply(self, key: str, d: Obj, plan: DeploymentPlan) -> None:
        if plan.adopt:
            self._recheck(key, d)
        if not writes.write_all(self.registry, REPLICASETS, plan.adopt + plan.release):
            raise _lost(key, "a ReplicaSet it claims")
        written = {""}
        if plan.create is not None:
            self._create(key, d, plan.create)
            written.add(plan.create["metadata"]["name"])
        for rs in plan.update:
            if writes.replace(self.registry, REPLICASETS, rs) is None:
                self._events(d, plan, written)
                raise _lost(key, f"replicaset {rs['metadata']['name']}")
            written.add(rs["metadata"]["name"])
        for rs in plan.delete:
            writes.delete(self.registry, REPLICASETS, rs)
        self._events(d, plan, written)
        if plan.deployment is not None:
            self._write_deployment(key, d, plan.deployment)

    def _recheck(self, key: str, d: Obj) -> None:
        """RecheckDeletionTimestamp: before adopting, a fresh read (not the cache) must show
        the same Deployment, not being deleted."""
        try:
            fresh = self.registry.get(DEPLOYMENTS, owners.namespace_of(d), d["metadata"]["name"])
        except errors.NotFoundError:
            fresh = {"metadata": {}}
        m = fresh["metadata"]
        if m.get("uid") != d["metadata"].get("uid") or m.get("deletionTimestamp"):
            raise _lost(key, "the Deployment (gone or going: it adopts nothing)")

    def _create(self, key: str, d: Obj, rs: Obj) -> None:
        body = copy.deepcopy(rs)
        body["metadata"].pop("creationTimestamp", None)
        ns, name = owners.namespace_of(d), rs["metadata"]["name"]
        try:
            self.registry.create(REPLICASETS, ns, body)
            return
        except errors.AlreadyExistsError:
            # Made by an earlier sync the cache has not shown yet: its event syncs again.
            raise _lost(key, f"replicaset {name}") from None
        except errors.ApiError as e:
            if isinstance(e, errors.ForbiddenError) and "being terminated" in e.message:
                return  # the namespace and the Deployment are going
            message = f'Failed to create new replica set "{name}": {e.message}'
            events.record(self.registry, d, "Warning", "ReplicaSetCreateError", message, COMPONENT)
            if ro.has_progress_deadline(d):
                status = copy.deepcopy(d.get("status") or {})
                cond = ds.new_condition("Progressing", "False", "ReplicaSetCreateError", message,
                                        self.clock())  # fmt: skip
                ds.set_condition(status, cond)
                writes.write_status(self.registry, DEPLOYMENTS, d, status)
            raise writes.SyncError(message) from e

    def _write_deployment(self, key: str, d: Obj, new: Obj) -> None:
        """The revision annotation (an update) and the status (a status update), each CAS."""
        current: Obj | None = d
        annotations = new["metadata"].get("annotations") or {}
        if annotations != (d["metadata"].get("annotations") or {}):
            body = copy.deepcopy(d)
            body["metadata"]["annotations"] = annotations
            current = writes.replace(self.registry, DEPLOYMENTS, body)
        if current is None or (
            writes.write_status(self.registry, DEPLOYMENTS, current, new["status"]) is None
        ):
            raise _lost(key, "the Deployment")

    def _events(self, d: Obj, plan: DeploymentPlan, written: set[str]) -> None:
        for rs_name, etype, reason, message in plan.events:
            if rs_name in written:
                events.record(self.registry, d, etype, reason, message, COMPONENT)
