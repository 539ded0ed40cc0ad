"""The pod garbage collector, as Kubernetes' PodGC: pods bound to a Node that no longer exists
(after a quarantine, and a fresh read of the Node) are marked Failed with a ``DisruptionTarget``
condition and force-deleted, so that their controllers replace them; terminating pods that were
never scheduled go at once; terminated pods beyond ``--terminated-pod-gc-threshold`` go oldest
first. ``plan`` is pure; the loop is a shell that sweeps every few seconds and when Nodes
change."""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common import errors, meta
from common.resources import must
from control.controllers import writes
from control.controllers.passes import run_passes
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS = must("pods")
# Kubernetes: a sweep every 20 s, 40 s of quarantine for a missing Node, 12500 terminated pods.
# tinykube sweeps more often and waits less, as its node lifecycle does, but still twice the
# agents' node-status interval (10 s): a running agent registers its deleted Node again within one.
SWEEP_SECONDS = 5.0
QUARANTINE = dt.timedelta(seconds=20)
TERMINATED_THRESHOLD = 12500
TERMINAL_PHASES = ("Succeeded", "Failed")
ORPHAN_CONDITION = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "DeletionByPodGC",
    "message": "PodGC: node no longer exists",
}

Obj = dict[str, Any]


@dataclass(frozen=True)
class Plan:
    orphaned: list[Obj]  # bound to a Node missing for longer than the quarantine
    unscheduled: list[Obj]  # terminating and never bound
    terminated: list[Obj]  # terminated pods over the threshold, oldest first
    missing: dict[str, dt.datetime]  # each missing Node, and since when it has been missing


def _created(pod: Obj) -> tuple[bool, str, str]:
    """Kubernetes' ``byEvictionAndCreationTimestamp``: evicted pods first, then oldest, then
    by name."""
    m = pod.get("metadata") or {}
    evicted = (pod.get("status") or {}).get("reason") == "Evicted"
    return (not evicted, str(m.get("creationTimestamp") or ""), str(m.get("name") or ""))


def plan(
    pods: Iterable[Obj],
    node_names: Iterable[str],
    missing_since: Mapping[str, dt.datetime],
    now: dt.datetime,
    *,
    quarantine: dt.timedelta = QUARANTINE,
    threshold: int = TERMINATED_THRESHOLD,
) -> Plan:
    """What one sweep deletes. ``missing_since`` is the previous sweep's ``missing``: a Node
    is only given up once it has been missing for ``quarantine`` (a pod may be bound before
    its Node is seen, and a Node may be deleted and registered again)."""
    pods = list(pods)
    nodes = set(node_names)
    missing: dict[str, dt.datetime] = {}
    for pod in pods:
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if node and node not in nodes:
            missing.setdefault(node, missing_since.get(node, now))
    gone = {n for n, since in missing.items() if now - since >= quarantine}
    orphaned, unscheduled, terminated = [], [], []
    for pod in pods:
        spec, m = pod.get("spec") or {}, pod.get("metadata") or {}
        node = str(spec.get("nodeName") or "")
        if node in gone:
            orphaned.append(pod)
        elif not node and m.get("deletionTimestamp"):
            unscheduled.append(pod)
        elif (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            terminated.append(pod)
    excess = len(terminated) - threshold if threshold > 0 else 0
    terminated = sorted(terminated, key=_created)[: max(0, excess)]
    return Plan(orphaned, unscheduled, terminated, missing)


def failed_status(pod: Obj, condition: Obj | None, now: dt.datetime) -> Obj | None:
    """The pod with phase Failed (and ``condition`` set), or None when it is already terminal:
    with no agent left to say so, it would stay Running for as long as anyone looks."""
    status = pod.get("status") or {}
    if status.get("phase") in TERMINAL_PHASES:
        return None
    out = copy.deepcopy(pod)
    new = out.setdefault("status", {})
    new["phase"] = "Failed"
    if condition is not None:
        conditions = [c for c in new.get("conditions") or [] if c.get("type") != condition["type"]]
        conditions.append({**condition, "lastTransitionTime": meta.timestamp(now)})
        new["conditions"] = conditions
    return out


class PodGarbageCollector:
    name = "pod-gc"
    watches: tuple[str, ...] = ("nodes",)

    def __init__(
        self,
        registry: Registry,
        *,
        quarantine: dt.timedelta = QUARANTINE,
        threshold: int = TERMINATED_THRESHOLD,
        period: float = SWEEP_SECONDS,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        self.registry = registry
        self.store = registry.store
        self.quarantine = quarantine
        self.threshold = threshold
        self.period = period
        self.clock = clock
        self.wake = threading.Event()
        self.missing: dict[str, dt.datetime] = {}

    def run(self, stop: threading.Event) -> None:
        self.missing = {}  # a new leader term quarantines afresh
        run_passes(self.name, self.sweep, self.wake, stop, self.period)

    def sweep(self) -> float | None:
        """One pass; returns when to run again if a quarantine ends before the next sweep."""
        now = self.clock()
        pods, _ = self.store.list("pods")
        nodes, _ = self.store.list("nodes")
        p = plan(pods, (str(n["metadata"]["name"]) for n in nodes), self.missing, now,
                 quarantine=self.quarantine, threshold=self.threshold)  # fmt: skip
        self.missing = p.missing
        for node in sorted({pod["spec"]["nodeName"] for pod in p.orphaned}):
            del self.missing[node]  # its pods go now, or it is back
            if self._node_exists(node):  # Kubernetes reads the Node once more before it acts
                continue
            for pod in p.orphaned:
                if pod["spec"]["nodeName"] == node:
                    self._delete(pod, ORPHAN_CONDITION, f"node {node} no longer exists", now)
        for pod in p.unscheduled:
            self._delete(pod, None, "terminating and never scheduled", now)
        for pod in p.terminated:
            self._delete(pod, None, f"more than {self.threshold} terminated pods", now)
        ends = [since + self.quarantine for since in self.missing.values()]
        return max(0.0, (min(ends) - now).total_seconds()) if ends else None

    def _node_exists(self, name: str) -> bool:
        try:
            self.store.get("nodes", "", name)
        except errors.NotFoundError:
            return False
        return True

    def _delete(self, pod: Obj, condition: Obj | None, why: str, now: dt.datetime) -> None:
        m = pod["metadata"]
        ref = f"{m['namespace']}/{m['name']}"
        failed = failed_status(pod, condition, now)
        if failed is not None:
            try:
                self.store.update("pods", failed, expected_rv=int(m["resourceVersion"]))
            except (errors.NotFoundError, errors.ConflictError) as e:
                log.info("pod-gc: pod %s not deleted this pass: %s", ref, e)
                return
        if not writes.force_delete(self.registry, PODS, pod):
            return
        log.info("pod-gc: force-deleted pod %s: %s", ref, why)


def add_flags(p: argparse.ArgumentParser) -> None:
    """kube-controller-manager's flag of this controller."""
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=TERMINATED_THRESHOLD,
                   metavar="N", help="terminated pods kept before the oldest are deleted; "
                   f"0 keeps them all (default {TERMINATED_THRESHOLD})")  # fmt: skip
