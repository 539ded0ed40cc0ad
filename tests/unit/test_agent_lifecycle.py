"""PodSyncer over the fake runtime: init containers in order, postStart/preStop hooks, sidecars
stopped after the app containers."""

from __future__ import annotations

from typing import Any

from agent import runtime as rt
from agent.fake_runtime import FakeRuntime
from tests.unit import test_agent_sync
from tests.unit.test_agent_sync import NODE, FakeApi, apps, pod_of

env = test_agent_sync.env  # the same PodSyncer over the fake runtime and API

IMAGE = "tinykube/web:1"


def put_pod(api: FakeApi, spec: dict[str, Any], name: str = "web") -> None:
    api.put("pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"nodeName": NODE, "restartPolicy": "Always", **spec},
    })  # fmt: skip


def running(runtime: FakeRuntime) -> list[str]:
    return sorted(c.container_name for c in apps(runtime, "running"))


def by_name(runtime: FakeRuntime, name: str) -> rt.ContainerInfo:
    return next(c for c in apps(runtime) if c.container_name == name)


def test_init_containers_gate_the_app(env) -> None:
    api, runtime, syncer, _ = env
    inits = [{"name": "a", "image": IMAGE}, {"name": "b", "image": IMAGE}]
    put_pod(api, {"initContainers": inits, "containers": [{"name": "main", "image": IMAGE}]})
    syncer.sync(pod_of(api))
    assert running(runtime) == ["a"]
    status = pod_of(api)["status"]
    assert status["phase"] == "Pending"
    assert [s["name"] for s in status["initContainerStatuses"]] == ["a", "b"]
    runtime.exit_container(by_name(runtime, "a").id, 0)
    syncer.sync(pod_of(api))
    assert running(runtime) == ["b"]
    runtime.exit_container(by_name(runtime, "b").id, 0)
    syncer.sync(pod_of(api))
    assert running(runtime) == ["main"]
    status = pod_of(api)["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Initialized"] == "True"


def test_a_failing_post_start_hook_kills_the_container(env) -> None:
    api, runtime, syncer, _ = env
    hook = {"postStart": {"exec": {"command": ["false"]}}}
    put_pod(api, {"containers": [{"name": "main", "image": IMAGE, "lifecycle": hook}]})
    syncer.sync(pod_of(api))
    assert running(runtime) == []
    events = dict(api.events())
    assert events["FailedPostStartHook"].startswith(
        'Exec lifecycle hook ([false]) for Container "main" in Pod "web_default(uid-web)" failed'
    )
    assert events["Killing"] == "FailedPostStartHook"
    state = pod_of(api)["status"]["containerStatuses"][0]["state"]
    assert state["waiting"]["reason"] == "PostStartHookError"


def test_a_succeeding_post_start_hook_runs_in_the_container(env) -> None:
    api, runtime, syncer, _ = env
    hook = {"postStart": {"exec": {"command": ["true"]}}}
    put_pod(api, {"containers": [{"name": "main", "image": IMAGE, "lifecycle": hook}]})
    syncer.sync(pod_of(api))
    assert running(runtime) == ["main"]
    assert [s._command for s in runtime.execs] == [["true"]]


def test_pre_stop_runs_before_the_stop(env) -> None:
    api, runtime, syncer, _ = env
    order: list[str] = []

    def handler(info: rt.ContainerInfo, command: list[str], stdin: bytes):
        order.append(f"exec {info.container_name} {' '.join(command)}")
        return 0, b"", b""

    runtime.exec_handler = handler
    hook = {"preStop": {"exec": {"command": ["drain"]}}}
    put_pod(api, {"containers": [{"name": "main", "image": IMAGE, "lifecycle": hook}]})
    syncer.sync(pod_of(api))
    main = by_name(runtime, "main")
    runtime.calls.clear()
    pod = pod_of(api)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    pod["metadata"]["deletionGracePeriodSeconds"] = 30
    syncer.sync(pod)
    assert order == ["exec main drain"]
    assert ("stop", main.id) in runtime.calls


def test_sidecars_stop_after_the_app_containers_in_reverse_order(env) -> None:
    api, runtime, syncer, _ = env
    sidecars = [{"name": s, "image": IMAGE, "restartPolicy": "Always"} for s in ("s1", "s2")]
    put_pod(api, {"initContainers": sidecars, "containers": [{"name": "main", "image": IMAGE}]})
    for _ in range(3):
        syncer.sync(pod_of(api))
    assert running(runtime) == ["main", "s1", "s2"]
    ids = {c.id: c.container_name for c in apps(runtime)}
    runtime.calls.clear()
    pod = pod_of(api)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    syncer.sync(pod)
    stops = [ids[cid] for call, cid in runtime.calls if call == "stop"]
    assert stops == ["main", "s2", "s1"]
