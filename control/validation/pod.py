"""Validation of a Pod on create: metadata and the pod spec, as pkg/apis/core/validation does it.

``validate_pod_spec`` is shared with pod templates (Deployments, ReplicaSets). Expects a
defaulted pod (see ``common.defaults``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import (
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    validate_label_name,
    validate_labels,
)
from common.labels import parse_int64
from common.quantity import parse_quantity
from control.validation.container import validate_containers, validate_init_containers
from control.validation.ephemeral import validate_ephemeral_containers
from control.validation.meta import IS_NEGATIVE, validate_object_meta
from control.validation.podscheduling import validate_scheduling
from control.validation.securitycontext import validate_pod_security_context

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
VOLUME_SOURCES = (
    "emptyDir",
    "hostPath",
    "secret",
    "persistentVolumeClaim",
    "downwardAPI",
    "configMap",
    "projected",
)
MAX_INT32 = 2**31 - 1
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _validate_volume_source(volume: Mapping[str, Any], path: str) -> list[Cause]:
    present = [s for s in VOLUME_SOURCES if volume.get(s) is not None]
    if not present:
        return [required(path, "must specify a volume type")]
    causes = [
        forbidden(f"{path}.{s}", "may not specify more than 1 volume type") for s in present[1:]
    ]
    source, spec = present[0], _dict(volume.get(present[0]))
    spath = f"{path}.{source}"
    if source == "hostPath":
        host_path = spec.get("path") or ""
        if not host_path:
            return [*causes, required(f"{spath}.path")]
        if ".." in host_path.split("/"):
            causes.append(invalid(f"{spath}.path", host_path, "must not contain '..'"))
        kind = spec.get("type")
        if kind is not None and kind not in HOST_PATH_TYPES:
            causes.append(not_supported(f"{spath}.type", kind, HOST_PATH_TYPES))
    elif source in ("configMap", "secret"):
        key = "name" if source == "configMap" else "secretName"
        if not spec.get(key):
            causes.append(required(f"{spath}.{key}"))
        mode = spec.get("defaultMode")
        if mode is not None and not 0 <= mode <= 0o777:
            causes.append(invalid(f"{spath}.defaultMode", mode, FILE_MODE_ERROR))
    elif source == "emptyDir" and spec.get("sizeLimit") is not None:
        try:
            negative = parse_quantity(spec["sizeLimit"]) < 0
        except ValueError:
            negative = True
        if negative:
            causes.append(
                forbidden(f"{spath}.sizeLimit", "SizeLimit field must be a valid resource quantity")
            )
    return causes


def validate_volumes(volumes: list[Any], path: str) -> tuple[set[str], list[Cause]]:
    """The volumes' errors, and the names of the valid ones (mounts may refer to those)."""
    valid: set[str] = set()
    causes: list[Cause] = []
    for i, volume in enumerate(volumes):
        volume, vpath = _dict(volume), f"{path}[{i}]"
        errs = _validate_volume_source(volume, vpath)
        name = volume.get("name") or ""
        if not name:
            errs.append(required(f"{vpath}.name"))
        else:
            errs.extend(invalid(f"{vpath}.name", name, m) for m in names.is_dns1123_label(name))
        if name in valid:
            errs.append(duplicate(f"{vpath}.name", name))
        if not errs:
            valid.add(name)
        causes.extend(errs)
    return valid, causes


