"""The in-flight limiter: which cap a request counts against, and when it is refused."""

from __future__ import annotations

import os

import pytest

from common import errors
from control import flags, main
from control.apiserver.auth import User
from control.apiserver.inflight import Kind, Limiter, Limits, classify, order_of_next
from control.apiserver.priority import (
    EXEMPT,
    GET,
    GLOBAL_DEFAULT,
    MORE,
    NODE_HIGH,
    SYSTEM,
    WORKLOAD_LOW,
    order_of,
)

NODE = User("system:node:n1", ("system:nodes",))
OTHER_NODE = User("system:node:n2", ("system:nodes",))
ADMIN = User("admin", ("system:masters",))


@pytest.mark.parametrize(
    ("method", "path", "args", "kind"),
    [
        ("GET", "/healthz", {}, Kind.EXEMPT),
        ("GET", "/readyz", {}, Kind.EXEMPT),
        ("GET", "/livez", {}, Kind.EXEMPT),
        ("GET", "/version", {}, Kind.READONLY),
        ("GET", "/api", {}, Kind.READONLY),
        ("GET", "/api/v1/pods", {}, Kind.READONLY),
        ("GET", "/api/v1/pods", {"watch": "false"}, Kind.READONLY),
        ("GET", "/api/v1/pods", {"watch": "true"}, Kind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/ns/pods", {"watch": "1"}, Kind.LONG_RUNNING),
        ("GET", "/apis/apps/v1/deployments", {"watch": "True"}, Kind.LONG_RUNNING),
        # Every spelling the REST routes read as a watch (Go's ParseBool) is one here too.
        ("GET", "/api/v1/pods", {"watch": "t"}, Kind.LONG_RUNNING),
        ("GET", "/api/v1/pods", {"watch": "TRUE"}, Kind.LONG_RUNNING),
        ("GET", "/api/v1/pods", {"watch": "F"}, Kind.READONLY),
        ("GET", "/api/v1/pods", {"watch": "yes"}, Kind.READONLY),  # a 400 from the routes
        ("GET", "/api/v1/namespaces/ns/pods/p", {}, Kind.READONLY),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, Kind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/ns/pods/p/exec", {}, Kind.LONG_RUNNING),
        ("POST", "/api/v1/namespaces/ns/pods/p/exec", {}, Kind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/ns/pods/p/portforward", {}, Kind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/ns/pods/p/attach", {}, Kind.LONG_RUNNING),
        ("GET", "/api/v1/namespaces/ns/pods/p/status", {}, Kind.READONLY),
        ("PUT", "/api/v1/namespaces/ns/pods/p/status", {}, Kind.MUTATING),
        ("POST", "/api/v1/namespaces/ns/pods", {}, Kind.MUTATING),
        ("PATCH", "/api/v1/nodes/n1", {}, Kind.MUTATING),
        ("DELETE", "/api/v1/namespaces/ns", {}, Kind.MUTATING),
        # A namespace's own subresources, and a namespace named like a long-running subresource.
        ("PUT", "/api/v1/namespaces/ns/finalize", {}, Kind.MUTATING),
        ("GET", "/api/v1/namespaces/log", {}, Kind.READONLY),
        ("GET", "/api/v1/namespaces/exec/pods", {}, Kind.READONLY),
        # Not an API path: a watch flag there means nothing.
        ("GET", "/openapi/v2", {"watch": "true"}, Kind.READONLY),
        ("POST", "/v1-tinykube/join", {}, Kind.MUTATING),
    ],
)
def test_classify(method: str, path: str, args: dict[str, str], kind: Kind) -> None:
    assert classify(method, path, args) is kind


def test_readonly_and_mutating_caps_are_separate() -> None:
    limiter = Limiter(Limits(readonly=2, mutating=1))
    reads = [limiter.admit(Kind.READONLY, NODE) for _ in range(2)]
    write = limiter.admit(Kind.MUTATING, NODE)
    with pytest.raises(errors.TooManyRequestsError) as caught:
        limiter.admit(Kind.READONLY, OTHER_NODE)
    assert caught.value.message == "Too many requests, please try again later."
    assert caught.value.details == {"retryAfterSeconds": 1}
    assert caught.value.to_status()["reason"] == "TooManyRequests"
    with pytest.raises(errors.TooManyRequestsError):
        limiter.admit(Kind.MUTATING, None)
    assert write is not None and all(reads)
    limiter.release(reads[0])
    assert limiter.admit(Kind.READONLY, OTHER_NODE) is not None
    limiter.release(write)
    assert limiter.admit(Kind.MUTATING, None) is not None


def test_masters_take_a_slot_while_there_is_room_and_are_served_without_one() -> None:
    limiter = Limiter(Limits(readonly=1))
    held = limiter.admit(Kind.READONLY, ADMIN)
    assert held is not None
    with pytest.raises(errors.TooManyRequestsError):
        limiter.admit(Kind.READONLY, NODE)
    assert limiter.admit(Kind.READONLY, ADMIN) is None  # served, not counted
    assert limiter.in_flight(Kind.READONLY) == 1


def test_zero_means_no_cap() -> None:
    limiter = Limiter(Limits(readonly=0, mutating=0, long_running=0, long_running_per_user=0))
    for _ in range(1000):
        limiter.admit(Kind.READONLY, NODE)
        limiter.admit(Kind.MUTATING, NODE)
        limiter.admit(Kind.LONG_RUNNING, NODE)
    assert limiter.in_flight(Kind.LONG_RUNNING, NODE.name) == 1000


def test_long_running_requests_do_not_count_against_the_inflight_caps() -> None:
    limiter = Limiter(Limits(readonly=1, mutating=1, long_running=10, long_running_per_user=5))
    watches = [limiter.admit(Kind.LONG_RUNNING, NODE) for _ in range(5)]
    assert limiter.admit(Kind.READONLY, NODE) is not None
    assert limiter.admit(Kind.MUTATING, NODE) is not None
    assert limiter.in_flight(Kind.LONG_RUNNING) == 5
    assert all(w is not None for w in watches)


def test_long_running_cap_per_user_then_in_all() -> None:
    limiter = Limiter(Limits(long_running=3, long_running_per_user=2))
    first = limiter.admit(Kind.LONG_RUNNING, NODE)
    limiter.admit(Kind.LONG_RUNNING, NODE)
    with pytest.raises(errors.TooManyRequestsError) as caught:
        limiter.admit(Kind.LONG_RUNNING, NODE)
    assert caught.value.message == (
        'Too many requests, please try again later: user "system:node:n1" already has 2 '
        "long-running requests (watch, log, exec, portforward) open"
    )
    assert caught.value.details == {"retryAfterSeconds": 1}
    limiter.admit(Kind.LONG_RUNNING, OTHER_NODE)
    with pytest.raises(errors.TooManyRequestsError, match="3 long-running requests"):
        limiter.admit(Kind.LONG_RUNNING, OTHER_NODE)
    assert first is not None
    limiter.release(first)
    assert limiter.in_flight(Kind.LONG_RUNNING, NODE.name) == 1
    assert limiter.admit(Kind.LONG_RUNNING, OTHER_NODE) is not None


def test_masters_and_probes_are_never_counted() -> None:
    limiter = Limiter(Limits(long_running=1, long_running_per_user=1))
    for _ in range(5):
        assert limiter.admit(Kind.LONG_RUNNING, ADMIN) is None
        assert limiter.admit(Kind.EXEMPT, None) is None
    assert limiter.admit(Kind.LONG_RUNNING, NODE) is not None
    assert limiter.in_flight(Kind.LONG_RUNNING) == 1


def test_connections_cover_every_cap() -> None:
    assert Limits(readonly=4, mutating=2, long_running=3).connections() == 9
    assert Limits().connections() == 400 + 200 + Limits().long_running


def test_the_flags_default_to_kube_apiservers_caps_and_size_the_connections() -> None:
    args = flags.parse_args([])
    assert flags.limits_from(args) == Limits(readonly=400, mutating=200)
    assert main.worker_connections(Limits()) == 400 + 200 + 10000 + main.SPARE_CONNECTIONS
    args = flags.parse_args(["--max-requests-inflight", "5", "--max-mutating-requests-inflight",
                             "0", "--max-long-running-requests", "7",
                             "--max-long-running-requests-per-user", "2"])  # fmt: skip
    limits = flags.limits_from(args)
    assert limits == Limits(readonly=5, mutating=0, long_running=7, long_running_per_user=2)
    assert main.worker_connections(limits) == 12 + main.SPARE_CONNECTIONS


def test_one_api_worker_per_cpu_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert flags.workers(flags.parse_args([])) == 3
    assert flags.workers(flags.parse_args(["--workers", "1"])) == 1
    with pytest.raises(SystemExit):
        flags.parse_args(["--workers", "0"])


@pytest.mark.parametrize(
    ("level", "head", "order"),
    [
        # the work from the request line, the level from the last request's
        (EXEMPT, b"GET /api/v1/namespaces/d/pods/p HTTP/1.1\r\nHost: x\r\n", (EXEMPT, GET)),
        (EXEMPT, b"POST /api/v1/namespaces/d/pods HTTP/1.1\r\n", (EXEMPT, MORE)),
        (EXEMPT, b"GET /api/v1/namespaces/d/pods?limit=500 HTTP/1.1\r\n", (EXEMPT, MORE)),
        (EXEMPT, b"GET /api/v1/pods?watch=true HTTP/1.1\r\n", (EXEMPT, MORE)),
        (EXEMPT, b"GET /api/v1/pods?watch=false HTTP/1.1\r\n", (EXEMPT, MORE)),
        (EXEMPT, b"DELETE /apis/apps/v1/namespaces/d/deployments/x HTTP/1.1\r\n", (EXEMPT, MORE)),
        (None, b"GET /api/v1/namespaces/d/pods/p HTTP/1.1\r\n", (GLOBAL_DEFAULT, GET)),
        # a node's requests move between its two levels by resource
        (
            SYSTEM,
            b"PUT /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n HTTP/1.1\r\n",
            (NODE_HIGH, MORE),
        ),
        (NODE_HIGH, b"PATCH /api/v1/namespaces/d/pods/p/status HTTP/1.1\r\n", (SYSTEM, MORE)),
        (NODE_HIGH, b"GET /api/v1/nodes/n HTTP/1.1\r\n", (NODE_HIGH, GET)),
        (NODE_HIGH, b"GET /version HTTP/1.1\r\n", (SYSTEM, GET)),  # kube: one seat
        (WORKLOAD_LOW, b"GET /api/v1/nodes/n HTTP/1.1\r\n", (WORKLOAD_LOW, GET)),
    ],
)
def test_a_kept_alive_connection_waits_by_the_request_that_came(
    level: str | None, head: bytes, order: tuple[str, int]
) -> None:
    assert order_of_next(level, head) == order_of(*order)


@pytest.mark.parametrize(
    "head",
    [b"", b"GET /api/v1/namespaces/d/pods/p HTT", b"GET /api/v1/pods\r\n", b"\x16\x03\x01\r\n"],
)
def test_a_request_line_not_whole_leaves_the_connection_where_it_was(head: bytes) -> None:
    assert order_of_next(EXEMPT, head) is None
