"""Watches and reads against the clock: headers go out at once, a watch ends at timeoutSeconds
whatever its filter lets through, and a resourceVersion the store has not reached is waited for
up to 3 s, then answered 504 "Too large resource version" as kube-apiserver does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore
from control.registry import freshness
from tests.integration.conftest import ADMIN_TOKEN, Api, pod_manifest, serve

PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
def app(store: RedisStore) -> Any:
    """The app with the default keep-alive poll (5 s), as ``tinykube control`` serves it."""
    auth = TokenAuthenticator({ADMIN_TOKEN: User("admin", ("system:masters",))})
    application = create_app(store, auth, ServerConfig())
    application.extensions["tinykube"]["registry"].ensure_namespaces()
    return application


def lines(resp: Any) -> Iterator[dict[str, Any]]:
    for chunk in resp.response:
        for part in chunk.decode().splitlines() if isinstance(chunk, bytes) else chunk.splitlines():
            if part.strip():
                yield json.loads(part)


@pytest.fixture
def busy(api: Api) -> Iterator[threading.Event]:
    """Pods created in ``default`` every 50 ms until the test ends (set the event to stop)."""
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.wait(0.05):
            api.call("POST", PODS, pod_manifest(f"busy-{i}"))
            i += 1

    t = threading.Thread(target=write, daemon=True)
    t.start()
    yield stop
    stop.set()
    t.join(10)


def current_rv(api: Api) -> int:
    return int(api.call("GET", PODS)[1]["metadata"]["resourceVersion"])


def test_headers_are_sent_before_the_first_event(app: Any) -> None:
    with serve(app) as url:
        rv = requests.get(
            f"{url}{PODS}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
        ).json()["metadata"]["resourceVersion"]
        t0 = time.monotonic()
        with requests.get(
            f"{url}{PODS}",
            params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "30"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            stream=True,
            timeout=10,
        ) as resp:
            took = time.monotonic() - t0
            assert resp.status_code == 200
            assert resp.headers["Content-Type"].startswith("application/json")
    # No event comes for 5 s (the keep-alive poll): the 200 must not wait for one.
    assert took < 2.0, took


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/namespaces/quiet/pods", {}),
        (PODS, {"labelSelector": "app=nothing"}),
        ("/api/v1/pods", {"fieldSelector": "spec.nodeName=nowhere"}),
    ],
)
def test_watch_ends_at_timeout_when_no_event_passes_its_filter(
    api: Api, busy: threading.Event, path: str, query: dict[str, str]
) -> None:
    rv = current_rv(api)
    t0 = time.monotonic()
    resp = api.client.get(
        path,
        headers=api.headers,
        query_string={"watch": "1", "resourceVersion": str(rv), "timeoutSeconds": "2", **query},
    )
    assert resp.status_code == 200
    got = list(lines(resp))
    took = time.monotonic() - t0
    assert got == []
    assert current_rv(api) > rv + 5  # events did flow meanwhile
    assert 2.0 <= took < 4.5, took


def test_watch_from_future_revision_is_a_504_error_event(api: Api) -> None:
    future = current_rv(api) + 1000
    t0 = time.monotonic()
    resp = api.client.get(
        PODS,
        headers=api.headers,
        query_string={"watch": "1", "resourceVersion": str(future), "timeoutSeconds": "30"},
    )
    assert resp.status_code == 200
    [event] = list(lines(resp))
    took = time.monotonic() - t0
    status = event["object"]
    assert event["type"] == "ERROR"
    assert (status["code"], status["reason"]) == (504, "Timeout")
    assert status["message"].startswith(f"Timeout: Too large resource version: {future}, current: ")
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert freshness.BLOCK_TIMEOUT <= took < freshness.BLOCK_TIMEOUT + 2, took


def test_watch_from_revision_reached_within_the_wait_is_served(api: Api) -> None:
    target = current_rv(api) + 2

    def write_soon() -> None:
        time.sleep(0.5)
        for name in ("a", "b", "c"):
            api.call("POST", PODS, pod_manifest(name))

    threading.Thread(target=write_soon, daemon=True).start()
    resp = api.client.get(
        PODS,
        headers=api.headers,
        query_string={"watch": "1", "resourceVersion": str(target), "timeoutSeconds": "5"},
    )
    first = next(lines(resp))
    resp.close()
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "c"
    assert int(first["object"]["metadata"]["resourceVersion"]) > target


@pytest.mark.parametrize("path", [PODS, f"{PODS}/web"])
def test_read_at_future_revision_is_504_with_retry_after(api: Api, path: str) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    future = current_rv(api) + 1000
    t0 = time.monotonic()
    resp = api.client.get(path, headers=api.headers, query_string={"resourceVersion": future})
    took = time.monotonic() - t0
    status = resp.get_json()
    assert resp.status_code == 504, status
    assert resp.headers["Retry-After"] == "1"
    assert status["reason"] == "Timeout"
    assert status["message"] == (
        f"Timeout: Too large resource version: {future}, current: {future - 1000}"
    )
    assert status["details"] == {
        "retryAfterSeconds": 1,
        "causes": [
            {"reason": "ResourceVersionTooLarge", "message": "Too large resource version",
             "field": ""}
        ],
    }  # fmt: skip
    assert freshness.BLOCK_TIMEOUT <= took < freshness.BLOCK_TIMEOUT + 2, took


def test_list_at_revision_reached_within_the_wait_is_served(api: Api) -> None:
    target = current_rv(api) + 1
    timer = threading.Timer(0.5, lambda: api.call("POST", PODS, pod_manifest("late")))
    timer.start()
    code, body = api.call(
        "GET", PODS, resourceVersion=str(target), resourceVersionMatch="NotOlderThan"
    )
    timer.join()
    assert code == 200, body
    assert int(body["metadata"]["resourceVersion"]) >= target
    assert "late" in [p["metadata"]["name"] for p in body["items"]]


def test_current_or_older_revision_is_served_at_once(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    rv = current_rv(api)
    t0 = time.monotonic()
    assert api.call("GET", PODS, resourceVersion=str(rv - 1))[0] == 200
    assert api.call("GET", f"{PODS}/web", resourceVersion=str(rv))[0] == 200
    assert api.call("GET", PODS, resourceVersion="0")[0] == 200
    assert time.monotonic() - t0 < freshness.BLOCK_TIMEOUT


def test_resource_version_match_without_version_is_422(api: Api) -> None:
    code, status = api.call("GET", PODS, resourceVersionMatch="Exact")
    assert code == 422, status
    assert status["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "resourceVersionMatch is forbidden unless resourceVersion is provided"
    )
    code, status = api.call("GET", PODS, watch="1", resourceVersion="1",
                            resourceVersionMatch="NotOlderThan")  # fmt: skip
    assert code == 422 and "forbidden for watch" in status["message"]


def test_exact_list_is_served_as_it_was_at_its_revision(api: Api) -> None:
    api.call("POST", PODS, pod_manifest("web"))
    rv = current_rv(api)
    api.call("POST", PODS, pod_manifest("later"))
    api.call("DELETE", f"{PODS}/web", gracePeriodSeconds="0")
    code, body = api.call("GET", PODS, resourceVersion=str(rv), resourceVersionMatch="Exact")
    assert code == 200 and body["metadata"]["resourceVersion"] == str(rv)
    assert [p["metadata"]["name"] for p in body["items"]] == ["web"]
    # A bare resourceVersion with a limit is an Exact list too, page after page.
    code, first = api.call("GET", PODS, resourceVersion=str(rv), limit="1")
    assert code == 200 and first["metadata"]["resourceVersion"] == str(rv)
    assert [p["metadata"]["name"] for p in first["items"]] == ["web"]
    # A consistent read has today's pods.
    code, now = api.call("GET", PODS)
    assert [p["metadata"]["name"] for p in now["items"]] == ["later"]
    code, status = api.call("GET", PODS, resourceVersion="1", resourceVersionMatch="Exact")
    assert code == 410, status
    assert (status["reason"], status["message"]) == (
        "Expired",
        "The resourceVersion for the provided list is too old.",
    )
