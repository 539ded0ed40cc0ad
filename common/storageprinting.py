"""How kubectl prints PersistentVolumes, PersistentVolumeClaims and StorageClasses
(pkg/printers/internalversion: printPersistentVolume, printPersistentVolumeClaim,
printStorageClass). Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common.humanize import age
from common.storage import access_modes_string, claim_class, is_default_class, m, volume_class

Obj = Mapping[str, Any]
UNSET = "<unset>"
TERMINATING = "Terminating"


def _phase(obj: Obj) -> str:
    if m(obj.get("metadata")).get("deletionTimestamp"):
        return TERMINATING
    return str(m(obj.get("status")).get("phase") or "")


def _age(obj: Obj, now: dt.datetime) -> str:
    return age(m(obj.get("metadata")).get("creationTimestamp"), now)


def pv_cells(pv: Obj, now: dt.datetime) -> list[str]:
    spec = m(pv.get("spec"))
    ref = m(spec.get("claimRef"))
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if spec.get("claimRef") else ""
    return [
        str(m(pv.get("metadata")).get("name", "")),
        str(m(spec.get("capacity")).get("storage", "0")),
        access_modes_string(spec.get("accessModes") or []),
        str(spec.get("persistentVolumeReclaimPolicy") or ""),
        _phase(pv),
        claim,
        volume_class(pv),
        str(spec.get("volumeAttributesClassName") or UNSET),
        str(m(pv.get("status")).get("reason") or ""),
        _age(pv, now),
        str(spec.get("volumeMode") or UNSET),
    ]


def pvc_cells(pvc: Obj, now: dt.datetime) -> list[str]:
    spec, status = m(pvc.get("spec")), m(pvc.get("status"))
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes_string(status.get("accessModes") or [])
        capacity = str(m(status.get("capacity")).get("storage", "0"))
    return [
        str(m(pvc.get("metadata")).get("name", "")),
        _phase(pvc),
        str(spec.get("volumeName") or ""),
        capacity,
        modes,
        claim_class(pvc),
        str(spec.get("volumeAttributesClassName") or UNSET),
        _age(pvc, now),
        str(spec.get("volumeMode") or UNSET),
    ]


def storage_class_cells(sc: Obj, now: dt.datetime) -> list[str]:
    name = str(m(sc.get("metadata")).get("name", ""))
    if is_default_class(sc):
        name += " (default)"
    return [
        name,
        str(sc.get("provisioner") or ""),
        str(sc.get("reclaimPolicy") or "Delete"),
        str(sc.get("volumeBindingMode") or "Immediate"),
        "true" if sc.get("allowVolumeExpansion") else "false",
        _age(sc, now),
    ]
