"""Lifecycle hook handlers (agent.hooks) over the fake runtime and a local HTTP server: exec,
httpGet and sleep, the kubelet's failure messages, and a preStop bounded by the grace period."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent import runtime as rt
from agent.fake_runtime import FakeRuntime
from agent.hooks import MIN_GRACE_SECONDS, HookRunner
from agent.runtime import CreateSpec

POD = {"metadata": {"name": "p", "namespace": "d", "uid": "u"}}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def record(self, pod: Any, reason: str, message: str, *args: Any) -> None:
        self.events.append((reason, message))


@pytest.fixture
def server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def running(runtime: FakeRuntime) -> str:
    sandbox = runtime.create_container(CreateSpec("POD", "tinykube/web:1", {}, "sandbox"))
    runtime.start(sandbox)
    labels = {rt.SANDBOX_ID: sandbox}
    cid = runtime.create_container(CreateSpec("c", "tinykube/web:1", labels, "app"))
    runtime.start(cid)
    return cid


def test_http_get_hooks(server: int) -> None:
    runtime = FakeRuntime(("tinykube/web:1",))
    hooks = HookRunner(runtime, Recorder())  # type: ignore[arg-type]
    cid = running(runtime)
    ok = {"httpGet": {"path": "/ok", "port": server, "host": "127.0.0.1"}}
    assert hooks.run(ok, POD, {"name": "c"}, cid, "127.0.0.1", 2) is None
    bad = {"httpGet": {"path": "/bad", "port": server}}
    message = hooks.run(bad, POD, {"name": "c"}, cid, "127.0.0.1", 2)
    assert message == (
        'HTTP lifecycle hook (/bad) for Container "c" in Pod "p_d(u)" failed - error: '
        "HTTP probe failed with statuscode: 500"
    )


def test_a_sleep_hook_sleeps_at_most_the_time_given() -> None:
    slept: list[float] = []
    hooks = HookRunner(FakeRuntime(), Recorder(), sleep=slept.append)  # type: ignore[arg-type]
    hook = {"sleep": {"seconds": 5}}
    assert hooks.run(hook, POD, {"name": "c"}, "x", "", 30) is None
    assert hooks.run(hook, POD, {"name": "c"}, "x", "", 2) is None
    assert slept == [5.0, 2.0]


def test_a_pre_stop_hook_is_cut_at_the_grace_period() -> None:
    runtime = FakeRuntime(("tinykube/web:1",))
    recorder = Recorder()
    hooks = HookRunner(runtime, recorder, sleep=time.sleep)  # type: ignore[arg-type]
    info = runtime.inspect(running(runtime))
    container = {"name": "c", "lifecycle": {"preStop": {"sleep": {"seconds": 30}}}}
    begin = time.monotonic()
    left = hooks.pre_stop(POD, container, info, 0.3, "")
    assert time.monotonic() - begin < 5  # not the hook's 30 s
    assert left == MIN_GRACE_SECONDS  # the container still gets the kubelet's minimum


def test_a_failed_pre_stop_hook_is_an_event_and_the_stop_goes_on() -> None:
    runtime = FakeRuntime(("tinykube/web:1",))
    recorder = Recorder()
    hooks = HookRunner(runtime, recorder)  # type: ignore[arg-type]
    info = runtime.inspect(running(runtime))
    container = {"name": "c", "lifecycle": {"preStop": {"exec": {"command": ["false"]}}}}
    left = hooks.pre_stop(POD, container, info, 30, "")
    assert 28 < left <= 30
    ((reason, message),) = recorder.events
    assert reason == "FailedPreStopHook"
    assert message.startswith('Exec lifecycle hook ([false]) for Container "c" in Pod "p_d(u)"')
    assert message.endswith("command 'false' exited with 1: , message: \"\"")
