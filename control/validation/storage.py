"""Validation of PersistentVolume, PersistentVolumeClaim (pkg/apis/core/validation) and
StorageClass (pkg/apis/storage/validation) on create and update, with kube-apiserver's messages.
Registers their schemas and validators with control.validation. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import forbidden, invalid, not_supported, required
from common.quantity import parse_quantity
from common.storage import ACCESS_MODES, IMMEDIATE, WAIT_FOR_FIRST_CONSUMER, lst, m
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    FIELD_IMMUTABLE,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.schema_storage import PersistentVolume, PersistentVolumeClaim, StorageClass

Obj = Mapping[str, Any]
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
CLASS_RECLAIM_POLICIES = ("Delete", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
BINDING_MODES = (IMMEDIATE, WAIT_FOR_FIRST_CONSUMER)
# The volume sources a PersistentVolume may name (one of them).
PV_SOURCES = ("hostPath", "local", "nfs", "csi", "iscsi", "fc")
POSITIVE = "must be greater than zero"
PVC_IMMUTABLE = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)
NODE_AFFINITY_SET = "field is immutable"


def _meta(obj: Obj, old: Obj | None, namespaced: bool) -> list[Cause]:
    if old is None:
        return validate_object_meta(obj.get("metadata"), namespaced, names.name_is_dns_subdomain)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def _access_modes(modes: list[Any], path: str, what: str) -> list[Cause]:
    if not modes:
        return [required(path, what)]
    causes = [not_supported(path, mode, ACCESS_MODES) for mode in modes if mode not in ACCESS_MODES]
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        causes.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return causes


def _positive(value: Any, path: str) -> list[Cause]:
    try:
        if parse_quantity(value) <= 0:
            return [invalid(path, value, POSITIVE)]
    except ValueError as e:
        return [invalid(path, value, str(e))]
    return []


def _class_name(spec: Obj, path: str) -> list[Cause]:
    name = spec.get("storageClassName")
    if not name:
        return []
    return [invalid(path, name, msg) for msg in names.is_dns1123_subdomain(str(name))]


def _one_of(spec: Obj, choices: tuple[str, ...], values: tuple[str, ...], path: str) -> list[Cause]:
    causes = []
    for key in choices:
        value = spec.get(key)
        if value is not None and value != "" and value not in values:
            causes.append(not_supported(f"{path}.{key}" if path else key, value, values))
    return causes


def _node_affinity(spec: Obj) -> list[Cause]:
    affinity = spec.get("nodeAffinity")
    if affinity is None:
        return []
    req = m(affinity).get("required")
    if req is None:
        return []
    terms = lst(m(req).get("nodeSelectorTerms"))
    path = "spec.nodeAffinity.required.nodeSelectorTerms"
    if not terms:
        return [required(path, "must have at least one node selector term")]
    causes = []
    ops = ("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn")
    for i, term in enumerate(terms):
        for j, expr in enumerate(lst(m(term).get("matchExpressions"))):
            op = m(expr).get("operator")
            if op not in ops:
                causes.append(not_supported(f"{path}[{i}].matchExpressions[{j}].operator", op, ops))
    return causes


def _pv_source(spec: Obj) -> list[Cause]:
    present = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not present:
        return [required("spec", "must specify a volume type")]
    causes = [
        forbidden(f"spec.{s}", "may not specify more than 1 volume type") for s in present[1:]
    ]
    source = present[0]
    if source in ("hostPath", "local"):
        path = m(spec.get(source)).get("path")
        if not path:
            causes.append(required(f"spec.{source}.path"))
        elif ".." in str(path).split("/"):
            causes.append(invalid(f"spec.{source}.path", path, "must not contain '..'"))
    if source == "local" and not m(m(spec.get("nodeAffinity")).get("required")):
        causes.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
    return causes


def validate_persistent_volume(pv: Obj, old: Obj | None = None) -> list[Cause]:
    causes = _meta(pv, old, False)
    spec = m(pv.get("spec"))
    causes += _access_modes(lst(spec.get("accessModes")), "spec.accessModes", "")
    capacity = m(spec.get("capacity"))
    if not capacity:
        causes.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        causes.append(not_supported("spec.capacity", dict(capacity), ("storage",)))
    for key, value in capacity.items():
        causes += _positive(value, f"spec.capacity[{key}]")
    causes += _one_of(spec, ("persistentVolumeReclaimPolicy",), RECLAIM_POLICIES, "spec")
    causes += _one_of(spec, ("volumeMode",), VOLUME_MODES, "spec")
    causes += _class_name(spec, "spec.storageClassName")
    causes += _pv_source(spec)
    causes += _node_affinity(spec)
    if old is not None:
        causes += _pv_update(spec, m(old.get("spec")))
    return causes


def _pv_update(spec: Obj, old: Obj) -> list[Cause]:
    causes = []
    for source in PV_SOURCES:
        if spec.get(source) != old.get(source):
            causes.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource "
                                    "is forbidden once the volume is created"))  # fmt: skip
            break
    if (spec.get("volumeMode") or "") != (old.get("volumeMode") or ""):
        causes.append(invalid("spec.volumeMode", spec.get("volumeMode"), FIELD_IMMUTABLE))
    if old.get("nodeAffinity") and spec.get("nodeAffinity") != old.get("nodeAffinity"):
        causes.append(invalid("spec.nodeAffinity.required", m(spec.get("nodeAffinity")).get(
            "required"), NODE_AFFINITY_SET))  # fmt: skip
    return causes


def validate_persistent_volume_claim(pvc: Obj, old: Obj | None = None) -> list[Cause]:
    causes = _meta(pvc, old, True)
    spec = m(pvc.get("spec"))
    causes += _access_modes(
        lst(spec.get("accessModes")), "spec.accessModes", "at least 1 access mode is required"
    )
    requests = m(m(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        causes.append(required("spec.resources[storage]"))
    else:
        causes += _positive(requests["storage"], "spec.resources[storage]")
    causes += _one_of(spec, ("volumeMode",), VOLUME_MODES, "spec")
    causes += _class_name(spec, "spec.storageClassName")
    if old is not None:
        causes += _pvc_update(spec, m(old.get("spec")))
    return causes


def _pvc_update(spec: Obj, old: Obj) -> list[Cause]:
    """The spec may only gain its volumeName and storageClassName (from empty): what the binder
    and the DefaultStorageClass admission fill in."""
    new, was = dict(spec), dict(old)
    for key in ("volumeName", "storageClassName"):
        if not was.get(key):
            new.pop(key, None)
            was.pop(key, None)
    if new != was:
        return [forbidden("spec", PVC_IMMUTABLE)]
    return []


def validate_storage_class(sc: Obj, old: Obj | None = None) -> list[Cause]:
    causes = _meta(sc, old, False)
    provisioner = sc.get("provisioner")
    if not provisioner:
        causes.append(required("provisioner"))
    else:
        msgs = names.is_qualified_name(str(provisioner).lower())
        causes += [invalid("provisioner", provisioner, msg) for msg in msgs]
    causes += _one_of(sc, ("reclaimPolicy",), CLASS_RECLAIM_POLICIES, "")
    causes += _one_of(sc, ("volumeBindingMode",), BINDING_MODES, "")
    if old is not None:
        for key in ("parameters", "provisioner", "reclaimPolicy"):
            if sc.get(key) != old.get(key):
                causes.append(forbidden(key, f"updates to {key} are forbidden."))
        if sc.get("volumeBindingMode") != old.get("volumeBindingMode"):
            causes.append(invalid("volumeBindingMode", sc.get("volumeBindingMode"),
                                  FIELD_IMMUTABLE))  # fmt: skip
    return causes


register_schema("PersistentVolume", PersistentVolume)
register_schema("PersistentVolumeClaim", PersistentVolumeClaim)
register_schema("StorageClass", StorageClass)
register_validator("PersistentVolume", validate_persistent_volume)
register_validator("PersistentVolumeClaim", validate_persistent_volume_claim)
register_validator("StorageClass", validate_storage_class)
