"""Priority levels: which level a request goes to (as kube's default FlowSchemas), each level's
share of the seats, and the gate: a level's seats are its own, a waiting request gets the next
free seat of its level in turn, and one that waits too long is refused with 429."""

from __future__ import annotations

import threading
import time

import pytest

from common import errors
from control.apiserver import priority
from control.apiserver.auth import User
from control.apiserver.priority import (
    CATCH_ALL,
    EXEMPT,
    GLOBAL_DEFAULT,
    NODE_HIGH,
    SYSTEM,
    WORKLOAD_LOW,
    Gate,
    level_of,
    nominal_seats,
    order_of,
)

NODE = User("system:node:n1", ("system:nodes", "system:authenticated"))


@pytest.mark.parametrize(
    ("user", "resource", "level"),
    [
        (User("admin", ("system:masters",)), "pods", EXEMPT),
        (NODE, "leases", NODE_HIGH),
        (NODE, "nodes", NODE_HIGH),
        (NODE, "pods", SYSTEM),
        (NODE, "events", SYSTEM),
        (NODE, "", SYSTEM),
        (User("system:serviceaccount:a:b", ("system:serviceaccounts",)), "pods", WORKLOAD_LOW),
        (User("alice", ("system:authenticated",)), "leases", GLOBAL_DEFAULT),
        (User("bob"), "pods", GLOBAL_DEFAULT),
        (None, "", GLOBAL_DEFAULT),
    ],
)
def test_requests_go_to_the_levels_of_the_default_flow_schemas(
    user: User | None, resource: str, level: str
) -> None:
    assert level_of(user, resource) == level


def test_each_level_gets_its_share_of_the_seats_rounded_up() -> None:
    # shares 40, 30, 100, 20, 5 of 195
    assert nominal_seats(64) == {
        NODE_HIGH: 14, SYSTEM: 10, WORKLOAD_LOW: 33, GLOBAL_DEFAULT: 7, CATCH_ALL: 2,
    }  # fmt: skip
    assert min(nominal_seats(1).values()) == 1


def test_a_full_level_does_not_hold_up_another() -> None:
    gate = Gate(8, queue_wait=0.05)
    seats = nominal_seats(8)[SYSTEM]
    assert all(gate.enter(SYSTEM) for _ in range(seats))
    with pytest.raises(errors.TooManyRequestsError) as e:
        gate.enter(SYSTEM)
    assert e.value.details["retryAfterSeconds"] == 1
    assert gate.counts()[SYSTEM] == (seats, 0)  # the refused request left the queue
    assert gate.enter(NODE_HIGH)
    assert gate.counts()[NODE_HIGH] == (1, 0)


def test_exempt_requests_and_an_open_gate_take_no_seat() -> None:
    assert Gate(8).enter(EXEMPT) is False
    off = Gate(0)
    assert all(off.enter(SYSTEM) is False for _ in range(100))


def test_a_freed_seat_goes_to_the_longest_waiting_request() -> None:
    gate = Gate(8, queue_wait=10)
    seats = nominal_seats(8)[SYSTEM]
    for _ in range(seats):
        gate.enter(SYSTEM)
    order: list[int] = []

    def wait(i: int) -> None:
        gate.enter(SYSTEM)
        order.append(i)

    threads = []
    for i in range(2):
        t = threading.Thread(target=wait, args=(i,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while gate.counts()[SYSTEM][1] < i + 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    assert gate.counts()[SYSTEM] == (seats, 2)
    gate.leave(SYSTEM)
    threads[0].join(5)
    assert order == [0]
    assert gate.counts()[SYSTEM] == (seats, 1)  # handed over: still as many running
    gate.leave(SYSTEM)
    threads[1].join(5)
    assert order == [0, 1]
    for _ in range(seats):
        gate.leave(SYSTEM)
    assert gate.counts()[SYSTEM] == (0, 0)


def test_the_refusal_is_the_max_inflight_sentence() -> None:
    assert priority.MESSAGE == "Too many requests, please try again later."


def test_every_level_and_work_has_a_place_of_its_own_in_the_start_order() -> None:
    pairs = [(level, work) for level in priority.RANKS for work in (priority.GET, priority.MORE)]
    assert sorted(order_of(level, work) for level, work in pairs) == list(range(priority.ORDERS))
    assert order_of(None) == order_of("no-such-level") == order_of(GLOBAL_DEFAULT, priority.MORE)
