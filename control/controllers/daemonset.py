"""The DaemonSet controller, as Kubernetes' (pkg/controller/daemon): informer handlers map each
DaemonSet, pod, Node or ControllerRevision event to the DaemonSet keys it concerns, and
``sync(key)`` reads the caches, claims the pods the DaemonSet selects, records its template as
the current ControllerRevision, asks ``plan_daemonset`` what it needs and applies it: pods
created for nodes (slow-start batches, awaited by expectations so a lagging cache never doubles
a pod) and deleted, old revisions removed, the status written. Shell.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import errors, meta
from common.informer import Handler
from common.resources import must
from common.wellknown import CONTROLLER_REVISION_HASH_LABEL
from control import events
from control.controllers import daemonset_history as dh
from control.controllers import owners, writes
from control.controllers.daemonset_nodes import daemon_pod
from control.controllers.daemonset_plan import (
    Context,
    DaemonSetPlan,
    plan_daemonset,
    template_generation,
)
from control.controllers.history import max_revision
from control.controllers.ownership import claim, controller_uid
from control.controllers.owning import OwnerController
from control.controllers.replicaset_plan import batch_sizes, selector_of
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS, DAEMONSETS, REVISIONS = must("pods"), must("daemonsets"), must("controllerrevisions")
KIND = "DaemonSet"
COMPONENT = "daemonset-controller"
# kube-controller-manager's --concurrent-daemonset-syncs.
WORKERS = 2
WRITE_WORKERS = 8
# failedPodsBackoff: 1 s, doubling, at most 15 min per node.
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 900.0

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    return f"{owners.namespace_of(obj)}/{obj['metadata']['name']}"


class DaemonSetsController(OwnerController):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
        workers: int = WORKERS,
    ) -> None:
        super().__init__("daemonset", KIND, registry, informers, "daemonsets", clock=clock,
                         workers=workers, indexers=None)  # fmt: skip
        self._pool = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="daemonset-write")
        # (DaemonSet uid, node) -> (delay, when it was last used) of failed pod deletions.
        self._backoff: dict[tuple[str, str], tuple[float, dt.datetime]] = {}
        self.daemonsets = self.owner_cache
        self.pods = self.watch("pods")
        nodes = informers.informer("nodes")
        self.nodes = nodes.store
        nodes.add_handler(Handler(self._node_event, self._update_node, self._node_event))
        self.revisions = self.watch("controllerrevisions", adopt=False, replace_deleting=False)

    def _enqueue_all(self) -> None:
        for key in self._all_keys():
            self.queue.add(key)

    # -- event handlers: which DaemonSet keys a Node event concerns ---------------------------

    def _node_event(self, node: Obj) -> None:
        self._enqueue_all()

    def _update_node(self, old: Obj, cur: Obj) -> None:
        def view(n: Obj) -> Any:
            return (n["metadata"].get("labels"), (n.get("spec") or {}).get("taints"),
                    (n.get("spec") or {}).get("unschedulable"))  # fmt: skip

        if view(old) != view(cur):
            self._enqueue_all()

    # -- the sync -------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        """syncDaemonSet: converge one DaemonSet from the caches."""
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.delete(key)
            return
        selector = (ds.get("spec") or {}).get("selector")
        if selector == {}:
            message = "This daemon set is selecting all pods. A non-empty selector is required."
            self._event(ds, "Warning", "SelectingAll", message)
            return
        pods = self._claim_pods(key, ds)
        if ds["metadata"].get("deletionTimestamp"):
            return
        current, old = self._history(ds)
        hash_ = str(((current.get("metadata") or {}).get("labels") or {}).get(
            CONTROLLER_REVISION_HASH_LABEL) or "")  # fmt: skip
        now = self.clock()
        context = Context(ds, hash_, now, self._backoff_left(ds, now))
        satisfied = self.expectations.satisfied(key)
        plan = plan_daemonset(context, self.nodes.objects(), pods, satisfied)
        failure = self._apply(key, ds, plan, hash_) if satisfied else ""
        for cr in dh.revisions_to_delete(ds, old, pods):
            writes.delete(self.registry, REVISIONS, cr)
        if writes.write_status(self.registry, DAEMONSETS, ds, plan.status) is None:
            raise errors.ConflictError(f"daemonset {key}: changed while its status was written")
        if failure:
            raise writes.SyncError(failure)
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)

    def _claim_pods(self, key: str, ds: Obj) -> list[Obj]:
        """getDaemonPods: the pods it controls and still selects, adopting orphans it selects."""
        candidates = owners.owned(self.pods, ds) + self.pods.by_index(
            owners.ORPHANS, owners.namespace_of(ds)
        )
        claims = claim(ds, selector_of(ds), candidates)
        if claims.adopt:
            self._recheck(key, ds)
        if not writes.write_all(self.registry, PODS, claims.adopt + claims.release):
            raise errors.ConflictError(f"daemonset {key}: a pod changed while it was claimed")
        return claims.owned

    def _recheck(self, key: str, ds: Obj) -> None:
        """RecheckDeletionTimestamp: before adopting, a fresh read (not the cache) must show
        the same DaemonSet, not being deleted."""
        try:
            fresh = self.registry.get(DAEMONSETS, owners.namespace_of(ds), ds["metadata"]["name"])
        except errors.NotFoundError:
            fresh = {"metadata": {}}
        m = fresh["metadata"]
        if m.get("uid") != ds["metadata"].get("uid") or m.get("deletionTimestamp"):
            raise errors.ConflictError(f"daemonset {key}: gone or going: it adopts nothing")

    def _claim_revisions(self, key: str, ds: Obj) -> list[Obj]:
        """controlledHistories: its revisions, adopting orphans its selector matches."""
        candidates = owners.owned(self.revisions, ds) + self.revisions.by_index(
            owners.ORPHANS, owners.namespace_of(ds)
        )
        claims = claim(ds, selector_of(ds), candidates)
        if claims.adopt:
            self._recheck(key, ds)
        if not writes.write_all(self.registry, REVISIONS, claims.adopt + claims.release):
            raise errors.ConflictError(f"daemonset {key}: a revision changed while it was claimed")
        return claims.owned

    def _history(self, ds: Obj) -> tuple[Obj, list[Obj]]:
        """constructHistory: the revision of the current template (made, or renumbered to
        follow the others after a rollback) and the old ones."""
        mine = self._claim_revisions(_key(ds), ds)
        current = [cr for cr in mine if dh.matches(ds, cr)]
        old = [cr for cr in mine if not dh.matches(ds, cr)]
        wanted = max_revision(old) + 1
        if not current:
            return self._snapshot(ds, wanted), old
        cur = max(current, key=lambda cr: int(cr.get("revision") or 0))
        old += [cr for cr in current if cr is not cur]
        if int(cur.get("revision") or 0) < wanted:
            renumbered = writes.replace(self.registry, REVISIONS, {**cur, "revision": wanted})
            if renumbered is None:
                raise errors.ConflictError(f"daemonset {_key(ds)}: its revision changed")
            cur = renumbered
        return cur, old

    def _snapshot(self, ds: Obj, revision: int) -> Obj:
        body = dh.new_revision(ds, revision)
        ns, name = owners.namespace_of(ds), body["metadata"]["name"]
        try:
            created, _ = self.registry.create(REVISIONS, ns, body)
            return created
        except errors.AlreadyExistsError:
            existing = self.registry.get(REVISIONS, ns, name)
            if dh.matches(ds, existing) and controller_uid(existing) == ds["metadata"]["uid"]:
                return existing
        # A hash collision: count it, so the next revision is named differently.
        status = dict(ds.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        writes.write_status(self.registry, DAEMONSETS, ds, status)
        raise errors.ConflictError(f"daemonset {_key(ds)}: revision name {name} is taken")

    # -- applying the plan ------------------------------------------------------------------------

    def _backoff_left(self, ds: Obj, now: dt.datetime) -> dict[str, float]:
        uid = str(ds["metadata"].get("uid"))
        out = {}
        for (owner, node), (delay, since) in list(self._backoff.items()):
            left = delay - (now - since).total_seconds()
            if owner == uid and left > 0:
                out[node] = left
        return out

    def _note_failures(self, ds: Obj, nodes: list[str], now: dt.datetime) -> None:
        uid = str(ds["metadata"].get("uid"))
        for node in nodes:
            delay, _ = self._backoff.get((uid, node), (BACKOFF_INITIAL / 2, now))
            self._backoff[(uid, node)] = (min(delay * 2, BACKOFF_MAX), now)

    def _apply(self, key: str, ds: Obj, plan: DaemonSetPlan, hash_: str) -> str:
        """syncNodes: the deletions and creations of the plan; the first error, if any."""
        self._note_failures(ds, plan.failed_nodes, self.clock())
        for etype, reason, message in plan.events:
            self._event(ds, etype, reason, message)
        failure = ""
        if plan.delete:
            self.expectations.expect_deletions(key, [_key(p) for p in plan.delete])
            results = list(self._pool.map(lambda p: self._delete_one(key, ds, p), plan.delete))
            failure = next((r for r in results if r), "")
        if plan.create:
            failure = self._create(key, ds, plan.create, hash_) or failure
        return failure

    def _create(self, key: str, ds: Obj, nodes: list[str], hash_: str) -> str:
        """slowStartBatch over the nodes; the creates never tried are not awaited."""
        self.expectations.expect_creations(key, len(nodes))
        generation = template_generation(ds)
        done, failure, todo = 0, "", list(nodes)
        for size in batch_sizes(len(nodes)):
            batch, todo = todo[:size], todo[size:]
            futures = [self._pool.submit(self._create_one, ds, n, hash_, generation) for n in batch]
            failures = [e for e in (f.result() for f in futures) if e]
            done += size - len(failures)
            if failures:
                failure = failures[0]
                break
        for _ in range(len(nodes) - done):
            self.expectations.creation_observed(key)
        return failure

    def _create_one(self, ds: Obj, node: str, hash_: str, generation: int | None) -> str:
        namespace = owners.namespace_of(ds)
        try:
            pod, _ = self.registry.create(PODS, namespace, daemon_pod(ds, node, hash_, generation))
        except errors.ApiError as e:
            if isinstance(e, errors.ForbiddenError) and "being terminated" in e.message:
                return ""
            self._event(ds, "Warning", "FailedCreate", f"Error creating: {e.message}")
            return e.message
        self._event(ds, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        return ""

    def _delete_one(self, key: str, ds: Obj, pod: Obj) -> str:
        options = {"preconditions": {"uid": pod["metadata"].get("uid")}}
        try:
            self.registry.delete(PODS, owners.namespace_of(pod), pod["metadata"]["name"], options)
        except (errors.NotFoundError, errors.ConflictError):
            self.expectations.deletion_observed(key, _key(pod))
            return ""
        except errors.ApiError as e:
            self.expectations.deletion_observed(key, _key(pod))
            self._event(ds, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            return e.message
        self._event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        return ""

    def _event(self, ds: Obj, etype: str, reason: str, message: str) -> None:
        events.record(self.registry, ds, etype, reason, message, COMPONENT)
