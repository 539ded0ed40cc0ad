"""The pods of a Job: made from its template (the tracking finalizer, the controller reference,
an Indexed Job's index annotation, label, env and hostname), and the compressed index lists of
``status.completedIndexes``. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common.wellknown import JOB_COMPLETION_INDEX, JOB_COMPLETION_INDEX_ENV, JOB_TRACKING_FINALIZER
from control.controllers.ownership import controller_ref

Obj = dict[str, Any]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def pod_index(pod: Mapping[str, Any]) -> int | None:
    value = (_meta(pod).get("annotations") or {}).get(JOB_COMPLETION_INDEX)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- indexes ---------------------------------------------------------------------------------


def parse_indexes(text: str) -> set[int]:
    """``"1,3-5,7"`` → {1, 3, 4, 5, 7}."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    """The compressed interval form of ``status.completedIndexes``: ``"1,3-5,7"``."""
    parts: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


# -- pods ------------------------------------------------------------------------------------


def pod_from_template(job: Mapping[str, Any], index: int | None) -> Obj:
    """The pod of the Job's template: its labels, annotations and finalizers plus the tracking
    finalizer, controlled by the Job; an Indexed Job's pod also carries its index (annotation,
    label, ``JOB_COMPLETION_INDEX`` from the annotation) and hostname ``<job>-<index>``."""
    template = _spec(job).get("template") or {}
    tmeta = template.get("metadata") or {}
    name = str(_meta(job).get("name"))
    m: Obj = {"generateName": f"{name}-", "namespace": _meta(job).get("namespace")}
    for key in ("labels", "annotations"):
        m[key] = copy.deepcopy(tmeta.get(key) or {})
    m["finalizers"] = [*(tmeta.get("finalizers") or []), JOB_TRACKING_FINALIZER]
    m["ownerReferences"] = [controller_ref(job)]
    spec: Obj = copy.deepcopy(template.get("spec") or {})
    if index is not None:
        m["generateName"] = f"{name}-{index}-"
        m["annotations"][JOB_COMPLETION_INDEX] = str(index)
        m["labels"][JOB_COMPLETION_INDEX] = str(index)
        spec.setdefault("hostname", f"{name}-{index}")
        source = {"fieldRef": {"fieldPath": f"metadata.annotations['{JOB_COMPLETION_INDEX}']"}}
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            env = [e for e in c.get("env") or [] if e.get("name") != JOB_COMPLETION_INDEX_ENV]
            c["env"] = [{"name": JOB_COMPLETION_INDEX_ENV, "valueFrom": source}, *env]
    for key in ("labels", "annotations"):
        if not m[key]:
            del m[key]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec}
