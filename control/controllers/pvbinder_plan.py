"""What the PersistentVolume controller (pkg/controller/volume/persistentvolume/pv_controller.go)
and k3s's local-path provisioner decide, over plain objects: the volume a claim binds to (class,
access modes, the smallest size that fits, the selected node), the two halves of a binding (the
volume's ``claimRef``, the claim's ``volumeName`` and status), the volume provisioned for a
claim of the ``local-path`` class, the phase a volume is in, and whether a claim or volume may
lose its protection finalizer. Pure: no store, no clock.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common import errors
from common.labels import selector_from_object
from common.storage import (
    AVAILABLE,
    BOUND,
    DELETE,
    FAILED,
    LOST,
    RELEASED,
    RETAIN,
    WAIT_FOR_FIRST_CONSUMER,
    binding_mode,
    capacity_bytes,
    claim_class,
    claim_names,
    lst,
    m,
    node_affinity_matches,
    requested_bytes,
    volume_class,
)
from common.wellknown import (
    BETA_STORAGE_PROVISIONER as BETA_PROVISIONER,
)
from common.wellknown import (
    BIND_COMPLETED,
    BOUND_BY_CONTROLLER,
    HOSTNAME_LABEL,
    LOCAL_PATH_DIR_ANNOTATION,
    LOCAL_PATH_PROVISIONER,
    PROVISIONED_BY,
    PV_PROTECTION,
    PVC_PROTECTION,
    SELECTED_NODE,
    STORAGE_PROVISIONER,
)

Obj = dict[str, Any]
LOST_MESSAGE = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
NO_DELETER = (
    'error getting deleter volume plugin for volume "{}": no deletable volume plugin matched'
)
WAITING = "waiting for first consumer to be created before binding"
POD_PHASES_DONE = ("Succeeded", "Failed")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return m(obj.get("metadata"))


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return m(_meta(obj).get("annotations"))


def claim_key(pvc: Mapping[str, Any]) -> str:
    return f"{_meta(pvc).get('namespace', '')}/{_meta(pvc).get('name', '')}"


def ref_key(pv: Mapping[str, Any]) -> str:
    ref = m(m(pv.get("spec")).get("claimRef"))
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""


def prebound_to(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> bool:
    """The volume's claimRef names this claim (by uid, or by name with no uid yet)."""
    ref = m(m(pv.get("spec")).get("claimRef"))
    if not ref or ref_key(pv) != claim_key(pvc):
        return False
    return not ref.get("uid") or ref.get("uid") == _meta(pvc).get("uid")


