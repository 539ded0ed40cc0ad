"""The storage vocabulary shared by the API server, the controllers, the scheduler and the agent:
a claim's or volume's class, the default StorageClass, access modes as kubectl abbreviates them,
sizes in bytes, and whether a PersistentVolume's ``nodeAffinity`` admits a node (the
``v1helper.MatchNodeSelectorTerms`` rules). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from common.quantity import parse_bytes
from common.wellknown import DEFAULT_CLASS_ANNOTATION

Obj = Mapping[str, Any]
# core.PersistentVolumeAccessMode in kubectl's order and abbreviations (GetAccessModesAsString).
ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}
IMMEDIATE = "Immediate"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
RETAIN, DELETE, RECYCLE = "Retain", "Delete", "Recycle"
# PersistentVolume phases (core.PersistentVolumePhase) and claim phases.
PENDING, AVAILABLE, BOUND, RELEASED, FAILED, LOST = (
    "Pending", "Available", "Bound", "Released", "Failed", "Lost"
)  # fmt: skip


def m(value: Any) -> Obj:
    return value if isinstance(value, Mapping) else {}


def lst(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def access_modes_string(modes: Iterable[Any]) -> str:
    """``RWO,ROX``: the modes present, in kubectl's fixed order."""
    present = set(modes)
    return ",".join(short for mode, short in ACCESS_MODES.items() if mode in present)


def claim_class(pvc: Obj) -> str:
    """GetPersistentVolumeClaimClass: ``spec.storageClassName`` (the beta annotation first)."""
    annotations = m(m(pvc.get("metadata")).get("annotations"))
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        return str(annotations["volume.beta.kubernetes.io/storage-class"])
    return str(m(pvc.get("spec")).get("storageClassName") or "")


def volume_class(pv: Obj) -> str:
    annotations = m(m(pv.get("metadata")).get("annotations"))
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        return str(annotations["volume.beta.kubernetes.io/storage-class"])
    return str(m(pv.get("spec")).get("storageClassName") or "")


def is_default_class(sc: Obj) -> bool:
    annotations = m(m(sc.get("metadata")).get("annotations"))
    return str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")) == "true"


def default_class(classes: Iterable[Obj]) -> Obj | None:
    """The default StorageClass: of several, the newest (then the first by name), as the
    DefaultStorageClass admission plugin picks since Kubernetes 1.26."""
    defaults = [sc for sc in classes if is_default_class(sc)]
    if not defaults:
        return None
    defaults.sort(key=lambda sc: str(m(sc.get("metadata")).get("name")))
    defaults.sort(key=lambda sc: str(m(sc.get("metadata")).get("creationTimestamp")), reverse=True)
    return defaults[0]


def binding_mode(sc: Obj | None) -> str:
    return str((sc or {}).get("volumeBindingMode") or IMMEDIATE)


def requested_bytes(pvc: Obj) -> int:
    requests = m(m(m(pvc.get("spec")).get("resources")).get("requests"))
    try:
        return parse_bytes(requests.get("storage", 0))
    except ValueError:
        return 0


def capacity_bytes(pv: Obj) -> int:
    try:
        return parse_bytes(m(m(pv.get("spec")).get("capacity")).get("storage", 0))
    except ValueError:
        return 0


def _expression_matches(expr: Obj, values: Mapping[str, str]) -> bool:
    key, op = str(expr.get("key") or ""), expr.get("operator")
    wanted = [str(v) for v in lst(expr.get("values"))]
    if op == "In":
        return key in values and values[key] in wanted
    if op == "NotIn":
        return values.get(key) not in wanted
    if op == "Exists":
        return key in values
    if op == "DoesNotExist":
        return key not in values
    if op in ("Gt", "Lt") and key in values and len(wanted) == 1:
        try:
            have, bound = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def term_matches(term: Obj, labels: Mapping[str, str], node_name: str) -> bool:
    """A NodeSelectorTerm: every matchExpression on labels and matchField on the node's name
    holds; an empty term matches nothing."""
    exprs, fields = lst(term.get("matchExpressions")), lst(term.get("matchFields"))
    if not exprs and not fields:
        return False
    by_name = {"metadata.name": node_name}
    return all(_expression_matches(m(e), labels) for e in exprs) and all(
        _expression_matches(m(f), by_name) for f in fields
    )


def node_affinity_matches(pv: Obj, labels: Mapping[str, str], node_name: str) -> bool:
    """Whether a volume may be used on the node (no required affinity: anywhere)."""
    required = m(m(m(pv.get("spec")).get("nodeAffinity")).get("required"))
    terms = lst(required.get("nodeSelectorTerms"))
    if not required:
        return True
    return any(term_matches(m(t), labels, node_name) for t in terms)


def claim_names(pod: Obj) -> list[str]:
    """The PersistentVolumeClaims a pod's volumes name, in order."""
    out = []
    for volume in lst(m(pod.get("spec")).get("volumes")):
        name = m(m(volume).get("persistentVolumeClaim")).get("claimName")
        if name:
            out.append(str(name))
    return out
