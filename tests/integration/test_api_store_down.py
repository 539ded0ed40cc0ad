"""Redis unreachable or frozen: every API call that needs the store answers 503 with a clear
Status, fast, never a hang or a 500; liveness still answers; a thawed Redis serves again."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from common.redis_server import free_port, start_redis
from control.apiserver.app import create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore
from tests.integration.conftest import ADMIN_TOKEN, Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"
# The bar: a frozen or absent store is reported within this many seconds.
ANSWER_WITHIN = 5.0


def api_on(store: RedisStore) -> Api:
    app = create_app(store, TokenAuthenticator({ADMIN_TOKEN: User("admin", ("system:masters",))}))
    return Api(app.test_client(), ADMIN_TOKEN)


def requests_needing_the_store(pod: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [
        ("GET", PODS, None),
        ("GET", f"{PODS}/web", None),
        ("POST", PODS, pod_manifest("other")),
        ("PUT", f"{PODS}/web", pod),
        ("DELETE", f"{PODS}/web", None),
        ("GET", "/readyz", None),
    ]


def assert_all_503_fast(api: Api, calls: list[tuple[str, str, Any]]) -> None:
    for method, path, body in calls:
        t0 = time.monotonic()
        code, status = api.call(method, path, body)
        took = time.monotonic() - t0
        assert code == 503, (method, path, status)
        assert status["reason"] == "ServiceUnavailable"
        assert "storage backend" in status["message"]
        assert took < ANSWER_WITHIN, (method, path, took)


def test_store_down_is_503() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    api = api_on(store)
    assert_all_503_fast(api, requests_needing_the_store(pod_manifest("web")))
    assert api.call("GET", "/healthz")[0] == 200
    code, status = api.call("GET", PODS, watch="true")
    assert code == 503 and status["kind"] == "Status"


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A redis-server of this test's own, which it may freeze without stalling the others."""
    port = free_port()
    proc = start_redis(tmp_path / "redis", port)
    try:
        yield f"redis://127.0.0.1:{port}/0", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def test_frozen_store_is_503_within_seconds_then_recovers(
    private_redis: tuple[str, int],
) -> None:
    url, pid = private_redis
    store = RedisStore(url)
    api = api_on(store)
    api.client.application.extensions["tinykube"]["registry"].ensure_namespaces()
    code, pod = api.call("POST", PODS, pod_manifest("web"))
    assert code == 201, pod
    with frozen(pid):
        assert_all_503_fast(api, requests_needing_the_store(pod))
        t0 = time.monotonic()
        code, status = api.call("GET", PODS, watch="true")
        assert code == 503 and status["reason"] == "ServiceUnavailable"
        assert time.monotonic() - t0 < ANSWER_WITHIN
    # Thawed: the same app (and its pooled connections) serves again.
    deadline = time.monotonic() + 10
    while api.call("GET", "/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    code, got = api.call("GET", f"{PODS}/web")
    assert code == 200 and got["metadata"]["uid"] == pod["metadata"]["uid"]
    assert api.call("POST", PODS, pod_manifest("after"))[0] == 201
    store.close()
