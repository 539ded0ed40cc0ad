"""Back-pressure: how many requests the API server serves at once, kube-apiserver's max-inflight
filter plus a tinykube cap on long-running requests. ``classify`` is pure; the ``Limiter`` only
counts (a lock, no I/O); ``install`` wires it into the Flask app after authentication.

As kube-apiserver with priority and fairness off: read-only requests (get, list) and mutating
ones (everything else) each have their own cap, and a request over it is answered 429 with
``Retry-After: 1``; long-running requests (watch, and the log, exec, attach, portforward and
proxy subresources) do not count against them, and ``system:masters`` is always served (counted
while there is room, as kube-apiserver does). The health probes are never limited (priority and
fairness puts them in its exempt ``probes`` flow schema). Where kube-apiserver answers in plain
text, tinykube sends the same sentence as a ``Status`` (reason ``TooManyRequests``,
``details.retryAfterSeconds``), the shape client-go turns a 429 into, so every error is a Status.

Where Kubernetes relies on priority and fairness to keep one client from crowding out the
others, tinykube caps long-running requests per user (a node or any other non-admin credential)
and in all, in each API worker: each of them holds a connection, a greenlet and a turn on the
worker's Redis stream connections for as long as it is open. See
docs/back-pressure.md for the defaults and the reasons.
"""

from __future__ import annotations

import enum
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from flask import Flask, Response, g, request

from common import errors
from control.apiserver import priority, query
from control.apiserver.auth import MASTERS_GROUP, User
from control.apiserver.rest import NAMESPACE_SUBRESOURCES

# kube-apiserver's retryAfter for max-inflight rejections, in seconds.
RETRY_AFTER = 1
MESSAGE = "Too many requests, please try again later."
# BasicLongRunningRequestCheck: the verbs and subresources that may stay open indefinitely.
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "log", "portforward", "proxy"})
# Paths outside every limit: probes must answer even when the server is saturated.
EXEMPT_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Kind(enum.Enum):
    EXEMPT = "exempt"
    READONLY = "readonly"
    MUTATING = "mutating"
    LONG_RUNNING = "long-running"


@dataclass(frozen=True)
class Limits:
    """The caps; 0 means no limit, as for kube-apiserver's flags."""

    readonly: int = 400  # --max-requests-inflight
    mutating: int = 200  # --max-mutating-requests-inflight
    # --max-long-running-requests: all non-admin users together. A watch costs a greenlet and a
    # socket (some 50 KB), not a thread. A node holds about ten (its pods, Services, and each
    # ConfigMap and Secret its pods use, one watch each, as the kubelet's): room on one worker
    # for every watch of a 1,000-node cluster. At 3,000 a worker, a 1,000-node cluster's 7,500
    # watches did not fit in two: watches kept reconnecting, each with a TLS handshake, and
    # raising the cap alone took the idle cluster from 72 % to 28 % of a core.
    long_running: int = 10000
    long_running_per_user: int = 32  # --max-long-running-requests-per-user
    # --priority-seats: short requests a worker runs at once, shared among the priority levels
    # (control/apiserver/priority.py); as many as the worker's Redis connections, so that a
    # request that runs always finds one. 0: no priority levels.
    seats: int = 64

    def connections(self) -> int:
        """Connections a worker must serve at once so that no request under the caps waits."""
        return self.readonly + self.mutating + self.long_running


@dataclass(frozen=True)
class Slot:
    """One admitted request that counts, to be given back when it ends."""

    kind: Kind
    user: str | None = None


def classify(method: str, path: str, args: Mapping[str, str]) -> Kind:
    """Which limit a request counts against (kube-apiserver's RequestInfo verb and
    long-running check, on tinykube's paths)."""
    if path in EXEMPT_PATHS:
        return Kind.EXEMPT
    parts = _resource_parts(path)
    if parts is not None:
        if method == "GET" and _watching(args):
            return Kind.LONG_RUNNING
        if len(parts) == 3 and parts[2] in LONG_RUNNING_SUBRESOURCES:
            return Kind.LONG_RUNNING
    return Kind.READONLY if method in READ_METHODS else Kind.MUTATING


def order_of_next(level: str | None, head: bytes) -> int | None:
    """Where a kept-alive connection waits for its next request to start
    (``control.httpworker.Ready``), from the first bytes of that request, ``head``, and the
    priority level of its last one: the client is the same, the resource and the work are the
    new request's. None when ``head`` does not hold its whole request line."""
    line, sep, _ = head.partition(b"\r\n")
    words = line.split(b" ")
    if not sep or len(words) != 3:
        return None
    method, target = words[0].decode("latin-1"), words[1].decode("latin-1")
    path, _, query_string = target.partition("?")
    args = dict(parse_qsl(query_string)) if query_string else {}
    parts = _resource_parts(path)
    level = priority.relevel(level, parts[0] if parts else "")
    if classify(method, path, args) is Kind.LONG_RUNNING:
        return priority.order_of(level, priority.MORE)  # a watch (a log) lists first
    return priority.order_of(level, _work(method in READ_METHODS, parts))


