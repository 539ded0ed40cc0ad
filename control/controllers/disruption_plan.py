"""The disruption controller's arithmetic (pkg/controller/disruption): from a
PodDisruptionBudget, the pods it selects and the scale of their controllers, the status it
should have (currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed, the
disruptedPods still waited for, the DisruptionAllowed condition). Pure: objects and the time in,
the new status (or None when the stored one is right) out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common import budgets, meta
from common.resources import by_kind
from common.workloads import replicas_of, scaled_value

Obj = dict[str, Any]
# (apiVersion, kind, namespace, name) -> the object from the caches, or None.
Lookup = Callable[[str, str, str, str], Mapping[str, Any] | None]


class PlanError(Exception):
    """The budget's status cannot be computed (the controller's failSafe then stops every
    disruption with a SyncFailed condition)."""


@dataclass(frozen=True)
class Counts:
    expected: int
    desired: int
    # Pods selected by the budget that no controller owns (an UnmanagedPods event).
    unmanaged: tuple[str, ...] = ()


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def selector_text(selector: Any) -> str:
    """A LabelSelector as Go's ``%v`` prints it in the UnmanagedPods event."""
    if not isinstance(selector, Mapping):
        return "nil"
    labels = _m(selector.get("matchLabels"))
    shown = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(str(v) for v in e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or []
        if isinstance(e, Mapping)
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{shown}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """metav1.GetControllerOf: the ownerReference marked ``controller: true``."""
    for ref in _m(obj.get("metadata")).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return None


def _owned(ref: Mapping[str, Any], namespace: str, lookup: Lookup) -> Mapping[str, Any] | None:
    obj = lookup(str(ref.get("apiVersion", "")), str(ref.get("kind", "")), namespace,
                 str(ref.get("name", "")))  # fmt: skip
    if obj is None or _m(obj.get("metadata")).get("uid") != ref.get("uid"):
        return None
    return obj


def _deployment_scale(
    ref: Mapping[str, Any], namespace: str, lookup: Lookup
) -> tuple[str, int] | None:
    """getPodDeployment: a pod of a ReplicaSet that a Deployment controls counts the
    Deployment's replicas."""
    if ref.get("kind") != "ReplicaSet" or not str(ref.get("apiVersion", "")).startswith("apps/"):
        return None
    rs = _owned(ref, namespace, lookup)
    owner = controller_ref(rs) if rs is not None else None
    if owner is None or owner.get("kind") != "Deployment":
        return None
    deployment = _owned(owner, namespace, lookup)
    if deployment is None:
        return None
    return str(owner["uid"]), replicas_of(deployment)


def _scale(ref: Mapping[str, Any], namespace: str, lookup: Lookup) -> tuple[str, int] | None:
    """getScaleController: the replicas of any controller kind with a ``scale`` subresource
    (ReplicaSets, StatefulSets, ...)."""
    api_version, kind = str(ref.get("apiVersion", "")), str(ref.get("kind", ""))
    rt = by_kind(api_version, kind)
    if rt is None:
        group = api_version.rpartition("/")[0]
        raise PlanError(f'no matches for kind "{kind}" in group "{group}"')
    if "scale" not in rt.subresources:
        raise PlanError(f"{rt.qualified} does not implement the scale subresource")
    obj = _owned(ref, namespace, lookup)
    return None if obj is None else (str(ref["uid"]), replicas_of(obj))


def expected_scale(pods: Sequence[Mapping[str, Any]], lookup: Lookup) -> tuple[int, list[str]]:
    """getExpectedScale: the summed replicas of the pods' controllers, and the unmanaged pods."""
    scales: dict[str, int] = {}
    unmanaged: list[str] = []
    for pod in pods:
        pm = _m(pod.get("metadata"))
        ref = controller_ref(pod)
        if ref is None:
            unmanaged.append(str(pm.get("name", "")))
            continue
        if ref.get("uid") in scales:
            continue
        namespace = str(pm.get("namespace", ""))
        found = _deployment_scale(ref, namespace, lookup) or _scale(ref, namespace, lookup)
        if found is None:
            raise PlanError(f'found no controllers for pod "{pm.get("name", "")}"')
        scales[found[0]] = found[1]
    return sum(scales.values()), unmanaged


def expected_counts(
    pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], lookup: Lookup
) -> Counts:
    """getExpectedPodCount: (expectedPods, desiredHealthy) for ``minAvailable`` as an int (the
    selected pods), as a percentage or ``maxUnavailable`` (the controllers' scale)."""
    spec = _m(pdb.get("spec"))
    low, high = spec.get("minAvailable"), spec.get("maxUnavailable")
    if high is not None:
        expected, unmanaged = expected_scale(pods, lookup)
        desired = max(0, expected - scaled_value(high, expected, True))
        return Counts(expected, desired, tuple(unmanaged))
    if isinstance(low, int):
        return Counts(len(pods), low)
    if isinstance(low, str):
        expected, unmanaged = expected_scale(pods, lookup)
        return Counts(expected, scaled_value(low, expected, True), tuple(unmanaged))
    return Counts(0, 0)


