"""kube-scheduler's PodTopologySpread plugin. The PreFilter counts, for each
``DoNotSchedule`` constraint, the pods of the namespace its selector matches in each domain (the
values of its topology key) over the nodes that count (by ``nodeAffinityPolicy``, default
Honor, and ``nodeTaintsPolicy``, default Ignore); the Filter refuses a node where the pod would
make ``count + self - global minimum`` exceed ``maxSkew`` (the minimum is 0 while fewer than
``minDomains`` domains exist). ``ScheduleAnyway`` constraints score the same counts. Pure."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common.labels import LabelSelector
from control.schedplugins.nodeaffinity import NodeAffinity
from control.schedplugins.terms import label_selector, labels_of, lst, m, num

Obj = Mapping[str, Any]
MISMATCH = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL = MISMATCH + " (missing required label)"
DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"
HONOR, IGNORE = "Honor", "Ignore"


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    hard: bool
    selector: LabelSelector
    min_domains: int = 1
    honor_affinity: bool = True
    honor_taints: bool = False


def constraints_of(pod: Obj) -> list[Constraint]:
    out = []
    own = labels_of(pod)
    for raw in map(m, lst(m(pod.get("spec")).get("topologySpreadConstraints"))):
        selector = label_selector(raw.get("labelSelector"), own, lst(raw.get("matchLabelKeys")))
        out.append(Constraint(
            max(1, num(raw.get("maxSkew"), 1)),
            str(raw.get("topologyKey") or ""),
            raw.get("whenUnsatisfiable", DO_NOT_SCHEDULE) != SCHEDULE_ANYWAY,
            selector,
            max(1, num(raw.get("minDomains"), 1)),
            raw.get("nodeAffinityPolicy", HONOR) != IGNORE,
            raw.get("nodeTaintsPolicy", IGNORE) == HONOR,
        ))  # fmt: skip
    return out


@dataclass
class Counted:
    """One constraint's counts per domain over the nodes that count."""

    constraint: Constraint
    counts: Counter[str]
    self_match: int

    @property
    def minimum(self) -> int:
        if len(self.counts) < self.constraint.min_domains:
            return 0
        return min(self.counts.values(), default=0)


@dataclass
class SpreadState:
    hard: list[Counted]
    soft: list[Counted]

    def filter(self, node: Obj) -> str | None:
        labels = labels_of(node)
        for c in self.hard:
            value = labels.get(c.constraint.topology_key)
            if value is None:
                return MISSING_LABEL
            if c.counts.get(value, 0) + c.self_match - c.minimum > c.constraint.max_skew:
                return MISMATCH
        return None

    def score(self, node: Obj) -> float | None:
        """The Score before normalizing (lower is better), None for a node without the keys."""
        labels = labels_of(node)
        total = 0.0
        for c in self.soft:
            value = labels.get(c.constraint.topology_key)
            if value is None:
                return None
            weight = math.log(len(c.counts) + 2)
            total += c.counts.get(value, 0) * weight + (c.constraint.max_skew - 1)
        return total


def _terminating(pod: Obj) -> bool:
    return bool(m(pod.get("metadata")).get("deletionTimestamp"))


def _count(
    pod: Obj,
    constraints: list[Constraint],
    nodes: Mapping[str, Obj],
    pods_on: Mapping[str, Iterable[Obj]],
    tolerated: Callable[[Obj], bool],
) -> list[Counted]:
    ns = m(pod.get("metadata")).get("namespace")
    affinity = NodeAffinity.of(pod)
    own = labels_of(pod)
    out = [Counted(c, Counter(), 1 if c.selector.matches(own) else 0) for c in constraints]
    keys = [c.topology_key for c in constraints]
    for name, node in nodes.items():
        labels = labels_of(node)
        if any(k not in labels for k in keys):
            continue
        mine = [p for p in pods_on.get(name, ())
                if m(p.get("metadata")).get("namespace") == ns and not _terminating(p)]  # fmt: skip
        for c in out:
            con = c.constraint
            if con.honor_affinity and not affinity.matches(node):
                continue
            if con.honor_taints and not tolerated(node):
                continue
            value = labels[con.topology_key]
            c.counts[value] += sum(1 for p in mine if con.selector.matches(labels_of(p)))
    return out


def pre_filter(
    pod: Obj,
    nodes: Mapping[str, Obj],
    pods_on: Mapping[str, Iterable[Obj]],
    tolerated: Callable[[Obj], bool],
) -> SpreadState | None:
    """The counts the Filter and Score read, or None for a pod without constraints."""
    constraints = constraints_of(pod)
    if not constraints:
        return None
    hard = [c for c in constraints if c.hard]
    soft = [c for c in constraints if not c.hard]
    return SpreadState(
        _count(pod, hard, nodes, pods_on, tolerated) if hard else [],
        _count(pod, soft, nodes, pods_on, tolerated) if soft else [],
    )
