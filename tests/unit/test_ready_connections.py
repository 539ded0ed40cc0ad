"""The order a worker serves the kept-alive connections whose next request came
(control.httpworker.Ready), in gevent's own loop over real socket pairs: by the priority level
of each connection's request, highest first, within a level a read of one object first, the
rest by arrival, and an admin's read of one object before a node's writes; after a turn's worth
of requests the loop looks for new arrivals, so one of a higher level that came meanwhile goes
before the lower ones still waiting; and a connection waiting past ``overdue`` opens a turn
whatever its level, without taking the turn's time from the others."""

from __future__ import annotations

import time
from typing import Any

import gevent
import pytest
from gevent import socket

from control.apiserver.parking import PARK_KEY
from control.apiserver.priority import (
    EXEMPT,
    GET,
    GLOBAL_DEFAULT,
    LEVEL_KEY,
    MORE,
    NODE_HIGH,
    SYSTEM,
    WORK_KEY,
    order_of,
)
from control.httpworker import (
    DEFAULT_ORDER,
    Corked,
    HeadClock,
    Idle,
    ParkingApp,
    Ready,
    read_early,
)
from tests.unit.test_idle_connections import wait_until

# time.sleep of the standard library, never gevent's: a request busy on the CPU holds the loop.
_busy = time.sleep


class Log:
    def __init__(self) -> None:
        self.order: list[str] = []

    def resume(self, name: str, busy: float = 0.0, then: Any = None) -> Any:
        def run(early: bytes | None = None) -> None:
            self.order.append(name)
            if busy:
                _busy(busy)
            if then is not None:
                then()

        return run


def served(*waiting: tuple[int, str]) -> list[str]:
    """The names of ``waiting`` (order, name) in the order a fresh ``Ready`` starts them, all
    added before the loop's turn."""
    ready, log = Ready(), Log()
    for order, name in waiting:
        ready.add(order, log.resume(name))
    assert len(ready) == len(waiting) and log.order == [], "nothing starts before the loop's turn"
    wait_until("all served", lambda: len(log.order) == len(waiting))
    assert len(ready) == 0
    return log.order


def test_waiting_requests_start_by_level_then_by_arrival() -> None:
    assert served(
        (order_of(SYSTEM), "events-1"),
        (order_of(None), "first-request"),
        (order_of(EXEMPT), "admin-1"),
        (order_of(SYSTEM), "events-2"),
        (order_of(NODE_HIGH), "lease"),
        (order_of(EXEMPT), "admin-2"),
        (order_of("no-such-level"), "unknown"),
    ) == ["lease", "admin-1", "admin-2", "events-1", "events-2", "first-request", "unknown"]


def test_within_a_level_a_read_of_one_object_goes_first_then_the_rest_by_arrival() -> None:
    # an admin's read of one object goes before a node's renewal (priority.STARTS)
    assert served(
        (order_of(EXEMPT, MORE), "list"),
        (order_of(EXEMPT, MORE), "create-1"),
        (order_of(SYSTEM, GET), "node-get"),
        (order_of(EXEMPT, MORE), "create-2"),
        (order_of(EXEMPT, GET), "get"),
        (order_of(NODE_HIGH, MORE), "lease"),
    ) == ["get", "lease", "list", "create-1", "create-2", "node-get"]


def test_an_admins_read_of_one_object_goes_before_a_nodes_writes_not_its_reads() -> None:
    assert served(
        (order_of(EXEMPT, MORE), "admin-create"),
        (order_of(NODE_HIGH, MORE), "lease"),
        (order_of(EXEMPT, GET), "admin-get"),
        (order_of(NODE_HIGH, GET), "node-get"),
        (order_of(SYSTEM, GET), "node-get-pod"),
    ) == ["node-get", "admin-get", "lease", "admin-create", "node-get-pod"]


