"""PodSyncer over the in-memory FakeRuntime and an in-memory API: the whole sync of one pod."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent import runtime as rt
from agent.events import EventRecorder
from agent.fake_runtime import FakeRuntime
from agent.planner import BackoffPolicy
from agent.sync import PodSyncer
from common import errors

NODE, CLUSTER = "node-a", "cluster-1"


class FakeApi:
    """Just enough of ApiClient for the syncer: pods with resourceVersion CAS, events."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rv = itertools.count(1)
        self.writes: list[tuple[str, str]] = []
        self.deletes: list[dict[str, Any]] = []
        self.conflict_next_update = False

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        meta = obj["metadata"]
        self.objects[(plural, meta.get("namespace", ""), meta["name"])] = obj
        return copy.deepcopy(obj)

    def get(self, rt_: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        obj = self.objects.get((rt_.plural, namespace or "", name))
        if obj is None:
            raise errors.NotFoundError(f'{rt_.plural} "{name}" not found')
        return copy.deepcopy(obj)

    def create(self, rt_: Any, obj: dict[str, Any], namespace: str | None = None):
        self.writes.append(("create", rt_.plural))
        return self.put(rt_.plural, obj)

    def update(self, rt_: Any, obj: dict[str, Any], namespace: str | None = None, sub=None):
        self.writes.append(("update", f"{rt_.plural}/{sub}"))
        current = self.get(rt_, obj["metadata"]["name"], namespace)
        if self.conflict_next_update:
            self.conflict_next_update = False
            self.put(rt_.plural, current)  # someone else wrote meanwhile
            raise errors.ConflictError("the object has been modified")
        if current["metadata"]["resourceVersion"] != obj["metadata"].get("resourceVersion"):
            raise errors.ConflictError("the object has been modified")
        if sub == "status":
            current["status"] = copy.deepcopy(obj["status"])
            return self.put(rt_.plural, current)
        return self.put(rt_.plural, obj)

    def patch(self, rt_: Any, name: str, patch: Any, namespace: str | None = None, **kw: Any):
        obj = self.get(rt_, name, namespace)
        obj.update(patch)
        return self.put(rt_.plural, obj)

    def delete(self, rt_: Any, name: str, namespace: str | None = None, **kw: Any):
        self.deletes.append({"name": name, **kw})
        self.objects.pop((rt_.plural, namespace or "", name), None)
        return {"kind": "Status", "status": "Success"}

    def events(self) -> list[tuple[str, str]]:
        return [(o["reason"], o["message"]) for k, o in self.objects.items() if k[0] == "events"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def env():
    clock = Clock()
    api = FakeApi()
    runtime = FakeRuntime(("tinykube/web:1", "tinykube/crasher:1"), clock=clock)
    syncer = PodSyncer(
        api,  # type: ignore[arg-type]
        runtime,
        EventRecorder(api, NODE),  # type: ignore[arg-type]
        node=NODE,
        cluster=CLUSTER,
        host_ip="192.168.1.5",
        policy=BackoffPolicy(base=10, cap=40, reset=600),
        clock=clock,
    )
    return api, runtime, syncer, clock


def add_pod(api: FakeApi, image: str = "tinykube/web:1", policy: str = "Always", name="web"):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {
            "nodeName": NODE,
            "restartPolicy": policy,
            "containers": [{"name": "main", "image": image}],
        },
    }
    return api.put("pods", pod)


def pod_of(api: FakeApi, name: str = "web") -> dict[str, Any]:
    return copy.deepcopy(api.objects[("pods", "default", name)])


def main_status(api: FakeApi, name: str = "web") -> dict[str, Any]:
    return pod_of(api, name)["status"]["containerStatuses"][0]


def apps(runtime: FakeRuntime, state: str | None = None) -> list[rt.ContainerInfo]:
    return [c for c in runtime.containers() if c.role == "app" and state in (None, c.state)]


def test_new_pod_runs_and_reports(env) -> None:
    api, runtime, syncer, _ = env
    add_pod(api)
    result = syncer.sync(pod_of(api))
    assert result.requeue_after is None
    (sandbox,) = [c for c in runtime.containers() if c.role == "sandbox"]
    (app,) = apps(runtime)
    assert app.state == "running" and app.sandbox_id == sandbox.id
    assert app.labels[rt.NODE_LABEL] == NODE and app.labels[rt.CLUSTER_LABEL] == CLUSTER
    status = pod_of(api)["status"]
    assert status["phase"] == "Running" and status["podIP"] == sandbox.ip
    assert main_status(api)["containerID"] == f"docker://{app.id}"
    reasons = [r for r, _ in api.events()]
    assert reasons == ["Pulled", "Created", "Started"]
    assert ("Pulled", 'Container image "tinykube/web:1" already present on machine') in api.events()
    assert ("Created", "Created container: main") in api.events()
    # A second sync changes nothing and writes nothing.
    writes = len(api.writes)
    syncer.sync(pod_of(api))
    assert len(api.writes) == writes
    assert len(runtime.containers()) == 2


def test_rm_f_is_healed_with_a_new_attempt(env) -> None:
    api, runtime, syncer, _ = env
    add_pod(api)
    syncer.sync(pod_of(api))
    (first,) = apps(runtime)
    runtime.kill_externally(first.id)
    syncer.sync(pod_of(api))
    (second,) = apps(runtime)
    assert second.attempt == 1 and second.state == "running"
    cs = main_status(api)
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert cs["lastState"]["terminated"]["exitCode"] == 137


def test_rm_f_under_never_still_restarts(env) -> None:
    api, runtime, syncer, _ = env
    add_pod(api, policy="Never")
    syncer.sync(pod_of(api))
    runtime.kill_externally(apps(runtime)[0].id)
    syncer.sync(pod_of(api))
    assert [c.attempt for c in apps(runtime, "running")] == [1]


def test_crash_loop_backs_off(env) -> None:
    api, runtime, syncer, clock = env
    runtime.exit_on_start("tinykube/crasher:1", 1)
    add_pod(api, image="tinykube/crasher:1")
    syncer.sync(pod_of(api))  # attempt 0 exits at once
    result = syncer.sync(pod_of(api))  # first restart is immediate: attempt 1 exits too
    assert result.requeue_after is None
    result = syncer.sync(pod_of(api))
    assert result.requeue_after == pytest.approx(10)
    cs = main_status(api)
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["restartCount"] == 1
    assert pod_of(api)["status"]["phase"] == "Running"
    assert any(r == "BackOff" for r, _ in api.events())
    clock.advance(10)
    syncer.sync(pod_of(api))
    assert main_status(api)["restartCount"] == 2
    result = syncer.sync(pod_of(api))
    assert result.requeue_after == pytest.approx(20)
    # Only the two newest exited containers are kept (logs --previous reads the lastState one).
    assert len(apps(runtime)) == 2


def test_image_pull_error_then_backoff(env) -> None:
    api, runtime, syncer, clock = env
    add_pod(api, image="127.0.0.1:1/missing:1")
    result = syncer.sync(pod_of(api))
    assert result.requeue_after == pytest.approx(1)  # ErrImagePull shows for a moment
    cs = main_status(api)
    assert cs["state"]["waiting"]["reason"] == "ErrImagePull"
    assert pod_of(api)["status"]["phase"] == "Pending"
    assert ("Pulling", 'Pulling image "127.0.0.1:1/missing:1"') in api.events()
    assert ("Failed", "Error: ErrImagePull") in api.events()
    syncer.sync(pod_of(api))  # another sync at once (a Docker event): still ErrImagePull
    assert main_status(api)["state"]["waiting"]["reason"] == "ErrImagePull"
    clock.advance(1)
    result = syncer.sync(pod_of(api))
    assert main_status(api)["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert result.requeue_after == pytest.approx(9)  # the rest of the 10 s back-off
    runtime.allow_pull("127.0.0.1:1/missing:1")
    clock.advance(10)
    syncer.sync(pod_of(api))
    assert "running" in main_status(api)["state"]


def test_never_pull_policy_of_missing_image(env) -> None:
    api, _, syncer, _ = env
    pod = add_pod(api, image="tinykube/absent:1")
    pod["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    api.put("pods", pod)
    syncer.sync(pod_of(api))
    assert main_status(api)["state"]["waiting"]["reason"] == "ErrImageNeverPull"


def test_offline_fallback_uses_local_image_with_a_warning(env) -> None:
    api, runtime, syncer, _ = env
    runtime.add_image("tinykube/app:latest")
    add_pod(api, image="tinykube/app:latest")  # policy Always
    syncer.sync(pod_of(api))
    assert "running" in main_status(api)["state"]
    events = {o["reason"]: o for k, o in api.objects.items() if k[0] == "events"}
    assert events["PulledFromLocal"]["type"] == "Warning"


def test_offline_fallback_can_be_turned_off(env) -> None:
    api, runtime, syncer, _ = env
    runtime.offline_fallback = False
    runtime.add_image("tinykube/app:latest")
    add_pod(api, image="tinykube/app:latest")
    syncer.sync(pod_of(api))
    assert main_status(api)["state"]["waiting"]["reason"] == "ErrImagePull"


def test_deletion_stops_removes_and_deletes_with_uid_precondition(env) -> None:
    api, runtime, syncer, _ = env
    add_pod(api)
    syncer.sync(pod_of(api))
    pod = pod_of(api)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:30Z"
    pod["metadata"]["deletionGracePeriodSeconds"] = 30
    result = syncer.sync(pod)
    assert result.deleted
    assert runtime.containers() == []
    assert api.deletes == [
        {"name": "web", "grace_period_seconds": 0, "preconditions": {"uid": "uid-web"}}
    ]
    assert ("Killing", "Stopping container main") in api.events()


def test_orphans_are_removed_but_foreign_containers_are_not(env) -> None:
    api, runtime, syncer, _ = env
    add_pod(api, name="keep")
    add_pod(api, name="gone")
    syncer.sync(pod_of(api, "keep"))
    syncer.sync(pod_of(api, "gone"))
    # A container of another cluster on the same engine must never be touched.
    foreign = runtime.create_container(
        rt.CreateSpec(
            name="other",
            image="tinykube/web:1",
            role="sandbox",
            labels={rt.CLUSTER_LABEL: "other", rt.NODE_LABEL: NODE, rt.POD_UID: "uid-gone"},
        )
    )
    assert syncer.cleanup_orphans({"uid-keep"}) == 1
    uids = {c.pod_uid for c in runtime.containers()}
    assert uids == {"uid-keep", "uid-gone"}  # uid-gone left only in the foreign container
    assert runtime.inspect(foreign).labels[rt.CLUSTER_LABEL] == "other"


def test_status_conflict_is_retried_on_a_fresh_read(env) -> None:
    api, _, syncer, _ = env
    add_pod(api)
    api.conflict_next_update = True
    syncer.sync(pod_of(api))
    assert pod_of(api)["status"]["phase"] == "Running"


def test_sandbox_removed_restarts_the_pod(env) -> None:
    api, runtime, syncer, _ = env
    add_pod(api)
    syncer.sync(pod_of(api))
    (sandbox,) = [c for c in runtime.containers() if c.role == "sandbox"]
    runtime.exit_container(sandbox.id, 137)  # `docker kill` of the pause container
    syncer.sync(pod_of(api))
    sandboxes = [c for c in runtime.containers() if c.role == "sandbox" and c.state == "running"]
    assert [s.attempt for s in sandboxes] == [1]
    running = apps(runtime, "running")
    assert len(running) == 1 and running[0].sandbox_id == sandboxes[0].id
    assert running[0].attempt == 1
    msg = "Pod sandbox changed, it will be killed and re-created."
    assert ("SandboxChanged", msg) in api.events()
    runtime.kill_externally(sandboxes[0].id)  # `docker rm -f` of the pause container
    syncer.sync(pod_of(api))
    running = apps(runtime, "running")
    assert len(running) == 1 and running[0].attempt == 2
    sandboxes = [c for c in runtime.containers() if c.role == "sandbox" and c.state == "running"]
    assert len(sandboxes) == 1 and running[0].sandbox_id == sandboxes[0].id


def test_repeated_events_are_counted_not_duplicated(env) -> None:
    api, _, syncer, _ = env
    pod = add_pod(api)
    for _ in range(3):
        syncer.recorder.record(pod, "BackOff", "Back-off restarting", "Warning", "main")
    (event,) = [o for k, o in api.objects.items() if k[0] == "events"]
    assert event["count"] == 3
    assert event["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert event["source"] == {"component": "kubelet", "host": NODE}
    assert event["metadata"]["name"].startswith("web.")
