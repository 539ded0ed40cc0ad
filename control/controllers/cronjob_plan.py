"""What one CronJob must do now, as Kubernetes' CronJob controller decides it
(pkg/controller/cronjob: cronjob_controllerv2.go syncCronJob/cleanupFinishedJobs, utils.go
mostRecentScheduleTime): which Jobs leave ``status.active``, which finished Jobs go over the
history limits, whether the most recent unmet schedule time starts a Job (startingDeadlineSeconds,
at most one catch-up run, concurrencyPolicy, suspend) and when to look again. Pure: the CronJob,
its Jobs and ``now`` in; a ``CronJobPlan`` out.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from common import cron, meta
from common.wellknown import CRONJOB_SCHEDULED_TIMESTAMP

Obj = dict[str, Any]

ALLOW, FORBID, REPLACE = "Allow", "Forbid", "Replace"
# More missed start times than this means a wrong clock, not a late controller (utils.go).
MANY_MISSED = 100
# Padding of a requeue past the scheduled time, against clock skew (nextScheduleDelta).
NEXT_SCHEDULE_DELTA = 0.1
JOB_API_VERSION = "batch/v1"


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class CronJobPlan:
    """``status`` is the CronJob's status before any Job this plan starts (the shell adds it with
    ``started``); ``delete`` holds the Jobs to delete first, by (job, why): "history" or
    "replace"."""

    status: Obj
    delete: tuple[tuple[Obj, str], ...] = ()
    create: Obj | None = None
    scheduled: dt.datetime | None = None
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None


@dataclass
class _Work:
    status: Obj
    events: list[Event] = field(default_factory=list)
    delete: list[tuple[Obj, str]] = field(default_factory=list)

    def event(self, etype: str, reason: str, message: str) -> None:
        self.events.append(Event(etype, reason, message))


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_m(obj.get("metadata")).get("name", ""))


def _uid(obj: Mapping[str, Any]) -> str:
    return str(_m(obj.get("metadata")).get("uid", ""))


def finished_condition(job: Mapping[str, Any]) -> str:
    """getFinishedStatus: "Complete" or "Failed" once the Job has that condition True, else ""."""
    for c in _m(job.get("status")).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return ""


def _remove_active(status: Obj, uid: str) -> None:
    if "active" not in status:
        return
    status["active"] = [r for r in status.get("active") or [] if r.get("uid") != uid]
    if not status["active"]:
        del status["active"]


def _in_active(status: Mapping[str, Any], uid: str) -> bool:
    return any(r.get("uid") == uid for r in status.get("active") or [])


def _saw_jobs(w: _Work, jobs: list[Obj]) -> None:
    """The first loop of syncCronJob: finished Jobs leave ``active``, successful ones move
    ``lastSuccessfulTime``; an unfinished Job of ours not in ``active`` is unexpected."""
    for job in jobs:
        condition = finished_condition(job)
        found = _in_active(w.status, _uid(job))
        if not found and not condition:
            forgot = f"Saw a job that the controller did not create or forgot: {_name(job)}"
            w.event("Warning", "UnexpectedJob", forgot)
        elif found and condition:
            _remove_active(w.status, _uid(job))
            w.event("Normal", "SawCompletedJob",
                    f"Saw completed job: {_name(job)}, condition: {condition}")  # fmt: skip
        elif condition == "Complete":
            done = meta.parse_time(_m(job.get("status")).get("completionTime"))
            last = meta.parse_time(w.status.get("lastSuccessfulTime"))
            if done is not None and (last is None or done > last):
                w.status["lastSuccessfulTime"] = meta.timestamp(done)


def _drop_missing(w: _Work, jobs: list[Obj], gone: Collection[str]) -> None:
    """An active reference whose Job is gone (``gone``: confirmed by a fresh read) leaves."""
    present = {_uid(j) for j in jobs}
    for ref in list(w.status.get("active") or []):
        uid = str(ref.get("uid", ""))
        if uid not in present and uid in gone:
            w.event("Normal", "MissingJob", f"Active job went missing: {ref.get('name', '')}")
            _remove_active(w.status, uid)


def _start_key(job: Obj) -> tuple[int, dt.datetime, str]:
    """byJobStartTime: Jobs with a start time first, oldest first, then by name."""
    started = meta.parse_time(_m(job.get("status")).get("startTime"))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return (0 if started else 1, started or far, _name(job))


def history_deletes(cronjob: Mapping[str, Any], jobs: list[Obj]) -> list[Obj]:
    """cleanupFinishedJobs: the oldest finished Jobs beyond ``successfulJobsHistoryLimit`` and
    ``failedJobsHistoryLimit``."""
    spec = _m(cronjob.get("spec"))
    out: list[Obj] = []
    for condition, key in (("Complete", "successfulJobsHistoryLimit"),
                           ("Failed", "failedJobsHistoryLimit")):  # fmt: skip
        limit = spec.get(key)
        if limit is None:
            continue
        done = sorted((j for j in jobs if finished_condition(j) == condition), key=_start_key)
        out += done[: max(0, len(done) - int(limit))]
    return out


def schedule_of(cronjob: Mapping[str, Any]) -> cron.Schedule:
    """formatSchedule + ParseStandard: a ``TZ=`` in the schedule wins over ``timeZone``."""
    spec = _m(cronjob.get("spec"))
    schedule = str(spec.get("schedule") or "")
    if "TZ" in schedule:
        return cron.parse(schedule)
    return cron.parse(schedule, spec.get("timeZone"))


def most_recent(
    cronjob: Mapping[str, Any], now: dt.datetime, schedule: cron.Schedule, with_deadline: bool
) -> tuple[dt.datetime, dt.datetime | None, int]:
    """mostRecentScheduleTime: (the earliest time considered, the most recent unmet schedule
    time or None, how many were missed); raises ``cron.CronError`` for a schedule whose times
    are less than a second apart or never come."""
    m, spec = _m(cronjob.get("metadata")), _m(cronjob.get("spec"))
    status = _m(cronjob.get("status"))
    earliest = meta.parse_time(status.get("lastScheduleTime")) or meta.parse_time(
        m.get("creationTimestamp")
    )
    earliest = earliest or now
    deadline = spec.get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now - dt.timedelta(seconds=int(deadline)))
    t1 = schedule.next(earliest)
    if t1 is None:
        raise cron.CronError("time difference between two schedules is less than 1 second")
    if now < t1:
        return earliest, None, 0
    t2 = schedule.next(t1)
    if t2 is None or now < t2:
        return earliest, t1, 0
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise cron.CronError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    # Start a little before the last one and let the schedule find it (irregular schedules).
    t: dt.datetime | None = schedule.next(t1 + dt.timedelta(seconds=(missed - 2) * between))
    recent = None
    while t is not None and t <= now:
        recent, t = t, schedule.next(t)
    return earliest, recent, missed


def next_requeue(cronjob: Mapping[str, Any], now: dt.datetime, schedule: cron.Schedule) -> float:
    """nextScheduleTimeDuration: seconds until the next schedule time after the last one met
    (plus ``NEXT_SCHEDULE_DELTA``)."""
    try:
        earliest, recent, _ = most_recent(cronjob, now, schedule, False)
        base = recent or earliest
    except cron.CronError:
        base = now
    upcoming = schedule.next(base) or schedule.next(now)
    if upcoming is None:
        return 24 * 3600.0
    return (upcoming - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cronjob: Mapping[str, Any], scheduled: dt.datetime) -> str:
    """getJobName: ``<cronjob>-<scheduled time in minutes since the epoch>``."""
    return f"{_name(cronjob)}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cronjob: Mapping[str, Any], scheduled: dt.datetime) -> Obj:
    """getJobFromTemplate2: the Job of one scheduled time, controlled by the CronJob."""
    spec = _m(cronjob.get("spec"))
    template = _m(spec.get("jobTemplate"))
    tmeta = _m(template.get("metadata"))
    annotations = dict(tmeta.get("annotations") or {})
    zone = cron.load_zone(str(spec.get("timeZone") or ""))
    annotations[CRONJOB_SCHEDULED_TIMESTAMP] = rfc3339(scheduled.astimezone(zone))
    m = _m(cronjob.get("metadata"))
    job_meta: Obj = {"name": job_name(cronjob, scheduled), "namespace": m.get("namespace"),
                     "annotations": annotations,
                     "ownerReferences": [owner_reference(cronjob, block=True)]}  # fmt: skip
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": JOB_API_VERSION, "kind": "Job", "metadata": job_meta,
            "spec": copy.deepcopy(dict(template.get("spec") or {}))}  # fmt: skip


def owner_reference(cronjob: Mapping[str, Any], *, block: bool) -> Obj:
    """The CronJob as the controller of a Job (``block``: metav1.NewControllerRef sets
    blockOwnerDeletion; kubectl's manual Job does not)."""
    m = _m(cronjob.get("metadata"))
    ref: Obj = {"apiVersion": "batch/v1", "kind": "CronJob", "name": m.get("name", ""),
                "uid": m.get("uid", ""), "controller": True}  # fmt: skip
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def job_reference(job: Mapping[str, Any]) -> Obj:
    """The ObjectReference of a Job in ``status.active``."""
    m = _m(job.get("metadata"))
    return {"apiVersion": JOB_API_VERSION, "kind": "Job", "name": m.get("name", ""),
            "namespace": m.get("namespace", ""), "uid": m.get("uid", ""),
            "resourceVersion": m.get("resourceVersion", "")}  # fmt: skip


def started(status: Mapping[str, Any], job: Mapping[str, Any], scheduled: dt.datetime) -> Obj:
    """The status once ``job`` has started for ``scheduled``."""
    out = copy.deepcopy(dict(status))
    if not _in_active(out, _uid(job)):
        out["active"] = [*(out.get("active") or []), job_reference(job)]
    out["lastScheduleTime"] = meta.timestamp(scheduled)
    return out


def rfc3339(when: dt.datetime) -> str:
    """Go's time.RFC3339: ``Z`` for a zero offset, else ``-05:00``."""
    text = when.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _rfc1123z(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _scheduled_time(
    w: _Work, cronjob: Mapping[str, Any], now: dt.datetime
) -> tuple[cron.Schedule | None, dt.datetime | None]:
    """The schedule and the time a Job is due for now (None: none is), with the events of a
    schedule that cannot be used (nextScheduleTime and the checks before it)."""
    spec = _m(cronjob.get("spec"))
    zone = spec.get("timeZone")
    if zone is not None:
        try:
            cron.load_zone(str(zone))
        except cron.CronError as e:
            w.event("Warning", "UnknownTimeZone", f'invalid timeZone: "{zone}": {e}')
            return None, None
    if spec.get("suspend"):
        return None, None
    text = str(spec.get("schedule") or "")
    if "TZ" in text:
        w.event("Warning", "UnsupportedSchedule",
                f'CRON_TZ or TZ used in schedule "{text}" is not officially supported, see '
                "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more "
                "details")  # fmt: skip
    try:
        schedule = schedule_of(cronjob)
    except cron.CronError as e:
        w.event("Warning", "UnparseableSchedule", f'unparseable schedule: "{text}" : {e}')
        return None, None
    try:
        _, recent, missed = most_recent(cronjob, now, schedule, True)
    except cron.CronError as e:
        w.event("Warning", "InvalidSchedule", f"invalid schedule: {text} : {e}")
        return None, None
    if recent is not None and missed > MANY_MISSED:
        w.event("Warning", "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                "or check clock skew")  # fmt: skip
    return schedule, recent


def _decide(w: _Work, cronjob: Obj, now: dt.datetime, jobs: list[Obj]) -> CronJobPlan:
    """The second half of syncCronJob: whether the unmet schedule time starts a Job now."""
    spec = _m(cronjob.get("spec"))
    schedule, scheduled = _scheduled_time(w, cronjob, now)
    if schedule is None:
        return _plan(w)
    view = {**cronjob, "status": w.status}
    if scheduled is None:
        return _plan(w, requeue=next_requeue(view, now, schedule))
    again = next_requeue(view, now, schedule)
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None and scheduled + dt.timedelta(seconds=int(deadline)) < now:
        w.event("Warning", "MissSchedule",
                f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}")  # fmt: skip
        return _plan(w, requeue=again)
    name = job_name(cronjob, scheduled)
    last = meta.parse_time(w.status.get("lastScheduleTime"))
    if any(r.get("name") == name for r in w.status.get("active") or []) or last == scheduled:
        return _plan(w, requeue=again)
    policy = spec.get("concurrencyPolicy") or ALLOW
    if policy == FORBID and w.status.get("active"):
        w.event("Normal", "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is "
                "Forbid")  # fmt: skip
        return _plan(w, requeue=again)
    if policy == REPLACE:
        by_uid = {_uid(j): j for j in jobs}
        for ref in w.status.get("active") or []:
            known = {"metadata": {k: ref.get(k) for k in ("name", "namespace", "uid")}}
            w.delete.append((by_uid.get(str(ref.get("uid")), known), "replace"))
    met = {**w.status, "lastScheduleTime": meta.timestamp(scheduled)}
    after = next_requeue({**cronjob, "status": met}, now, schedule)
    return _plan(w, create=job_from_template(cronjob, scheduled), scheduled=scheduled,
                 requeue=after)  # fmt: skip


def _plan(
    w: _Work,
    *,
    requeue: float | None = None,
    create: Obj | None = None,
    scheduled: dt.datetime | None = None,
) -> CronJobPlan:
    return CronJobPlan(w.status, tuple(w.delete), create, scheduled, tuple(w.events), requeue)


def plan_cronjob(
    cronjob: Obj, jobs: list[Obj], now: dt.datetime, gone: Collection[str] = ()
) -> CronJobPlan:
    """syncCronJob (after cleanupFinishedJobs) for one CronJob and the Jobs it controls; ``gone``
    holds the uids of active Jobs a fresh read did not find."""
    w = _Work(copy.deepcopy(dict(cronjob.get("status") or {})))
    for job in history_deletes(cronjob, jobs):
        w.delete.append((job, "history"))
        _remove_active(w.status, _uid(job))  # deleteJob: the reference goes with the Job
    _saw_jobs(w, jobs)
    _drop_missing(w, jobs, gone)
    if _m(cronjob.get("metadata")).get("deletionTimestamp"):
        return _plan(w)
    return _decide(w, cronjob, now, jobs)
