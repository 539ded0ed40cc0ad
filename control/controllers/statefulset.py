"""The StatefulSet controller, as Kubernetes' (pkg/controller/statefulset): informer handlers
map StatefulSet, pod and ControllerRevision events to the set they concern, and ``sync(key)``
reads the caches, claims the set's pods (members by name, selected by labels), settles its
current and update revisions, asks ``plan_statefulset`` what to do and applies it in order:
claims before their pod, pods by fixed names (so a restart can never make a second pod of an
ordinal: the create of an existing name is refused), then the status and the history limit.
Events as Kubernetes words them. Writes go through the registry. Shell.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from common import errors, meta
from common.informer import Handler
from common.resources import ResourceType, must
from control import events
from control.controllers import history, owners, writes
from control.controllers.ownership import claim, controller_of, with_owner
from control.controllers.owning import OwnerController
from control.controllers.replicaset_plan import min_ready_seconds, selector_of
from control.controllers.statefulset_history import (
    apply_revision,
    current_revision,
    update_revision,
)
from control.controllers.statefulset_plan import (
    CLAIM,
    CREATE,
    DELETE,
    UPDATE,
    Action,
    Revisions,
    plan_statefulset,
    requeue_after,
    revisions_to_delete,
)
from control.controllers.statefulset_pods import is_member_of, name_of
from control.informers import SharedInformers
from control.registry.registry import Registry

__all__ = ["StatefulSetController"]

log = logging.getLogger(__name__)

PODS, PVCS = must("pods"), must("persistentvolumeclaims")
STATEFULSETS, REVISIONS = must("statefulsets"), must("controllerrevisions")
KIND = "StatefulSet"
COMPONENT = "statefulset-controller"
# kube-controller-manager's --concurrent-statefulset-syncs.
WORKERS = 5
# How many hash collisions a new revision may meet before the sync gives up (and retries).
MAX_COLLISIONS = 10

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    return f"{owners.namespace_of(obj)}/{name_of(obj)}"


class StatefulSetController(OwnerController):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
        workers: int = WORKERS,
    ) -> None:
        super().__init__("statefulset", KIND, registry, informers, "statefulsets", clock=clock,
                         workers=workers)  # fmt: skip
        self.sets = self.owner_cache
        self.pods = self.watch("pods", ready_after=min_ready_seconds)
        self.revisions = self.watch("controllerrevisions", replace_deleting=False)
        claims = informers.informer("persistentvolumeclaims")
        services = informers.informer("services")
        self.claims, self.services = claims.store, services.store
        claims.add_handler(Handler(self._claim_event, self._update_claim, self._claim_event))

    # -- event handlers: which StatefulSet keys a claim event concerns ------------------------

    def _claim_event(self, pvc: Obj) -> None:
        """A claim going away may be what holds a pod back (a stale claim)."""
        for sts in self.sets.by_index(owners.NAMESPACE, owners.namespace_of(pvc)):
            if f"-{name_of(sts)}-" in name_of(pvc):
                self.queue.add(_key(sts))

    def _update_claim(self, old: Obj, cur: Obj) -> None:
        if cur["metadata"].get("deletionTimestamp") != old["metadata"].get("deletionTimestamp"):
            self._claim_event(cur)

    # -- the sync ----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        """syncStatefulSet: converge one StatefulSet from the caches."""
        sts = self.sets.get(key)
        if sts is None:
            return
        pods = self._claim_pods(key, sts)
        revisions = self._claim_revisions(key, sts)
        revs = self._revisions(sts, revisions)
        namespace = owners.namespace_of(sts)
        claims = {_key(c): c for c in self.claims.by_index(owners.NAMESPACE, namespace)}
        now = self.clock()
        plan = plan_statefulset(sts, pods, claims, revs, now)
        failure = self._apply(sts, plan.actions)
        if writes.write_status(self.registry, STATEFULSETS, sts, plan.status) is None:
            raise errors.ConflictError(f"statefulset {key}: changed while its status was written")
        limit = int((sts.get("spec") or {}).get("revisionHistoryLimit") or 0)
        for old in revisions_to_delete(history.sort_revisions(revisions), pods, revs, limit):
            writes.delete(self.registry, REVISIONS, old)
        if failure:
            raise writes.SyncError(failure)
        wait = requeue_after(sts, pods, now)
        if wait is not None:
            self.queue.add_after(key, wait)

    def _claim_pods(self, key: str, sts: Obj) -> list[Obj]:
        """getPodsForStatefulSet: the pods it controls or may adopt whose names are its own."""
        namespace = owners.namespace_of(sts)
        candidates = owners.owned(self.pods, sts) + [
            p for p in self.pods.by_index(owners.ORPHANS, namespace) if is_member_of(sts, p)
        ]
        claims = claim(sts, selector_of(sts), candidates)
        if claims.adopt:
            self._recheck(key, sts)
        if not writes.write_all(self.registry, PODS, claims.adopt + claims.release):
            raise errors.ConflictError(f"statefulset {key}: a pod changed while it was claimed")
        return claims.owned

    def _claim_revisions(self, key: str, sts: Obj) -> list[Obj]:
        """ListControllerRevisions and adoptOrphanRevisions."""
        found = history.list_revisions(self.revisions, sts, selector_of(sts))
        orphans = [with_owner(cr, sts) for cr in found if controller_of(cr) is None]
        if orphans:
            self._recheck(key, sts)
            if not writes.write_all(self.registry, REVISIONS, orphans):
                raise errors.ConflictError(f"statefulset {key}: a revision changed while adopted")
        return [cr for cr in found if controller_of(cr) is not None] + orphans

    def _recheck(self, key: str, sts: Obj) -> None:
        """Before adopting, a fresh read must show the same set, not being deleted."""
        try:
            fresh = self.registry.get(STATEFULSETS, owners.namespace_of(sts), name_of(sts))
        except errors.NotFoundError:
            fresh = {"metadata": {}}
        m = fresh["metadata"]
        if m.get("uid") != sts["metadata"].get("uid") or m.get("deletionTimestamp"):
            raise errors.ConflictError(f"statefulset {key}: gone or going: it adopts nothing")

    def _revisions(self, sts: Obj, revisions: list[Obj]) -> Revisions:
        """getStatefulSetRevisions: the update revision stored (created or renumbered) and the
        current one."""
        ordered = history.sort_revisions(revisions)
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        decided = update_revision(sts, ordered, collisions)
        update = decided.revision
        if decided.write == "renumber":
            written = writes.replace(self.registry, REVISIONS, update)
            if written is None:
                raise errors.ConflictError(f"statefulset {_key(sts)}: a revision changed")
            update = written
        elif decided.write == "create":
            update, collisions = self._create_revision(sts, ordered, collisions)
        current = current_revision(sts, ordered, update)
        return Revisions(
            name_of(current),
            name_of(update),
            apply_revision(sts, current),
            apply_revision(sts, update),
            collisions,
        )

    def _create_revision(self, sts: Obj, ordered: list[Obj], collisions: int) -> tuple[Obj, int]:
        """CreateControllerRevision: a name taken by other data is a hash collision, counted
        in ``status.collisionCount`` and probed past; taken by the same data, it is ours."""
        namespace = owners.namespace_of(sts)
        for _ in range(MAX_COLLISIONS):
            candidate = update_revision(sts, ordered, collisions).revision
            try:
                return self.registry.create(REVISIONS, namespace, candidate)[0], collisions
            except errors.AlreadyExistsError:
                existing = self.registry.get(REVISIONS, namespace, name_of(candidate))
                if existing.get("data") == candidate.get("data"):
                    return existing, collisions
                collisions += 1
        raise errors.ConflictError(f"statefulset {_key(sts)}: too many revision hash collisions")

    # -- applying the plan -------------------------------------------------------------------

    def _apply(self, sts: Obj, actions: list[Action]) -> str:
        """Each write in order; the first failure stops the rest (as the next sync re-plans)."""
        if any(a.verb == CREATE for a in actions):
            self._check_service(sts)
        for action in actions:
            failure = self._one(sts, action)
            if failure:
                return failure
        return ""

    def _one(self, sts: Obj, action: Action) -> str:
        pod = action.obj
        if action.verb in (CREATE, CLAIM) and action.claims:
            failure = self._create_claims(sts, pod, action.claims)
            if failure:
                return failure
        if action.verb == CREATE:
            return self._create_pod(sts, pod)
        if action.verb == DELETE:
            return self._delete_pod(sts, pod, action.why)
        if action.verb == UPDATE:
            return self._write(PODS, pod, "Pod")
        if action.verb == CLAIM and not action.claims:
            return self._write(PVCS, pod, "Claim")
        return ""

    def _create_claims(self, sts: Obj, pod: Obj, claims: tuple[Obj, ...]) -> str:
        """createPersistentVolumeClaims: the pod's missing claims, before the pod."""
        for pvc in claims:
            try:
                self.registry.create(PVCS, owners.namespace_of(sts), pvc)
            except errors.AlreadyExistsError:
                continue
            except errors.ApiError as e:
                message = (
                    f"create Claim {name_of(pvc)} for Pod {name_of(pod)} in StatefulSet "
                    f"{name_of(sts)} failed error: {e.message}"
                )
                self._event(sts, "Warning", "FailedCreate", message)
                return message
            message = (
                f"create Claim {name_of(pvc)} Pod {name_of(pod)} in StatefulSet "
                f"{name_of(sts)} success"
            )
            self._event(sts, "Normal", "SuccessfulCreate", message)
        return ""

    def _create_pod(self, sts: Obj, pod: Obj) -> str:
        try:
            self.registry.create(PODS, owners.namespace_of(sts), pod)
        except errors.AlreadyExistsError as e:
            # The cache has not seen it yet (or a pod of another owner holds the name).
            return e.message
        except errors.ApiError as e:
            message = (
                f"create Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: {e.message}"
            )
            self._event(sts, "Warning", "FailedCreate", message)
            return message
        self._event(
            sts,
            "Normal",
            "SuccessfulCreate",
            f"create Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful",
        )
        return ""

    def _delete_pod(self, sts: Obj, pod: Obj, why: str) -> str:
        log.info("statefulset %s: deleting pod %s (%s)", _key(sts), name_of(pod), why)
        try:
            writes.delete(self.registry, PODS, pod)
        except errors.ApiError as e:
            message = (
                f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} failed error: {e.message}"
            )
            self._event(sts, "Warning", "FailedDelete", message)
            return message
        self._event(
            sts,
            "Normal",
            "SuccessfulDelete",
            f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful",
        )
        return ""

    def _write(self, rt: ResourceType, obj: Obj, what: str) -> str:
        if writes.replace(self.registry, rt, obj) is None:
            return f"{what} {name_of(obj)} changed while it was written"
        return ""

    def _check_service(self, sts: Obj) -> None:
        """Kubernetes creates the pods without their governing Service (no DNS names then);
        tinykube says so."""
        service = str((sts.get("spec") or {}).get("serviceName") or "")
        if not service or self.services.get(f"{owners.namespace_of(sts)}/{service}") is not None:
            return
        self._event(
            sts,
            "Warning",
            "FailedToFindService",
            f'Service "{service}" not found: the pods of StatefulSet {name_of(sts)} get no DNS '
            "names until it exists",
        )

    def _event(self, sts: Obj, etype: str, reason: str, message: str) -> None:
        events.record(self.registry, sts, etype, reason, message, COMPONENT)
