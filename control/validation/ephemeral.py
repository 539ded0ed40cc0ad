"""Ephemeral containers: what an entry of ``spec.ephemeralContainers`` may hold
(``validateEphemeralContainers``), with Kubernetes' paths and messages. Expects a defaulted
pod. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.errors import Cause
from common.fielderrors import duplicate, forbidden, invalid, not_found
from control.validation.container import validate_common

# Fields of a Container an ephemeral one may not set (allowedEphemeralContainerFields: false),
# in the order of the Go struct, which is the order kube-apiserver reports them in.
NOT_ALLOWED_FIELDS = (
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
)
NOT_ALLOWED = "cannot be set for an Ephemeral Container"
PATH = "spec.ephemeralContainers"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_set(value: Any) -> bool:
    """Whether a field holds something other than Go's zero value (``resources: {}`` does not)."""
    if isinstance(value, Mapping):
        return any(_is_set(v) for v in value.values())
    return value not in (None, "", 0, False, [])


def validate_ephemeral_containers(
    spec: Mapping[str, Any], volumes: set[str], path: str = PATH, host_users: bool = True
) -> list[Cause]:
    """validateEphemeralContainers: each entry as a container, named uniquely across every
    kind of container, targeting a regular or init container, without the fields that would
    make a pod rely on it (ports, probes, resources, lifecycle) and without subPaths."""
    ephemeral = _list(spec.get("ephemeralContainers"))
    if not ephemeral:
        return []
    others = {
        str(_dict(c).get("name") or "")
        for key in ("containers", "initContainers")
        for c in _list(spec.get(key))
    }
    seen = set(others)
    causes: list[Cause] = []
    for i, ec in enumerate(ephemeral):
        ec, cpath = _dict(ec), f"{path}[{i}]"
        causes.extend(validate_common(ec, volumes, cpath, host_users))
        image = str(ec.get("image") or "")
        if image != image.strip():
            causes.append(
                invalid(f"{cpath}.image", image, "must not have leading or trailing whitespace")
            )
        name = str(ec.get("name") or "")
        if name in seen:
            causes.append(duplicate(f"{cpath}.name", name))
        else:
            seen.add(name)
        target = ec.get("targetContainerName")
        if target and target not in others:
            causes.append(not_found(f"{cpath}.targetContainerName", target))
        causes.extend(
            forbidden(f"{cpath}.{key}", NOT_ALLOWED) for key in NOT_ALLOWED_FIELDS
            if _is_set(ec.get(key))
        )  # fmt: skip
        for mi, mount in enumerate(_list(ec.get("volumeMounts"))):
            for key in ("subPath", "subPathExpr"):
                if _dict(mount).get(key):
                    causes.append(forbidden(f"{cpath}.volumeMounts[{mi}].{key}", NOT_ALLOWED))
    return causes
