"""kube-scheduler's InterPodAffinity plugin. The PreFilter counts, per topology pair (a node
label key and value), the existing pods matching the incoming pod's required affinity and
anti-affinity terms and the existing pods whose required anti-affinity terms match the incoming
pod; the Filter then reads the node's pairs. The Score adds the weights of preferred terms
(the incoming pod's and, symmetrically, the existing pods'). Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common.labels import LabelSelector
from control.schedplugins.terms import label_selector, labels_of, lst, m, num

Obj = Mapping[str, Any]
NamespaceLabels = Callable[[str], Mapping[str, str]]
Pair = tuple[str, str]
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
# Weight of an existing pod's required affinity term in the incoming pod's score
# (kube-scheduler's hardPodAffinityWeight default).
HARD_POD_AFFINITY_WEIGHT = 1
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


@dataclass(frozen=True)
class AffinityTerm:
    """A pod (anti-)affinity term of one pod: which pods it selects, across which namespaces,
    grouped by which node label."""

    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None
    selector: LabelSelector
    topology_key: str
    weight: int = 0

    def matches(self, pod: Obj, namespace_labels: NamespaceLabels) -> bool:
        ns = str(m(pod.get("metadata")).get("namespace", ""))
        if ns not in self.namespaces and (
            self.namespace_selector is None
            or not self.namespace_selector.matches(namespace_labels(ns))
        ):
            return False
        return self.selector.matches(labels_of(pod))


def _term(owner: Obj, raw: Any, weight: int = 0) -> AffinityTerm:
    raw = m(raw)
    own = labels_of(owner)
    selector = label_selector(raw.get("labelSelector"), own, lst(raw.get("matchLabelKeys")),
                              lst(raw.get("mismatchLabelKeys")))  # fmt: skip
    names = frozenset(str(n) for n in lst(raw.get("namespaces")))
    ns_selector = None
    if isinstance(raw.get("namespaceSelector"), Mapping):
        ns_selector = label_selector(raw["namespaceSelector"])
    elif not names:
        names = frozenset({str(m(owner.get("metadata")).get("namespace", ""))})
    return AffinityTerm(names, ns_selector, selector, str(raw.get("topologyKey") or ""), weight)


@dataclass(frozen=True)
class PodTerms:
    """A pod's four lists of terms."""

    affinity: tuple[AffinityTerm, ...] = ()
    anti: tuple[AffinityTerm, ...] = ()
    preferred: tuple[AffinityTerm, ...] = ()
    preferred_anti: tuple[AffinityTerm, ...] = ()

    @staticmethod
    def of(pod: Obj) -> PodTerms:
        affinity = m(m(pod.get("spec")).get("affinity"))
        pa, anti = m(affinity.get("podAffinity")), m(affinity.get("podAntiAffinity"))

        def preferred(block: Obj) -> tuple[AffinityTerm, ...]:
            return tuple(_term(pod, w.get("podAffinityTerm"), num(w.get("weight"), 0))
                         for w in map(m, lst(block.get(PREFERRED))))  # fmt: skip

        return PodTerms(
            tuple(_term(pod, t) for t in lst(pa.get(REQUIRED))),
            tuple(_term(pod, t) for t in lst(anti.get(REQUIRED))),
            preferred(pa),
            preferred(anti),
        )

    @property
    def empty(self) -> bool:
        return not (self.affinity or self.anti or self.preferred or self.preferred_anti)


def has_terms(pod: Obj) -> bool:
    affinity = m(m(pod.get("spec")).get("affinity"))
    return bool(affinity.get("podAffinity") or affinity.get("podAntiAffinity"))


def _pair(node: Obj | None, key: str) -> Pair | None:
    if node is None:
        return None
    value = labels_of(node).get(key)
    return (key, value) if value is not None else None


@dataclass(frozen=True)
class Existing:
    """An existing pod with terms, its terms read once, and its node."""

    pod: Obj
    terms: PodTerms
    node: str


