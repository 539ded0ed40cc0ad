"""What a Job's pods count for (trackJobStatusAndRemoveFinalizers in
pkg/controller/job/job_controller.go): each finished pod still holding the
``batch.kubernetes.io/job-tracking`` finalizer is listed in ``status.uncountedTerminatedPods``
(or ignored by the failure policy) and loses the finalizer; the counters then take the pods
whose finalizer is gone, so none is counted twice or lost. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common import batch
from common import conditions as cond
from common.wellknown import JOB_TRACKING_FINALIZER
from control.controllers.job_pods import (
    _meta,
    _phase,
    _spec,
    failure_count,
    is_failed,
    parse_indexes,
    per_index_limit,
    pod_index,
)
from control.controllers.job_policy import failure_policy_action

Obj = dict[str, Any]


def uid_of(pod: Mapping[str, Any]) -> str:
    return str(_meta(pod).get("uid") or "")


def tracked(pod: Mapping[str, Any]) -> bool:
    return JOB_TRACKING_FINALIZER in (_meta(pod).get("finalizers") or [])


def is_active(pod: Mapping[str, Any]) -> bool:
    return _phase(pod) not in ("Succeeded", "Failed") and not _meta(pod).get("deletionTimestamp")


def is_ready(pod: Mapping[str, Any]) -> bool:
    return cond.is_true(pod, "Ready")


# -- counting --------------------------------------------------------------------------------


@dataclass
class Counts:
    succeeded: int
    failed: int
    completed: set[int]
    uncounted_succeeded: list[str]
    uncounted_failed: list[str]
    failure_message: tuple[str, str] | None = None  # (reason, message) of a FailJob rule
    # backoffLimitPerIndex: the indexes that failed for good.
    failed_indexes: set[int] = field(default_factory=set)


def _count_failure(job: Mapping[str, Any], pod: Obj, c: Counts) -> bool:
    """Apply the failure policy to a failed pod; False when it is ignored."""
    action, message = failure_policy_action(job, pod)
    if action == batch.IGNORE:
        return False
    if action == batch.FAIL_JOB and c.failure_message is None:
        c.failure_message = (batch.POD_FAILURE_POLICY, message)
    limit, index = per_index_limit(job), pod_index(pod)
    over = limit is not None and (action == batch.FAIL_INDEX or failure_count(pod) + 1 > limit)
    if over and index is not None:
        c.failed_indexes.add(index)
    return True


def count_finished(job: Mapping[str, Any], pods: list[Obj], finalize: list[Obj]) -> Counts:
    """trackJobStatusAndRemoveFinalizers: every finished pod still holding the finalizer is
    listed as uncounted (or ignored by the failure policy) and its finalizer goes; the totals
    include the uncounted ones."""
    status = job.get("status") or {}
    uncounted = status.get("uncountedTerminatedPods") or {}
    indexed = batch.is_indexed(dict(job))
    c = Counts(
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        completed=_in_range(job, str(status.get("completedIndexes") or "")),
        uncounted_succeeded=list(uncounted.get("succeeded") or []),
        uncounted_failed=list(uncounted.get("failed") or []),
        failed_indexes=_in_range(job, str(status.get("failedIndexes") or "")),
    )
    listed = set(c.uncounted_succeeded) | set(c.uncounted_failed)
    for pod in pods:
        if not tracked(pod):
            continue
        uid = uid_of(pod)
        if uid in listed:
            finalize.append(pod)
            continue
        if _phase(pod) == "Succeeded":
            index = pod_index(pod)
            if indexed:
                if index is None or not index_in_range(job, pod) or index in c.completed:
                    finalize.append(pod)  # a duplicate of an index already done
                    continue
                c.completed.add(index)
            c.uncounted_succeeded.append(uid)
        elif is_failed(pod, job):
            if (indexed and not index_in_range(job, pod)) or not _count_failure(job, pod, c):
                finalize.append(pod)
                continue
            c.uncounted_failed.append(uid)
        else:
            continue
        finalize.append(pod)
    return c


def index_in_range(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    index = pod_index(pod)
    return index is not None and 0 <= index < int(_spec(job).get("completions") or 0)


def _in_range(job: Mapping[str, Any], text: str) -> set[int]:
    """The indexes of a status list; an Indexed Job scaled down drops those beyond its
    completions (parseIndexesFromString)."""
    indexes = parse_indexes(text)
    if not batch.is_indexed(dict(job)):
        return indexes
    return {i for i in indexes if i < int(_spec(job).get("completions") or 0)}


def flush_uncounted(status: Obj, still_tracked: set[str]) -> Obj:
    """Move the uncounted pods whose finalizer is gone into the counters."""
    out = copy.deepcopy(status)
    uncounted = out.get("uncountedTerminatedPods") or {}
    left: Obj = {}
    for key in ("succeeded", "failed"):
        uids = list(uncounted.get(key) or [])
        keep = [u for u in uids if u in still_tracked]
        out[key] = int(out.get(key) or 0) + len(uids) - len(keep)
        if keep:
            left[key] = keep
    out["uncountedTerminatedPods"] = left
    return out
