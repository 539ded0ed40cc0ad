"""Priority levels on the real app over HTTP: with the seats of the nodes' ``system`` level all
taken, a node's Lease renewal (``system-node-high``) and the admins (exempt) are still served, a
node's other request waits for a seat and gets it when one is freed, or 429 with Retry-After when
its wait runs out; and every request gives its seat back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.apiserver.inflight import Limits
from control.apiserver.priority import (
    EXEMPT,
    GET,
    LEVEL_KEY,
    MORE,
    NODE_HIGH,
    SYSTEM,
    WORK_KEY,
    Gate,
    nominal_seats,
)
from control.redis_store import RedisStore
from tests.integration.conftest import ADMIN_TOKEN, NODE_TOKEN, serve

SEATS = 8
NODE_PODS = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
LEASE = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
    "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 8},
}


@pytest.fixture
def app(store: RedisStore) -> Any:
    auth = TokenAuthenticator(
        {
            ADMIN_TOKEN: User("admin", ("system:masters",)),
            NODE_TOKEN: User("system:node:node-1", ("system:nodes",)),
        }
    )
    application = create_app(store, auth, ServerConfig(limits=Limits(seats=SEATS)))
    application.extensions["tinykube"]["registry"].ensure_namespaces()
    return application


@pytest.fixture
def url(app: Any) -> Iterator[str]:
    with serve(app) as u:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
        assert call(u, ADMIN_TOKEN, "POST", "/api/v1/nodes", json=node).status_code == 201
        yield u


@pytest.fixture
def gate(app: Any) -> Iterator[Gate]:
    g: Gate = app.extensions["tinykube"]["gate"]
    yield g
    assert g.counts()[SYSTEM][1] == 0


def call(url: str, token: str, method: str = "GET", path: str = NODE_PODS, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, url + path, headers=headers, timeout=20, **kw)


def fill(gate: Gate, level: str) -> int:
    seats = nominal_seats(SEATS)[level]
    assert all(gate.enter(level) for _ in range(seats))
    return seats


def empty(gate: Gate, level: str, seats: int) -> None:
    for _ in range(seats):
        gate.leave(level)


def test_lease_renewals_and_admins_are_served_while_the_nodes_level_is_full(
    url: str, gate: Gate
) -> None:
    gate.queue_wait = 0.3
    seats = fill(gate, SYSTEM)
    try:
        refused = call(url, NODE_TOKEN)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        status = refused.json()
        assert (status["kind"], status["reason"]) == ("Status", "TooManyRequests")
        assert status["message"] == "Too many requests, please try again later."
        assert call(url, NODE_TOKEN, "POST", LEASES, json=LEASE).status_code == 201
        assert call(url, NODE_TOKEN, "GET", f"{LEASES}/node-1").status_code == 200
        assert call(url, ADMIN_TOKEN).status_code == 200
    finally:
        empty(gate, SYSTEM, seats)
    assert call(url, NODE_TOKEN).status_code == 200
    assert gate.counts()[SYSTEM] == (0, 0)
    assert gate.counts()[NODE_HIGH] == (0, 0)


def test_a_waiting_request_is_served_when_a_seat_is_freed(url: str, gate: Gate) -> None:
    gate.queue_wait = 15
    seats = fill(gate, SYSTEM)
    answers: list[int] = []
    waiting = threading.Thread(target=lambda: answers.append(call(url, NODE_TOKEN).status_code))
    waiting.start()
    try:
        deadline = time.monotonic() + 10
        while gate.counts()[SYSTEM][1] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gate.counts()[SYSTEM] == (seats, 1)
        assert answers == []
        gate.leave(SYSTEM)  # the waiting request takes this seat
        waiting.join(10)
        assert answers == [200]
    finally:
        empty(gate, SYSTEM, seats - 1)
    assert gate.counts()[SYSTEM] == (0, 0)


def test_the_seats_are_metered(url: str, gate: Gate) -> None:
    gate.queue_wait = 0.2
    seats = fill(gate, SYSTEM)
    try:
        assert call(url, NODE_TOKEN).status_code == 429
    finally:
        empty(gate, SYSTEM, seats)
    text = call(url, ADMIN_TOKEN, path="/metrics").text
    assert 'apiserver_flowcontrol_nominal_limit_seats{priority_level="system"}' in text
    rejected = (
        'apiserver_flowcontrol_rejected_requests_total{flow_schema="system-nodes",'
        'priority_level="system",reason="time-out"}'
    )
    assert any(line.startswith(rejected) for line in text.splitlines())


def test_each_request_leaves_its_level_and_work_for_the_server(app: Any) -> None:
    """The worker starts a kept-alive connection's next request by the level of its last one,
    then by the work it was estimated to take (control.httpworker.Ready)."""
    seen: list[tuple[str | None, int | None]] = []
    inner = app.wsgi_app

    def capture(environ: dict[str, Any], start_response: Any) -> Any:
        try:
            return inner(environ, start_response)
        finally:
            seen.append((environ.get(LEVEL_KEY), environ.get(WORK_KEY)))

    app.wsgi_app = capture
    client = app.test_client()

    def send(token: str, method: str = "GET", path: str = NODE_PODS, **kw: Any) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return int(client.open(path, method=method, headers=headers, **kw).status_code)

    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    assert send(ADMIN_TOKEN, "POST", "/api/v1/nodes", json=node) == 201
    assert send(NODE_TOKEN, "POST", LEASES, json=LEASE) == 201
    assert send(NODE_TOKEN) == 200
    assert send(ADMIN_TOKEN, path="/api/v1/nodes/node-1") == 200
    assert send(ADMIN_TOKEN, "DELETE", "/api/v1/nodes/node-1") == 200
    assert send("no-such-token") == 401
    assert send(ADMIN_TOKEN, path="/healthz") == 200
    assert seen == [
        (EXEMPT, MORE), (NODE_HIGH, MORE), (SYSTEM, MORE), (EXEMPT, GET), (EXEMPT, MORE),
        (None, None), (None, None),
    ]  # fmt: skip
