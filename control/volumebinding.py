"""kube-scheduler's VolumeBinding plugin over plain objects: what a pod's PersistentVolumeClaims
ask of a node. ``volume_wants`` is the PreFilter (a missing claim, one being deleted, or an
unbound claim of an Immediate class refuse the pod everywhere); ``volume_conflict`` is the
Filter (a bound volume's nodeAffinity, a WaitForFirstConsumer claim with no volume that fits
the node and no provisioner); ``to_select`` are the claims whose ``selected-node`` the binding
cycle writes. Pure: claims, volumes and classes come through lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common.storage import WAIT_FOR_FIRST_CONSUMER as WFFC
from common.storage import binding_mode, claim_class, claim_names, m, node_affinity_matches
from control.controllers.pvbinder_plan import fits

Obj = Mapping[str, Any]
Get = Callable[[str], Obj | None]
AFFINITY_CONFLICT = "node(s) had volume node affinity conflict"
NO_VOLUME = "node(s) didn't find available persistent volumes to bind"
MISSING_PV = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"


@dataclass(frozen=True)
class VolumeWants:
    """What the pod's claims ask of a node, read once per scheduling cycle."""

    error: str = ""  # the PreFilter's refusal: no node can take the pod
    pinned: tuple[Obj, ...] = ()  # bound volumes: their nodeAffinity must admit the node
    missing: bool = False  # a bound claim whose volume is gone
    # Unbound WaitForFirstConsumer claims no provisioner serves, with the free volumes.
    static: tuple[tuple[Obj, tuple[Obj, ...]], ...] = ()
    to_select: tuple[str, ...] = ()  # claim names whose selected-node the binding writes

    @property
    def empty(self) -> bool:
        return not (self.error or self.pinned or self.missing or self.static)


NONE = VolumeWants()


def volume_wants(
    pod: Obj,
    claim: Get,
    volume: Get,
    storage_class: Get,
    free_volumes: Iterable[Obj],
    provisioned: Callable[[Obj], bool],
) -> VolumeWants:
    """The PreFilter of the pod's claims (its namespace's ``claim`` lookup)."""
    names = claim_names(pod)
    if not names:
        return NONE
    pinned: list[Obj] = []
    static: list[tuple[Obj, tuple[Obj, ...]]] = []
    select: list[str] = []
    missing = False
    free = tuple(free_volumes)
    for name in dict.fromkeys(names):
        pvc = claim(name)
        if pvc is None:
            return VolumeWants(error=f'persistentvolumeclaim "{name}" not found')
        if m(pvc.get("metadata")).get("deletionTimestamp"):
            return VolumeWants(error=f'persistentvolumeclaim "{name}" is being deleted')
        bound = str(m(pvc.get("spec")).get("volumeName") or "")
        if bound:
            pv = volume(bound)
            if pv is None:
                missing = True
            else:
                pinned.append(pv)
            continue
        sc = storage_class(claim_class(pvc)) if claim_class(pvc) else None
        if binding_mode(sc) != WFFC:
            return VolumeWants(error=UNBOUND_IMMEDIATE)
        select.append(name)
        if sc is None or not provisioned(sc):
            static.append((pvc, tuple(pv for pv in free if fits(pv, pvc))))
    return VolumeWants("", tuple(pinned), missing, tuple(static), tuple(select))


def volume_conflict(wants: VolumeWants, node: Obj) -> str | None:
    """Why the node cannot take the pod's volumes (kube-scheduler's reason), or None."""
    if wants.empty:
        return None
    labels = m(m(node.get("metadata")).get("labels"))
    name = str(m(node.get("metadata")).get("name", ""))
    if wants.missing:
        return MISSING_PV
    if any(not node_affinity_matches(pv, labels, name) for pv in wants.pinned):
        return AFFINITY_CONFLICT
    for _pvc, candidates in wants.static:
        if not any(node_affinity_matches(pv, labels, name) for pv in candidates):
            return NO_VOLUME
    return None
