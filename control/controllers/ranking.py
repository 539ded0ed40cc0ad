"""Which pods a ReplicaSet deletes first when it has too many: Kubernetes' ``ActivePodsWithRanks``
order (controller_utils.go), with ``LogarithmicScaleDown`` and ``PodDeletionCost`` on as in every
current release. A pod that sorts earlier is deleted first:

1. unscheduled before scheduled; 2. Pending < Unknown < Running; 3. not Ready before Ready;
4. lower ``controller.kubernetes.io/pod-deletion-cost`` first; 5. more pods of the same owner on
its node first; 6. of two Ready pods, the one Ready more recently first; 7. higher restart count
first; 8. newer first. Rules 6 and 8 compare ``floor(log2(age in ns))``; equal buckets fall back
to the smaller UID. Pure.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any

from common import meta

Obj = dict[str, Any]
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _meta(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return pod.get("metadata") or {}


def ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c  # type: ignore[no-any-return]
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> dt.datetime | None:
    """When a Ready pod became Ready (its condition's lastTransitionTime)."""
    c = ready_condition(pod)
    if c is None or c.get("status") != "True":
        return None
    return meta.parse_time(c.get("lastTransitionTime"))


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: dt.datetime) -> bool:
    """IsPodAvailable: Ready for at least ``min_ready_seconds``."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) < now


def is_active(pod: Mapping[str, Any]) -> bool:
    """IsPodActive: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not _meta(pod).get("deletionTimestamp")


def deletion_cost(pod: Mapping[str, Any]) -> int:
    value = (_meta(pod).get("annotations") or {}).get(DELETION_COST)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def max_restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _node(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _bucket(t: dt.datetime, now: dt.datetime) -> int:
    ns = (now - t) // dt.timedelta(microseconds=1) * 1000
    return int(math.log2(ns)) if ns > 0 else -1


def _compare_times(
    a: dt.datetime | None, b: dt.datetime | None, ua: str, ub: str, now: dt.datetime
) -> int:
    """Newer (or zero) first, by power-of-two age bucket, then by UID."""
    if a is None or b is None:
        return -1 if a is None else 1  # afterOrZero: a zero time sorts first
    diff = _bucket(a, now) - _bucket(b, now)
    if diff == 0:
        return -1 if ua < ub else (1 if ua > ub else 0)
    return -1 if diff < 0 else 1


def _compare(a: Obj, b: Obj, ranks: Mapping[int, int], now: dt.datetime) -> int:
    na, nb = _node(a), _node(b)
    if na != nb and (not na or not nb):
        return -1 if not na else 1
    pa = PHASE_ORDER.get((a.get("status") or {}).get("phase", ""), 0)
    pb = PHASE_ORDER.get((b.get("status") or {}).get("phase", ""), 0)
    if pa != pb:
        return -1 if pa < pb else 1
    ra, rb = is_ready(a), is_ready(b)
    if ra != rb:
        return -1 if not ra else 1
    ca, cb = deletion_cost(a), deletion_cost(b)
    if ca != cb:
        return -1 if ca < cb else 1
    ka, kb = ranks[id(a)], ranks[id(b)]
    if ka != kb:
        return -1 if ka > kb else 1
    ua, ub = str(_meta(a).get("uid", "")), str(_meta(b).get("uid", ""))
    if ra and rb:
        ta, tb = ready_since(a), ready_since(b)
        if ta != tb:
            return _compare_times(ta, tb, ua, ub, now)
    xa, xb = max_restarts(a), max_restarts(b)
    if xa != xb:
        return -1 if xa > xb else 1
    ta, tb = (
        meta.parse_time(_meta(a).get("creationTimestamp")),
        meta.parse_time(_meta(b).get("creationTimestamp")),
    )
    if ta != tb:
        return _compare_times(ta, tb, ua, ub, now)
    return 0


def node_ranks(pods: Iterable[Obj], related: Iterable[Obj]) -> dict[int, int]:
    """Per pod (by id): how many active related pods share its node
    (getPodsRankedByRelatedPodsOnSameNode)."""
    on_node: dict[str, int] = {}
    for p in related:
        if is_active(p):
            on_node[_node(p)] = on_node.get(_node(p), 0) + 1
    return {id(p): on_node.get(_node(p), 0) for p in pods}


def rank_for_deletion(pods: list[Obj], related: Iterable[Obj], now: dt.datetime) -> list[Obj]:
    """``pods`` in deletion order (first = deleted first)."""
    ranks = node_ranks(pods, related)

    def cmp(a: Obj, b: Obj) -> int:
        return _compare(a, b, ranks, now)

    return sorted(pods, key=functools.cmp_to_key(cmp))


def pods_to_delete(
    pods: list[Obj], related: Iterable[Obj], diff: int, now: dt.datetime
) -> list[Obj]:
    """getPodsToDelete: the first ``diff`` pods in rank order (no sort when all go)."""
    if diff >= len(pods):
        return list(pods)
    return rank_for_deletion(pods, related, now)[:diff]
