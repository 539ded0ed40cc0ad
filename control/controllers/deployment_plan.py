"""The Deployment controller's decisions for one sync (syncDeployment and rolling.go, recreate.go,
sync.go, progress.go in pkg/controller/deployment): claim ReplicaSets, find or make the new one,
then a rolling update step, a Recreate step, or a proportional scale; clean up old revisions; the
status with Available and Progressing. It works on copies of the ReplicaSets, as Kubernetes works
on the objects its API calls return, and returns every write as a plan. Pure.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common import meta
from common.objects import as_deployment
from common.wellknown import DESIRED_REPLICAS, REVISION, TEMPLATE_HASH_LABEL
from common.workloads import is_rolling, max_surge, max_unavailable, replicas_of
from control.controllers import deployment_status as ds
from control.controllers import rollout as ro
from control.controllers.ownership import claim, controller_ref, controller_uid, deleting
from control.controllers.replicaset_plan import selector_of
from control.controllers.templatehash import compute_hash

Obj = dict[str, Any]
PROGRESSING = ds.PROGRESSING


@dataclass
class DeploymentPlan:
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)
    create: Obj | None = None  # the new ReplicaSet
    update: list[Obj] = field(default_factory=list)  # ReplicaSets with a new size or annotations
    delete: list[Obj] = field(default_factory=list)  # old revisions beyond the history limit
    deployment: Obj | None = None  # the Deployment with new annotations or status
    # (ReplicaSet name or "", type, reason, message): shown once that ReplicaSet is written.
    events: list[tuple[str, str, str, str]] = field(default_factory=list)
    requeue_after: float | None = None


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


class _Sync:
    def __init__(self, d: Obj, replicasets: list[Obj], pods: list[Obj], now: dt.datetime):
        self.original = d
        self.d = copy.deepcopy(d)
        self.now = now
        self.in_namespace = {_name(rs): rs for rs in replicasets}
        self.candidates = replicasets
        self.pods = pods
        self.owned: list[Obj] = []
        self.plan = DeploymentPlan()
        self.touched: dict[str, Obj] = {}
        self.aborted = False

    # -- writes ------------------------------------------------------------------------------

    def _event(self, rs_name: str, reason: str, message: str, etype: str = "Normal") -> None:
        self.plan.events.append((rs_name, etype, reason, message))

    def _touch(self, rs: Obj) -> None:
        if rs is not self.plan.create:
            self.touched[_name(rs)] = rs

    def _scale(self, rs: Obj, size: int, operation: str = "") -> bool:
        """scaleReplicaSet: the new size and the replica annotations; True if the size changed."""
        replicas = replicas_of(self.d)
        maximum = replicas + max_surge(self.d)
        resized = replicas_of(rs) != size
        if not resized and not ro.replicas_annotations_need_update(rs, replicas, maximum):
            return False
        before = replicas_of(rs)
        rs["spec"]["replicas"] = size
        ro.set_replicas_annotations(rs, replicas, maximum)
        self._touch(rs)
        if resized:
            operation = operation or ("up" if size > before else "down")
            self._event(
                _name(rs),
                "ScalingReplicaSet",
                f"Scaled {operation} replica set {_name(rs)} to {size} from {before}",
            )
        return resized

    def _scale_and_record(self, rs: Obj, size: int) -> bool:
        return False if replicas_of(rs) == size else self._scale(rs, size)

    # -- new and old ReplicaSets -------------------------------------------------------------

    def _new_and_old(self, create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision."""
        new = self.plan.create or ro.find_new(self.d, self.owned)
        olds = [rs for rs in self.owned if rs is not new]
        revision = max((ro.revision(rs) for rs in olds), default=0) + 1
        if new is not None:
            self._sync_existing_new(new, revision)
            return new, olds
        if not create:
            return None, olds
        return self._create_new(olds, revision), olds

    def _sync_existing_new(self, new: Obj, revision: int) -> None:
        changed = new is not self.plan.create and ro.set_new_rs_annotations(
            self.d, new, revision, exists=True
        )
        min_ready = int(ro.spec_of(self.d).get("minReadySeconds") or 0)
        if changed or int(new["spec"].get("minReadySeconds") or 0) != min_ready:
            _set_min_ready(new, min_ready)
            self._touch(new)
        self._set_revision(str((new["metadata"].get("annotations") or {}).get(REVISION, "")))
        if ro.has_progress_deadline(self.d) and ds.condition(self._status, PROGRESSING) is None:
            self._set_progressing(
                "True", "FoundNewReplicaSet", f'Found new replica set "{_name(new)}"'
            )

    def _create_new(self, olds: list[Obj], revision: int) -> Obj | None:
        collisions = self._status.get("collisionCount")
        rs = new_replicaset(self.d, collisions, self.now)
        rs["spec"]["replicas"] = ro.new_rs_new_replicas(self.d, [*olds, rs], rs)
        ro.set_new_rs_annotations(self.d, rs, revision, exists=False)
        taken = self.in_namespace.get(_name(rs))
        if taken is not None:
            # The name belongs to another template (or another owner): a hash collision.
            self._status["collisionCount"] = int(collisions or 0) + 1
            self.aborted = True
            return None
        self.plan.create = rs
        if replicas_of(rs) > 0:
            self._event(
                _name(rs),
                "ScalingReplicaSet",
                f"Scaled up replica set {_name(rs)} to {replicas_of(rs)}",
            )
        self._set_revision(str(revision))
        if ro.has_progress_deadline(self.d):
            self._set_progressing(
                "True", "NewReplicaSetCreated", f'Created new replica set "{_name(rs)}"'
            )
        return rs

    @property
    def _status(self) -> Obj:
        return self.d.setdefault("status", {})  # type: ignore[no-any-return]

    def _set_revision(self, revision: str) -> None:
        annotations = self.d["metadata"].setdefault("annotations", {})
        if revision and annotations.get(REVISION) != revision:
            annotations[REVISION] = revision

    def _set_progressing(self, status: str, reason: str, message: str) -> None:
        ds.set_condition(
            self._status, ds.new_condition(PROGRESSING, status, reason, message, self.now)
        )

    # -- the strategies ----------------------------------------------------------------------

    def rolling(self) -> None:
        new, olds = self._new_and_old(create=True)
        if self.aborted or new is None:
            return
        all_rss: list[Obj | None] = [*olds, new]
        if self._reconcile_new(all_rss, new) or self._reconcile_old(all_rss, ro.active(olds), new):
            self._rollout_status(all_rss, new)
            return
        if ds.complete(as_deployment(self.d), self._status):
            self._cleanup(olds)
        self._rollout_status(all_rss, new)

    def _reconcile_new(self, all_rss: list[Obj | None], new: Obj) -> bool:
        replicas = replicas_of(self.d)
        if replicas_of(new) == replicas:
            return False
        if replicas_of(new) > replicas:
            return self._scale_and_record(new, replicas)
        rss = [rs for rs in all_rss if rs]
        return self._scale_and_record(new, ro.new_rs_new_replicas(self.d, rss, new))

    def _reconcile_old(self, all_rss: list[Obj | None], olds: list[Obj], new: Obj) -> bool:
        if ro.total(olds) == 0:
            return False
        min_available = replicas_of(self.d) - max_unavailable(self.d)
        new_unavailable = replicas_of(new) - ro.status_count(new, "availableReplicas")
        max_scaled_down = ro.total(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = self._cleanup_unhealthy(olds, max_scaled_down)
        scaled = self._scale_down_old(olds, new, min_available)
        return cleaned + scaled > 0

    def _cleanup_unhealthy(self, olds: list[Obj], limit: int) -> int:
        """Old pods that are not available go first: removing them costs no availability."""
        done = 0
        for rs in ro.by_creation(olds):
            if done >= limit:
                break
            unhealthy = replicas_of(rs) - ro.status_count(rs, "availableReplicas")
            if replicas_of(rs) == 0 or unhealthy <= 0:
                continue
            count = min(limit - done, unhealthy)
            self._scale_and_record(rs, replicas_of(rs) - count)
            done += count
        return done

    def _scale_down_old(self, olds: list[Obj], new: Obj, min_available: int) -> int:
        """scaleDownOldReplicaSetsForRollingUpdate: down to minAvailable available pods."""
        available = ro.total([*olds, new], "availableReplicas")
        if available <= min_available:
            return 0
        goal, done = available - min_available, 0
        for rs in ro.by_creation(olds):
            if done >= goal:
                break
            if replicas_of(rs) == 0:
                continue
            count = min(replicas_of(rs), goal - done)
            self._scale_and_record(rs, replicas_of(rs) - count)
            done += count
        return done

    def recreate(self) -> None:
        new, olds = self._new_and_old(create=False)
        all_rss: list[Obj | None] = [*olds, new]
        scaled = [self._scale_and_record(rs, 0) for rs in ro.active(olds)]
        if any(scaled) or self._old_pods_running(new, olds):
            self._rollout_status(all_rss, new)
            return
        if new is None:
            new, olds = self._new_and_old(create=True)
            if self.aborted or new is None:
                return
            all_rss = [*olds, new]
        self._scale_and_record(new, replicas_of(self.d))
        if ds.complete(as_deployment(self.d), self._status):
            self._cleanup(olds)
        self._rollout_status(all_rss, new)

    def _old_pods_running(self, new: Obj | None, olds: list[Obj]) -> bool:
        if ro.total(olds, "replicas") > 0:
            return True
        old_uids = {_uid(rs) for rs in olds}
        return any(
            controller_uid(p) in old_uids
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            for p in self.pods
        )

    def scale_only(self) -> None:
        """sync: a scaling event or a paused Deployment (no rollout)."""
        new, olds = self._new_and_old(create=False)
        self._proportional_scale(new, olds)
        if ro.spec_of(self.d).get("paused"):
            self._cleanup(olds)
        self._status_only([*olds, new], new)

    def _proportional_scale(self, new: Obj | None, olds: list[Obj]) -> None:
        only = ro.find_active_or_latest(new, olds)
        if only is not None:
            self._scale_and_record(only, replicas_of(self.d))
            return
        if ro.is_saturated(self.d, new):
            for old in ro.active(olds):
                self._scale_and_record(old, 0)
            return
        if is_rolling(self.d):
            ordered, sizes, operation = ro.proportional_sizes(self.d, ro.active([*olds, new]))
            for rs in ordered:
                self._scale(rs, sizes[_name(rs)], operation)

    def is_scaling_event(self) -> bool:
        new, olds = self._new_and_old(create=False)
        for rs in ro.active([*olds, new]):
            desired = ro.annotation_int(rs, DESIRED_REPLICAS)
            if desired is not None and desired != replicas_of(self.d):
                return True
        return False

    def _cleanup(self, olds: list[Obj]) -> None:
        """cleanupDeployment: delete the oldest empty revisions beyond revisionHistoryLimit."""
        if not ro.has_revision_history_limit(self.d):
            return
        alive = [rs for rs in olds if not deleting(rs)]
        excess = len(alive) - int(ro.spec_of(self.d)["revisionHistoryLimit"])
        for rs in ro.by_revision(alive)[: max(0, excess)]:
            generation = int(rs["metadata"].get("generation") or 0)
            if (
                ro.status_count(rs, "replicas")
                or replicas_of(rs)
                or generation > ro.status_count(rs, "observedGeneration")
                or _name(rs) in self.touched
            ):
                continue
            self.plan.delete.append(rs)

    # -- status ------------------------------------------------------------------------------

    def _status_only(self, all_rss: list[Obj | None], new: Obj | None) -> None:
        self.d["status"] = ds.calculate_status(all_rss, new, self.d, self.now)

    def _rollout_status(self, all_rss: list[Obj | None], new: Obj | None) -> None:
        self.d["status"], self.plan.requeue_after = ds.rollout_status(
            as_deployment(self.d), all_rss, new, self.now
        )

    def paused_conditions(self) -> None:
        ds.paused_conditions(self.d, self.now)

    # -- the sync ----------------------------------------------------------------------------

    def run(self) -> DeploymentPlan:
        selector = ro.spec_of(self.d).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self._event(
                "",
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
                "Warning",
            )
            generation = int(self.d["metadata"].get("generation") or 0)
            if int(self._status.get("observedGeneration") or 0) < generation:
                self._status["observedGeneration"] = generation
            return self._finish()
        claims = claim(self.d, selector_of(self.d), self.candidates)
        self.owned, self.plan.adopt, self.plan.release = claims.owned, claims.adopt, claims.release
        if deleting(self.d):
            new, olds = self._new_and_old(create=False)
            self._status_only([*olds, new], new)
        else:
            self.paused_conditions()
            if ro.spec_of(self.d).get("paused") or self.is_scaling_event():
                self.scale_only()
            elif is_rolling(self.d):
                self.rolling()
            else:
                self.recreate()
        return self._finish()

    def _finish(self) -> DeploymentPlan:
        self.plan.update = list(self.touched.values())
        if self.d != self.original:
            self.plan.deployment = self.d
        return self.plan


def _set_min_ready(rs: Obj, seconds: int) -> None:
    if seconds:
        rs["spec"]["minReadySeconds"] = seconds
    else:
        rs["spec"].pop("minReadySeconds", None)


def new_replicaset(d: Mapping[str, Any], collisions: int | None, now: dt.datetime) -> Obj:
    """The ReplicaSet ``<deployment>-<pod-template-hash>`` for the Deployment's template."""
    spec = ro.spec_of(d)
    template = copy.deepcopy(spec.get("template") or {})
    pod_hash = compute_hash(template, collisions)
    labels = {
        **((template.get("metadata") or {}).get("labels") or {}),
        TEMPLATE_HASH_LABEL: pod_hash,
    }
    template.setdefault("metadata", {})["labels"] = labels
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), TEMPLATE_HASH_LABEL: pod_hash}
    m = d.get("metadata") or {}
    rs: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{m.get('name')}-{pod_hash}",
            "namespace": m.get("namespace"),
            "labels": dict(labels),
            "ownerReferences": [controller_ref(d)],
            # Sorts as the newest until the server sets the real time.
            "creationTimestamp": meta.timestamp(now),
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
    }
    _set_min_ready(rs, int(spec.get("minReadySeconds") or 0))
    return rs


def plan_deployment(
    d: Obj, replicasets: list[Obj], pods: list[Obj], now: dt.datetime
) -> DeploymentPlan:
    """One sync of Deployment ``d``; ``replicasets`` and ``pods`` are all of its namespace."""
    return _Sync(d, replicasets, pods, now).run()
