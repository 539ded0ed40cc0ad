"""Recording Kubernetes Events from the control loops (scheduler, controllers), named and shaped
as client-go's event recorder makes them. Shell: it writes through the registry."""

from __future__ import annotations

import logging
import time
from typing import Any

from common import errors, meta
from common.resources import must
from control.registry.registry import Registry

log = logging.getLogger(__name__)

EVENTS = must("events")


def event_for(
    obj: dict[str, Any], etype: str, reason: str, message: str, component: str, host: str = ""
) -> dict[str, Any]:
    m = obj.get("metadata") or {}
    stamp = meta.timestamp()
    source = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{m.get('name')}.{time.time_ns():x}",
            "namespace": m.get("namespace") or "default",
        },
        "involvedObject": {
            "kind": obj.get("kind", ""),
            "namespace": m.get("namespace", ""),
            "name": m.get("name", ""),
            "uid": m.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": m.get("resourceVersion", ""),
        },
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


def record(
    registry: Registry, obj: dict[str, Any], etype: str, reason: str, message: str, component: str
) -> None:
    """Best effort, as in Kubernetes: a lost event never fails the action it describes."""
    ev = event_for(obj, etype, reason, message, component)
    try:
        registry.create(EVENTS, ev["metadata"]["namespace"], ev)
    except errors.ApiError as e:
        log.info("event %s for %s: not recorded: %s", reason, obj["metadata"].get("name"), e)
