"""The one builder of core/v1 Events, for the control plane's components and the agent alike:
named as client-go's recorder names them (``<object>.<hex nanoseconds>``), in the object's
namespace (``default`` for cluster-scoped objects), with ``source`` and ``reporting*`` set to
the component and host that saw it. Pure but for the clock."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from common import meta

NORMAL = "Normal"
WARNING = "Warning"


def build_event(
    obj: Mapping[str, Any],
    etype: str,
    reason: str,
    message: str,
    component: str,
    host: str = "",
    *,
    kind: str = "",
    api_version: str = "",
    field_path: str = "",
    timestamp: str | None = None,
) -> dict[str, Any]:
    """An Event about ``obj``; ``kind``/``api_version`` stand in when the object lacks them
    (items of a list); ``field_path`` names a part of it (``spec.containers{web}``)."""
    m = obj.get("metadata") or {}
    stamp = timestamp or meta.timestamp()
    involved: dict[str, Any] = {
        "kind": obj.get("kind") or kind,
        "namespace": m.get("namespace", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
        "apiVersion": obj.get("apiVersion") or api_version,
    }
    if m.get("resourceVersion"):
        involved["resourceVersion"] = m["resourceVersion"]
    if field_path:
        involved["fieldPath"] = field_path
    source = {"component": component, **({"host": host} if host else {})}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{m.get('name')}.{time.time_ns():x}",
            "namespace": m.get("namespace") or "default",
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "type": etype,
        "reportingComponent": component,
        "reportingInstance": host,
    }
