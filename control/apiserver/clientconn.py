"""Whether the client of a streamed answer (a watch) has gone away, without writing to it.

A stream that writes only when something happens would otherwise notice a client that closed
its end only at its next write, and hold its greenlet, its long-running slot and its socket in
CLOSE-WAIT until then. Under gevent a ``Hangup`` keeps a read watcher on the client's socket in
the event loop: a quiet client costs nothing, and the moment the socket turns readable a look
at it (poll with POLLRDHUP, then a peek) tells a close, which ends the stream's wait at once,
from bytes sent early, which are left unread. Elsewhere ``Polled`` looks when asked. Effectful
(polls and peeks of the socket, never a read of its bytes, never blocking).
"""

from __future__ import annotations

import _socket
import contextlib
import select
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import gevent
from gevent.monkey import get_original, is_module_patched

# How often a stream whose client cannot be watched looks at it while quiet.
CHECK_SECONDS = 10.0
# The pauses before looking again at a client whose socket holds bytes (a TLS close_notify
# alert just before its FIN, a pipelined request): from the first, doubling up to the last.
RECHECK_FIRST = 0.05
RECHECK_LAST = 1.0
# Linux reports a peer's FIN as POLLRDHUP even when unread bytes come before it.
_RDHUP = getattr(select, "POLLRDHUP", 0)
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL | _RDHUP
_poll = get_original("select", "poll")
_READ = 1  # the event loop's EV_READ

GONE, DATA, QUIET = "gone", "data", "quiet"


class ClientGone(Exception):
    """The client closed its connection while the stream waited."""


class Client(Protocol):
    """The client of one streamed answer, as the stream looks at it."""

    @property
    def gone(self) -> bool: ...

    def waiting(self) -> contextlib.AbstractContextManager[None]:
        """Around a wait for the stream's next line: raises ``ClientGone`` out of it as soon
        as the client closes (where the client can be watched)."""
        ...

    def close(self) -> None: ...


def watchable(environ: Mapping[str, Any]) -> bool:
    """Whether this request's client can be watched in the event loop: the server exposes its
    socket and serves it from a greenlet (gevent's patched threads: a wait can be interrupted)."""
    return _socket_of(environ) is not None and is_module_patched("threading")


def client_of(environ: Mapping[str, Any]) -> Client:
    """The client of this request, from the greenlet serving it: watched in the event loop
    where it can be, else looked at when asked (never gone where the server does not expose the
    socket, e.g. a test client)."""
    sock = _socket_of(environ)
    if sock is not None and watchable(environ):
        with contextlib.suppress(OSError, ValueError):
            return Hangup(sock)
    return Polled(sock)


def _socket_of(environ: Mapping[str, Any]) -> Any:
    return environ.get("gunicorn.socket") or environ.get("werkzeug.socket")


def look(sock: socket.socket) -> str:
    """GONE (the peer closed or the socket failed), DATA (bytes waiting, left unread) or
    QUIET, as the kernel has the socket now."""
    try:
        fd = sock.fileno()
    except (OSError, ValueError):
        return GONE
    if fd < 0:
        return GONE
    poller = _poll()
    poller.register(fd, select.POLLIN | _RDHUP)
    for _, events in poller.poll(0):
        if events & _GONE:
            return GONE
        if events & select.POLLIN:
            return _peek(fd)
    return QUIET


def _peek(fd: int) -> str:
    """Readable: end of file, an error, or bytes (at the TCP level, under TLS too)."""
    raw = _socket.socket(fileno=fd)
    try:
        return GONE if raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"" else DATA
    except BlockingIOError:
        return QUIET
    except OSError:
        return GONE
    finally:
        raw.detach()


def peer_closed(sock: socket.socket) -> bool:
    return look(sock) == GONE


def closed_check(environ: Mapping[str, Any]) -> Callable[[], bool]:
    """A function telling whether this request's client has closed its connection."""
    sock = _socket_of(environ)
    if sock is None:
        return lambda: False
    return lambda: peer_closed(sock)


class Polled:
    """A client looked at only when the stream asks (each line, each quiet moment)."""

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock

    @property
    def gone(self) -> bool:
        return self._sock is not None and peer_closed(self._sock)

    def waiting(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def close(self) -> None:
        pass


class Hangup:
    """A client watched in gevent's loop from the greenlet serving it: a read watcher wakes
    nothing while the client is quiet; when its socket turns readable, a close throws
    ``ClientGone`` into the serving greenlet if it is inside ``waiting()`` (a blocking wait,
    as a ``gevent.Timeout`` interrupts one), else marks ``gone``. Bytes sent early stop the
    watcher (the loop would report them again and again) and the socket is looked at again
    after a pause, doubling from ``RECHECK_FIRST`` up to ``RECHECK_LAST``."""

    def __init__(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd < 0:
            raise ValueError("a closed socket")
        self._sock = sock
        self._greenlet: Any = gevent.getcurrent()
        self._loop = gevent.get_hub().loop
        self._io = self._loop.io(fd, _READ)
        self._timer: Any = None
        self._pause = RECHECK_FIRST
        self._waiting = False
        self.gone = False
        # Called when the client closes, for a stream served without its greenlet (parked).
        self.on_gone: Callable[[], None] | None = None
        self._io.start(self._readable)

    def waiting(self) -> Hangup:
        """Itself as the context manager (no generator for each of thousands of waits)."""
        if self.gone:
            raise ClientGone
        return self

    def detach(self, on_gone: Callable[[], None]) -> None:
        """No greenlet waits for the stream any more (it is parked): a close calls ``on_gone``
        (in the event loop), and the greenlet that served it is let go."""
        self._greenlet, self._waiting, self.on_gone = None, False, on_gone

    def __enter__(self) -> None:
        self._waiting = True

    def __exit__(self, *exc: object) -> None:
        self._waiting = False

    def _readable(self) -> None:
        self._io.stop()
        state = look(self._sock)
        if state == GONE:
            self.gone = True
            if self._waiting:
                self._greenlet.throw(ClientGone)
            elif self.on_gone is not None:
                self.on_gone()
        elif state == DATA:
            if self._timer is not None:
                self._timer.close()
            self._timer = self._loop.timer(self._pause)
            self._timer.start(self._readable)
            self._pause = min(self._pause * 2, RECHECK_LAST)
        else:
            self._io.start(self._readable)

    def close(self) -> None:
        self._io.stop()
        self._io.close()
        if self._timer is not None:
            self._timer.stop()
            self._timer.close()