def test_a_request_of_a_higher_level_that_came_during_a_turn_goes_before_the_rest() -> None:
    ready, log = Ready(turn=0.03), Log()
    idle = Idle(keepalive=60, ready=ready)
    server, client = socket.socketpair()
    try:
        idle.park(server, log.resume("admin"), order_of(EXEMPT))
        # the first status write, 20 ms of CPU, sees an admin's request come
        ready.add(order_of(SYSTEM), log.resume("status-1", 0.02, lambda: client.send(b"GET")))
        for i in range(2, 5):
            ready.add(order_of(SYSTEM), log.resume(f"status-{i}", 0.02))
        wait_until("all served", lambda: len(log.order) == 5)
        # the loop sees it once the turn's 30 ms are up (two writes); the next turn starts
        # with it
        assert log.order == ["status-1", "status-2", "admin", "status-3", "status-4"]
    finally:
        server.close(), client.close()


def test_the_request_waiting_longest_past_overdue_opens_a_turn_whatever_its_level() -> None:
    ready, log = Ready(overdue=0.0, turn=10.0), Log()
    for i in range(1, 4):
        ready.add(order_of(GLOBAL_DEFAULT), log.resume(f"old-{i}"))
    ready.add(order_of(EXEMPT), log.resume("admin"))
    wait_until("all served", lambda: len(log.order) == 4)
    # one overdue request a turn; the rest of the turn goes by level
    assert log.order == ["old-1", "admin", "old-2", "old-3"]


def test_an_overdue_request_does_not_take_the_turn_of_those_waiting_by_level() -> None:
    ready, log = Ready(overdue=0.05, turn=0.01), Log()
    for i in (1, 2):  # each takes three turns' worth of CPU
        ready.add(order_of(GLOBAL_DEFAULT), log.resume(f"old-{i}", 0.03))
    _busy(0.06)  # the loop is held: both are overdue when it turns
    ready.add(order_of(EXEMPT, GET), log.resume("admin-get"))
    wait_until("all served", lambda: len(log.order) == 3)
    # the first overdue request runs, then the turn starts by level: the admin's GET does not
    # wait for the second one (which had opened the next turn before)
    assert log.order == ["old-1", "admin-get", "old-2"]


def test_a_failing_request_does_not_stop_the_turn(capsys: pytest.CaptureFixture[str]) -> None:
    ready, log = Ready(), Log()

    def fails() -> None:
        raise RuntimeError("boom")

    ready.add(order_of(EXEMPT), fails)
    ready.add(order_of(SYSTEM), log.resume("next"))
    wait_until("the next served", lambda: log.order == ["next"])
    assert "boom" in capsys.readouterr().err


def test_a_request_that_waits_gives_the_loop_back_and_goes_on_later() -> None:
    ready, log = Ready(), Log()

    def sleep_then_wake() -> None:
        gevent.sleep(0.05)
        log.order.append("woke")

    ready.add(order_of(SYSTEM), log.resume("sleeper", then=sleep_then_wake))
    ready.add(order_of(GLOBAL_DEFAULT), log.resume("other"))
    wait_until("all served", lambda: len(log.order) == 3)
    assert log.order == ["sleeper", "other", "woke"]


def test_idle_connections_are_served_again_by_the_level_of_their_last_request() -> None:
    ready = Ready()
    idle = Idle(keepalive=60, ready=ready)
    order: list[str] = []
    pairs = []
    for name, level in (("node", SYSTEM), ("new", None), ("admin", EXEMPT), ("lease", NODE_HIGH)):
        server, client = socket.socketpair()
        pairs.append((server, client))

        def served(early: bytes | None, name: str = name) -> None:
            assert early is not None
            order.append(f"{name}:{early.decode()}")

        idle.park(server, served, order_of(level), level)
    for _, client in pairs:  # all in one turn of the loop: this greenlet does not yield
        client.sendall(b"GET")
    wait_until("all served", lambda: len(order) == 4)
    assert order == ["lease:GET", "admin:GET", "node:GET", "new:GET"]
    assert len(idle) == 0 and len(ready) == 0
    for server, client in pairs:
        server.close(), client.close()


