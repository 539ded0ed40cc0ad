"""PodSyncer over the fake runtime: init containers in order, postStart/preStop hooks, sidecars
stopped after the app containers."""

from __future__ import annotations

from typing import Any

import pytest

from agent import docker_inspect
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


def _crash(runtime: FakeRuntime, api: FakeApi, syncer: Any, container: dict[str, Any]) -> Any:
    put_pod(api, {"restartPolicy": "Never", "containers": [container]})
    syncer.sync(pod_of(api))
    return by_name(runtime, "main")


def test_the_termination_message_file_is_read_from_the_stopped_container(env) -> None:
    api, runtime, syncer, _ = env
    main = _crash(runtime, api, syncer, {"name": "main", "image": IMAGE,
                                         "terminationMessagePath": "/tmp/why"})  # fmt: skip
    runtime.files[(main.id, "/tmp/why")] = b"disk full"
    runtime.exit_container(main.id, 3)
    syncer.sync(pod_of(api))
    term = pod_of(api)["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"], term["message"]) == (3, "Error", "disk full")


@pytest.mark.parametrize(("code", "message"), [(2, "line 2\nline 3\n"), (0, None)])
def test_fallback_to_logs_on_error_only_on_error(env, code: int, message: str | None) -> None:
    api, runtime, syncer, _ = env
    policy = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    main = _crash(runtime, api, syncer, {"name": "main", "image": IMAGE, **policy})
    runtime.write_log(main.id, b"line 1\n" + b"x" * 3000 + b"\nline 2\nline 3\n")
    runtime.exit_container(main.id, code)
    syncer.sync(pod_of(api))
    term = pod_of(api)["status"]["containerStatuses"][0]["state"]["terminated"]
    got = term.get("message")
    if message is None:
        assert got is None
    else:
        assert len(got) == 2048 and got.endswith(message)


def test_tar_file_reads_the_first_file_of_an_archive() -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("why")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    assert docker_inspect.tar_file(buf.getvalue(), 3) == b"hel"
    assert docker_inspect.tar_file(b"not a tar", 10) is None


def test_a_pod_past_its_active_deadline_fails_and_is_stopped(env) -> None:
    api, runtime, syncer, clock = env
    put_pod(api, {"activeDeadlineSeconds": 30, "containers": [{"name": "main", "image": IMAGE}]})
    result = syncer.sync(pod_of(api))
    assert running(runtime) == ["main"]
    assert result.requeue_after == pytest.approx(30)
    clock.advance(31)
    syncer.sync(pod_of(api))
    status = pod_of(api)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")
    assert status["message"] == "Pod was active on the node longer than the specified deadline"
    assert running(runtime) == []
    assert ("DeadlineExceeded", status["message"]) in api.events()


def test_deadline_remaining() -> None:
    from datetime import UTC, datetime

    from agent import deadline

    now = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)
    pod = {"spec": {"activeDeadlineSeconds": 5}, "status": {"startTime": "2026-01-01T12:00:00Z"}}
    assert deadline.remaining(pod, now) == -5
    assert deadline.remaining({"spec": {}, "status": pod["status"]}, now) is None
    assert deadline.remaining({"spec": pod["spec"], "status": {}}, now) is None
