"""The pods of a Job: made from its template (the tracking finalizer, the controller reference,
an Indexed Job's index annotation, label, env and hostname), which of them failed, the failures
of each index (backoffLimitPerIndex), and the compressed index lists of
``status.completedIndexes``/``failedIndexes``. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from common import batch
from common.wellknown import (
    JOB_COMPLETION_INDEX,
    JOB_COMPLETION_INDEX_ENV,
    JOB_INDEX_FAILURE_COUNT,
    JOB_TRACKING_FINALIZER,
)
from control.controllers.job_policy import failure_policy_action
from control.controllers.ownership import controller_ref

Obj = dict[str, Any]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


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


def failure_count(pod: Mapping[str, Any]) -> int:
    """The failures of the pod's index before it (backoffLimitPerIndex)."""
    value = (_meta(pod).get("annotations") or {}).get(JOB_INDEX_FAILURE_COUNT)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def pod_from_template(
    job: Mapping[str, Any], index: int | None, failures: int | None = None
) -> Obj:
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
        if _spec(job).get("backoffLimitPerIndex") is not None:
            m["annotations"][JOB_INDEX_FAILURE_COUNT] = str(failures or 0)
        spec.setdefault("hostname", f"{name}-{index}")
        source = {"fieldRef": {"fieldPath": f"metadata.annotations['{JOB_COMPLETION_INDEX}']"}}
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            env = [e for e in c.get("env") or [] if e.get("name") != JOB_COMPLETION_INDEX_ENV]
            c["env"] = [{"name": JOB_COMPLETION_INDEX_ENV, "valueFrom": source}, *env]
    for key in ("labels", "annotations"):
        if not m[key]:
            del m[key]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": spec}


def is_failed(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """isPodFailed: Failed, or (unless only failed pods are replaced) deleted before it
    succeeded: a pod that never reaches a phase still counts."""
    if _phase(pod) == "Failed":
        return True
    if _spec(job).get("podReplacementPolicy") == batch.FAILED:
        return False
    return bool(_meta(pod).get("deletionTimestamp")) and _phase(pod) != "Succeeded"


def per_index_limit(job: Mapping[str, Any]) -> int | None:
    """``backoffLimitPerIndex`` of an Indexed Job (None: the Job has one back-off limit)."""
    limit = _spec(job).get("backoffLimitPerIndex")
    return int(limit) if limit is not None and batch.is_indexed(dict(job)) else None


def index_failures(job: Mapping[str, Any], pods: list[Obj]) -> dict[int, int]:
    """The failures so far of each index (getNewIndexFailureCounts): its latest failed pod's
    count plus that failure, unless the failure policy ignores it."""
    out: dict[int, int] = {}
    for pod in pods:
        index = pod_index(pod)
        if index is None or not is_failed(pod, job):
            continue
        ignored = failure_policy_action(job, pod)[0] == batch.IGNORE
        out[index] = max(out.get(index, 0), failure_count(pod) + (0 if ignored else 1))
    return out
