"""Kubernetes' NodeRestriction admission: a node's credential may write only its own Node and the
status of the pods bound to it, and may not change on its Node what steers workloads to it
(taints, the labels Kubernetes reserves) nor its pod CIDR, which the control plane allocates.
``refusal`` is pure; ``admit``/``admit_update`` apply it to the node the current request comes
from, which the API server sets with ``requested_by`` (a context variable in the place of the
request context).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from common import errors
from common.resources import ResourceType
from control.store import parse_rv

Obj = dict[str, Any]

# The labels a kubelet may set on its own Node (k8s.io/kubelet/pkg/apis: kubeletLabels), and the
# label namespaces it may use freely (kubeletLabelNamespaces); every other label under
# kubernetes.io or k8s.io is the cluster's to set, node-role.kubernetes.io/* included.
KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
    }
)
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
# Labels an administrator sets on nodes that workloads may trust (LabelNamespaceNodeRestriction).
NODE_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io"
# Fields of a Node's spec only the control plane writes (its IPAM loop); Kubernetes leaves them
# to validation, which lets a kubelet set them once: tinykube does not.
CONTROL_PLANE_FIELDS = ("podCIDR", "podCIDRs")

_node: ContextVar[str | None] = ContextVar("tinykube_requesting_node", default=None)


@contextlib.contextmanager
def requested_by(node: str | None) -> Iterator[None]:
    """Mark the writes made inside as coming from ``node``'s credential (None: not a node)."""
    token = _node.set(node)
    try:
        yield
    finally:
        _node.reset(token)


def admit(rt: ResourceType, obj: Obj, old: Obj | None, sub: str = "") -> None:
    """Raise ``ForbiddenError`` when the node making the current request may not write ``obj``
    (a create when ``old`` is None, else an update of ``old``)."""
    node = _node.get()
    if node is None:
        return
    reason = refusal(node, rt.plural, sub, obj, old)
    if reason is not None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        details = {"name": name, "group": rt.group, "kind": rt.plural}
        raise errors.ForbiddenError(
            f'{rt.qualified} "{name}" is forbidden: {reason}', details=details
        )


def admit_update(
    rt: ResourceType, new: Obj, old: Obj, sub: str, expected: int | None
) -> int | None:
    """``admit`` for an update; returns the resourceVersion to write over. A node's write is
    judged against ``old``, so it may replace only that version: one made from a stale read
    fails as a conflict (409: read again) instead of being refused for what changed since, and
    one without a resourceVersion cannot undo a taint added while it was judged."""
    if _node.get() is None:
        return expected
    current = parse_rv(old["metadata"].get("resourceVersion"))
    if expected is not None and expected != current:
        return expected
    admit(rt, new, old, sub)
    return current


def refusal(node: str, resource: str, sub: str, obj: Obj, old: Obj | None) -> str | None:
    """Why ``node`` may not write ``obj`` (kube-apiserver's words), or None when it may."""
    if resource == "nodes":
        return _node_refusal(node, obj, old)
    if resource == "pods" and sub == "status" and old is not None:
        return _pod_status_refusal(node, obj, old)
    return None


def _node_refusal(node: str, obj: Obj, old: Obj | None) -> str | None:
    name = (obj.get("metadata") or {}).get("name")
    if name != node:
        return f'node "{node}" is not allowed to modify node "{name}"'
    return _registration_refusal(node, obj) if old is None else _update_refusal(node, obj, old)


def _registration_refusal(node: str, obj: Obj) -> str | None:
    """A node registers its Node with any taints and the labels a kubelet may set."""
    forbidden = forbidden_labels(modified_labels(_labels(obj), {}))
    if forbidden:
        return f'node "{node}" is not allowed to set the following labels: {", ".join(forbidden)}'
    field = next((f for f in CONTROL_PLANE_FIELDS if _spec(obj).get(f)), None)
    return f'node "{node}" is not allowed to set spec.{field}' if field else None


def _update_refusal(node: str, obj: Obj, old: Obj) -> str | None:
    if (_spec(obj).get("taints") or []) != (_spec(old).get("taints") or []):
        return f'node "{node}" is not allowed to modify taints'
    forbidden = forbidden_labels(modified_labels(_labels(obj), _labels(old)))
    if forbidden:
        # Kubernetes' message names no node here.
        return f"is not allowed to modify labels: {', '.join(forbidden)}"
    for field in CONTROL_PLANE_FIELDS:
        if _spec(obj).get(field) != _spec(old).get(field):
            return f'node "{node}" is not allowed to modify spec.{field}'
    return None


def _pod_status_refusal(node: str, obj: Obj, old: Obj) -> str | None:
    if _spec(old).get("nodeName") != node:
        return f'node "{node}" can only update pod status for pods with spec.nodeName set to itself'
    if _labels(obj) != _labels(old):
        return f'node "{node}" cannot update labels through pod status'
    return None


def modified_labels(a: Mapping[str, str], b: Mapping[str, str]) -> set[str]:
    """The keys added, removed or changed between two label maps."""
    return {k for k in a.keys() | b.keys() if k not in a or k not in b or a[k] != b[k]}


def forbidden_labels(keys: set[str]) -> list[str]:
    """Of these label keys, those a node may not add, remove or change on its Node, sorted."""
    return sorted(k for k in keys if _restricted(k) or (_kubernetes(k) and not is_kubelet_label(k)))


def is_kubelet_label(key: str) -> bool:
    """Whether a kubelet may set this label on its own Node."""
    return key in KUBELET_LABELS or any(
        _within(_prefix(key), ns) for ns in KUBELET_LABEL_NAMESPACES
    )


def _restricted(key: str) -> bool:
    return _within(_prefix(key), NODE_RESTRICTION_NAMESPACE)


def _kubernetes(key: str) -> bool:
    prefix = _prefix(key)
    return _within(prefix, "kubernetes.io") or _within(prefix, "k8s.io")


def _within(prefix: str, namespace: str) -> bool:
    return prefix == namespace or prefix.endswith("." + namespace)


def _prefix(key: str) -> str:
    prefix, slash, _ = key.partition("/")
    return prefix if slash else ""


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}
