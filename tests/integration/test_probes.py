"""Probes through the whole agent loop against the real API server, with the FakeRuntime: its
sandboxes get 127.0.0.1 as pod IP, so httpGet/tcpSocket probes reach a local server the test
controls, and exec probes are answered by the fake's exec handler."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agent import prober
from agent.apis import EVENTS, PODS
from agent.fake_runtime import FakeRuntime
from agent.loop import Agent
from agent.probes import http_probe, tcp_probe
from agent.runtime import ContainerInfo
from common.client import ApiClient
from tests.integration import fakenode
from tests.integration.conftest import ADMIN_TOKEN, wait_for
from tests.integration.fakenode import NODE

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def runtime() -> FakeRuntime:
    return fakenode.local_runtime()


@pytest.fixture
def agent(server: str, runtime: FakeRuntime) -> Iterator[Agent]:
    with fakenode.node(server, runtime) as a:
        yield a


class Health:
    """A local HTTP server answering every GET with ``code`` (changeable)."""

    def __init__(self) -> None:
        self.code = 500
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(outer.code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def health() -> Iterator[Health]:
    h = Health()
    yield h
    h.close()


def create(admin: ApiClient, name: str, container: dict[str, Any], **spec: Any) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": "web", "image": "tinykube/web:1", **container}],
            **spec,
        },
    }
    admin.create(PODS, pod, "default")


def status(admin: ApiClient, name: str) -> dict[str, Any]:
    return admin.get(PODS, name, "default").get("status") or {}


def container_status(admin: ApiClient, name: str) -> dict[str, Any]:
    return (status(admin, name).get("containerStatuses") or [{}])[0]


def condition(admin: ApiClient, name: str, ctype: str) -> str:
    conds = status(admin, name).get("conditions") or []
    return next((str(c["status"]) for c in conds if c["type"] == ctype), "")


def events(admin: ApiClient, name: str) -> list[tuple[str, str]]:
    items = admin.list(EVENTS, "default").get("items") or []
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


@pytest.mark.usefixtures("agent")
def test_readiness_gates_ready(admin: ApiClient, health: Health) -> None:
    probe = {"httpGet": {"path": "/ready", "port": health.port}, "periodSeconds": 1}
    create(admin, "ready", {"readinessProbe": probe})
    assert wait_for(lambda: status(admin, "ready").get("phase") == "Running", 10)
    assert wait_for(lambda: any(r == "Unhealthy" for r, _ in events(admin, "ready")), 10)
    cs = container_status(admin, "ready")
    assert (cs["ready"], cs["started"]) == (False, True)
    assert condition(admin, "ready", "Ready") == "False"
    assert ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500") in (
        events(admin, "ready")
    )
    health.code = 200
    assert wait_for(lambda: condition(admin, "ready", "Ready") == "True", 10)
    assert container_status(admin, "ready")["ready"] is True
    assert condition(admin, "ready", "ContainersReady") == "True"
    health.code = 503  # readiness is lost again after failureThreshold (3) failures
    assert wait_for(lambda: condition(admin, "ready", "Ready") == "False", 10)
    assert container_status(admin, "ready")["restartCount"] == 0  # readiness never restarts


def test_liveness_failure_restarts_the_container(
    admin: ApiClient, agent: Agent, runtime: FakeRuntime
) -> None:
    healthy = {"ok": True}

    def handler(c: ContainerInfo, cmd: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
        if c.attempt == 0 and not healthy["ok"]:
            return 1, b"cat: can't open '/tmp/alive': No such file or directory\n", b""
        return 0, b"", b""

    runtime.exec_handler = handler
    probe = {"exec": {"command": ["cat", "/tmp/alive"]}, "periodSeconds": 1, "failureThreshold": 2}
    create(admin, "live", {"livenessProbe": probe})
    assert wait_for(lambda: container_status(admin, "live").get("ready") is True, 10)
    healthy["ok"] = False
    assert wait_for(lambda: container_status(admin, "live").get("restartCount") == 1, 15)
    cs = container_status(admin, "live")
    assert cs["ready"] is True and "running" in cs["state"]
    assert "terminated" in cs["lastState"]
    seen = events(admin, "live")
    assert ("Killing", "Container web failed liveness probe, will be restarted") in seen
    assert (
        "Unhealthy",
        "Liveness probe failed: cat: can't open '/tmp/alive': No such file or directory\n",
    ) in seen
    # The new container (attempt 1) is healthy: no second restart.
    assert not wait_for(lambda: container_status(admin, "live").get("restartCount") != 1, 2.5)


def test_startup_probe_gates_liveness_and_readiness(
    admin: ApiClient, agent: Agent, runtime: FakeRuntime
) -> None:
    calls: list[str] = []
    booted = {"ok": False}

    def handler(c: ContainerInfo, cmd: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
        calls.append(cmd[0])
        if cmd[0] == "startup":
            return (0 if booted["ok"] else 1), b"", b""
        return 0, b"", b""

    runtime.exec_handler = handler
    create(
        admin,
        "boot",
        {
            "startupProbe": {
                "exec": {"command": ["startup"]},
                "periodSeconds": 1,
                "failureThreshold": 30,
            },
            "livenessProbe": {"exec": {"command": ["liveness"]}, "periodSeconds": 1},
            "readinessProbe": {"exec": {"command": ["readiness"]}, "periodSeconds": 1},
        },
    )
    assert wait_for(lambda: calls.count("startup") >= 2, 10)
    cs = container_status(admin, "boot")
    assert (cs["started"], cs["ready"]) == (False, False)
    assert set(calls) == {"startup"}  # nothing else runs before the container has started
    booted["ok"] = True
    assert wait_for(lambda: container_status(admin, "boot").get("ready") is True, 10)
    assert container_status(admin, "boot")["started"] is True
    assert {"liveness", "readiness"} <= set(calls)
    count = calls.count("startup")
    assert wait_for(lambda: calls.count("readiness") >= 3, 10)
    assert calls.count("startup") == count  # a started container is not probed for startup


def _closed_port() -> int:
    s = socket.create_server(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_http_and_tcp_probe_messages(health: Health) -> None:
    target = prober.HttpTarget("HTTP", "127.0.0.1", health.port, "/x")
    assert http_probe(target, 1) == ("Failure", "HTTP probe failed with statuscode: 500")
    health.code = 302
    assert http_probe(target, 1) == ("Success", "")
    port = _closed_port()
    refused = prober.HttpTarget("HTTP", "127.0.0.1", port, "/healthz")
    assert http_probe(refused, 1) == (
        "Failure",
        f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: '
        "connect: connection refused",
    )
    assert tcp_probe("127.0.0.1", health.port, 1) == ("Success", "")
    assert tcp_probe("127.0.0.1", port, 1) == (
        "Failure",
        f"dial tcp 127.0.0.1:{port}: connect: connection refused",
    )
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        slow = prober.HttpTarget("HTTP", "127.0.0.1", silent.getsockname()[1], "/")
        outcome, message = http_probe(slow, 0.3)
        assert outcome == "Failure"
        assert message.endswith(
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )
    finally:
        silent.close()


def test_probes_and_hooks_are_no_longer_named_in_the_not_acted_on_warning(app: Any) -> None:
    container = {
        "name": "web",
        "image": "tinykube/web:1",
        "livenessProbe": {"tcpSocket": {"port": 80}},
        "readinessProbe": {"httpGet": {"port": 80}},
        "startupProbe": {"exec": {"command": ["true"]}},
        "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
    }
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"},
           "spec": {"containers": [container]}}  # fmt: skip
    resp = app.test_client().post(
        "/api/v1/namespaces/default/pods",
        json=pod,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert resp.status_code == 201
    warnings = resp.headers.getlist("Warning")
    assert not any("Probe" in w or "lifecycle" in w for w in warnings)