@dataclass
class InterPodState:
    """The PreFilter's counts for one incoming pod."""

    terms: PodTerms
    matches_own: bool  # the pod matches all its own affinity terms (the first of a group)
    affinity: Counter[Pair]
    anti: Counter[Pair]
    existing_anti: Counter[Pair]

    def filter(self, node: Obj) -> str | None:
        labels = labels_of(node)
        if self.terms.affinity:
            pairs = [_pair(node, t.topology_key) for t in self.terms.affinity]
            if None in pairs:
                return AFFINITY
            if not all(self.affinity[p] > 0 for p in pairs if p) and not (
                not self.affinity and self.matches_own
            ):
                return AFFINITY
        for t in self.terms.anti:
            p = _pair(node, t.topology_key)
            if p is not None and self.anti[p] > 0:
                return ANTI_AFFINITY
        if self.existing_anti and any(self.existing_anti[kv] > 0 for kv in labels.items()):
            return EXISTING_ANTI_AFFINITY
        return None


def pre_filter(
    pod: Obj,
    nodes: Mapping[str, Obj],
    pods_on: Mapping[str, Iterable[Obj]],
    with_terms: Iterable[Existing],
    namespace_labels: NamespaceLabels,
) -> InterPodState | None:
    """The state the Filter reads, or None when neither the pod nor any existing pod has
    required terms (nothing to check)."""
    terms = PodTerms.of(pod)
    existing_anti: Counter[Pair] = Counter()
    for other in with_terms:
        for t in other.terms.anti:
            p = _pair(nodes.get(other.node), t.topology_key)
            if p is not None and t.matches(pod, namespace_labels):
                existing_anti[p] += 1
    if not (terms.affinity or terms.anti or existing_anti):
        return None
    affinity: Counter[Pair] = Counter()
    anti: Counter[Pair] = Counter()
    if terms.affinity or terms.anti:
        for name, pods in pods_on.items():
            node = nodes.get(name)
            for existing in pods:
                if terms.affinity and all(t.matches(existing, namespace_labels)
                                          for t in terms.affinity):  # fmt: skip
                    affinity.update(p for t in terms.affinity if (p := _pair(node, t.topology_key)))
                for t in terms.anti:
                    p = _pair(node, t.topology_key)
                    if p is not None and t.matches(existing, namespace_labels):
                        anti[p] += 1
    own = bool(terms.affinity) and all(t.matches(pod, namespace_labels) for t in terms.affinity)
    return InterPodState(terms, own, affinity, anti, existing_anti)


def score_pairs(
    pod: Obj,
    nodes: Mapping[str, Obj],
    pods_on: Mapping[str, Iterable[Obj]],
    with_terms: Iterable[Existing],
    namespace_labels: NamespaceLabels,
) -> Counter[Pair]:
    """The PreScore: per topology pair, the weights of the preferred terms that existing pods
    there satisfy (anti-affinity subtracts), and of existing pods' terms the pod satisfies."""
    terms = PodTerms.of(pod)
    out: Counter[Pair] = Counter()
    if terms.preferred or terms.preferred_anti:
        for name, pods in pods_on.items():
            node = nodes.get(name)
            for existing in pods:
                for t, sign in [(t, 1) for t in terms.preferred] + [
                    (t, -1) for t in terms.preferred_anti
                ]:
                    p = _pair(node, t.topology_key)
                    if p is not None and t.matches(existing, namespace_labels):
                        out[p] += sign * t.weight
    for other in with_terms:
        node = nodes.get(other.node)
        weighted = [(t, t.weight) for t in other.terms.preferred]
        weighted += [(t, -t.weight) for t in other.terms.preferred_anti]
        weighted += [(t, HARD_POD_AFFINITY_WEIGHT) for t in other.terms.affinity]
        for t, weight in weighted:
            p = _pair(node, t.topology_key)
            if p is not None and t.matches(pod, namespace_labels):
                out[p] += weight
    return out


def node_score(pairs: Counter[Pair], node: Obj) -> int:
    """The Score before normalizing: the weights of the pairs the node has."""
    if not pairs:
        return 0
    return sum(pairs.get(kv, 0) for kv in labels_of(node).items())
