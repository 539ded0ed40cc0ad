"""The downward API's values: a pod's fields (``fieldRef``) and a container's resources
(``resourceFieldRef``), as the kubelet's ``podFieldSelectorRuntimeValue``, apimachinery's
``fieldpath.ExtractFieldPathAsString`` and ``resource.ExtractContainerResourceValue`` give them.
Errors carry the same words. Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from common import names
from common.quantity import parse_quantity

# A subscripted path: metadata.labels['key'] (the kubelet's SplitMaybeSubscriptedPath).
_SUBSCRIPT = re.compile(r"^(.+)\['(.*)'\]$")
RESOURCES = ("cpu", "memory", "ephemeral-storage")


class FieldPathError(ValueError):
    """A field or resource the downward API cannot give (an unknown path, a missing container)."""


def format_map(values: Mapping[str, Any]) -> str:
    """``key="value"`` lines sorted by key, as Go's ``fieldpath.FormatMap`` (``%q`` quoting)."""
    return "\n".join(
        f"{k}={json.dumps(str(values[k]), ensure_ascii=False)}" for k in sorted(values)
    )


def object_field(pod: Mapping[str, Any], field_path: str) -> str:
    """``ExtractFieldPathAsString``: the metadata fields a downward API volume may name."""
    meta = pod.get("metadata") or {}
    match = _SUBSCRIPT.match(field_path)
    if match is not None:
        path, key = match.group(1), match.group(2)
        if path not in ("metadata.annotations", "metadata.labels"):
            raise FieldPathError(f'fieldPath "{path}" does not support subscript')
        errs = names.is_qualified_name(key.lower() if path == "metadata.annotations" else key)
        if errs:
            raise FieldPathError(f"invalid key subscript in {field_path}: {';'.join(errs)}")
        return str((meta.get(path.split(".")[1]) or {}).get(key, ""))
    if field_path in ("metadata.annotations", "metadata.labels"):
        return format_map(meta.get(field_path.split(".")[1]) or {})
    if field_path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(field_path.split(".")[1]) or "")
    raise FieldPathError(f"unsupported fieldPath: {field_path}")


def pod_field(
    pod: Mapping[str, Any], field_path: str, pod_ips: Sequence[str], host_ips: Sequence[str]
) -> str:
    """``podFieldSelectorRuntimeValue``: what an env ``fieldRef`` gives, IPs included."""
    spec = pod.get("spec") or {}
    if field_path == "spec.nodeName":
        return str(spec.get("nodeName") or "")
    if field_path == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName") or "")
    if field_path == "status.hostIP":
        return host_ips[0] if host_ips else ""
    if field_path == "status.hostIPs":
        return ",".join(host_ips)
    if field_path == "status.podIP":
        return pod_ips[0] if pod_ips else ""
    if field_path == "status.podIPs":
        return ",".join(pod_ips)
    return object_field(pod, field_path)


def _find_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if container.get("name") == name:
            return dict(container)
    raise FieldPathError(f"container {name} not found")


def _quantity(container: Mapping[str, Any], part: str, resource: str) -> Any:
    return ((container.get("resources") or {}).get(part) or {}).get(resource)


def resource_value(
    pod: Mapping[str, Any],
    container: Mapping[str, Any] | None,
    selector: Mapping[str, Any],
    allocatable: Mapping[str, Any],
) -> str:
    """``resourceFieldRef``: a limit (node allocatable when the container sets none) or a
    request, divided by ``divisor`` and rounded up; ``containerName`` picks the container."""
    if selector.get("containerName"):
        container = _find_container(pod, str(selector["containerName"]))
    resource = str(selector.get("resource") or "")
    part, _, name = resource.partition(".")
    if part not in ("limits", "requests") or name not in RESOURCES or container is None:
        raise FieldPathError(f"unsupported container resource : {resource}")
    value = _quantity(container, part, name)
    if value is None and part == "limits":
        value = allocatable.get(name)
    amount = parse_quantity(value if value is not None else 0)
    divisor = parse_quantity(selector.get("divisor") or "1")
    if divisor == 0:
        divisor = parse_quantity("1")
    if name == "cpu":
        # Go compares millivalues, each rounded up: 1 core with divisor 1m is 1000.
        return str(math.ceil(math.ceil(amount * 1000) / math.ceil(divisor * 1000)))
    return str(math.ceil(math.ceil(amount) / math.ceil(divisor)))