def validate_tolerations(tolerations: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, tol in enumerate(tolerations):
        tol, tpath = _dict(tol), f"{path}[{i}]"
        key, op = tol.get("key") or "", tol.get("operator") or ""
        value, effect = tol.get("value") or "", tol.get("effect") or ""
        if key:
            causes.extend(validate_label_name(key, f"{tpath}.key"))
        if not key and op != "Exists":
            causes.append(
                invalid(
                    f"{tpath}.operator",
                    op,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(
                invalid(
                    f"{tpath}.effect",
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if op in ("Equal", ""):
            msgs = names.is_label_value(value)
            if msgs:
                causes.append(invalid(f"{tpath}.operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                causes.append(
                    invalid(
                        f"{tpath}.operator",
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            causes.append(not_supported(f"{tpath}.operator", op, ("Equal", "Exists")))
        if effect and effect not in TAINT_EFFECTS:
            causes.append(not_supported(f"{tpath}.effect", effect, TAINT_EFFECTS))
    return causes


def _validate_choice(value: Any, choices: tuple[str, ...], path: str) -> list[Cause]:
    if not value:
        return [required(path)]
    return [] if value in choices else [not_supported(path, value, choices)]


def _validate_host_network(spec: Mapping[str, Any], path: str) -> list[Cause]:
    if not spec.get("hostNetwork"):
        return []
    causes: list[Cause] = []
    for ci, container in enumerate(_list(spec.get("containers"))):
        for pi, port in enumerate(_list(_dict(container).get("ports"))):
            port = _dict(port)
            if (port.get("hostPort") or 0) != (port.get("containerPort") or 0):
                causes.append(
                    invalid(
                        f"{path}.containers[{ci}].ports[{pi}].hostPort",
                        port.get("hostPort") or 0,
                        "must match `containerPort` when `hostNetwork` is true",
                    )
                )
    return causes


def _validate_names(spec: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, fn in (
        ("serviceAccountName", names.name_is_dns_subdomain),
        ("nodeName", names.name_is_dns_subdomain),
        ("hostname", names.name_is_dns_label),
        ("subdomain", names.name_is_dns_label),
        ("priorityClassName", names.name_is_dns_subdomain),
    ):
        value = spec.get(key) or ""
        if value:
            causes.extend(invalid(f"{path}.{key}", value, m) for m in fn(value, False))
    return causes


def validate_pod_spec(spec: Any, path: str = "spec") -> list[Cause]:
    """ValidatePodSpec: everything a pod (or a pod template) spec must satisfy."""
    spec = _dict(spec)
    causes: list[Cause] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        causes.append(required(f"{path}.terminationGracePeriodSeconds"))
    elif grace < 0:
        causes.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, IS_NEGATIVE))
    volumes, errs = validate_volumes(_list(spec.get("volumes")), f"{path}.volumes")
    causes.extend(errs)
    containers = _list(spec.get("containers"))
    host_users = spec.get("hostUsers") is not False
    causes.extend(validate_containers(containers, volumes, f"{path}.containers", host_users))
    init = _list(spec.get("initContainers"))
    causes.extend(
        validate_init_containers(init, containers, volumes, f"{path}.initContainers", host_users)
    )
    causes.extend(
        validate_ephemeral_containers(spec, volumes, f"{path}.ephemeralContainers", host_users)
    )
    causes.extend(_validate_host_network(spec, path))
    causes.extend(
        _validate_choice(spec.get("restartPolicy"), RESTART_POLICIES, f"{path}.restartPolicy")
    )
    causes.extend(_validate_choice(spec.get("dnsPolicy"), DNS_POLICIES, f"{path}.dnsPolicy"))
    causes.extend(validate_labels(_dict(spec.get("nodeSelector")), f"{path}.nodeSelector"))
    causes.extend(
        validate_pod_security_context(spec.get("securityContext"), spec, f"{path}.securityContext")
    )
    causes.extend(_validate_names(spec, path))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        causes.append(
            invalid(
                f"{path}.activeDeadlineSeconds", deadline, names.inclusive_range_error(1, MAX_INT32)
            )
        )
    causes.extend(validate_tolerations(_list(spec.get("tolerations")), f"{path}.tolerations"))
    causes.extend(validate_scheduling(spec, path))
    return causes


def _validate_pod_annotations(annotations: Mapping[str, Any], path: str) -> list[Cause]:
    if DELETION_COST_ANNOTATION not in annotations:
        return []
    value = annotations[DELETION_COST_ANNOTATION]
    cost = parse_int64(value) if isinstance(value, str) else None
    if cost is not None and -(2**31) <= cost <= MAX_INT32:
        return []
    return [invalid(f"{path}[{DELETION_COST_ANNOTATION}]", value, "must be a 32bit integer")]


def validate_pod_metadata_and_spec(pod: Mapping[str, Any]) -> list[Cause]:
    meta = _dict(pod.get("metadata"))
    causes = validate_object_meta(meta, True, names.name_is_dns_subdomain)
    causes.extend(_validate_pod_annotations(_dict(meta.get("annotations")), "metadata.annotations"))
    spec = _dict(pod.get("spec"))
    causes.extend(validate_pod_spec(spec))
    for key in ("containers", "initContainers"):
        for i, container in enumerate(_list(spec.get(key))):
            image = _dict(container).get("image") or ""
            if image != image.strip():
                causes.append(
                    invalid(
                        f"spec.{key}[{i}].image",
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    return causes


def validate_pod_create(pod: Mapping[str, Any]) -> list[Cause]:
    """ValidatePodCreate."""
    causes = validate_pod_metadata_and_spec(pod)
    spec = _dict(pod.get("spec"))
    if spec.get("ephemeralContainers"):
        causes.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        causes.append(
            forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared")
        )
    return causes