def _modes_fit(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> bool:
    have = set(lst(m(pv.get("spec")).get("accessModes")))
    return set(lst(m(pvc.get("spec")).get("accessModes"))) <= have


def _selector_fits(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> bool:
    selector = m(pvc.get("spec")).get("selector")
    if selector is None:
        return True
    try:
        return selector_from_object(selector).matches(m(_meta(pv).get("labels")))
    except errors.ApiError:
        return False


def fits(
    pv: Mapping[str, Any], pvc: Mapping[str, Any], node: Mapping[str, Any] | None = None
) -> bool:
    """Whether a free volume satisfies the claim (and may be used on ``node``, if given)."""
    spec, cspec = m(pv.get("spec")), m(pvc.get("spec"))
    if spec.get("claimRef") and not prebound_to(pv, pvc):
        return False
    if _meta(pv).get("deletionTimestamp") or m(pv.get("status")).get("phase") in (
        RELEASED, FAILED,
    ):  # fmt: skip
        return False
    if volume_class(pv) != claim_class(pvc):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not _modes_fit(pv, pvc) or capacity_bytes(pv) < requested_bytes(pvc):
        return False
    if node is not None:
        labels = m(_meta(node).get("labels"))
        if not node_affinity_matches(pv, labels, str(_meta(node).get("name", ""))):
            return False
    return _selector_fits(pv, pvc)


def find_volume(
    pvc: Mapping[str, Any], pvs: Iterable[Mapping[str, Any]], node: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The volume to bind: one already pre-bound to the claim, else the smallest that fits
    (``findBestMatchForClaim``), ties by name."""
    candidates = [pv for pv in pvs if fits(pv, pvc, node)]
    for pv in candidates:
        if prebound_to(pv, pvc):
            return pv
    candidates.sort(key=lambda pv: (capacity_bytes(pv), str(_meta(pv).get("name"))))
    return candidates[0] if candidates else None


def bound_volume(pv: Mapping[str, Any], pvc: Mapping[str, Any]) -> Obj:
    """The volume with its ``claimRef`` set to the claim (``bindVolumeToClaim``)."""
    out = copy.deepcopy(dict(pv))
    cm = _meta(pvc)
    ref = m(out["spec"].get("claimRef"))
    if ref.get("uid") == cm.get("uid"):
        return out
    out["spec"]["claimRef"] = {
        "kind": "PersistentVolumeClaim",
        "namespace": cm.get("namespace"),
        "name": cm.get("name"),
        "uid": cm.get("uid"),
        "apiVersion": "v1",
        "resourceVersion": cm.get("resourceVersion"),
    }
    if not ref:
        out["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
    return out


def bound_claim(pvc: Mapping[str, Any], pv: Mapping[str, Any], by_controller: bool) -> Obj:
    """The claim with ``volumeName`` and the bind annotations (``bindClaimToVolume``)."""
    out = copy.deepcopy(dict(pvc))
    out["spec"]["volumeName"] = _meta(pv).get("name")
    annotations = out["metadata"].setdefault("annotations", {})
    annotations[BIND_COMPLETED] = "yes"
    if by_controller:
        annotations[BOUND_BY_CONTROLLER] = "yes"
    return out


def claim_status(pvc: Mapping[str, Any], pv: Mapping[str, Any]) -> Obj:
    """A bound claim's status: Bound, with the volume's access modes and capacity."""
    status = dict(m(pvc.get("status")))
    spec = m(pv.get("spec"))
    status["phase"] = BOUND
    status["accessModes"] = list(lst(spec.get("accessModes")))
    status["capacity"] = dict(m(spec.get("capacity")))
    return status


def wants_node(pvc: Mapping[str, Any], sc: Mapping[str, Any] | None) -> bool:
    """A claim of a WaitForFirstConsumer class with no node chosen yet: it waits."""
    return binding_mode(sc) == WAIT_FOR_FIRST_CONSUMER and not _annotations(pvc).get(SELECTED_NODE)


def selected_node(pvc: Mapping[str, Any]) -> str:
    return str(_annotations(pvc).get(SELECTED_NODE) or "")


@dataclass(frozen=True)
class Provision:
    volume: Obj | None  # the PersistentVolume to create
    error: str  # why none can be made now (a ProvisioningFailed event)


def provision(
    pvc: Mapping[str, Any], sc: Mapping[str, Any], node: Mapping[str, Any] | None
) -> Provision:
    """rancher's local-path-provisioner: a directory ``pvc-<uid>_<ns>_<name>`` under the
    node's local-path dir, the volume pinned to that node by ``kubernetes.io/hostname``."""
    cm = _meta(pvc)
    if node is None:
        return Provision(None, "configuration error, no node was specified")
    root = str(_annotations(node).get(LOCAL_PATH_DIR_ANNOTATION) or "")
    if not root:
        return Provision(None, f"node {_meta(node).get('name')} has no local-path directory")
    uid, ns, name = cm.get("uid"), cm.get("namespace"), cm.get("name")
    hostname = str(m(_meta(node).get("labels")).get(HOSTNAME_LABEL) or _meta(node).get("name"))
    pv_name = f"pvc-{uid}"
    hostname_is = {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}
    pinned = {"matchExpressions": [hostname_is]}
    claim_ref = {"kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": uid,
                 "apiVersion": "v1", "resourceVersion": cm.get("resourceVersion")}  # fmt: skip
    requests = m(m(m(pvc.get("spec")).get("resources")).get("requests"))
    volume: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "annotations": {PROVISIONED_BY: LOCAL_PATH_PROVISIONER}},
        "spec": {
            "capacity": {"storage": requests.get("storage")},
            "accessModes": list(lst(m(pvc.get("spec")).get("accessModes"))),
            "persistentVolumeReclaimPolicy": str(sc.get("reclaimPolicy") or DELETE),
            "storageClassName": claim_class(pvc),
            "volumeMode": "Filesystem",
            "hostPath": {"path": f"{root}/{pv_name}_{ns}_{name}", "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [pinned]}},
            "claimRef": claim_ref,
        },
    }
    return Provision(volume, "")


def provisioned_here(pvc: Mapping[str, Any], sc: Mapping[str, Any] | None) -> bool:
    """Whether the claim's class is provisioned by this control plane (local-path)."""
    return sc is not None and sc.get("provisioner") == LOCAL_PATH_PROVISIONER


def claim_annotated(pvc: Mapping[str, Any], sc: Mapping[str, Any]) -> Obj | None:
    """The claim with ``volume.kubernetes.io/storage-provisioner`` (and its beta twin, which
    the controller still writes) set, or None if it has them."""
    provisioner = str(sc.get("provisioner") or "")
    annotations = _annotations(pvc)
    if all(annotations.get(k) == provisioner for k in (STORAGE_PROVISIONER, BETA_PROVISIONER)):
        return None
    out = copy.deepcopy(dict(pvc))
    written = out["metadata"].setdefault("annotations", {})
    written[STORAGE_PROVISIONER] = written[BETA_PROVISIONER] = provisioner
    return out


@dataclass(frozen=True)
class VolumeState:
    phase: str
    message: str = ""
    delete: bool = False  # reclaim: the volume goes


def volume_state(pv: Mapping[str, Any], claim: Mapping[str, Any] | None) -> VolumeState:
    """The phase a volume should be in given the claim its ``claimRef`` names (None: there is
    none with that name), and whether its reclaim policy deletes it (``syncVolume``)."""
    spec = m(pv.get("spec"))
    ref = m(spec.get("claimRef"))
    phase = str(m(pv.get("status")).get("phase") or "")
    if not ref:
        return VolumeState(AVAILABLE)
    if not ref.get("uid"):
        return VolumeState(AVAILABLE)  # pre-bound by a user: the claim binds it
    if claim is not None and _meta(claim).get("uid") == ref.get("uid"):
        if m(claim.get("spec")).get("volumeName") == _meta(pv).get("name"):
            return VolumeState(BOUND)
        return VolumeState(phase or AVAILABLE)  # the claim's half is being written
    # The claim is gone (or is another object of the same name): released.
    if phase == FAILED:
        return VolumeState(FAILED, str(m(pv.get("status")).get("message") or ""))
    policy = str(spec.get("persistentVolumeReclaimPolicy") or RETAIN)
    if policy == DELETE:
        if _annotations(pv).get(PROVISIONED_BY) == LOCAL_PATH_PROVISIONER:
            return VolumeState(RELEASED, delete=True)
        return VolumeState(FAILED, NO_DELETER.format(_meta(pv).get("name")))
    return VolumeState(RELEASED)


def claim_lost(pvc: Mapping[str, Any]) -> Obj:
    status = dict(m(pvc.get("status")))
    status["phase"] = LOST
    return status


def pod_uses_claim(pod: Mapping[str, Any], name: str) -> bool:
    """Whether a pod that may still run uses the claim (the pvc-protection controller)."""
    if m(pod.get("status")).get("phase") in POD_PHASES_DONE:
        return False
    return name in claim_names(pod)


def without_finalizer(obj: Mapping[str, Any], finalizer: str) -> Obj | None:
    """The object without ``finalizer``, or None if it has none to drop."""
    finalizers = list(lst(_meta(obj).get("finalizers")))
    if finalizer not in finalizers:
        return None
    out = copy.deepcopy(dict(obj))
    out["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
    return out


def claim_unprotected(pvc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> Obj | None:
    """A claim being deleted, no longer used by any pod, without its finalizer (else None)."""
    if not _meta(pvc).get("deletionTimestamp"):
        return None
    name = str(_meta(pvc).get("name"))
    if any(pod_uses_claim(p, name) for p in pods):
        return None
    return without_finalizer(pvc, PVC_PROTECTION)


def volume_unprotected(pv: Mapping[str, Any]) -> Obj | None:
    """A volume being deleted that no claim is bound to, without its finalizer (else None)."""
    if not _meta(pv).get("deletionTimestamp"):
        return None
    if m(pv.get("status")).get("phase") == BOUND:
        return None
    return without_finalizer(pv, PV_PROTECTION)
