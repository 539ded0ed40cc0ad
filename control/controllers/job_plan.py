"""The job controller's decisions (syncJob in pkg/controller/job/job_controller.go): with the
finished pods counted (job_count), the pods it creates (Indexed: one per pending index, within
completions that may be scaled) or deletes, the pod failure policy, the back-off limit, the
deadline, the success policy, suspension, and the status with Kubernetes' conditions and
reasons. Pure: a Job, its pods and a time in, a plan out.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common import batch, meta
from common import conditions as cond
from control.controllers.job_count import (
    Counts,
    count_finished,
    index_in_range,
    is_active,
    is_ready,
    tracked,
    uid_of,
)
from control.controllers.job_pods import (
    format_indexes,
    index_failures,
    is_failed,
    per_index_limit,
    pod_from_template,
    pod_index,
)
from control.controllers.job_policy import success_policy_match

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
    # The pods to delete are in excess, not failures: their tracking finalizer goes first.
    release: bool = False


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


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
    completions = _spec(job).get("completions")
    done = (
        len(c.completed)
        if batch.is_indexed(dict(job))
        else c.succeeded + len(c.uncounted_succeeded)
    )
    if completions is None:
        return done > 0 and not active
    return done >= int(completions)


def _success(job: Mapping[str, Any], c: Counts, active: list[Obj]) -> tuple[str, str] | None:
    """Why the Job succeeds now (reason, message), if it does: a rule of its success policy
    met by the succeeded indexes, or its completions reached."""
    if batch.is_indexed(dict(job)):
        matched = success_policy_match(job, c.completed)
        if matched is not None:
            return batch.SUCCESS_POLICY, matched
    if _succeeded(job, c, active):
        return batch.COMPLETIONS_REACHED, "Reached expected number of succeeded pods"
    return None


def _end_succeeded(pods: list[Obj], active: list[Obj], terminating: list[Obj], plan: JobPlan,
                   reason: str, message: str) -> None:  # fmt: skip
    """A Job whose success criteria are met: every pod left is deleted and loses its tracking
    finalizer without being counted (canRemoveFinalizer); Complete, with the same reason and
    message, once none is left running."""
    plan.delete = list(active)
    planned = {uid_of(p) for p in plan.finalize}
    plan.finalize.extend(p for p in pods if tracked(p) and uid_of(p) not in planned)
    if not active and not terminating:
        plan.terminal = (batch.COMPLETE, reason, message)


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
    job: Mapping[str, Any], c: Counts, active: list[Obj], waiting: list[Obj]
) -> tuple[list[int | None], list[Obj]]:
    """The pods to create (their indexes; None when not Indexed) and the active pods in excess."""
    spec = _spec(job)
    parallelism, completions = int(spec.get("parallelism") or 0), spec.get("completions")
    if batch.is_indexed(dict(job)):
        return _to_create_indexed(job, c, active, waiting)
    done = c.succeeded + len(c.uncounted_succeeded)
    if completions is None:
        want = parallelism if done == 0 else 0
    else:
        want = min(parallelism, int(completions) - done)
    want = max(0, want)
    ranked = sorted(active, key=lambda p: (is_ready(p), _phase(p) == "Running"))
    excess = ranked[: max(0, len(active) - want)]
    return [None] * max(0, want - len(active) - len(waiting)), excess


def _to_create_indexed(
    job: Mapping[str, Any], c: Counts, active: list[Obj], waiting: list[Obj]
) -> tuple[list[int | None], list[Obj]]:
    """The pending indexes to start, lowest first (not those of a pod still terminating when
    only failed pods are replaced); or, first, the active pods to remove: those
    of no index or one beyond completions (a Job scaled down), duplicates, then the highest
    indexes beyond parallelism (appendDuplicatedIndexPodsForRemoval)."""
    parallelism = int(_spec(job).get("parallelism") or 0)
    keep: list[Obj] = []
    excess: list[Obj] = []
    seen: set[int] = set()
    for pod in sorted(active, key=lambda p: (pod_index(p) or 0, not is_ready(p))):
        index = pod_index(pod)
        if index is None or not index_in_range(job, pod) or index in seen:
            excess.append(pod)
            continue
        seen.add(index)
        keep.append(pod)
    excess.extend(keep[parallelism:])
    if excess:
        return [], excess
    stopping = {i for p in waiting if (i := pod_index(p)) is not None}
    done = c.completed | c.failed_indexes | stopping
    pending: list[int | None] = [i for i in range(int(_spec(job).get("completions") or 0))
                                 if i not in done and i not in seen]  # fmt: skip
    room = max(0, parallelism - len(keep) - len(waiting))
    return pending[:room], []


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
    waiting = terminating if spec.get("podReplacementPolicy") == batch.FAILED else []
    indexes, plan.delete = _to_create(job, c, active, waiting)
    plan.release = bool(plan.delete)
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
    c = count_finished(job, pods, plan.finalize)
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
    met = cond.find(conditions, batch.SUCCESS_CRITERIA_MET)
    if not finished and met is not None and met.get("status") == "True":
        # The success criteria were met in an earlier sync: no failure counts any more.
        reason, message = str(met.get("reason") or ""), str(met.get("message") or "")
        _end_succeeded(pods, active, terminating, plan, reason, message)
    elif not finished:
        failure = _failure(job, c, pods, now)
        success = _success(job, c, active)
        if failure is not None:
            _set(conditions, batch.FAILURE_TARGET, "True", failure[0], failure[1], stamp)
            plan.delete = list(active)
            if not active and not terminating:
                plan.terminal = (batch.FAILED_CONDITION, failure[0], failure[1])
        elif success is not None:
            _set(conditions, batch.SUCCESS_CRITERIA_MET, "True", success[0], success[1], stamp)
            _end_succeeded(pods, active, terminating, plan, success[0], success[1])
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
    if not finished:  # a finished Job's status keeps its counts (syncJob returns early)
        gone = {uid_of(p) for p in plan.delete}
        status["active"] = len([p for p in active if uid_of(p) not in gone])
        status["ready"] = len([p for p in active if is_ready(p) and uid_of(p) not in gone])
        status["terminating"] = len(terminating) + len(gone)
    status["succeeded"], status["failed"] = c.succeeded, c.failed
    if batch.is_indexed(dict(job)):
        # An Indexed Job counts its succeeded indexes: those beyond completions drop out.
        status["succeeded"] = max(0, len(c.completed) - len(c.uncounted_succeeded))
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
