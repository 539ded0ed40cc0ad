"""When the change that an Endpoints or EndpointSlice write carries happened, as Kubernetes'
TriggerTimeTracker computes it (pkg/controller/util/endpoint): the earliest of the changes seen
since the Service's last sync, a pod's Ready transition or the Service's creation. The
controllers write it as the ``endpoints.kubernetes.io/last-change-trigger-time`` annotation,
from which a node proxy measures how long its rules took to follow. Thread-safe; no I/O.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common import meta
from control.controllers.ranking import ready_condition

ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


@dataclass
class _State:
    pods: dict[str, dt.datetime] = field(default_factory=dict)
    service: dt.datetime | None = None


def _pod_time(pod: Mapping[str, Any]) -> dt.datetime | None:
    c = ready_condition(pod)
    return meta.parse_time(c.get("lastTransitionTime")) if c is not None else None


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    return a if b is None or a <= b else b


class TriggerTimeTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def compute(
        self, key: str, svc: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
    ) -> dt.datetime | None:
        """ComputeEndpointLastChangeTriggerTime: remember this sync's times and return the
        earliest one newer than at the previous sync (None: nothing new)."""
        new = _State()
        for pod in pods:
            t = _pod_time(pod)
            if t is not None:
                new.pods[str((pod.get("metadata") or {}).get("name"))] = t
        new.service = meta.parse_time((svc.get("metadata") or {}).get("creationTimestamp"))
        with self._lock:
            old = self._states.get(key, _State())
            self._states[key] = new
        earliest = None
        for name, t in new.pods.items():
            before = old.pods.get(name)
            if before is None or t > before:
                earliest = _earliest(earliest, t)
        if new.service is not None and (old.service is None or new.service > old.service):
            earliest = _earliest(earliest, new.service)
        return earliest

    def delete_service(self, key: str) -> None:
        with self._lock:
            self._states.pop(key, None)


def rfc3339_nano(when: dt.datetime) -> str:
    """Go's RFC3339Nano: the fraction without its trailing zeros (none when whole)."""
    text = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def annotate(obj: dict[str, Any], when: dt.datetime | None) -> None:
    """Set (or, with nothing new, remove) the trigger-time annotation of an object to write."""
    m = obj.setdefault("metadata", {})
    annotations = dict(m.get("annotations") or {})
    if when is not None:
        annotations[ANNOTATION] = rfc3339_nano(when)
    else:
        annotations.pop(ANNOTATION, None)
    if annotations:
        m["annotations"] = annotations
    else:
        m.pop("annotations", None)
