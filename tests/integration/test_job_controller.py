"""The Job controller over the real API server's registry and Redis, driven step by step
(informers pumped, queue drained); pod phases are written through the API as an agent would:
status accounting, Indexed Jobs, the back-off limit, the pod failure policy, suspension, TTL,
and a controller that dies in the middle of counting."""

from __future__ import annotations

from typing import Any

import pytest

from common import meta
from common.resources import must
from control.controllers.job import JobController, TTLAfterFinishedController
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump

JOBS, PODS = must("jobs"), must("pods")
FINALIZER = "batch.kubernetes.io/job-tracking"
Obj = dict[str, Any]


class Plane:
    """One controller process: its informers and Job controller."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.informers = SharedInformers(registry)
        self.jobs = JobController(registry, self.informers, backoff_base=0)
        self.ttl = TTLAfterFinishedController(registry, self.informers)

    def step(self, times: int = 3) -> None:
        for _ in range(times):
            pump(self.informers)
            drain(self.jobs)
            drain(self.ttl)


@pytest.fixture
def registry(app: Any) -> Registry:
    reg: Registry = app.extensions["tinykube"]["registry"]
    return reg


def job(name: str = "pi", **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "tinykube/sleeper:1"}],
                }
            },
            **spec,
        },
    }


def pods(reg: Registry, name: str = "pi") -> list[Obj]:
    items = reg.list(PODS, "default")["items"]
    return [p for p in items if p["metadata"].get("labels", {}).get("job-name") == name]


def active(reg: Registry, name: str = "pi") -> list[Obj]:
    return [
        p
        for p in pods(reg, name)
        if p["status"].get("phase") not in ("Succeeded", "Failed")
        and not p["metadata"].get("deletionTimestamp")
    ]


def finish(reg: Registry, pod: Obj, phase: str, code: int = 0, **extra: Any) -> None:
    """What the agent writes when the pod's container has exited."""
    fresh = reg.get(PODS, "default", pod["metadata"]["name"])
    stamp = meta.timestamp()
    fresh["status"] = {
        **fresh["status"],
        "phase": phase,
        "containerStatuses": [{"name": "main", "ready": False, "restartCount": 0, "image": "x",
                               "imageID": "", "state": {"terminated": {
                                   "exitCode": code, "finishedAt": stamp, "startedAt": stamp}}}],
        **extra,
    }  # fmt: skip
    reg.replace(PODS, "default", fresh["metadata"]["name"], fresh, sub="status")


def status(reg: Registry, name: str = "pi") -> Obj:
    got: Obj = reg.get(JOBS, "default", name).get("status") or {}
    return got


def condition(reg: Registry, kind: str, name: str = "pi") -> Obj | None:
    for c in status(reg, name).get("conditions") or []:
        if c["type"] == kind:
            return dict(c)
    return None


