"""The per-cycle state of the plugins that look past one node's usage (kube-scheduler's
CycleState): built once per pod by their PreFilters over a snapshot of the cache, then read by
the Filter of each node and by the Score of the feasible ones, weighted as kube-scheduler's
default profile weighs them. A pod with none of these rules, in a cluster where no pod has
inter-pod terms, gets no state at all: the plain path stays as cheap as before. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from control.schedplugins import interpodaffinity as ipa
from control.schedplugins import podtopologyspread as pts
from control.schedplugins.nodeaffinity import NodeAffinity

Obj = Mapping[str, Any]
# kube-scheduler's default plugin weights, and the top of a normalized score.
NODE_AFFINITY_WEIGHT = 2
INTER_POD_AFFINITY_WEIGHT = 2
TOPOLOGY_SPREAD_WEIGHT = 2
MAX_NODE_SCORE = 100


@dataclass(frozen=True)
class Snapshot:
    """The cache as the PreFilters read it."""

    nodes: Mapping[str, Obj]
    pods_on: Mapping[str, Iterable[Obj]]
    with_terms: Sequence[ipa.Existing] = ()
    namespace_labels: ipa.NamespaceLabels = lambda _ns: {}


@dataclass
class CycleState:
    node_affinity: NodeAffinity
    interpod: ipa.InterPodState | None = None
    spread: pts.SpreadState | None = None
    pairs: Counter[ipa.Pair] = field(default_factory=Counter)

    def filter(self, node: Obj) -> str | None:
        """PodTopologySpread then InterPodAffinity (node affinity is checked with the node's
        own filters, in kube-scheduler's order)."""
        if self.spread is not None and (reason := self.spread.filter(node)):
            return reason
        if self.interpod is not None:
            return self.interpod.filter(node)
        return None

    def scores(self, nodes: Sequence[Obj]) -> list[int]:
        """The weighted sum of the normalized scores of ``nodes`` (the feasible ones)."""
        total = [0] * len(nodes)
        if self.node_affinity.preferred:
            raw = [self.node_affinity.score(n) for n in nodes]
            top = max(raw)
            for i, s in enumerate(raw):
                total[i] += NODE_AFFINITY_WEIGHT * (s * MAX_NODE_SCORE // top if top else 0)
        if self.pairs:
            raw = [ipa.node_score(self.pairs, n) for n in nodes]
            low, high = min(raw), max(raw)
            for i, s in enumerate(raw):
                norm = (s - low) * MAX_NODE_SCORE // (high - low) if high > low else 0
                total[i] += INTER_POD_AFFINITY_WEIGHT * norm
        if self.spread is not None and self.spread.soft:
            for i, s in enumerate(_spread_scores(self.spread, nodes)):
                total[i] += TOPOLOGY_SPREAD_WEIGHT * s
        return total


def _spread_scores(spread: pts.SpreadState, nodes: Sequence[Obj]) -> list[int]:
    raw = [spread.score(n) for n in nodes]
    known = [s for s in raw if s is not None]
    if not known:
        return [0] * len(nodes)
    low, high = min(known), max(known)
    if high == 0:
        return [0 if s is None else MAX_NODE_SCORE for s in raw]
    return [0 if s is None else int(MAX_NODE_SCORE * (high + low - s) / high) for s in raw]


def plain(pod: Obj, snapshot: Snapshot) -> bool:
    """Whether no plugin here has anything to say about ``pod``."""
    spec = pod.get("spec") or {}
    affinity = spec.get("affinity") or {}
    return not (affinity or spec.get("topologySpreadConstraints") or snapshot.with_terms)


def pre_filter(pod: Obj, snapshot: Snapshot, tolerated: Callable[[Obj], bool]) -> CycleState | None:
    """Every PreFilter and PreScore for ``pod``, or None on the plain path."""
    if plain(pod, snapshot):
        return None
    nodes, pods_on = snapshot.nodes, snapshot.pods_on
    state = CycleState(NodeAffinity.of(pod))
    state.spread = pts.pre_filter(pod, nodes, pods_on, tolerated)
    state.interpod = ipa.pre_filter(
        pod, nodes, pods_on, snapshot.with_terms, snapshot.namespace_labels
    )
    state.pairs = ipa.score_pairs(
        pod, nodes, pods_on, snapshot.with_terms, snapshot.namespace_labels
    )
    return state
