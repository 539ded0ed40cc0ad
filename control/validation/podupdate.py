"""Validation of a Pod update: after creation a pod spec is immutable but for a few fields.

Only images, ``activeDeadlineSeconds`` (lowered), added tolerations and a negative grace period
set to 1 may change (ValidatePodUpdate); anything else is ``spec: Forbidden: pod updates may not
change fields other than ...`` followed by what changed. Both pods are compared after
defaulting. A write of the ``ephemeralcontainers`` subresource may only add ephemeral
containers. Pure: no I/O.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from common.defaults import default_pod
from common.errors import Cause
from common.fielderrors import forbidden, invalid, required
from common.names import inclusive_range_error
from common.quantity import parse_quantity
from control.validation.meta import validate_object_meta_update
from control.validation.pod import MAX_INT32, validate_pod_metadata_and_spec, validate_tolerations

UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
FORBIDDEN_UPDATE = "pod updates may not change fields other than " + ",".join(
    UPDATABLE_POD_SPEC_FIELDS
)
EPHEMERAL = "spec.ephemeralContainers"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
_QUANTITY_MAPS = frozenset({"limits", "requests", "overhead"})
_MISSING = object()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _quantity_text(value: Any) -> Any:
    try:
        return str(parse_quantity(value))
    except ValueError:
        return value


def normalize(value: Any, key: str = "") -> Any:
    """Drop what Go's decoder cannot tell from absent (null, "", false, 0, [], {}) and compare
    quantities by value (``1`` equals ``1000m``), as Kubernetes' semantic equality does."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if k in _QUANTITY_MAPS and isinstance(v, Mapping):
                v = {qk: _quantity_text(qv) for qk, qv in v.items()}
            elif k == "sizeLimit":
                v = _quantity_text(v)
            v = normalize(v, k)
            if v not in (None, "", False, 0, [], {}):
                out[k] = v
        return out
    if isinstance(value, list):
        return [normalize(v, key) for v in value]
    return value


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            _diff(old.get(k, _MISSING), new.get(k, _MISSING), f"{path}.{k}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        if old is not _MISSING:
            out.append(f"-\t{path}: {json.dumps(old, sort_keys=True)}")
        if new is not _MISSING:
            out.append(f"+\t{path}: {json.dumps(new, sort_keys=True)}")


def _validate_container_updates(new: list[Any], old: list[Any], path: str) -> list[Cause] | None:
    """Image checks; ``None`` when containers were added or removed (validation stops there)."""
    if len(new) != len(old):
        return None
    causes: list[Cause] = []
    for i, container in enumerate(new):
        image = _dict(container).get("image") or ""
        if not image:
            causes.append(required(f"{path}[{i}].image"))
        if image != image.strip():
            causes.append(
                invalid(f"{path}[{i}].image", image, "must not have leading or trailing whitespace")
            )
    return causes


def _validate_deadline(new: Any, old: Any) -> tuple[list[Cause], bool]:
    """activeDeadlineSeconds may be set or lowered, never raised or removed; True: stop here."""
    path = "spec.activeDeadlineSeconds"
    if new is None:
        if old is not None:
            return [
                invalid(path, None, "must not update from a positive integer to nil value")
            ], False
        return [], False
    if not 0 <= new <= MAX_INT32:
        return [invalid(path, new, inclusive_range_error(0, MAX_INT32))], True
    if old is not None and old < new:
        return [invalid(path, new, "must be less than or equal to previous value")], True
    return [], False


def _only_deleted_gates(new: list[Any], old: list[Any]) -> list[Cause]:
    old_names = {_dict(g).get("name") for g in old}
    return [
        forbidden(
            f"spec.schedulingGates[{i}].name",
            f"only deletion is allowed, but found new scheduling gate '{name}'",
        )
        for i, name in enumerate(_dict(g).get("name") for g in new)
        if name not in old_names
    ]


def _only_added_tolerations(new: list[Any], old: list[Any]) -> list[Cause]:
    def without_seconds(tol: Any) -> Any:
        return normalize({k: v for k, v in _dict(tol).items() if k != "tolerationSeconds"})

    candidates = [without_seconds(t) for t in new]
    for tol in old:
        if without_seconds(tol) not in candidates:
            return [
                forbidden(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            ]
    return validate_tolerations(new, "spec.tolerations")


def validate_pod_update(new_pod: Mapping[str, Any], old_pod: Mapping[str, Any]) -> list[Cause]:
    """ValidatePodUpdate: metadata update rules, the new pod's own validity, and immutability."""
    new, old = copy.deepcopy(dict(new_pod)), copy.deepcopy(dict(old_pod))
    default_pod(new)
    default_pod(old)
    causes = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    causes.extend(validate_pod_metadata_and_spec(new))
    new_spec, old_spec = _dict(new.get("spec")), _dict(old.get("spec"))
    for key in ("containers", "initContainers"):
        found = _validate_container_updates(
            _list(new_spec.get(key)), _list(old_spec.get(key)), f"spec.{key}"
        )
        if found is None:
            causes.append(forbidden(f"spec.{key}", "pod updates may not add or remove containers"))
            return causes
        causes.extend(found)
    deadline_causes, stop = _validate_deadline(
        new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    )
    causes.extend(deadline_causes)
    if stop:
        return causes
    causes.extend(
        _only_added_tolerations(
            _list(new_spec.get("tolerations")), _list(old_spec.get("tolerations"))
        )
    )
    causes.extend(
        _only_deleted_gates(
            _list(new_spec.get("schedulingGates")), _list(old_spec.get("schedulingGates"))
        )
    )
    munged = _munge(new_spec, old_spec)
    old_norm, new_norm = normalize(old_spec), normalize(munged)
    if old_norm != new_norm:
        lines: list[str] = []
        _diff(old_norm, new_norm, "spec", lines)
        causes.append(forbidden("spec", FORBIDDEN_UPDATE + "\n" + "\n".join(lines)))
    return causes


def _munge(new_spec: dict[str, Any], old_spec: dict[str, Any]) -> dict[str, Any]:
    """The new spec with every field that may change put back to its old value."""
    munged = copy.deepcopy(new_spec)
    for key in ("containers", "initContainers"):
        for new_c, old_c in zip(_list(munged.get(key)), _list(old_spec.get(key)), strict=False):
            if isinstance(new_c, dict):
                new_c["image"] = _dict(old_c).get("image")
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if key in old_spec:
            munged[key] = copy.deepcopy(old_spec[key])
        else:
            munged.pop(key, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def validate_ephemeral_update(
    new_pod: Mapping[str, Any], old_pod: Mapping[str, Any]
) -> list[Cause]:
    """ValidatePodEphemeralContainersUpdate (a write of ``pods/ephemeralcontainers``): the new
    pod valid, not a static pod, and no existing entry removed or changed: entries are only
    ever added."""
    new, old = copy.deepcopy(dict(new_pod)), copy.deepcopy(dict(old_pod))
    default_pod(new)
    default_pod(old)
    causes = validate_object_meta_update(new.get("metadata"), old.get("metadata"))
    causes.extend(validate_pod_metadata_and_spec(new))
    if MIRROR_POD_ANNOTATION in (_dict(old.get("metadata")).get("annotations") or {}):
        return [forbidden("", "static pods do not support ephemeral containers")]
    by_name = {
        _dict(c).get("name"): c for c in _list(_dict(new.get("spec")).get("ephemeralContainers"))
    }
    for was in _list(_dict(old.get("spec")).get("ephemeralContainers")):
        name = _dict(was).get("name")
        now = by_name.get(name)
        if now is None:
            causes.append(
                forbidden(EPHEMERAL, f'existing ephemeral containers "{name}" may not be removed\n')
            )
        elif now != was:
            causes.append(
                forbidden(EPHEMERAL, f'existing ephemeral containers "{name}" may not be changed\n')
            )
    return causes
