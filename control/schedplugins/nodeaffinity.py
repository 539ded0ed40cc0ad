"""kube-scheduler's NodeAffinity plugin: ``nodeSelector`` and
``requiredDuringSchedulingIgnoredDuringExecution`` (node selector terms ORed, the expressions of
a term ANDed, operators In/NotIn/Exists/DoesNotExist/Gt/Lt, ``matchFields`` on
``metadata.name``) filter; ``preferredDuringSchedulingIgnoredDuringExecution`` scores the sum of
the weights of the terms a node matches. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.labels import DOES_NOT_EXIST, EXISTS, GREATER_THAN, IN, LESS_THAN, NOT_IN, Requirement
from control.schedplugins.terms import labels_of, lst, m, num

REASON = "node(s) didn't match Pod's node affinity/selector"
OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST,
             "Gt": GREATER_THAN, "Lt": LESS_THAN}  # fmt: skip
# The one field a matchFields expression may name.
NODE_NAME_FIELD = "metadata.name"


@dataclass(frozen=True)
class NodeSelectorTerm:
    labels: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    valid: bool = True

    def matches(self, node: Mapping[str, Any]) -> bool:
        """An empty or malformed term matches no node, as in Kubernetes."""
        if not self.valid or not (self.labels or self.fields):
            return False
        labels = labels_of(node)
        if not all(r.matches(labels) for r in self.labels):
            return False
        fields = {NODE_NAME_FIELD: str(m(node.get("metadata")).get("name", ""))}
        return all(r.matches(fields) for r in self.fields)


def _requirement(expr: Any, fields: bool) -> Requirement | None:
    expr = m(expr)
    op, key = OPERATORS.get(str(expr.get("operator"))), expr.get("key")
    values = tuple(str(v) for v in lst(expr.get("values")))
    if op is None or not isinstance(key, str) or (fields and key != NODE_NAME_FIELD):
        return None
    if (op in (IN, NOT_IN) and not values) or (op in (EXISTS, DOES_NOT_EXIST) and values):
        return None
    if op in (GREATER_THAN, LESS_THAN) and len(values) != 1:
        return None
    return Requirement(key, op, tuple(sorted(set(values))))


def selector_term(raw: Any) -> NodeSelectorTerm:
    raw = m(raw)
    labels = [_requirement(e, False) for e in lst(raw.get("matchExpressions"))]
    fields = [_requirement(e, True) for e in lst(raw.get("matchFields"))]
    valid = None not in labels and None not in fields
    return NodeSelectorTerm(tuple(r for r in labels if r), tuple(r for r in fields if r), valid)


@dataclass(frozen=True)
class NodeAffinity:
    """What a pod's nodeSelector and node affinity ask of a node, read once per cycle."""

    selector: Mapping[str, str]
    required: tuple[NodeSelectorTerm, ...] | None  # None: no required node affinity
    preferred: tuple[tuple[int, NodeSelectorTerm], ...]

    @staticmethod
    def of(pod: Mapping[str, Any]) -> NodeAffinity:
        spec = m(pod.get("spec"))
        affinity = m(m(spec.get("affinity")).get("nodeAffinity"))
        raw_required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        required = None
        if isinstance(raw_required, Mapping):
            required = tuple(selector_term(t) for t in lst(raw_required.get("nodeSelectorTerms")))
        preferred = tuple(
            (num(p.get("weight"), 0), selector_term(p.get("preference")))
            for p in map(m, lst(affinity.get("preferredDuringSchedulingIgnoredDuringExecution")))
            if isinstance(p.get("weight"), int)
        )
        return NodeAffinity(m(spec.get("nodeSelector")), required, preferred)

    @property
    def has_affinity(self) -> bool:
        return self.required is not None or bool(self.preferred)

    def matches(self, node: Mapping[str, Any]) -> bool:
        """The Filter: every nodeSelector label, and one of the required terms if any."""
        labels = labels_of(node)
        if any(labels.get(k) != v for k, v in self.selector.items()):
            return False
        return self.required is None or any(t.matches(node) for t in self.required)

    def score(self, node: Mapping[str, Any]) -> int:
        """The Score before normalizing: the weights of the preferred terms ``node`` matches."""
        return sum(weight for weight, term in self.preferred if term.matches(node))
