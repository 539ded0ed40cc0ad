"""The CronJob controller, as Kubernetes' (pkg/controller/cronjob, cronjob_controllerv2.go): a
CronJob or Job event enqueues the CronJob; ``sync(key)`` reads the caches, asks ``plan_cronjob``
what to do, deletes the Jobs over the history limits (and, for Replace, the running ones),
creates the Job of the scheduled time, writes the status and re-queues the key for the next
scheduled time. A Job's name is its scheduled minute, so a create repeated after a crash is
AlreadyExists, never a second run. Writes go through the registry. Shell.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from common import cron, errors, meta
from common.metrics import CRONJOB_CREATION_SKEW
from common.resources import must
from control import events
from control.controllers import owners, writes
from control.controllers.cronjob_plan import (
    CronJobPlan,
    finished_condition,
    next_requeue,
    plan_cronjob,
    schedule_of,
    started,
)
from control.controllers.ownership import controller_of
from control.controllers.owning import OwnerController
from control.informers import SharedInformers
from control.registry.registry import Registry

__all__ = ["CronJobController", "plan_cronjob"]

log = logging.getLogger(__name__)

JOBS, CRONJOBS = must("jobs"), must("cronjobs")
KIND = "CronJob"
COMPONENT = "cronjob-controller"
# kube-controller-manager's --concurrent-cron-job-syncs.
WORKERS = 5

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    return f"{owners.namespace_of(obj)}/{obj['metadata']['name']}"


def _uid(obj: Obj) -> str:
    return str(obj["metadata"].get("uid", ""))


class CronJobController(OwnerController):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
        workers: int = WORKERS,
    ) -> None:
        super().__init__("cronjob", KIND, registry, informers, "cronjobs", clock=clock,
                         workers=workers)  # fmt: skip
        self.cronjobs = self.owner_cache
        self.jobs = self.watch("jobs", adopt=False, replace_deleting=False)

    def owner_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return  # a resync: the key is already queued for its next time
        was, now = old.get("spec") or {}, cur.get("spec") or {}
        if (was.get("schedule"), was.get("timeZone")) == (now.get("schedule"), now.get("timeZone")):
            self.queue.add(_key(cur))
            return
        # A new schedule: look again at its next time, not now (updateCronJob).
        try:
            schedule = schedule_of(cur)
        except cron.CronError:
            self.queue.add(_key(cur))  # the sync says why in an event
            return
        self.queue.add_after(_key(cur), next_requeue(cur, self.clock(), schedule))

    # -- the sync -------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        """ControllerV2.sync: converge one CronJob from the caches."""
        cronjob = self.cronjobs.get(key)
        if cronjob is None:
            return
        jobs = [j for j in owners.owned(self.jobs, cronjob) if controller_of(j) is not None]
        cronjob = self._fresh_if_unexpected(cronjob, jobs)
        plan = plan_cronjob(cronjob, jobs, self.clock(), self._gone(cronjob, jobs))
        for e in plan.events:
            self._event(cronjob, e.type, e.reason, e.message)
        status, failure = self._apply(cronjob, plan)
        if writes.write_status(self.registry, CRONJOBS, cronjob, status) is None:
            raise errors.ConflictError(f"cronjob {key}: changed while its status was written")
        if failure:
            raise writes.SyncError(failure)  # retried with the key's back-off
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)

    def _fresh_if_unexpected(self, cronjob: Obj, jobs: list[Obj]) -> Obj:
        """An unfinished Job of ours missing from the cached ``active`` may be one this very
        controller just started (the cache has not seen that status yet): read afresh."""
        active = {r.get("uid") for r in (cronjob.get("status") or {}).get("active") or []}
        if all(_uid(j) in active or finished_condition(j) for j in jobs):
            return cronjob
        try:
            return self.registry.get(CRONJOBS, owners.namespace_of(cronjob), _name(cronjob))
        except errors.NotFoundError:
            return cronjob

    def _gone(self, cronjob: Obj, jobs: list[Obj]) -> set[str]:
        """The active Jobs neither the cache nor a fresh read finds (a slow watch is no
        reason to forget a running Job)."""
        cached = {_uid(j) for j in jobs}
        gone = set()
        for ref in (cronjob.get("status") or {}).get("active") or []:
            if ref.get("uid") in cached:
                continue
            try:
                self.registry.get(JOBS, owners.namespace_of(cronjob), str(ref.get("name", "")))
            except errors.NotFoundError:
                gone.add(str(ref.get("uid")))
        return gone

    def _apply(self, cronjob: Obj, plan: CronJobPlan) -> tuple[Obj, str]:
        """The deletes, then the create; the status they leave and the first failure."""
        status = copy.deepcopy(plan.status)
        for job, why in plan.delete:
            if not self._delete(cronjob, job, status) and why == "replace":
                return status, f"could not replace job {_name(job)}"
        if plan.create is None or plan.scheduled is None:
            return status, ""
        created, failure = self._create(cronjob, plan.create, plan.scheduled)
        if created is not None:
            status = started(status, created, plan.scheduled)
        return status, failure

    def _delete(self, cronjob: Obj, job: Obj, status: Obj) -> bool:
        """deleteJob: the Job (its pods in the background) and its ``active`` reference."""
        try:
            if not writes.delete(self.registry, JOBS, job, propagationPolicy="Background"):
                return False  # another Job has that name now: the next sync looks again
        except errors.ApiError as e:
            self._event(cronjob, "Warning", "FailedDelete", f"Deleted job: {e.message}")
            return False
        refs = [r for r in status.get("active") or [] if r.get("uid") != _uid(job)]
        if refs:
            status["active"] = refs
        else:
            status.pop("active", None)
        self._event(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {_name(job)}")
        return True

    def _create(self, cronjob: Obj, job: Obj, scheduled: dt.datetime) -> tuple[Obj | None, str]:
        """CreateJob; on AlreadyExists, the existing Job if it is ours (a create whose status
        write was lost), else nothing."""
        namespace = owners.namespace_of(cronjob)
        try:
            created, _ = self.registry.create(JOBS, namespace, job)
        except errors.AlreadyExistsError:
            return self._existing(cronjob, _name(job)), ""
        except errors.ApiError as e:
            if isinstance(e, errors.ForbiddenError) and "being terminated" in e.message:
                return None, ""
            self._event(cronjob, "Warning", "FailedCreate", f"Error creating job: {e.message}")
            return None, e.message
        made = meta.parse_time(created["metadata"].get("creationTimestamp"))
        if made is not None:
            CRONJOB_CREATION_SKEW.observe(max(0.0, (made - scheduled).total_seconds()))
        self._event(cronjob, "Normal", "SuccessfulCreate", f"Created job {_name(created)}")
        return created, ""

    def _existing(self, cronjob: Obj, name: str) -> Obj | None:
        try:
            job = self.registry.get(JOBS, owners.namespace_of(cronjob), name)
        except errors.NotFoundError:
            return None
        ref = controller_of(job)
        if ref is None or ref.get("uid") != _uid(cronjob):
            return None  # another actor made it: it keeps the status itself
        log.info("cronjob %s: job %s already exists", _key(cronjob), name)
        return job

    def _event(self, cronjob: Obj, etype: str, reason: str, message: str) -> None:
        events.record(self.registry, cronjob, etype, reason, message, COMPONENT)


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])
