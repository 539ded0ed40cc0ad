"""Which nodes a DaemonSet's pods belong on, as Kubernetes' daemon controller decides it
(pkg/controller/daemon: NodeShouldRunDaemonPod, predicates, util): the tolerations every
daemon pod gets, the required node affinity (nodeSelector and nodeAffinity terms), taints, the
node a pod is meant for, and the pod made from the template for one node (for the scheduler to
bind). Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common.storage import term_matches
from common.wellknown import (
    CONTROLLER_REVISION_HASH_LABEL,
    DISK_PRESSURE_TAINT,
    MEMORY_PRESSURE_TAINT,
    NETWORK_UNAVAILABLE_TAINT,
    NOT_READY_TAINT,
    PID_PRESSURE_TAINT,
    POD_TEMPLATE_GENERATION_LABEL,
    UNREACHABLE_TAINT,
    UNSCHEDULABLE_TAINT,
)
from control.controllers.ownership import controller_ref

Obj = dict[str, Any]
NO_EXECUTE, NO_SCHEDULE = "NoExecute", "NoSchedule"
NODE_NAME_FIELD = "metadata.name"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _daemon_tolerations(host_network: bool) -> list[Obj]:
    """AddOrUpdateDaemonPodTolerations: daemon pods stay on not-ready and unreachable nodes
    (NoExecute, forever) and go to nodes under pressure or cordoned (NoSchedule); a pod on the
    host's network also tolerates a node whose network is not set up yet."""
    pairs = [(NOT_READY_TAINT, NO_EXECUTE), (UNREACHABLE_TAINT, NO_EXECUTE),
             (DISK_PRESSURE_TAINT, NO_SCHEDULE), (MEMORY_PRESSURE_TAINT, NO_SCHEDULE),
             (PID_PRESSURE_TAINT, NO_SCHEDULE), (UNSCHEDULABLE_TAINT, NO_SCHEDULE)]  # fmt: skip
    if host_network:
        pairs.append((NETWORK_UNAVAILABLE_TAINT, NO_SCHEDULE))
    return [{"key": k, "operator": "Exists", "effect": e} for k, e in pairs]


def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """MatchToleration: the same key, operator, value and effect."""
    return all((a.get(f) or "") == (b.get(f) or "") for f in ("key", "operator", "value", "effect"))


def add_daemon_tolerations(spec: Obj) -> None:
    """AddOrUpdateTolerationInPodSpec for each daemon toleration, in place."""
    tolerations = [dict(t) for t in spec.get("tolerations") or [] if isinstance(t, Mapping)]
    for wanted in _daemon_tolerations(bool(spec.get("hostNetwork"))):
        for i, t in enumerate(tolerations):
            if _same_toleration(t, wanted):
                tolerations[i] = wanted
                break
        else:
            tolerations.append(wanted)
    spec["tolerations"] = tolerations


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Toleration.ToleratesTaint."""
    effect, key = toleration.get("effect") or "", toleration.get("key") or ""
    if effect and effect != taint.get("effect"):
        return False
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(taints: list[Any], tolerations: list[Any], effects: tuple[str, ...]) -> bool:
    """FindMatchingUntoleratedTaint: some taint of those effects no toleration tolerates."""
    for taint in taints:
        if _m(taint).get("effect") not in effects:
            continue
        if not any(tolerates(_m(t), _m(taint)) for t in tolerations):
            return True
    return False


def fits_node_affinity(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): the nodeSelector, and one of the required
    nodeAffinity terms (on labels and the node's ``metadata.name``)."""
    nm = _m(node.get("metadata"))
    labels, name = _m(nm.get("labels")), str(nm.get("name") or "")
    selector = _m(pod_spec.get("nodeSelector"))
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    required = _m(_m(_m(pod_spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"))  # fmt: skip
    if not required:
        return True
    terms = required.get("nodeSelectorTerms") or []
    return any(term_matches(_m(t), labels, name) for t in terms)


def daemon_pod_spec(ds: Mapping[str, Any]) -> Obj:
    """CreatePodTemplate's spec: the template's, with the daemon tolerations."""
    spec = copy.deepcopy(dict(_m(_m(_m(ds.get("spec")).get("template")).get("spec"))))
    add_daemon_tolerations(spec)
    return spec


def should_run(node: Mapping[str, Any], ds: Mapping[str, Any]) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should a daemon pod be started here, may one keep running here).
    A pod keeps running on a node whose new taints it tolerates for NoExecute."""
    name = str(_m(node.get("metadata")).get("name") or "")
    template_spec = _m(_m(_m(ds.get("spec")).get("template")).get("spec"))
    wanted = template_spec.get("nodeName")
    if wanted and wanted != name:
        return False, False
    spec = daemon_pod_spec(ds)
    if not fits_node_affinity(spec, node):
        return False, False
    taints = list(_m(node.get("spec")).get("taints") or [])
    tolerations = list(spec.get("tolerations") or [])
    if untolerated(taints, tolerations, (NO_EXECUTE, NO_SCHEDULE)):
        return False, not untolerated(taints, tolerations, (NO_EXECUTE,))
    return True, True


def target_node(pod: Mapping[str, Any]) -> str:
    """GetTargetNodeName: the pod's node, or the one its node affinity names (``""``: none)."""
    spec = _m(pod.get("spec"))
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = _m(_m(_m(spec.get("affinity")).get("nodeAffinity")).get(
        "requiredDuringSchedulingIgnoredDuringExecution"))  # fmt: skip
    for term in required.get("nodeSelectorTerms") or []:
        for req in _m(term).get("matchFields") or []:
            req = _m(req)
            values = req.get("values") or []
            if (
                req.get("key") == NODE_NAME_FIELD
                and req.get("operator") == "In"
                and len(values) == 1
            ):
                return str(values[0])
    return ""


def node_name_affinity(affinity: Any, node_name: str) -> Obj:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes the one
    term ``metadata.name In [node]`` (preferred terms and pod affinities are kept)."""
    out = copy.deepcopy(dict(_m(affinity)))
    node_affinity = dict(_m(out.get("nodeAffinity")))
    term = {"matchFields": [{"key": NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    out["nodeAffinity"] = node_affinity
    return out


def daemon_pod(ds: Mapping[str, Any], node_name: str, hash_: str, generation: int | None) -> Obj:
    """The pod syncNodes creates for a node: CreatePodTemplate (daemon tolerations, the
    template generation and revision hash labels), meant for its node by a required node
    affinity the scheduler honours; the pod has no ``spec.nodeName``, the scheduler binds it
    (as Kubernetes does since 1.12), so it goes through every filter, tolerations included."""
    dm = _m(ds.get("metadata"))
    template = _m(_m(ds.get("spec")).get("template"))
    tmeta = _m(template.get("metadata"))
    labels = dict(_m(tmeta.get("labels")))
    if generation is not None:
        labels[POD_TEMPLATE_GENERATION_LABEL] = str(generation)
    if hash_:
        labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
    m: Obj = {"generateName": f"{dm.get('name')}-", "namespace": dm.get("namespace"),
              "labels": labels, "ownerReferences": [controller_ref(ds)]}  # fmt: skip
    for key in ("annotations", "finalizers"):
        if tmeta.get(key):
            m[key] = copy.deepcopy(tmeta[key])
    spec = daemon_pod_spec(ds)
    spec["affinity"] = node_name_affinity(spec.get("affinity"), node_name)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec}