def _work(reads: bool, parts: list[str] | None) -> int:
    """The work a short request on the resource path ``parts`` (None: another path, as
    ``/version``, kube's non-resource requests: the fewest seats) is estimated to take."""
    return priority.work_of(reads, parts is None or len(parts) > 1)


def _watching(args: Mapping[str, str]) -> bool:
    """Whether the REST routes will serve a watch: the same parse of ``watch`` as theirs (Go's
    ParseBool), so no spelling of it is a watch there and a short request here. A value that does
    not parse is refused there with a 400; here it is not a watch."""
    try:
        return query.flag(args, "watch")
    except errors.BadRequestError:
        return False


def _resource_parts(path: str) -> list[str] | None:
    """``[RESOURCE, NAME, SUB]`` (or fewer) of an API path, without its namespace; None if the
    path is not under ``/api/v1`` or ``/apis/GROUP/VERSION``."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    elif parts[0] == "apis" and len(parts) > 3:
        parts = parts[3:]
    else:
        return None
    namespace_sub = len(parts) == 3 and parts[2] in NAMESPACE_SUBRESOURCES
    if len(parts) >= 3 and parts[0] == "namespaces" and not namespace_sub:
        parts = parts[2:]
    return parts


class Limiter:
    """Counts the requests being served and refuses those over their cap."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._counts: Counter[Kind] = Counter()
        self._per_user: Counter[str] = Counter()

    def admit(self, kind: Kind, user: User | None) -> Slot | None:
        """The slot the request holds (None if it does not count); raises
        ``TooManyRequestsError`` when it is over its cap."""
        if kind is Kind.EXEMPT:
            return None
        master = user is not None and MASTERS_GROUP in user.groups
        if kind is Kind.LONG_RUNNING:
            if master:
                return None
            return self._admit_long_running(user.name if user else "")
        cap = self.limits.readonly if kind is Kind.READONLY else self.limits.mutating
        with self._lock:
            if not cap or self._counts[kind] < cap:
                self._counts[kind] += 1
                return Slot(kind)
        if master:
            return None  # "A system:master is so powerful that they should always get an answer"
        raise _too_many(MESSAGE)

    def _admit_long_running(self, user: str) -> Slot:
        per_user, total = self.limits.long_running_per_user, self.limits.long_running
        with self._lock:
            if per_user and self._per_user[user] >= per_user:
                raise _too_many(
                    f'{MESSAGE[:-1]}: user "{user}" already has {per_user} long-running '
                    "requests (watch, log, exec, portforward) open"
                )
            if total and self._counts[Kind.LONG_RUNNING] >= total:
                raise _too_many(
                    f"{MESSAGE[:-1]}: {total} long-running requests (watch, log, exec, "
                    "portforward) are already open"
                )
            self._counts[Kind.LONG_RUNNING] += 1
            self._per_user[user] += 1
        return Slot(Kind.LONG_RUNNING, user)

    def release(self, slot: Slot) -> None:
        with self._lock:
            self._counts[slot.kind] -= 1
            if slot.user is not None:
                self._per_user[slot.user] -= 1
                if not self._per_user[slot.user]:
                    del self._per_user[slot.user]

    def in_flight(self, kind: Kind, user: str | None = None) -> int:
        """Requests of ``kind`` being served now (of ``user``, for long-running ones)."""
        with self._lock:
            return self._per_user[user] if user is not None else self._counts[kind]


def _too_many(message: str) -> errors.TooManyRequestsError:
    return errors.TooManyRequestsError(message, details={"retryAfterSeconds": RETRY_AFTER})


def install(app: Flask, limiter: Limiter, gate: priority.Gate) -> None:
    """Admit every request after authentication and give its slot back when it ends: when the
    view returns, or for a streamed answer (a watch, a log) when the stream is closed. A short
    request then takes a seat of its priority level in ``gate``, waiting for one if need be."""

    @app.before_request
    def admit() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]
        ctx = g._get_current_object()
        path = req.path
        kind = classify(req.method, path, req.args)
        user = ctx.get("user")
        ctx.inflight = limiter.admit(kind, user)
        if kind in (Kind.READONLY, Kind.MUTATING):
            parts = _resource_parts(path)
            level = priority.level_of(user, parts[0] if parts else "")
            environ = req.environ
            environ[priority.LEVEL_KEY] = level
            environ[priority.WORK_KEY] = _work(kind is Kind.READONLY, parts)
            if gate.enter(level):
                ctx.seat = level

    @app.after_request
    def hold_while_streaming(resp: Response) -> Response:
        if not resp.is_streamed:
            return resp
        slot, seat = g.pop("inflight", None), g.pop("seat", None)
        if slot is not None:
            resp.call_on_close(lambda: limiter.release(slot))
        if seat is not None:
            resp.call_on_close(lambda: gate.leave(seat))
        return resp

    @app.teardown_request
    def release(exc: BaseException | None) -> None:
        slot, seat = g.pop("inflight", None), g.pop("seat", None)
        if slot is not None:
            limiter.release(slot)
        if seat is not None:
            gate.leave(seat)
