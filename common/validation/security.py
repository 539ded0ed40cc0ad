"""Admission of dangerous pods: privileged containers, host namespaces and hostPath volumes.

Unless the cluster was started allowing them, such pods are refused the way Pod Security
Admission's ``baseline`` level refuses them (``pods "x" is forbidden: violates PodSecurity
"baseline:latest": ...``), naming every violation. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import errors
from common.errors import Cause
from common.fielderrors import FORBIDDEN

POLICY = "baseline:latest"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _plural(one: str, many: str, items: list[str]) -> str:
    quoted = ", ".join(f'"{i}"' for i in items)
    return f"{one if len(items) == 1 else many} {quoted}"


def _host_namespaces(spec: Mapping[str, Any]) -> tuple[str, list[Cause]] | None:
    used = [k for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k) is True]
    if not used:
        return None
    detail = ", ".join(f"{k}=true" for k in used)
    return detail, [Cause(f"spec.{k}", FORBIDDEN, f"Forbidden: {k}=true") for k in used]


def _host_path_volumes(spec: Mapping[str, Any]) -> tuple[str, list[Cause]] | None:
    found = [
        (i, _dict(v).get("name") or "")
        for i, v in enumerate(_list(spec.get("volumes")))
        if _dict(v).get("hostPath") is not None
    ]
    if not found:
        return None
    causes = [
        Cause(f"spec.volumes[{i}].hostPath", FORBIDDEN, f'Forbidden: hostPath volume "{name}"')
        for i, name in found
    ]
    return _plural("volume", "volumes", [name for _, name in found]), causes


def _privileged(spec: Mapping[str, Any]) -> tuple[str, list[Cause]] | None:
    found = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(_list(spec.get(key))):
            if _dict(_dict(c).get("securityContext")).get("privileged") is True:
                found.append((f"spec.{key}[{i}].securityContext.privileged", _dict(c).get("name")))
    if not found:
        return None
    names = [str(name or "") for _, name in found]
    detail = _plural("container", "containers", names) + " must not set "
    detail += "securityContext.privileged=true"
    causes = [Cause(path, FORBIDDEN, "Forbidden: privileged=true") for path, _ in found]
    return detail, causes


# In the order Pod Security Admission reports them (by check id).
_CHECKS = (
    ("host namespaces", _host_namespaces),
    ("hostPath volumes", _host_path_volumes),
    ("privileged", _privileged),
)


def check_pod_security(pod: Mapping[str, Any], allow_privileged: bool) -> None:
    """Raise errors.ForbiddenError if the pod is privileged, uses host namespaces or hostPath
    volumes and the cluster does not allow that; ``causes`` name each offending field."""
    if allow_privileged:
        return
    spec = _dict(pod.get("spec"))
    parts: list[str] = []
    causes: list[Cause] = []
    for reason, check in _CHECKS:
        found = check(spec)
        if found:
            parts.append(f"{reason} ({found[0]})")
            causes.extend(found[1])
    if not parts:
        return
    name = _dict(pod.get("metadata")).get("name") or ""
    message = f'pods "{name}" is forbidden: violates PodSecurity "{POLICY}": ' + ", ".join(parts)
    raise errors.ForbiddenError(message, causes, {"name": name, "kind": "pods"})
