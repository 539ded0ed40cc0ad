"""The ReplicaSet controller's decisions (syncReplicaSet/manageReplicas in replica_set.go): which
pods it claims, adopts and releases, how many it creates, which it deletes (in Kubernetes' rank
order) and the status it reports. Pure: objects and a time in, a plan out.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common import conditions as cond
from common import errors, meta
from common.labels import LabelSelector, selector_from_labels, selector_from_object
from common.objects import ReplicaSet
from control.controllers import ranking
from control.controllers.ownership import claim, controller_ref, controller_uid

Obj = dict[str, Any]
# Kubernetes' burstReplicas: at most this many creates or deletes per sync.
BURST_REPLICAS = 500
# Kubernetes' SlowStartInitialBatchSize: creates go in batches of 1, 2, 4, ...
SLOW_START_INITIAL_BATCH = 1
REPLICA_FAILURE = "ReplicaFailure"


@dataclass
class ReplicaPlan:
    """What one sync of a ReplicaSet does; ``claimed`` are the active pods it keeps."""

    claimed: list[Obj] = field(default_factory=list)
    adopt: list[Obj] = field(default_factory=list)
    release: list[Obj] = field(default_factory=list)
    create: int = 0
    delete: list[Obj] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    # Seconds until a Ready pod turns available (minReadySeconds): sync again then.
    requeue_after: float | None = None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def selector_of(obj: Mapping[str, Any]) -> LabelSelector:
    """The object's ``spec.selector``; an invalid one selects nothing."""
    try:
        return selector_from_object(_spec(obj).get("selector"))
    except (errors.BadRequestError, KeyError):
        return LabelSelector.nothing()


def min_ready_seconds(obj: Mapping[str, Any]) -> int:
    return int(_spec(obj).get("minReadySeconds") or 0)


def batch_sizes(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """slowStartBatch's batches: 1, 2, 4, ... summing to ``count``."""
    out: list[int] = []
    size = min(count, initial)
    while size > 0:
        out.append(size)
        count -= size
        size = min(2 * size, count)
    return out


def pod_from_template(rs: ReplicaSet) -> Obj:
    """GetPodFromTemplate: the template's labels, annotations, finalizers and spec, named
    ``<rs>-`` plus a random suffix, controlled by the ReplicaSet."""
    template = _spec(rs).get("template") or {}
    tmeta = template.get("metadata") or {}
    m: Obj = {"generateName": f"{_meta(rs).get('name')}-", "namespace": _meta(rs).get("namespace")}
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            m[key] = copy.deepcopy(tmeta[key])
    m["ownerReferences"] = [controller_ref(rs)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": m,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def related_pods(rs: Mapping[str, Any], replicasets: Iterable[Obj], pods: list[Obj]) -> list[Obj]:
    """getIndirectlyRelatedPods: the pods selected by every ReplicaSet with the same controller
    (the Deployment's other ReplicaSets), each pod once."""
    owner = controller_uid(rs)
    if not owner:
        return []
    seen: set[str] = set()
    out: list[Obj] = []
    for other in replicasets:
        if controller_uid(other) != owner:
            continue
        sel = selector_of(other)
        for pod in pods:
            uid = str(_meta(pod).get("uid", ""))
            if uid not in seen and sel.matches(_meta(pod).get("labels") or {}):
                seen.add(uid)
                out.append(pod)
    return out


def replicaset_status(
    rs: ReplicaSet, claimed: list[Obj], now: dt.datetime, failure: str = ""
) -> Obj:
    """calculateStatus plus observedGeneration; ``failure`` is the error of the last
    create/delete (a ReplicaFailure condition), empty when it went well."""
    status: Obj = copy.deepcopy(dict(rs.get("status") or {}))
    template_labels = selector_from_labels(
        rs.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    )
    min_ready = min_ready_seconds(rs)
    labeled = sum(1 for p in claimed if template_labels.matches(_meta(p).get("labels") or {}))
    ready = [p for p in claimed if ranking.is_ready(p)]
    available = sum(1 for p in ready if ranking.is_available(p, min_ready, now))
    conditions = cond.without(status.get("conditions"), REPLICA_FAILURE)
    old = cond.find(status.get("conditions"), REPLICA_FAILURE)
    if failure:
        if old is not None:
            conditions.append(old)
        else:
            diff = len(claimed) - int(rs.get("spec", {}).get("replicas") or 0)
            reason = "FailedCreate" if diff < 0 else "FailedDelete"
            conditions.append(cond.build(REPLICA_FAILURE, "True", meta.timestamp(now), reason,
                                         failure, keep_empty=True))  # fmt: skip
    out: Obj = {"replicas": len(claimed)}
    for key, value in (
        ("fullyLabeledReplicas", labeled),
        ("readyReplicas", len(ready)),
        ("availableReplicas", available),
    ):
        if value:
            out[key] = value
    generation = int(_meta(rs).get("generation") or 0)
    if generation:
        out["observedGeneration"] = generation
    if conditions:
        out["conditions"] = conditions
    return out


def _requeue_after(rs: ReplicaSet, claimed: list[Obj], now: dt.datetime) -> float | None:
    """When the next Ready-but-not-yet-available pod turns available."""
    min_ready = min_ready_seconds(rs)
    if min_ready <= 0:
        return None
    waits = []
    for pod in claimed:
        since = ranking.ready_since(pod)
        if since is not None and not ranking.is_available(pod, min_ready, now):
            waits.append((since + dt.timedelta(seconds=min_ready) - now).total_seconds())
    return max(0.0, min(waits)) + 0.05 if waits else None


def plan_replicas(
    rs: ReplicaSet,
    pods: list[Obj],
    now: dt.datetime,
    related: list[Obj] | None = None,
) -> ReplicaPlan:
    """One sync: ``pods`` are the pods of the ReplicaSet's namespace; ``related`` the pods of
    its sibling ReplicaSets (for the node rank of rule 5), by default its own."""
    active = [p for p in pods if ranking.is_active(p)]
    claims = claim(rs, selector_of(rs), active)
    plan = ReplicaPlan(claimed=claims.owned, adopt=claims.adopt, release=claims.release)
    if not _meta(rs).get("deletionTimestamp"):
        diff = len(claims.owned) - int(_spec(rs).get("replicas") or 0)
        if diff < 0:
            plan.create = min(-diff, BURST_REPLICAS)
        elif diff > 0:
            diff = min(diff, BURST_REPLICAS)
            plan.delete = ranking.pods_to_delete(
                claims.owned, claims.owned if related is None else related, diff, now
            )
    plan.status = replicaset_status(rs, claims.owned, now)
    plan.requeue_after = _requeue_after(rs, claims.owned, now)
    return plan
