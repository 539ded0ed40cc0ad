"""The StatefulSet controller's decisions, as Kubernetes' updateStatefulSet
(stateful_set_control.go): which pod of which ordinal to create (with its claims), which to
delete (finished, scaled away, or of an old revision under RollingUpdate, highest ordinal first,
at or above ``partition``, up to ``maxUnavailable`` at once), which pod or claim to fix, and the
status. ``OrderedReady`` makes one move at a time and waits for each pod to be Running and
Ready; ``Parallel`` makes them all.
Pure: the set, its pods, its claims and its two revisions in, a plan out.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common.statefulsets import ON_DELETE, PARALLEL, ROLLING_UPDATE, start_ordinal
from common.workloads import scaled_value
from control.controllers import ranking
from control.controllers.statefulset_pods import (
    claim_with_policy,
    claims_for,
    identity_matches,
    in_ordinal_range,
    name_of,
    new_pod,
    ordinal_of,
    revision_of_pod,
    with_identity,
)

Obj = dict[str, Any]
CREATE, DELETE, UPDATE, CLAIM = "create", "delete", "update", "claim"


@dataclass(frozen=True)
class Revisions:
    """The set's current and update revisions (names) and the set as each one has it."""

    current: str
    update: str
    current_set: Mapping[str, Any]
    update_set: Mapping[str, Any]
    collision_count: int = 0


@dataclass(frozen=True)
class Action:
    """One write: ``create`` a pod (after its missing ``claims``), ``delete`` a pod, ``update``
    a pod's identity, ``claim`` (create the missing ``claims`` of a pending pod, or write a
    claim's owner references); ``why`` says what for (logs)."""

    verb: str
    obj: Obj
    claims: tuple[Obj, ...] = ()
    why: str = ""


@dataclass
class StatefulSetPlan:
    actions: list[Action] = field(default_factory=list)
    status: Obj = field(default_factory=dict)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return _phase(pod) == "Running" and ranking.is_ready(pod)


def is_healthy(pod: Mapping[str, Any]) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def is_created(pod: Mapping[str, Any]) -> bool:
    """A pod the API server has (a planned one has no uid yet)."""
    return bool(_meta(pod).get("uid"))


def min_ready_seconds(sts: Mapping[str, Any]) -> int:
    return int(_spec(sts).get("minReadySeconds") or 0)


def is_running_and_available(
    pod: Mapping[str, Any], sts: Mapping[str, Any], now: dt.datetime
) -> bool:
    return _phase(pod) == "Running" and ranking.is_available(pod, min_ready_seconds(sts), now)


