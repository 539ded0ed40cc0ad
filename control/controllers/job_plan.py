"""The job controller's decisions (syncJob in pkg/controller/job/job_controller.go): which
finished pods it counts (through ``status.uncountedTerminatedPods`` and the
``batch.kubernetes.io/job-tracking`` finalizer, so none is counted twice or lost), the pods it
creates (Indexed: one per pending index) or deletes, the pod failure policy, the back-off limit,
the deadline, suspension, and the status with Kubernetes' conditions and reasons.
Pure: a Job, its pods and a time in, a plan out.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common import batch, meta
from common import conditions as cond
from common.wellknown import JOB_TRACKING_FINALIZER
from control.controllers.job_pods import (
    failure_count,
    format_indexes,
    index_failures,
    is_failed,
    parse_indexes,
    per_index_limit,
    pod_from_template,
    pod_index,
)
from control.controllers.job_policy import failure_policy_action

Obj = dict[str, Any]
# DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff: the delay before a failed pod is
# replaced doubles from 10 s up to 6 min.
BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0
BACKOFF_LIMIT_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
MAX_FAILED_INDEXES_MESSAGE = "Job has exceeded the specified maximal number of failed indexes"
FAILED_INDEXES_MESSAGE = "Job has failed indexes"


@dataclass
class JobPlan:
    """One sync: ``status`` to write with the finished pods listed as uncounted, ``finalize``
    the pods whose tracking finalizer then goes, ``create``/``delete`` the pod changes, and
    ``terminal`` the condition the Job ends with once they are all counted."""

    status: Obj = field(default_factory=dict)
    finalize: list[Obj] = field(default_factory=list)
    create: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    requeue_after: float | None = None
    # The terminal condition (type, reason, message) once no pod is left to count.
    terminal: tuple[str, str, str] | None = None
    backoff_base: float = BACKOFF_BASE
    events: list[tuple[str, str, str]] = field(default_factory=list)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _uid(pod: Mapping[str, Any]) -> str:
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


def count_finished(job: Mapping[str, Any], pods: list[Obj], plan: JobPlan) -> Counts:
    """trackJobStatusAndRemoveFinalizers: every finished pod still holding the finalizer is
    listed as uncounted (or ignored by the failure policy) and its finalizer goes; the totals
    include the uncounted ones."""
    status = job.get("status") or {}
    uncounted = status.get("uncountedTerminatedPods") or {}
    c = Counts(
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        completed=parse_indexes(str(status.get("completedIndexes") or "")),
        uncounted_succeeded=list(uncounted.get("succeeded") or []),
        uncounted_failed=list(uncounted.get("failed") or []),
        failed_indexes=parse_indexes(str(status.get("failedIndexes") or "")),
    )
    listed = set(c.uncounted_succeeded) | set(c.uncounted_failed)
    completions = _spec(job).get("completions")
    for pod in pods:
        if not tracked(pod):
            continue
        uid = _uid(pod)
        if uid in listed:
            plan.finalize.append(pod)
            continue
        if _phase(pod) == "Succeeded":
            index = pod_index(pod)
            if batch.is_indexed(dict(job)):
                if index is None or not 0 <= index < int(completions or 0) or index in c.completed:
                    plan.finalize.append(pod)  # a duplicate of an index already done
                    continue
                c.completed.add(index)
            c.uncounted_succeeded.append(uid)
        elif is_failed(pod, job):
            if not _count_failure(job, pod, c):
                plan.finalize.append(pod)
                continue
            c.uncounted_failed.append(uid)
        else:
            continue
        plan.finalize.append(pod)
    return c


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


# -- the sync --------------------------------------------------------------------------------


def _backoff_delay(job: Mapping[str, Any], pods: list[Obj], failed: int, now: dt.datetime,
                   base: float) -> float:  # fmt: skip
    """Seconds still to wait before replacing a failed pod: base * 2^(failures-1), at most
    6 min, from the last failure seen (none seen: no wait)."""
    if failed <= 0 or base <= 0:
        return 0.0
    last: dt.datetime | None = None
    for pod in pods:
        if not is_failed(pod, job):
            continue
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            stamp = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
            when = meta.parse_time(stamp) if stamp else None
            if when is not None and (last is None or when > last):
                last = when
    if last is None:
        return 0.0
    delay = min(base * 2.0 ** (failed - 1), BACKOFF_MAX)
    return max(0.0, delay - (now - last).total_seconds())


def _failure(
    job: Mapping[str, Any], c: Counts, pods: list[Obj], now: dt.datetime
) -> tuple[str, str] | None:
    """Why the Job fails now (reason, message), if it does."""
    status, spec = job.get("status") or {}, _spec(job)
    target = cond.find(status.get("conditions"), batch.FAILURE_TARGET)
    if target is not None and target.get("status") == "True":
        return str(target.get("reason") or ""), str(target.get("message") or "")
    if c.failure_message is not None:
        return c.failure_message
    indexed = _index_failure(job, c)
    if indexed is not None:
        return indexed
    failed = c.failed + len(c.uncounted_failed)
    if (_spec(job).get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure":
        failed += sum(int(cs.get("restartCount") or 0) for p in pods if is_active(p)
                      for cs in (p.get("status") or {}).get("containerStatuses") or [])  # fmt: skip
    limit = spec.get("backoffLimit")
    if failed > (batch.DEFAULT_BACKOFF_LIMIT if limit is None else int(limit)):
        return batch.BACKOFF_LIMIT_EXCEEDED, BACKOFF_LIMIT_MESSAGE
    deadline, start = spec.get("activeDeadlineSeconds"), status.get("startTime")
    if deadline is not None and start and not spec.get("suspend"):
        started = meta.parse_time(start)
        if started is not None and (now - started).total_seconds() >= int(deadline):
            return batch.DEADLINE_EXCEEDED, DEADLINE_MESSAGE
    return None


def _index_failure(job: Mapping[str, Any], c: Counts) -> tuple[str, str] | None:
    """backoffLimitPerIndex: too many failed indexes, or every index done and some failed."""
    if per_index_limit(job) is None or not c.failed_indexes:
        return None
    most = _spec(job).get("maxFailedIndexes")
    if most is not None and len(c.failed_indexes) > int(most):
        return batch.MAX_FAILED_INDEXES_EXCEEDED, MAX_FAILED_INDEXES_MESSAGE
    if len(c.completed | c.failed_indexes) >= int(_spec(job).get("completions") or 0):
        return batch.FAILED_INDEXES, FAILED_INDEXES_MESSAGE
    return None


def _succeeded(job: Mapping[str, Any], c: Counts, active: list[Obj]) -> bool:
    if cond.is_true(job, batch.SUCCESS_CRITERIA_MET):
        return True
    completions = _spec(job).get("completions")
    done = (
        len(c.completed)
        if batch.is_indexed(dict(job))
        else c.succeeded + len(c.uncounted_succeeded)
    )
    if completions is None:
        return done > 0 and not active
    return done >= int(completions)


def _set(
    conditions: list[Obj], kind: str, status: str, reason: str, message: str, stamp: str
) -> None:
    previous = cond.find(conditions, kind)
    new = cond.build(kind, status, stamp, reason, message, previous=previous, keep_empty=True,
                     lastProbeTime=stamp)  # fmt: skip
    if previous is not None and previous.get("status") == status:
        new = previous
    cond.upsert(conditions, new)


def _to_create(
    job: Mapping[str, Any], c: Counts, active: list[Obj], waiting: int
) -> tuple[list[int | None], list[Obj]]:
    """The pods to create (their indexes; None when not Indexed) and the active pods in excess."""
    spec = _spec(job)
    parallelism, completions = int(spec.get("parallelism") or 0), spec.get("completions")
    if batch.is_indexed(dict(job)):
        running = {pod_index(p) for p in active}
        over = c.completed | c.failed_indexes
        pending = [i for i in range(int(completions or 0)) if i not in over and i not in running]
        room = max(0, parallelism - len(active) - waiting)
        excess = sorted(active, key=lambda p: pod_index(p) or 0)[parallelism:]
        return list(pending[:room]), excess
    done = c.succeeded + len(c.uncounted_succeeded)
    if completions is None:
        want = parallelism if done == 0 else 0
    else:
        want = min(parallelism, int(completions) - done)
    want = max(0, want)
    ranked = sorted(active, key=lambda p: (is_ready(p), _phase(p) == "Running"))
    excess = ranked[: max(0, len(active) - want)]
    return [None] * max(0, want - len(active) - waiting), excess


def _run(job: Mapping[str, Any], c: Counts, pods: list[Obj], terminating: list[Obj],
         status: Obj, conditions: list[Obj], plan: JobPlan, now: dt.datetime) -> None:  # fmt: skip
    """A running Job: resumed if it was suspended, pods created up to its parallelism (after
    the failure back-off), the excess deleted, a sync at its deadline."""
    spec, stamp = _spec(job), meta.timestamp(now)
    if cond.is_true({"status": status}, batch.SUSPENDED):
        _set(conditions, batch.SUSPENDED, "False", batch.JOB_RESUMED, "Job resumed", stamp)
        plan.events.append(("Normal", "Resumed", "Job resumed"))
        status["startTime"] = stamp
    status.setdefault("startTime", stamp)
    active = [p for p in pods if is_active(p)]
    waiting = len(terminating) if spec.get("podReplacementPolicy") == batch.FAILED else 0
    indexes, plan.delete = _to_create(job, c, active, waiting)
    delay = _backoff_delay(job, pods, c.failed + len(c.uncounted_failed), now, plan.backoff_base)
    if indexes and delay > 0:
        plan.requeue_after = delay
    else:
        failures = index_failures(job, pods) if per_index_limit(job) is not None else {}
        plan.create = [
            pod_from_template(job, i, None if i is None else failures.get(i)) for i in indexes
        ]
    deadline = spec.get("activeDeadlineSeconds")
    started = meta.parse_time(status["startTime"])
    if deadline is not None and started is not None:
        left = int(deadline) - (now - started).total_seconds()
        plan.requeue_after = min(left, plan.requeue_after or left)


def plan_job(job: Mapping[str, Any], pods: list[Obj], now: dt.datetime,
             backoff_base: float = BACKOFF_BASE) -> JobPlan:  # fmt: skip
    """syncJob for one Job and the pods it controls."""
    plan = JobPlan(backoff_base=backoff_base)
    c = count_finished(job, pods, plan)
    status: Obj = copy.deepcopy(dict(job.get("status") or {}))
    stamp = meta.timestamp(now)
    active = [p for p in pods if is_active(p)]
    terminating = [
        p
        for p in pods
        if _meta(p).get("deletionTimestamp") and _phase(p) not in ("Succeeded", "Failed")
    ]
    conditions: list[Obj] = list(status.get("conditions") or [])
    finished = batch.is_finished(dict(job))
    spec = _spec(job)
    if not finished:
        failure = _failure(job, c, pods, now)
        if failure is not None:
            _set(conditions, batch.FAILURE_TARGET, "True", failure[0], failure[1], stamp)
            plan.delete = list(active)
            if not active and not terminating:
                plan.terminal = (batch.FAILED_CONDITION, failure[0], failure[1])
        elif _succeeded(job, c, active):
            message = "Reached expected number of succeeded pods"
            _set(
                conditions,
                batch.SUCCESS_CRITERIA_MET,
                "True",
                batch.COMPLETIONS_REACHED,
                message,
                stamp,
            )
            plan.delete = list(active)
            if not active and not terminating:
                plan.terminal = (batch.COMPLETE, batch.COMPLETIONS_REACHED, message)
        elif spec.get("suspend"):
            plan.delete = list(active)
            status.pop("startTime", None)  # the deadline's clock starts again on resume
            if not cond.is_true({"status": status}, batch.SUSPENDED):
                _set(
                    conditions, batch.SUSPENDED, "True", batch.JOB_SUSPENDED, "Job suspended", stamp
                )
                plan.events.append(("Normal", "Suspended", "Job suspended"))
        else:
            _run(job, c, pods, terminating, status, conditions, plan, now)
    gone = {_uid(p) for p in plan.delete}
    status["active"] = len([p for p in active if _uid(p) not in gone])
    status["ready"] = len([p for p in active if is_ready(p) and _uid(p) not in gone])
    status["terminating"] = len(terminating) + len(gone)
    status["succeeded"], status["failed"] = c.succeeded, c.failed
    if batch.is_indexed(dict(job)):
        status["completedIndexes"] = format_indexes(c.completed)
    if per_index_limit(job) is not None:
        status["failedIndexes"] = format_indexes(c.failed_indexes)
    status["uncountedTerminatedPods"] = {
        k: v for k, v in (("succeeded", c.uncounted_succeeded), ("failed", c.uncounted_failed)) if v
    }
    if conditions:
        status["conditions"] = conditions
    plan.status = status
    return plan


def finish(status: Obj, plan: JobPlan, now: dt.datetime) -> Obj:
    """The status once the uncounted pods are counted: with the terminal condition (and for
    Complete the completion time) when the plan reached one and nothing is left uncounted."""
    out = copy.deepcopy(status)
    if plan.terminal is None or out.get("uncountedTerminatedPods"):
        return out
    kind, reason, message = plan.terminal
    stamp = meta.timestamp(now)
    conditions: list[Obj] = list(out.get("conditions") or [])
    _set(conditions, kind, "True", reason, message, stamp)
    out["conditions"] = conditions
    if kind == batch.COMPLETE:
        out["completionTime"] = stamp
    return out