def disrupted_pods(
    pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], now: dt.datetime
) -> tuple[dict[str, str], dt.datetime | None, list[str]]:
    """buildDisruptedPodMap: the approved evictions still waited for (pods alive, not deleting,
    within DELETION_TIMEOUT), when to look again, and the pods that were not deleted in time."""
    recorded = _m(_m(pdb.get("status")).get("disruptedPods"))
    kept: dict[str, str] = {}
    recheck: dt.datetime | None = None
    overdue: list[str] = []
    for pod in pods:
        pm = _m(pod.get("metadata"))
        name = str(pm.get("name", ""))
        if pm.get("deletionTimestamp") or name not in recorded:
            continue
        since = meta.parse_time(recorded[name])
        expected = (since or now) + budgets.DELETION_TIMEOUT
        if expected < now:
            overdue.append(name)
            continue
        kept[name] = str(recorded[name])
        recheck = expected if recheck is None or expected < recheck else recheck
    return kept, recheck, overdue


def current_healthy(
    pods: Sequence[Mapping[str, Any]], disrupted: Mapping[str, str], now: dt.datetime
) -> int:
    """countHealthyPods: ready pods neither deleting nor about to be evicted."""
    count = 0
    for pod in pods:
        pm = _m(pod.get("metadata"))
        if pm.get("deletionTimestamp"):
            continue
        since = meta.parse_time(disrupted.get(str(pm.get("name", ""))))
        if since is not None and since + budgets.DELETION_TIMEOUT > now:
            continue
        count += 1 if budgets.pod_ready(pod) else 0
    return count


def _up_to_date(pdb: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """The counts match and ConditionsAreUpToDate."""
    old = _m(pdb.get("status"))
    keys = ("currentHealthy", "desiredHealthy", "expectedPods", "disruptionsAllowed",
            "observedGeneration")  # fmt: skip
    if any(int(old.get(k) or 0) != status[k] for k in keys):
        return False
    if dict(_m(old.get("disruptedPods"))) != dict(_m(status.get("disruptedPods"))):
        return False
    cond = budgets.find_allowed(old)
    if cond is None or cond.get("observedGeneration") != status["observedGeneration"]:
        return False
    want = budgets.allowed_condition(status, "")
    return bool(cond.get("status") == want["status"] and cond.get("reason") == want["reason"])


def budget_status(
    pdb: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    counts: Counts,
    now: dt.datetime,
) -> tuple[Obj | None, dt.datetime | None]:
    """updatePdbStatus: the status to write (None when the stored one is right) and when to
    sync again for an eviction that may not happen."""
    disrupted, recheck, _ = disrupted_pods(pdb, pods, now)
    healthy = current_healthy(pods, disrupted, now)
    allowed = healthy - counts.desired
    # A budget whose pods are not known yet allows nothing: its first pods are safe.
    if counts.expected <= 0 or allowed <= 0:
        allowed = 0
    status: Obj = {
        "observedGeneration": int(_m(pdb.get("metadata")).get("generation") or 0),
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": counts.desired,
        "expectedPods": counts.expected,
    }
    if disrupted:
        status["disruptedPods"] = disrupted
    if _up_to_date(pdb, status):
        return None, recheck
    old_conditions = _m(pdb.get("status")).get("conditions")
    if old_conditions:
        status["conditions"] = list(old_conditions)
    budgets.set_condition(status, budgets.allowed_condition(status, meta.timestamp(now)))
    return status, recheck


def failsafe_status(pdb: Mapping[str, Any], message: str, now: dt.datetime) -> Obj:
    """failSafe: no disruption allowed, DisruptionAllowed False with reason SyncFailed."""
    status = dict(_m(pdb.get("status")))
    status["disruptionsAllowed"] = 0
    budgets.set_condition(
        status, budgets.sync_failed_condition(status, message, meta.timestamp(now))
    )
    return status