def test_a_connection_waits_by_the_request_its_client_sent_and_is_handed_its_bytes() -> None:
    ready = Ready()
    idle = Idle(keepalive=60, ready=ready)
    served: list[tuple[str, bytes | None]] = []
    sent = {
        # name: (its last request's level, what its client sends now)
        "list": (EXEMPT, b"GET /api/v1/namespaces/d/pods HTTP/1.1\r\nHost: x\r\n\r\n"),
        "create": (EXEMPT, b"POST /api/v1/namespaces/d/pods HTTP/1.1\r\nContent-Length: 2"),
        "not-told": (EXEMPT, b"GET /api/v1/namespaces/d/po"),
        "get": (EXEMPT, b"GET /api/v1/namespaces/d/pods/p HTTP/1.1\r\n\r\n"),
        "lease": (SYSTEM, b"PUT /apis/coordination.k8s.io/v1/namespaces/l/leases/n HTTP/1.1\r\n"),
    }
    pairs = []
    for name, (level, _) in sent.items():
        server, client = socket.socketpair()
        pairs.append((server, client))

        def resume(early: bytes | None, name: str = name) -> None:
            served.append((name, early))

        # each parked where a write of global-default waits: without its bytes, it waits there
        idle.park(server, resume, order_of(GLOBAL_DEFAULT, MORE), level)
    for (_, client), (_, data) in zip(pairs, sent.values(), strict=True):
        client.sendall(data)  # all in one turn of the loop: this greenlet does not yield
    wait_until("all served", lambda: len(served) == 5)
    names = [name for name, _ in served]
    # the create and the list by arrival, which is the order the loop saw their sockets in
    assert names[:2] == ["get", "lease"] and set(names[2:4]) == {"create", "list"}
    assert names[4] == "not-told"
    assert dict(served) == {name: data for name, (_, data) in sent.items()}
    for server, client in pairs:
        server.close(), client.close()


def test_the_bytes_read_early_are_the_first_the_request_reads() -> None:
    server, client = socket.socketpair()
    try:
        clock = HeadClock(server, time.monotonic() + 10, 10.0, early=b"GET / HT")
        clock.idle()
        client.sendall(b"TP/1.1\r\n")
        assert clock.recv(100) == b"GET / HT"
        assert clock.deadline is not None, "they start the head's clock"
        assert clock.recv(100) == b"TP/1.1\r\n"
        assert HeadClock(server, time.monotonic() + 10, 10.0, early=b"").recv(100) == b""
    finally:
        server.close(), client.close()


def test_nothing_to_read_yet_is_none_and_a_closed_connection_is_its_end() -> None:
    server, client = socket.socketpair()
    try:
        assert read_early(server) is None
        assert server.gettimeout() is None, "the socket's timeout is put back"
        client.sendall(b"GET")
        wait_until("readable", lambda: read_early(server) == b"GET")
        client.close()
        wait_until("the end read", lambda: read_early(server) == b"")
    finally:
        server.close()


def test_the_level_and_work_a_request_was_given_stay_with_its_connection() -> None:
    server, client = socket.socketpair()
    try:
        corked = Corked(server)

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            assert environ[PARK_KEY] is True
            if environ["PATH_INFO"] != "/version":
                environ[LEVEL_KEY] = NODE_HIGH
                environ[WORK_KEY] = GET
            return [b"ok"]

        wrapped = ParkingApp(app)
        assert corked.order == DEFAULT_ORDER == order_of(GLOBAL_DEFAULT, MORE)
        assert corked.level is None
        environ = {"PATH_INFO": "/apis/coordination.k8s.io/v1", "gunicorn.socket": corked}
        assert wrapped(environ, None) == [b"ok"]
        assert (corked.order, corked.level) == (order_of(NODE_HIGH, GET), NODE_HIGH)
        assert wrapped({"PATH_INFO": "/version", "gunicorn.socket": corked}, None) == [b"ok"]
        assert corked.order == order_of(NODE_HIGH, GET), "a request with no level leaves the last"
    finally:
        server.close(), client.close()