def max_unavailable(sts: Mapping[str, Any]) -> int:
    """getStatefulSetMaxUnavailable: ``maxUnavailable`` (1 when unset) of the replicas, a
    percentage rounded down, never below 1."""
    rolling = (_spec(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable")
    replicas = int(_spec(sts).get("replicas") or 0)
    try:
        number = scaled_value(1 if value is None else value, replicas, round_up=False)
    except ValueError:
        number = 1  # validation refuses such a value; an old object may still hold one
    return max(1, number)


def statefulset_status(
    sts: Mapping[str, Any], pods: list[Obj], revs: Revisions, now: dt.datetime
) -> Obj:
    """computeReplicaStatus plus the revisions and the generation seen."""
    ready = [p for p in pods if is_running_and_ready(p)]
    live = [p for p in pods if not is_terminating(p)]
    min_ready = min_ready_seconds(sts)
    status: Obj = {
        "observedGeneration": int(_meta(sts).get("generation") or 0),
        "replicas": len(pods),
        "readyReplicas": len(ready),
        "currentReplicas": sum(1 for p in live if revision_of_pod(p) == revs.current),
        "updatedReplicas": sum(1 for p in live if revision_of_pod(p) == revs.update),
        "availableReplicas": sum(1 for p in ready if ranking.is_available(p, min_ready, now)),
        "currentRevision": revs.current,
        "updateRevision": revs.update,
        "collisionCount": revs.collision_count,
    }
    conditions = (sts.get("status") or {}).get("conditions")
    if conditions:
        status["conditions"] = copy.deepcopy(conditions)
    return status


def complete_rolling_update(sts: Mapping[str, Any], status: Obj) -> None:
    """completeRollingUpdate: every replica updated and ready makes the update current."""
    strategy = (_spec(sts).get("updateStrategy") or {}).get("type")
    if (
        strategy == ROLLING_UPDATE
        and status["updatedReplicas"] == status["replicas"]
        and status["readyReplicas"] == status["replicas"]
    ):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]


def versioned_pod(sts: Mapping[str, Any], revs: Revisions, ordinal: int) -> Obj:
    """newVersionedStatefulSetPod: below the partition (or, without one, below the current
    replicas) a pod of the current revision, else of the update revision."""
    strategy = _spec(sts).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    start = start_ordinal(sts)
    current = int((sts.get("status") or {}).get("currentReplicas") or 0)
    if (
        strategy.get("type") == ROLLING_UPDATE and rolling is None and ordinal < start + current
    ) or (rolling is not None and ordinal < start + int(rolling.get("partition") or 0)):
        return new_pod(revs.current_set, ordinal, revs.current)
    return new_pod(revs.update_set, ordinal, revs.update)


class _Planner:
    """One pass of updateStatefulSet over the replicas, the condemned and the update."""

    def __init__(
        self,
        sts: Mapping[str, Any],
        pods: list[Obj],
        claims: Mapping[str, Obj],
        revs: Revisions,
        now: dt.datetime,
    ) -> None:
        self.sts, self.claims, self.revs, self.now = sts, claims, revs, now
        self.monotonic = _spec(sts).get("podManagementPolicy") != PARALLEL
        self.plan = StatefulSetPlan(status=statefulset_status(sts, pods, revs, now))
        start, count = start_ordinal(sts), int(_spec(sts).get("replicas") or 0)
        slots: list[Obj | None] = [None] * count
        condemned = []
        for pod in pods:
            ordinal = ordinal_of(pod)
            if in_ordinal_range(sts, ordinal):
                slots[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        self.replicas = [
            pod if pod is not None else versioned_pod(sts, revs, start + i)
            for i, pod in enumerate(slots)
        ]
        self.condemned = sorted(condemned, key=ordinal_of, reverse=True)
        unhealthy = [p for p in self.replicas if not is_healthy(p)]
        unhealthy += [p for p in reversed(self.condemned) if not is_healthy(p)]
        self.first_unhealthy = unhealthy[0] if unhealthy else None

    def _do(self, verb: str, obj: Obj, why: str, claims: tuple[Obj, ...] = ()) -> None:
        self.plan.actions.append(Action(verb, obj, claims, why))

    def _claims_of(self, pod: Mapping[str, Any]) -> list[Obj]:
        namespace = str(_meta(self.sts).get("namespace") or "")
        return claims_for(self.revs.update_set, ordinal_of(pod)) if namespace else []

    def _missing_claims(self, pod: Mapping[str, Any]) -> tuple[Obj, ...]:
        wanted = self._claims_of(pod)
        return tuple(c for c in wanted if self._claim(name_of(c)) is None)

    def _claim(self, name: str) -> Obj | None:
        return self.claims.get(f"{_meta(self.sts).get('namespace')}/{name}")

    def _fix_claims(self, pod: Obj) -> None:
        """ClaimsMatchRetentionPolicy / UpdatePodClaimForRetentionPolicy."""
        for wanted in self._claims_of(pod):
            claim = self._claim(name_of(wanted))
            fixed = claim_with_policy(claim, self.revs.update_set, pod) if claim else None
            if fixed is not None:
                self._do(CLAIM, fixed, "retention policy")

    def _stale_claim(self, pod: Mapping[str, Any]) -> bool:
        """A claim of the ordinal still being deleted: no pod until it is gone."""
        for wanted in self._claims_of(pod):
            claim = self._claim(name_of(wanted))
            if claim is not None and is_terminating(claim):
                return True
        return False

    def replica(self, pod: Obj) -> bool:
        """processReplica; True when the pass must stop here."""
        if _phase(pod) in ("Failed", "Succeeded"):
            if not is_terminating(pod):
                self._do(DELETE, pod, f"its phase is {_phase(pod)}")
            return True
        if not is_created(pod):
            if self._stale_claim(pod):
                return True
            self._do(CREATE, pod, "missing", self._missing_claims(pod))
            status, revision = self.plan.status, revision_of_pod(pod)
            status["replicas"] += 1
            status["currentReplicas"] += revision == self.revs.current
            status["updatedReplicas"] += revision == self.revs.update
            return self.monotonic
        if _phase(pod) == "Pending" and (missing := self._missing_claims(pod)):
            self._do(CLAIM, pod, "pending without its claims", missing)
        if is_terminating(pod) or not is_running_and_ready(pod):
            return self.monotonic
        if not ranking.is_available(pod, min_ready_seconds(self.sts), self.now):
            return self.monotonic
        if not identity_matches(self.sts, pod):
            self._do(UPDATE, with_identity(self.sts, pod), "identity")
        self._fix_claims(pod)
        return False

    def condemned_pod(self, pod: Obj) -> bool:
        """processCondemned; True when the pass must stop here."""
        if is_terminating(pod):
            return self.monotonic
        if self.monotonic and pod is not self.first_unhealthy:
            if not is_running_and_ready(pod):
                return True
            if not ranking.is_available(pod, min_ready_seconds(self.sts), self.now):
                return True
        self._do(DELETE, pod, "scale down")
        return self.monotonic

    def _unavailable(self, pod: Mapping[str, Any]) -> bool:
        """isUnavailable: not Running and available, or terminating."""
        return not is_running_and_available(pod, self.sts, self.now) or is_terminating(pod)

    def _outdated(self, pod: Mapping[str, Any]) -> bool:
        return revision_of_pod(pod) != self.revs.update and not is_terminating(pod)

    def _delete_for_update(self, pod: Obj) -> None:
        if is_created(pod):
            self._do(DELETE, pod, "update")
            self.plan.status["currentReplicas"] -= 1

    def rolling_update(self) -> None:
        """updateStatefulSetAfterInvariantEstablished: with fewer than ``maxUnavailable``
        replicas unavailable, delete as many pods of an old revision as the budget leaves, at
        or above the partition, highest ordinal first. ``Parallel`` first deletes the old pods
        that are unavailable anyway (they never count against the budget), then available ones
        within it."""
        strategy = _spec(self.sts).get("updateStrategy") or {}
        if strategy.get("type") == ON_DELETE:
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        budget = max_unavailable(self.sts)
        unavailable = [p for p in self.replicas if self._unavailable(p)]
        stuck = [] if self.monotonic else [p for p in unavailable if self._outdated(p)]
        if len(unavailable) >= budget and not stuck:
            return
        targets = [p for p in reversed(self.replicas[partition:]) if self._outdated(p)]
        if self.monotonic:
            for pod in targets[: budget - len(unavailable)]:
                self._delete_for_update(pod)
            return
        for pod in targets:
            if self._unavailable(pod):
                self._delete_for_update(pod)
        available = [p for p in targets if not self._unavailable(p)]
        for pod in available[: max(0, budget - len(unavailable))]:
            self._delete_for_update(pod)

    def run(self) -> StatefulSetPlan:
        if _meta(self.sts).get("deletionTimestamp"):
            return self.plan
        for pod in self.replicas:
            if self.replica(pod) and self.monotonic:
                return self.plan
        for pod in self.condemned:
            self._fix_claims(pod)
        for pod in self.condemned:
            if self.condemned_pod(pod) and self.monotonic:
                return self.plan
        self.rolling_update()
        return self.plan


def plan_statefulset(
    sts: Mapping[str, Any],
    pods: list[Obj],
    claims: Mapping[str, Obj],
    revs: Revisions,
    now: dt.datetime,
) -> StatefulSetPlan:
    """One sync of a StatefulSet. ``pods``: the pods it owns (members by name); ``claims``: the
    PersistentVolumeClaims of its namespace by ``ns/name``."""
    plan = _Planner(sts, pods, claims, revs, now).run()
    complete_rolling_update(sts, plan.status)
    return plan


def requeue_after(sts: Mapping[str, Any], pods: list[Obj], now: dt.datetime) -> float | None:
    """When the next Ready-but-not-yet-available pod turns available (minReadySeconds)."""
    seconds = min_ready_seconds(sts)
    if seconds <= 0:
        return None
    waits = []
    for pod in pods:
        since = ranking.ready_since(pod)
        if since is not None and not ranking.is_available(pod, seconds, now):
            waits.append((since + dt.timedelta(seconds=seconds) - now).total_seconds())
    return max(0.0, min(waits)) + 0.05 if waits else None


def revisions_to_delete(
    revisions: list[Obj], pods: list[Obj], revs: Revisions, limit: int
) -> list[Obj]:
    """truncateHistory: the oldest revisions neither current, nor the update, nor of a pod,
    beyond ``revisionHistoryLimit``. ``revisions`` are sorted oldest first."""
    live = {revs.current, revs.update, *(revision_of_pod(p) for p in pods)}
    history = [r for r in revisions if name_of(r) not in live]
    return history[: max(0, len(history) - limit)]
