"""The pod garbage collector, as Kubernetes' PodGC: pods bound to a Node that no longer exists
(after a quarantine, and a fresh read of the Node) are marked Failed with a ``DisruptionTarget``
condition and force-deleted, so that their controllers replace them; terminating pods that were
never scheduled go at once; terminated pods beyond ``--terminated-pod-gc-threshold`` go oldest
first. ``plan`` is pure; the controller is a shell over the shared informers' caches that
looks every ``gcCheckPeriod`` and when a Node is deleted, and writes through the registry."""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common import conditions as cond
from common import errors, meta
from common.controller import Controller
from common.informer import Handler, by_node_name, key_of
from common.resources import must
from control.controllers import writes
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS, NODES = must("pods"), must("nodes")
NODE_INDEX = "node"
# The key of the periodic pass (no Node is named so: names are DNS subdomains).
GC_KEY = "*"
# Kubernetes: a pass every 20 s (gcCheckPeriod), 40 s of quarantine for a missing Node, 12500
# terminated pods. A Node deletion is acted on at once here, and the quarantine is shorter, as
# tinykube's node lifecycle is quicker, but still twice the agents' node-status interval (10 s):
# a running agent registers its deleted Node again within one.
GC_CHECK_SECONDS = 20.0
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
        ctype = condition["type"]
        previous = cond.find(new.get("conditions"), ctype)
        kept = cond.without(new.get("conditions"), ctype)
        new["conditions"] = [*kept, cond.build(ctype, condition["status"], meta.timestamp(now),
                                               condition["reason"], condition["message"],
                                               previous=previous)]  # fmt: skip
    return out


class PodGarbageCollector(Controller):
    """Keys: node names (Kubernetes' nodeQueue), and ``GC_KEY`` for the periodic pass over the
    caches. A Node deletion enqueues its name, whose pods are found by the ``spec.nodeName``
    index; its sync waits out the quarantine (a delayed re-add), reads the Node once more, then
    collects them. The pass, every ``period``, collects terminated pods over the threshold and
    terminating pods never scheduled, and enqueues every missing Node a pod is bound to. One
    worker: the quarantine record is its own."""

    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers | None = None,
        *,
        quarantine: dt.timedelta = QUARANTINE,
        threshold: int = TERMINATED_THRESHOLD,
        period: float = GC_CHECK_SECONDS,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        super().__init__("pod-gc", self.sync_key, initial=self._new_term)
        self.registry = registry
        self.quarantine = quarantine
        self.threshold = threshold
        self.period = period
        self.clock = clock
        self.missing: dict[str, dt.datetime] = {}
        informers = informers if informers is not None else SharedInformers(registry)
        self.pods = informers.informer(PODS.plural, {NODE_INDEX: by_node_name}).store
        nodes = informers.informer(NODES.plural)
        self.nodes = nodes.store
        nodes.add_handler(Handler(on_delete=lambda node: self.queue.add(key_of(node))))

    def _new_term(self) -> list[str]:
        self.missing = {}  # a new leader term quarantines afresh
        return [GC_KEY]

    def sync_key(self, key: str) -> None:
        if key == GC_KEY:
            self.queue.add_after(GC_KEY, self.period)
            self.gc()
            return
        after = self.check_node(key)
        if after is not None:
            self.queue.add_after(key, after)

    def gc(self) -> None:
        """gcCheckPeriod's pass over the caches."""
        now = self.clock()
        p = plan(self.pods.objects(), self.nodes.keys(), {}, now,
                 quarantine=self.quarantine, threshold=self.threshold)  # fmt: skip
        for node in p.missing:
            self.queue.add(node)
        for pod in p.unscheduled:
            self._delete(pod, None, "terminating and never scheduled", now)
        for pod in p.terminated:
            self._delete(pod, None, f"more than {self.threshold} terminated pods", now)

    def check_node(self, name: str) -> float | None:
        """Collect the pods of a Node missing for the quarantine; returns the seconds until it
        must be looked at again (None: nothing to wait for)."""
        now = self.clock()
        known = {name: self.missing[name]} if name in self.missing else {}
        pods = self.pods.by_index(NODE_INDEX, name)
        nodes = [name] if self.nodes.get(name) is not None else []
        p = plan(pods, nodes, known, now, quarantine=self.quarantine, threshold=0)
        if name not in p.missing:
            self.missing.pop(name, None)  # back, or no pod left on it
            return None
        if not p.orphaned:
            self.missing[name] = p.missing[name]
            return (p.missing[name] + self.quarantine - now).total_seconds()
        since = self.missing.pop(name, p.missing[name])  # its pods go now, or it is back
        if self._node_exists(name):  # Kubernetes reads the Node once more before it acts
            return None
        why = f"node {name} no longer exists"
        kept = [pod for pod in p.orphaned if not self._delete(pod, ORPHAN_CONDITION, why, now)]
        if kept:  # changed since the cache saw them: again, with back-off, past the quarantine
            self.missing[name] = since
            raise errors.ConflictError(f"pod-gc: {len(kept)} pods of node {name} changed meanwhile")
        return None

    def _node_exists(self, name: str) -> bool:
        try:
            self.registry.get(NODES, "", name)
        except errors.NotFoundError:
            return False
        return True

    def _delete(self, pod: Obj, condition: Obj | None, why: str, now: dt.datetime) -> bool:
        """Mark the pod Failed, then force-delete it; False when it changed since it was read
        (the status write lost), True when it is gone (or was gone already)."""
        m = pod["metadata"]
        ref = f"{m['namespace']}/{m['name']}"
        failed = failed_status(pod, condition, now)
        if failed is not None:
            try:
                self.registry.replace(PODS, m["namespace"], m["name"], failed, sub="status")
            except errors.NotFoundError:
                return True
            except errors.ConflictError as e:
                log.info("pod-gc: pod %s not deleted this time: %s", ref, e)
                return False
        if writes.force_delete(self.registry, PODS, pod):
            log.info("pod-gc: force-deleted pod %s: %s", ref, why)
        return True


def add_flags(p: argparse.ArgumentParser) -> None:
    """kube-controller-manager's flag of this controller."""
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=TERMINATED_THRESHOLD,
                   metavar="N", help="terminated pods kept before the oldest are deleted; "
                   f"0 keeps them all (default {TERMINATED_THRESHOLD})")  # fmt: skip
