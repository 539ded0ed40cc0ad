"""The Job controller, as Kubernetes' (pkg/controller/job): a Job or pod event enqueues the
Job; ``sync(key)`` reads the caches, asks ``plan_job`` what to do and applies it in the order
that makes finalizer-based tracking safe across restarts: the status listing the finished pods
as uncounted first, then their ``batch.kubernetes.io/job-tracking`` finalizers removed, then the
status with them counted (and the terminal condition); creates and deletes of pods after that.
The TTL-after-finished controller deletes a finished Job once ``ttlSecondsAfterFinished`` has
passed. Writes go through the registry. Shell.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from common import batch, errors, meta
from common import conditions as cond
from common.controller import Controller
from common.informer import Handler
from common.resources import must
from common.wellknown import JOB_TRACKING_FINALIZER
from control import events
from control.controllers import owners, writes
from control.controllers.job_count import flush_uncounted
from control.controllers.job_plan import BACKOFF_BASE, JobPlan, finish, plan_job
from control.controllers.ownership import controller_of
from control.controllers.owning import OwnerController
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS, JOBS = must("pods"), must("jobs")
KIND = "Job"
COMPONENT = "job-controller"
# The spec.managedBy value of the Jobs this controller runs (unset: also this one).
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
# kube-controller-manager's --concurrent-job-syncs.
WORKERS = 5

Obj = dict[str, Any]


def _key(obj: Obj) -> str:
    return f"{owners.namespace_of(obj)}/{obj['metadata']['name']}"


# The queue key of a pod whose Job is gone (Job keys never hold a colon).
ORPHAN_PREFIX = "pod:"


def _held(pod: Obj) -> bool:
    return JOB_TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def _orphan(pod: Obj) -> bool:
    """A pod a Job controlled that still holds the tracking finalizer."""
    ref = controller_of(pod) or {}
    return _held(pod) and ref.get("kind") == KIND


def _rv(obj: Obj) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class JobController(OwnerController):
    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
        workers: int = WORKERS,
        backoff_base: float = BACKOFF_BASE,
    ) -> None:
        super().__init__("job", KIND, registry, informers, "jobs", clock=clock, workers=workers)
        self.backoff_base = backoff_base
        self._lock = threading.Lock()
        # Per Job key: the resourceVersion of its last status write, and the pods whose
        # tracking finalizer this controller removed and its cache still shows.
        self._written: dict[str, int] = {}
        self._released: dict[str, set[str]] = {}
        self.jobs = self.owner_cache
        pods = informers.informer("pods", owners.INDEXERS)
        self.pods = pods.store
        pods.add_handler(Handler(self._add_pod, self._update_pod, self._gone))

    def owner_deleted(self, job: Obj) -> None:
        super().owner_deleted(job)
        for pod in owners.owned(self.pods, job):  # nobody will count them now
            if _orphan(pod):
                self.queue.add(ORPHAN_PREFIX + _key(pod))

    def _job_of(self, pod: Obj) -> Obj | None:
        return self.owner_of(pod)

    def _add_pod(self, pod: Obj) -> None:
        job = self._job_of(pod)
        if job is not None:
            self.expectations.creation_observed(_key(job))
        self._on_pod(pod)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if cur["metadata"].get("deletionTimestamp") and not old["metadata"].get(
            "deletionTimestamp"
        ):
            self._gone(cur)
        self._on_pod(cur)

    def _on_pod(self, pod: Obj) -> None:
        job = self._job_of(pod)
        if job is not None:
            self.queue.add(_key(job))
        elif _orphan(pod):  # its Job is gone: nobody will count it
            self.queue.add(ORPHAN_PREFIX + _key(pod))

    def _gone(self, pod: Obj) -> None:
        job = self._job_of(pod)
        if job is not None:
            self.expectations.deletion_observed(_key(job), _key(pod))
            self.queue.add(_key(job))

    # -- the sync -------------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        if key.startswith(ORPHAN_PREFIX):
            self._release_orphan(key.removeprefix(ORPHAN_PREFIX))
            return
        job = self.jobs.get(key)
        if job is None:
            self.expectations.delete(key)
            self._forget(key)
            return
        managed_by = (job.get("spec") or {}).get("managedBy")
        if managed_by not in (None, JOB_CONTROLLER_NAME):
            return  # another controller runs this Job
        pods = owners.owned(self.pods, job)
        if not self._caught_up(key, job, pods):
            return  # the events of this controller's own writes will bring the key back
        now = self.clock()
        plan = plan_job(job, pods, now, self.backoff_base)
        needs_sync = self.expectations.satisfied(key)
        written = writes.write_status(self.registry, JOBS, job, plan.status)
        if written is None:
            raise errors.ConflictError(f"job {key}: changed while its status was written")
        self._wrote(key, written)
        still = self._remove_finalizers(plan.finalize)
        self._released_by(key, {str(p["metadata"].get("uid")) for p in plan.finalize} - still)
        final = finish(flush_uncounted(plan.status, still), plan, now)
        done = writes.write_status(self.registry, JOBS, written, final)
        if done is None:
            raise errors.ConflictError(f"job {key}: changed while its status was written")
        self._wrote(key, done)
        self._events(job, plan, final)
        if needs_sync and not batch.is_finished({"status": final}):
            self._manage(key, job, plan)
        if plan.requeue_after is not None:
            self.queue.add_after(key, max(0.0, plan.requeue_after))

    # -- what the caches must show before a sync may count (finalizer expectations) ------------

    def _caught_up(self, key: str, job: Obj, pods: list[Obj]) -> bool:
        """Whether the caches show this controller's own last writes for the Job: its status
        and the finalizers it removed. A sync from caches behind them could count a finished
        pod twice (its finalizer seemingly still there) or make one pod too many (the count
        seemingly lower), as Kubernetes' finalizer expectations prevent."""
        with self._lock:
            if _rv(job) < self._written.get(key, 0):
                return False
            released = self._released.get(key)
            if not released:
                return True
            released &= {str(p["metadata"].get("uid")) for p in pods if _held(p)}
            if released:
                return False
            del self._released[key]
            return True

    def _wrote(self, key: str, job: Obj) -> None:
        with self._lock:
            self._written[key] = max(self._written.get(key, 0), _rv(job))

    def _released_by(self, key: str, uids: set[str]) -> None:
        if uids:
            with self._lock:
                self._released.setdefault(key, set()).update(uids)

    def _forget(self, key: str) -> None:
        with self._lock:
            self._written.pop(key, None)
            self._released.pop(key, None)

    def _remove_finalizers(self, pods: list[Obj]) -> set[str]:
        """Remove the tracking finalizer of each pod; the uids of those that still hold it."""
        still: set[str] = set()
        for pod in pods:
            m = pod["metadata"]
            finalizers = [f for f in m.get("finalizers") or [] if f != JOB_TRACKING_FINALIZER]
            patch = {
                "metadata": {"finalizers": finalizers, "resourceVersion": m.get("resourceVersion")}
            }
            try:
                self.registry.patch(PODS, owners.namespace_of(pod), str(m["name"]), patch,
                                    "application/merge-patch+json")  # fmt: skip
            except errors.NotFoundError:
                continue
            except errors.ApiError as e:
                log.info("job pod %s: finalizer not removed: %s", _key(pod), e.message)
                still.add(str(m.get("uid")))
        return still

    def _release_orphan(self, pod_key: str) -> None:
        """The pod's Job is gone (or is another one of the same name): its tracking finalizer
        must not keep it forever."""
        pod = self.pods.get(pod_key)
        if pod is not None and _orphan(pod) and self._job_of(pod) is None:
            self._remove_finalizers([pod])

    def _manage(self, key: str, job: Obj, plan: JobPlan) -> None:
        if plan.create:
            self.expectations.expect_creations(key, len(plan.create))
        failure = ""
        for pod in plan.create:
            try:
                created, _ = self.registry.create(PODS, owners.namespace_of(job), pod)
            except errors.ApiError as e:
                self.expectations.creation_observed(key)
                self._event(job, "Warning", "FailedCreate", f"Error creating: {e.message}")
                failure = failure or e.message
                continue
            self._event(
                job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}"
            )
        doomed = plan.delete
        if plan.release:  # pods in excess: not failures, so not counted once deleted
            still = self._remove_finalizers([p for p in doomed if _held(p)])
            doomed = [p for p in doomed if str(p["metadata"].get("uid")) not in still]
        if doomed:
            self.expectations.expect_deletions(key, [_key(p) for p in doomed])
        for pod in doomed:
            if writes.delete(self.registry, PODS, pod):
                self._event(
                    job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}"
                )
            else:
                self.expectations.deletion_observed(key, _key(pod))
        if failure:
            raise writes.SyncError(failure)

    def _events(self, job: Obj, plan: JobPlan, final: Obj) -> None:
        for etype, reason, message in plan.events:
            self._event(job, etype, reason, message)
        ended = not batch.is_finished(job) and batch.is_finished({"status": final})
        if plan.terminal is not None and ended:
            kind, reason, message = plan.terminal
            if kind == batch.COMPLETE:
                self._event(job, "Normal", "Completed", "Job completed")
            else:
                self._event(job, "Warning", reason, message)

    def _event(self, job: Obj, etype: str, reason: str, message: str) -> None:
        events.record(self.registry, job, etype, reason, message, COMPONENT)


def finished_at(job: Obj) -> dt.datetime | None:
    """When the Job got its Complete or Failed condition."""
    for kind in (batch.COMPLETE, batch.FAILED_CONDITION):
        c = cond.find((job.get("status") or {}).get("conditions"), kind)
        if c is not None and c.get("status") == "True":
            return meta.parse_time(c.get("lastTransitionTime"))
    return None


class TTLAfterFinishedController(Controller):
    """pkg/controller/ttlafterfinished: a finished Job with ``ttlSecondsAfterFinished`` is
    deleted (its pods with it, in the background) once that many seconds have passed."""

    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        super().__init__("ttl-after-finished", self.sync, initial=self._all_keys)
        self.registry, self.clock = registry, clock
        jobs = informers.informer("jobs", owners.INDEXERS)
        self.jobs = jobs.store
        jobs.add_handler(self.handler())

    def _all_keys(self) -> list[str]:
        return self.jobs.keys()

    def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        done = finished_at(job)
        if ttl is None or done is None:
            return
        left = (done + dt.timedelta(seconds=int(ttl)) - self.clock()).total_seconds()
        if left > 0:
            self.queue.add_after(key, left)
            return
        writes.delete(self.registry, JOBS, job, propagationPolicy="Background")
