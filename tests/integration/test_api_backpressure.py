"""Back-pressure on the real app over HTTP: the in-flight caps answer 429 with Retry-After,
system:masters and watches are not held back by them, one credential cannot hold more than its
long-running requests, and a watch its client closed gives its slot back."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from common import errors
from common.client import ApiClient
from common.resources import must
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.apiserver.inflight import Kind, Limiter, Limits, Slot
from control.redis_store import RedisStore
from tests.integration.conftest import ADMIN_TOKEN, NODE_TOKEN, serve

OTHER_NODE_TOKEN = "node-2-token"
NODE = User("system:node:node-1", ("system:nodes",))
LIMITS = Limits(readonly=2, mutating=1, long_running=5, long_running_per_user=3)
NODE_PODS = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1"
NODES = "/api/v1/nodes"


@pytest.fixture
def app(store: RedisStore) -> Any:
    auth = TokenAuthenticator(
        {
            ADMIN_TOKEN: User("admin", ("system:masters",)),
            NODE_TOKEN: NODE,
            OTHER_NODE_TOKEN: User("system:node:node-2", ("system:nodes",)),
        }
    )
    application = create_app(store, auth, ServerConfig(watch_poll=0.2, limits=LIMITS))
    application.extensions["tinykube"]["registry"].ensure_namespaces()
    return application


@pytest.fixture
def url(app: Any) -> Iterator[str]:
    with serve(app) as u:
        # Something to watch: a watch sends its headers with its first event.
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
        assert call(u, ADMIN_TOKEN, "POST", "/api/v1/nodes", json=node).status_code == 201
        yield u


@pytest.fixture
def limiter(app: Any) -> Limiter:
    lim: Limiter = app.extensions["tinykube"]["limiter"]
    return lim


def call(url: str, token: str, method: str = "GET", path: str = NODE_PODS, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, url + path, headers=headers, timeout=10, **kw)


def fill(limiter: Limiter, kind: Kind, n: int) -> list[Slot]:
    """Take ``n`` slots of ``kind``, as requests being served would."""
    slots = [limiter.admit(kind, NODE) for _ in range(n)]
    assert all(s is not None for s in slots)
    return [s for s in slots if s is not None]


def assert_too_many(resp: requests.Response, message: str) -> None:
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"
    status = resp.json()
    assert status["kind"] == "Status"
    assert status["reason"] == "TooManyRequests"
    assert status["code"] == 429
    assert status["details"] == {"retryAfterSeconds": 1}
    assert status["message"].startswith(message)


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_full_readonly_cap_answers_429_and_the_masters_are_served(
    url: str, limiter: Limiter
) -> None:
    fill(limiter, Kind.READONLY, LIMITS.readonly)
    assert_too_many(call(url, NODE_TOKEN), "Too many requests, please try again later.")
    assert call(url, ADMIN_TOKEN).status_code == 200
    assert call(url, NODE_TOKEN, path="/healthz").status_code == 200
    assert call(url, "", path="/readyz").status_code == 200
    # The other cap is separate: a write still goes through.
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "node-1"}, "spec": {"holderIdentity": "node-1"}}  # fmt: skip
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    assert call(url, NODE_TOKEN, "POST", path, json=lease).status_code == 201
    assert limiter.in_flight(Kind.READONLY) == LIMITS.readonly
    assert limiter.in_flight(Kind.MUTATING) == 0


def test_full_mutating_cap_answers_429_without_storing(url: str, limiter: Limiter) -> None:
    fill(limiter, Kind.MUTATING, LIMITS.mutating)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flood"}}
    path = "/api/v1/namespaces"
    resp = call(url, OTHER_NODE_TOKEN, "POST", path, json=ns)
    assert_too_many(resp, "Too many requests, please try again later.")
    assert call(url, ADMIN_TOKEN, path=path + "/flood").status_code == 404
    assert call(url, ADMIN_TOKEN, "POST", path, json=ns).status_code == 201
    assert limiter.in_flight(Kind.MUTATING) == LIMITS.mutating


def test_slots_are_given_back_when_requests_end(url: str, limiter: Limiter) -> None:
    for _ in range(3 * LIMITS.readonly):
        assert call(url, NODE_TOKEN).status_code == 200
    assert call(url, ADMIN_TOKEN, "DELETE", "/api/v1/namespaces/nope").status_code == 404
    assert limiter.in_flight(Kind.READONLY) == 0
    assert limiter.in_flight(Kind.MUTATING) == 0


class Watch:
    """A watch over a raw socket, to hold it open and close it like a client that goes away."""

    def __init__(self, url: str, token: str) -> None:
        u = urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=10)
        self.sock.sendall(
            f"GET {NODES}?watch=true HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        self.head = self.sock.recv(65536).decode(errors="replace")
        self.status = int(self.head.split()[1])

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    opened: list[Watch] = []
    yield opened
    for w in opened:
        w.close()


def test_watches_do_not_count_against_the_readonly_cap(
    url: str, limiter: Limiter, watches: list[Watch]
) -> None:
    fill(limiter, Kind.READONLY, LIMITS.readonly)
    watches.append(Watch(url, NODE_TOKEN))
    assert watches[0].status == 200
    assert limiter.in_flight(Kind.LONG_RUNNING, NODE.name) == 1


def test_one_credential_holds_at_most_its_long_running_requests(
    url: str, limiter: Limiter, watches: list[Watch]
) -> None:
    watches.extend(Watch(url, NODE_TOKEN) for _ in range(LIMITS.long_running_per_user))
    assert [w.status for w in watches] == [200] * LIMITS.long_running_per_user
    resp = call(url, NODE_TOKEN, path=NODES + "?watch=true")
    assert_too_many(resp, 'Too many requests, please try again later: user "system:node:node-1"')
    # Everything else is still served meanwhile.
    assert call(url, "", path="/healthz").status_code == 200
    assert call(url, NODE_TOKEN).status_code == 200
    assert call(url, ADMIN_TOKEN, path=NODES + "?watch=true&timeoutSeconds=1").ok
    other = Watch(url, OTHER_NODE_TOKEN)
    watches.append(other)
    assert other.status == 200
    # ... until all the non-admin users together hold the overall cap.
    assert limiter.in_flight(Kind.LONG_RUNNING) == LIMITS.long_running - 1
    watches.append(Watch(url, OTHER_NODE_TOKEN))
    assert watches[-1].status == 200
    resp = call(url, OTHER_NODE_TOKEN, path=NODES + "?watch=true")
    assert_too_many(resp, "Too many requests, please try again later: 5 long-running requests")


def test_a_watch_closed_by_its_client_gives_its_slot_back(
    url: str, limiter: Limiter, watches: list[Watch]
) -> None:
    watches.extend(Watch(url, NODE_TOKEN) for _ in range(LIMITS.long_running_per_user))
    assert limiter.in_flight(Kind.LONG_RUNNING, NODE.name) == LIMITS.long_running_per_user
    for w in watches:
        w.close()
    # No event and no bookmark is written to these watches: only looking at the socket ends them.
    assert wait_for(lambda: limiter.in_flight(Kind.LONG_RUNNING, NODE.name) == 0, timeout=5)
    again = Watch(url, NODE_TOKEN)
    watches.append(again)
    assert again.status == 200


def test_the_client_waits_as_told_then_gets_its_answer(url: str, limiter: Limiter) -> None:
    slots = fill(limiter, Kind.READONLY, LIMITS.readonly)
    timer = threading.Timer(0.3, limiter.release, args=(slots[0],))
    timer.start()
    client = ApiClient(url, NODE_TOKEN)
    try:
        pods = client.list(must("pods"), field_selector="spec.nodeName=node-1")
    finally:
        timer.join()
        client.close()
    assert pods["items"] == []


def test_the_client_gives_up_when_the_waits_outlast_its_timeout(url: str, limiter: Limiter) -> None:
    fill(limiter, Kind.READONLY, LIMITS.readonly)
    client = ApiClient(url, NODE_TOKEN, timeout=2.5)
    try:
        with pytest.raises(errors.TooManyRequestsError) as caught:
            client.list(must("pods"), field_selector="spec.nodeName=node-1")
    finally:
        client.close()
    assert caught.value.details == {"retryAfterSeconds": 1}


def test_a_closed_watch_is_released_while_events_it_does_not_see_flow(
    url: str, limiter: Limiter
) -> None:
    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    sock.sendall(
        f"GET {NODE_PODS}&watch=true HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {NODE_TOKEN}\r\n\r\n".encode()
    )
    stop = threading.Event()

    def other_pods() -> None:  # a busy cluster: pods of no concern to node-1, every 50 ms
        for i in range(1000):
            if stop.wait(0.05):
                return
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                   "spec": {"containers": [{"name": "c", "image": "tinykube/web:1"}]}}  # fmt: skip
            call(url, ADMIN_TOKEN, "POST", "/api/v1/namespaces/default/pods", json=pod)

    writer = threading.Thread(target=other_pods)
    writer.start()
    try:
        assert wait_for(lambda: limiter.in_flight(Kind.LONG_RUNNING, NODE.name) == 1, timeout=5)
        sock.close()
        assert wait_for(lambda: limiter.in_flight(Kind.LONG_RUNNING, NODE.name) == 0, timeout=5)
    finally:
        stop.set()
        writer.join()
