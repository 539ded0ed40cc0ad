"""The Redis pools of the API server when every connection is busy: a request waits up to the
pool's wait, then gets 503 ServiceUnavailable with ``Retry-After``, never redis-py's "Too many
connections"; a watch waits its turn and misses nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from common import errors
from control.apiserver.app import create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore
from tests.integration.conftest import ADMIN_TOKEN, Api, pod_manifest

PODS = "/api/v1/namespaces/default/pods"
POOL_WAIT = 0.2


@pytest.fixture
def tiny(redis_url: str, key_prefix: str) -> Iterator[RedisStore]:
    """A store with one connection for short calls and one for stream reads."""
    s = RedisStore(redis_url, prefix=key_prefix, max_connections=1, stream_connections=1,
                   pool_wait=POOL_WAIT)  # fmt: skip
    yield s
    s.close()


def api_on(store: RedisStore) -> Api:
    auth = TokenAuthenticator({ADMIN_TOKEN: User("admin", ("system:masters",))})
    app = create_app(store, auth)
    app.extensions["tinykube"]["registry"].ensure_namespaces()
    return Api(app.test_client(), ADMIN_TOKEN)


def hold(pool: Any) -> Any:
    """Take a connection out of ``pool``, as a request in flight would."""
    return pool.get_connection()


def test_a_full_pool_is_503_with_retry_after(tiny: RedisStore) -> None:
    api = api_on(tiny)
    conn = hold(tiny._pool)
    try:
        t0 = time.monotonic()
        resp = api.client.get(PODS, headers=api.headers)
        waited = time.monotonic() - t0
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "1"
        status = resp.get_json()
        assert status["reason"] == "ServiceUnavailable"
        assert status["details"]["retryAfterSeconds"] == 1
        assert "Too many connections" not in status["message"]
        assert waited >= POOL_WAIT
        code, _ = api.call("POST", PODS, pod_manifest("web"))
        assert code == 503
    finally:
        tiny._pool.release(conn)
    # The list's watch cache could not start while the pool was full; it refuses at once for a
    # second after a failed start (as kube-apiserver's 429 while its cache is not ready), then
    # starts on the next list.
    deadline = time.monotonic() + 5
    while (code := api.call("GET", PODS)[0]) != 200 and time.monotonic() < deadline:
        assert code == 503
        time.sleep(0.1)
    assert code == 200
    assert api.call("GET", f"{PODS}/web")[0] == 404  # the refused create stored nothing


def test_a_request_waits_for_a_connection_given_back_in_time(tiny: RedisStore) -> None:
    api = api_on(tiny)
    conn = hold(tiny._pool)
    threading.Timer(POOL_WAIT / 4, tiny._pool.release, args=(conn,)).start()
    assert api.call("GET", PODS)[0] == 200


def test_the_store_error_is_retryable_and_says_when(tiny: RedisStore) -> None:
    conn = hold(tiny._pool)
    try:
        with pytest.raises(errors.ServiceUnavailableError) as caught:
            tiny.get("pods", "default", "web")
    finally:
        tiny._pool.release(conn)
    assert caught.value.retryable
    assert caught.value.details == {"retryAfterSeconds": 1}


def test_a_watch_waits_for_a_stream_connection_and_misses_nothing(tiny: RedisStore) -> None:
    start = tiny.revision()
    created = tiny.create("pods", pod_manifest("first"))
    conn = hold(tiny._blocking_pool)
    events = tiny.watch("pods", start, poll=0.1)
    try:
        assert next(events) is None  # a quiet round while the only stream connection is busy
    finally:
        tiny._blocking_pool.release(conn)
    first = next(e for e in events if e is not None)
    assert first.object["metadata"]["name"] == "first"
    assert first.rv == int(created["metadata"]["resourceVersion"])


def test_a_connection_given_back_with_a_reply_unread_is_not_reused_as_it_is(
    tiny: RedisStore,
) -> None:
    """A command cut short (a timeout, a killed greenlet) leaves its reply on the connection:
    the next caller must not read it as its own."""
    tiny.r.set(f"{tiny.prefix}k", b"mine")
    conn = tiny._pool.get_connection()
    conn.send_command("PING")  # its +PONG is never read
    deadline = time.monotonic() + 5
    while not conn.can_read() and time.monotonic() < deadline:
        time.sleep(0.01)
    tiny._pool.release(conn)
    assert tiny.r.get(f"{tiny.prefix}k") == b"mine"
