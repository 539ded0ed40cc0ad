"""Priority levels for the short requests a worker runs at once, after kube-apiserver's API
Priority and Fairness with its default configuration: ``level_of`` (pure) matches a request to a
priority level as the default FlowSchemas do, and a ``Gate`` runs at most each level's share of
the worker's seats at once; a request that finds its level's seats taken waits in its level's
queue, and one still waiting after ``queue_wait`` seconds gets 429 with ``Retry-After``.

So a node's Lease renewal, which has seats of its own, is not held up behind a flood of pod
status writes, events or another client's requests. See docs/back-pressure.md.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from common import errors, metrics
from control.apiserver.auth import MASTERS_GROUP, NODES_GROUP, SA_GROUP, User

EXEMPT = "exempt"
NODE_HIGH = "system-node-high"
SYSTEM = "system"
WORKLOAD_LOW = "workload-low"
GLOBAL_DEFAULT = "global-default"
CATCH_ALL = "catch-all"
# kube's nominalConcurrencyShares of the priority levels the default FlowSchemas send tinykube's
# users to (leader-election, workload-high and the controllers' own levels have no user here:
# the controllers read and write in-process).
SHARES: Mapping[str, int] = {
    NODE_HIGH: 40,
    SYSTEM: 30,
    WORKLOAD_LOW: 100,
    GLOBAL_DEFAULT: 20,
    CATCH_ALL: 5,
}
# The FlowSchema that sends a request to each level (the metrics' flow_schema label).
FLOW_SCHEMAS: Mapping[str, str] = {
    EXEMPT: "exempt",
    NODE_HIGH: "system-node-high",
    SYSTEM: "system-nodes",
    WORKLOAD_LOW: "service-accounts",
    GLOBAL_DEFAULT: "global-default",
    CATCH_ALL: "catch-all",
}
# system-node-high: a node's requests on Nodes (and their status) and on Leases.
NODE_HIGH_RESOURCES = frozenset({"nodes", "leases"})
# The levels in the order a worker starts the waiting requests of its kept-alive connections
# (``control.httpworker.Ready``), in this order: a node's Lease renewals and Node status (a late
# renewal makes a node NotReady, and they are few and short), then exempt, then the rest as
# kube-apiserver's default FlowSchemas rank them (their matching precedence); ``STARTS`` puts an
# admin's reads of one object before the nodes' writes.
RANKS: tuple[str, ...] = (NODE_HIGH, EXEMPT, SYSTEM, WORKLOAD_LOW, GLOBAL_DEFAULT, CATCH_ALL)
_RANK = {level: i for i, level in enumerate(RANKS)}
# Where a request's level, and the work it was estimated to take, are left for the server (its
# WSGI environ).
LEVEL_KEY = "tinykube.priority_level"
WORK_KEY = "tinykube.work"
# The work a request is estimated to take, as far as the order a worker starts the requests of
# a level in goes: a read of one object (one seat, the fewest, in kube-apiserver's work
# estimator, k8s.io/apiserver/pkg/util/flowcontrol/request), or more (a write: more seats for
# the watchers its event goes to; a list: more for the objects it returns), which keep their
# order of arrival among themselves, so that writes do not starve lists nor lists writes.
GET, MORE = 0, 1
WORKS = 2
# Seconds a request may wait for a seat: a quarter of kube-apiserver's 60 s request timeout.
QUEUE_WAIT = 15.0
RETRY_AFTER = 1
MESSAGE = "Too many requests, please try again later."


def level_of(user: User | None, resource: str) -> str:
    """The priority level of a request by ``user`` on ``resource`` (the first segment of its
    path after the namespace; "" for a request outside the resource paths)."""
    if user is None:
        return GLOBAL_DEFAULT  # global-default matches system:unauthenticated too
    if MASTERS_GROUP in user.groups:
        return EXEMPT
    if NODES_GROUP in user.groups:
        return _node_level(resource)
    if SA_GROUP in user.groups:
        return WORKLOAD_LOW
    return GLOBAL_DEFAULT


def relevel(level: str | None, resource: str) -> str | None:
    """The level of a request on ``resource`` by the user whose last request had ``level``
    (``level_of``'s rule, from the level instead of the user): a node's requests go to
    system-node-high or system by their resource, every other user's to one level."""
    if level in (NODE_HIGH, SYSTEM):  # only a node's requests have these
        return _node_level(resource)
    return level


def _node_level(resource: str) -> str:
    """The level of a node's request on ``resource``."""
    return NODE_HIGH if resource in NODE_HIGH_RESOURCES else SYSTEM


def rank_of(level: str | None) -> int:
    """The rank of ``level`` in ``RANKS``; one unknown (None: no request had one) ranks as
    global-default."""
    return _RANK.get(level or GLOBAL_DEFAULT, _RANK[GLOBAL_DEFAULT])


def work_of(reads: bool, named: bool) -> int:
    """The work a short request is estimated to take: ``reads``, whether it only reads;
    ``named``, whether it is on one object (a collection's path is not)."""
    return GET if reads and named else MORE


# The order a worker starts the waiting requests in (``control.httpworker.Ready``), as (level,
# work) pairs: by level, within a level a read of one object first; but an admin's read of one
# object goes before a node's renewals and status writes. kube-apiserver queues no request of the
# exempt level at all, and a node's writes do not delay it there; here one event loop starts
# every request, and a GET, the shortest request there is, waited behind a burst of renewals
# that each took the loop some 10 ms of a busy machine (docs/serving.md, "Who goes first"). The
# admin's other requests, writes by the hundred a second under a benchmark or a script, still
# come after the nodes', whose lateness makes nodes NotReady.
STARTS: tuple[tuple[str, int], ...] = (
    (NODE_HIGH, GET),
    (EXEMPT, GET),
    (NODE_HIGH, MORE),
    (EXEMPT, MORE),
    *((level, work) for level in RANKS[2:] for work in (GET, MORE)),
)
_START = {pair: i for i, pair in enumerate(STARTS)}


def order_of(level: str | None, work: int = MORE) -> int:
    """Where a kept-alive connection waits for its next request to start
    (``control.httpworker.Ready``), that request being of ``level`` and ``work``: its place in
    ``STARTS``. A level not known ranks as global-default, and a connection none of whose
    requests had a level yet waits as ``order_of(None)``, a write of global-default."""
    return _START[(RANKS[rank_of(level)], work)]


ORDERS = len(STARTS)


def nominal_seats(total: int) -> dict[str, int]:
    """Each level's seats out of ``total``: its share of the shares, rounded up (as kube's
    nominal concurrency limit)."""
    shares = sum(SHARES.values())
    return {level: max(1, math.ceil(total * s / shares)) for level, s in SHARES.items()}


@dataclass
class _Level:
    seats: int
    executing: int = 0
    waiting: deque[threading.Event] = field(default_factory=deque)


class Gate:
    """Seats per priority level in one worker; ``total`` 0 turns the gate off."""

    def __init__(self, total: int, queue_wait: float = QUEUE_WAIT) -> None:
        self.total = total
        self.queue_wait = queue_wait
        self._lock = threading.Lock()
        self._levels = {name: _Level(seats) for name, seats in nominal_seats(total).items()}
        for name, level in self._levels.items():
            metrics.FLOWCONTROL_NOMINAL_SEATS.labels(name).set(level.seats)

    def enter(self, level: str) -> bool:
        """Take a seat of ``level``, waiting for one in its queue; False if the request does not
        take one (exempt, or the gate is off). Raises ``TooManyRequestsError`` when the wait
        runs out."""
        lv = self._levels.get(level)
        if lv is None or self.total <= 0:
            return False
        schema = FLOW_SCHEMAS[level]
        with self._lock:
            if lv.executing < lv.seats and not lv.waiting:
                lv.executing += 1
                self._executing(level, schema, 1)
                metrics.FLOWCONTROL_WAIT.labels(level, schema, "true").observe(0.0)
                return True
            turn = threading.Event()
            lv.waiting.append(turn)
        return self._wait(level, schema, lv, turn)

    def _wait(self, level: str, schema: str, lv: _Level, turn: threading.Event) -> bool:
        start = time.monotonic()
        metrics.FLOWCONTROL_INQUEUE.labels(level, schema).inc()
        try:
            if turn.wait(self.queue_wait):
                return self._seated(level, schema, start)
            with self._lock:
                if turn.is_set():  # handed a seat as the wait ran out
                    return self._seated(level, schema, start)
                lv.waiting.remove(turn)
        finally:
            metrics.FLOWCONTROL_INQUEUE.labels(level, schema).dec()
        metrics.FLOWCONTROL_WAIT.labels(level, schema, "false").observe(time.monotonic() - start)
        metrics.FLOWCONTROL_REJECTED.labels(level, schema, "time-out").inc()
        raise errors.TooManyRequestsError(MESSAGE, details={"retryAfterSeconds": RETRY_AFTER})

    def _seated(self, level: str, schema: str, start: float) -> bool:
        metrics.FLOWCONTROL_WAIT.labels(level, schema, "true").observe(time.monotonic() - start)
        return True

    def leave(self, level: str) -> None:
        """Give the seat back: to the level's longest waiting request, if one waits."""
        lv = self._levels[level]
        with self._lock:
            if lv.waiting:
                lv.waiting.popleft().set()  # the seat changes hands: executing stays
                return
            lv.executing -= 1
        self._executing(level, FLOW_SCHEMAS[level], -1)

    def _executing(self, level: str, schema: str, delta: int) -> None:
        metrics.FLOWCONTROL_EXECUTING.labels(level, schema).inc(delta)

    def counts(self) -> dict[str, tuple[int, int]]:
        """(executing, waiting) of each level."""
        with self._lock:
            return {n: (lv.executing, len(lv.waiting)) for n, lv in self._levels.items()}
