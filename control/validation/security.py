"""The cluster's ``--allow-privileged`` policy over a pod spec (a pod's or a pod template's).

Unless the cluster allows them, privileged containers are refused with kube-apiserver's own
field error (``spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster
policy``). tinykube applies the same flag, with the same words, to host namespaces and hostPath
volumes, the other ways out of a container; kube-apiserver leaves those to Pod Security
admission alone. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.errors import Cause
from common.fielderrors import forbidden

DISALLOWED = "disallowed by cluster policy"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def cluster_policy_causes(spec: Any, path: str = "spec") -> list[Cause]:
    """The fields of a pod spec that only a cluster started with ``--allow-privileged`` admits."""
    spec = _dict(spec)
    causes = [
        forbidden(f"{path}.{key}", DISALLOWED)
        for key in ("hostNetwork", "hostPID", "hostIPC")
        if spec.get(key) is True
    ]
    causes += [
        forbidden(f"{path}.volumes[{i}].hostPath", DISALLOWED)
        for i, volume in enumerate(_list(spec.get("volumes")))
        if _dict(volume).get("hostPath") is not None
    ]
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(_list(spec.get(key))):
            if _dict(_dict(container).get("securityContext")).get("privileged") is True:
                causes.append(
                    forbidden(f"{path}.{key}[{i}].securityContext.privileged", DISALLOWED)
                )
    return causes
