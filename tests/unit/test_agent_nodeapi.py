"""The node API over the FakeRuntime: auth, log selection, tail, previous and limitBytes."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from agent import podspec
from agent.fake_runtime import FakeRuntime
from agent.nodeapi import NodeApiServer

TOKEN = "node-secret"


@pytest.fixture
def served() -> Iterator[tuple[FakeRuntime, str, dict[str, str]]]:
    runtime = FakeRuntime(("img:1",))
    pod = {
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{"name": "main", "image": "img:1"}]},
    }
    sandbox_image = runtime.ensure_sandbox_image()
    sid = runtime.create_container(podspec.sandbox_spec(pod, 0, "n", "c", sandbox_image))
    runtime.start(sid)
    ids = {}
    for attempt in (0, 1):
        spec = podspec.app_spec(pod, pod["spec"]["containers"][0], attempt, sid, "n", "c")
        cid = runtime.create_container(spec)
        runtime.start(cid)
        runtime.write_log(cid, f"attempt {attempt} line 1\nattempt {attempt} line 2\n".encode())
        if attempt == 0:
            runtime.exit_container(cid, 1)
        ids[str(attempt)] = cid
    server = NodeApiServer(runtime, cluster="c", node="n", token=TOKEN, port=0)
    server.start()
    yield runtime, f"http://127.0.0.1:{server.port}", ids
    server.stop()


def get(url: str, token: str | None = TOKEN) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_healthz_needs_no_token(served) -> None:
    _, base, _ = served
    assert get(f"{base}/healthz", None) == (200, "ok")


@pytest.mark.parametrize("token", [None, "wrong"])
def test_logs_need_the_agent_token(served, token: str | None) -> None:
    _, base, _ = served
    code, _ = get(f"{base}/containerLogs/default/web/main", token)
    assert code == 401


def test_current_previous_tail_and_limit(served) -> None:
    _, base, _ = served
    path = f"{base}/containerLogs/default/web/main"
    assert get(path) == (200, "attempt 1 line 1\nattempt 1 line 2\n")
    assert get(f"{path}?tailLines=1") == (200, "attempt 1 line 2\n")
    assert get(f"{path}?previous=true") == (200, "attempt 0 line 1\nattempt 0 line 2\n")
    assert get(f"{path}?limitBytes=9") == (200, "attempt 1")


def test_previous_is_the_container_the_api_server_names(served) -> None:
    """In CrashLoopBackOff the newest attempt has exited and is the pod's lastState: the API
    server sends its containerID, and that one is served even with no older one left."""
    runtime, base, ids = served
    runtime.exit_container(ids["1"], 2)
    runtime.remove(ids["0"])
    path = f"{base}/containerLogs/default/web/main?previous=true"
    assert get(f"{path}&containerID=docker://{ids['1']}") == (
        200,
        "attempt 1 line 1\nattempt 1 line 2\n",
    )
    code, text = get(f"{path}&containerID=docker://{ids['0']}")  # removed since
    assert (code, text) == (400, 'previous terminated container "main" in pod "web" not found')


def test_unknown_container_and_missing_previous(served) -> None:
    runtime, base, ids = served
    code, text = get(f"{base}/containerLogs/default/web/nope")
    assert code == 400 and 'container "nope" in pod "web"' in text
    runtime.remove(ids["0"])
    code, text = get(f"{base}/containerLogs/default/web/main?previous=true")
    assert code == 400
    assert text == 'previous terminated container "main" in pod "web" not found'
    assert get(f"{base}/other")[0] == 404


def test_metrics_need_the_agent_token(served) -> None:
    _, base, _ = served
    assert get(f"{base}/metrics", None)[0] == 401
    code, text = get(f"{base}/metrics")
    assert code == 200
    assert "# TYPE kubelet_pod_start_duration_seconds histogram" in text
    assert "process_resident_memory_bytes" in text