def test_completions_and_parallelism_are_counted_once(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(completions=3, parallelism=2))
    plane.step()
    running = active(registry)
    assert len(running) == 2
    pod = running[0]
    assert FINALIZER in pod["metadata"]["finalizers"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert status(registry)["active"] == 2 and status(registry).get("startTime")
    finish(registry, running[0], "Succeeded")
    plane.step()
    st = status(registry)
    assert (st["succeeded"], st["active"], st["uncountedTerminatedPods"]) == (1, 2, {})
    done = registry.get(PODS, "default", running[0]["metadata"]["name"])
    assert FINALIZER not in (done["metadata"].get("finalizers") or [])
    for p in active(registry):
        finish(registry, p, "Succeeded")
    plane.step()
    st = status(registry)
    assert st["succeeded"] == 3 and st["active"] == 0
    complete = condition(registry, "Complete")
    assert complete is not None and complete["reason"] == "CompletionsReached"
    assert condition(registry, "SuccessCriteriaMet") is not None
    assert st.get("completionTime")
    assert len(pods(registry)) == 3  # no extra pod


def test_indexed_job_gives_each_pod_its_index(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(completions=3, parallelism=2, completionMode="Indexed"))
    plane.step()
    running = sorted(active(registry), key=lambda p: p["metadata"]["name"])
    indexes = [
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in running
    ]
    assert indexes == ["0", "1"]
    assert running[1]["spec"]["hostname"] == "pi-1"
    assert running[1]["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "1"
    env = running[1]["spec"]["containers"][0]["env"][0]
    assert env["name"] == "JOB_COMPLETION_INDEX"
    assert "job-completion-index" in env["valueFrom"]["fieldRef"]["fieldPath"]
    finish(registry, running[1], "Succeeded")
    plane.step()
    assert status(registry)["completedIndexes"] == "1"
    names = {
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        for p in active(registry)
    }
    assert names == {"0", "2"}
    for p in active(registry):
        finish(registry, p, "Succeeded")
    plane.step()
    assert status(registry)["completedIndexes"] == "0-2"
    assert condition(registry, "Complete") is not None


def test_backoff_limit_fails_the_job_and_creates_no_more_pods(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(backoffLimit=1))
    plane.step()
    finish(registry, active(registry)[0], "Failed", 1)
    plane.step()
    assert status(registry)["failed"] == 1
    assert len(active(registry)) == 1  # replaced
    finish(registry, active(registry)[0], "Failed", 1)
    plane.step()
    failed = condition(registry, "Failed")
    assert failed is not None and failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    target = condition(registry, "FailureTarget")
    assert target is not None and target["reason"] == "BackoffLimitExceeded"
    assert status(registry)["failed"] == 2
    plane.step()
    assert len(pods(registry)) == 2 and active(registry) == []


def test_pod_failure_policy_fails_on_exit_code_and_ignores_disruption(registry: Registry) -> None:
    plane = Plane(registry)
    policy = {"rules": [
        {"action": "FailJob",
     "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    ]}  # fmt: skip
    registry.create(JOBS, "default", job(podFailurePolicy=policy))
    plane.step()
    disrupted = [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                  "lastTransitionTime": meta.timestamp()}]  # fmt: skip
    finish(registry, active(registry)[0], "Failed", 137, conditions=disrupted)
    plane.step()
    assert int(status(registry).get("failed") or 0) == 0  # ignored, not counted
    assert len(active(registry)) == 1
    pod = active(registry)[0]
    finish(registry, pod, "Failed", 42)
    plane.step()
    failed = condition(registry, "Failed")
    assert failed is not None and failed["reason"] == "PodFailurePolicy"
    assert failed["message"] == (
        f"Container main for pod default/{pod['metadata']['name']} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )


def test_suspend_creates_nothing_and_resume_starts_pods(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(suspend=True, parallelism=2, completions=2))
    plane.step()
    assert pods(registry) == []
    suspended = condition(registry, "Suspended")
    assert suspended is not None and suspended["status"] == "True"
    assert suspended["reason"] == "JobSuspended"
    obj = registry.get(JOBS, "default", "pi")
    obj["spec"]["suspend"] = False
    registry.replace(JOBS, "default", "pi", obj)
    plane.step()
    assert len(active(registry)) == 2
    resumed = condition(registry, "Suspended")
    assert (
        resumed is not None and resumed["status"] == "False" and resumed["reason"] == "JobResumed"
    )
    obj = registry.get(JOBS, "default", "pi")
    obj["spec"]["suspend"] = True
    registry.replace(JOBS, "default", "pi", obj)
    plane.step()
    assert active(registry) == []  # deleted while suspended
    assert status(registry)["active"] == 0


def test_ttl_after_finished_deletes_the_job(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(ttlSecondsAfterFinished=0))
    plane.step()
    finish(registry, active(registry)[0], "Succeeded")
    plane.step()
    assert registry.list(JOBS, "default")["items"] == []


def test_a_restart_in_the_middle_creates_no_extra_pod_and_loses_no_completion(
    registry: Registry,
) -> None:
    first = Plane(registry)
    registry.create(JOBS, "default", job(completions=2, parallelism=1))
    first.step()
    pod = active(registry)[0]
    finish(registry, pod, "Succeeded")

    def die(_pods: list[Obj]) -> set[str]:
        raise SystemExit("the controller process is killed")

    first.jobs._remove_finalizers = die  # type: ignore[method-assign]
    pump(first.informers)
    with pytest.raises(SystemExit):
        first.jobs.sync("default/pi")
    # It died after listing the pod as uncounted, before removing its finalizer.
    assert status(registry)["uncountedTerminatedPods"] == {"succeeded": [pod["metadata"]["uid"]]}
    second = Plane(registry)
    second.step()
    st = status(registry)
    assert st["succeeded"] == 1 and st["uncountedTerminatedPods"] == {}
    assert len(pods(registry)) == 2  # the finished one and one replacement, nothing more
    third = Plane(registry)  # another restart: the count stays
    third.step()
    assert status(registry)["succeeded"] == 1 and len(pods(registry)) == 2
    finish(registry, active(registry)[0], "Succeeded")
    third.step()
    assert status(registry)["succeeded"] == 2
    assert condition(registry, "Complete") is not None


def test_pods_of_a_deleted_job_lose_their_finalizer_and_go(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(parallelism=2, completions=2))
    plane.step()
    assert len(active(registry)) == 2
    registry.delete(JOBS, "default", "pi", {"propagationPolicy": "Background"})
    for pod in pods(registry):  # what the garbage collector then does
        registry.delete(PODS, "default", pod["metadata"]["name"], {})
    assert len(pods(registry)) == 2  # held by the tracking finalizer
    registry.create(JOBS, "default", job(completions=0))  # another Job of the same name
    plane.step()
    assert pods(registry) == []


def test_a_job_managed_by_another_controller_is_left_alone(registry: Registry) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job(managedBy="example.com/queue"))
    registry.create(JOBS, "default", job("ours", managedBy="kubernetes.io/job-controller"))
    plane.step()
    assert pods(registry) == [] and status(registry) == {}
    assert len(pods(registry, "ours")) == 1


def test_a_sync_from_a_job_cache_behind_its_own_writes_neither_recounts_nor_recreates(
    registry: Registry,
) -> None:
    plane = Plane(registry)
    registry.create(JOBS, "default", job())
    plane.step()
    finish(registry, active(registry)[0], "Succeeded")
    pod_informer = plane.informers.informer("pods")
    pod_informer._relist()  # the pods' cache moves on; the Jobs' cache stays behind
    drain(plane.jobs)  # counts the pod: status written, finalizer removed
    assert status(registry)["succeeded"] == 1
    pod_informer._relist()  # sees the finalizer gone; the Job still looks uncounted
    plane.jobs.queue.add("default/pi")
    drain(plane.jobs)
    assert len(pods(registry)) == 1  # no second pod from a stale count
    plane.step()
    assert status(registry)["succeeded"] == 1
    assert condition(registry, "Complete") is not None
    assert len(pods(registry)) == 1
