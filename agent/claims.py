"""A ``persistentVolumeClaim`` volume on this node, as the kubelet's volume manager finds it:
the claim, the volume it is bound to, and that volume's directory (``local`` or ``hostPath``),
with the kubelet's messages while the claim is missing, unbound or being deleted (the pod waits
ContainerCreating). Pure: the claim and the volume come through a lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.configrefs import Lookup

PVC = "persistentvolumeclaim"
PV = "persistentvolume"
BOUND = "Bound"


class ClaimError(Exception):
    """The claim cannot be used now (the FailedMount event's cause)."""


@dataclass(frozen=True)
class ClaimedVolume:
    path: str  # the volume's directory on this node
    create: bool  # make it when missing (hostPath DirectoryOrCreate, local-path's volumes)
    read_only: bool  # the pod's volume says readOnly


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def resolve(namespace: str, volume: Mapping[str, Any], lookup: Lookup) -> ClaimedVolume:
    """The directory of the volume the pod's claim is bound to; raises ``ClaimError``."""
    source = _m(volume.get("persistentVolumeClaim"))
    name = str(source.get("claimName") or "")
    where = f"error processing PVC {namespace}/{name}"
    pvc = lookup(PVC, name)
    if pvc is None:
        raise ClaimError(f'{where}: failed to fetch PVC from API server: persistentvolumeclaims '
                         f'"{name}" not found')  # fmt: skip
    if _m(pvc.get("status")).get("phase") != BOUND or not _m(pvc.get("spec")).get("volumeName"):
        raise ClaimError(f"{where}: PVC is not bound")
    if _m(pvc.get("metadata")).get("deletionTimestamp"):
        raise ClaimError(f"{where}: PVC is being deleted")
    pv_name = str(pvc["spec"]["volumeName"])
    pv = lookup(PV, pv_name)
    if pv is None:
        raise ClaimError(f'{where}: failed to fetch PV {pv_name} from API server: '
                         f'persistentvolumes "{pv_name}" not found')  # fmt: skip
    ref = _m(_m(pv.get("spec")).get("claimRef"))
    if ref.get("uid") != _m(pvc.get("metadata")).get("uid"):
        raise ClaimError(f"{where}: the volume {pv_name} is bound to another claim")
    spec = _m(pv.get("spec"))
    read_only = bool(source.get("readOnly"))
    if spec.get("local") is not None:
        return ClaimedVolume(str(_m(spec["local"]).get("path") or ""), False, read_only)
    if spec.get("hostPath") is not None:
        host = _m(spec["hostPath"])
        create = str(host.get("type") or "") in ("", "DirectoryOrCreate")
        return ClaimedVolume(str(host.get("path") or ""), create, read_only)
    raise ClaimError(f"{where}: volume {pv_name} has no local or hostPath source this node can "
                     "mount")  # fmt: skip
