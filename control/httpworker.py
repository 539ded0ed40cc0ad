"""The API server's gunicorn worker: gthread's, with a deadline on each request's head.

gthread hands a new connection to a thread at once, which then waits up to 5 s for its first
bytes and, for TLS, runs the handshake and reads the request head with no deadline at all: 140
connections that send nothing held every thread and stalled ``/healthz`` for seconds, and one
that sends half a head holds its thread forever. Here a new connection waits in the worker's
poller (no thread) until it sends something, and the TLS handshake plus the request head must
arrive within ``head_timeout`` of the connection (kube-apiserver's ReadHeaderTimeout, 32 s, is
shorter here because each slow head holds a thread); so must each later request head on a
kept-alive connection, once its first byte is in. A connection that misses it is closed
without lingering; one that ends normally lingers in its own thread, not in the event loop.
Effectful: sockets and gunicorn's event loop.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from functools import partial
from typing import Any, ClassVar

from gunicorn import sock as gsock
from gunicorn.http import get_parser
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import TConn, ThreadWorker

# Seconds for the TLS handshake and request head (see the module docstring).
DEFAULT_HEAD_TIMEOUT = 10.0


class _HeadClock:
    """The socket the request parser reads from: within a head, every read gets the time left
    until the head's deadline, so a client trickling bytes cannot stretch it."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline: float | None = deadline
        self.expired = False

    def recv(self, size: int) -> bytes:
        if self.deadline is None:
            return self.sock.recv(size)
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            return self.sock.recv(size)
        except TimeoutError:
            self.expired = True
            raise NoMoreData() from None  # gunicorn closes the connection without a word
        finally:
            self.sock.settimeout(None)


class Conn(TConn):  # type: ignore[misc]
    """A connection whose TLS handshake and request heads run under a deadline."""

    # gthread's own attributes, as this class uses them.
    cfg: Any
    sock: Any
    client: Any
    parser: Any
    initialized: bool

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any, head: float):
        super().__init__(cfg, sock, client, server)
        self.head_timeout = head
        self.deadline = time.monotonic() + head
        self.late = False  # missed its deadline: close without lingering
        self.closed = False
        self.clock: _HeadClock | None = None

    def init(self) -> None:
        if self.initialized or self.cfg.http_protocols != ["h1"]:
            super().init()  # HTTP/2 negotiation is gthread's own (tinykube serves HTTP/1.1)
            return
        self.initialized = True
        if self.cfg.is_ssl:
            self.sock.settimeout(max(self.deadline - time.monotonic(), 0.001))
            try:
                self.sock = gsock.ssl_wrap_socket(self.sock, self.cfg)
                if not self.cfg.do_handshake_on_connect:
                    self.sock.do_handshake()
            except TimeoutError:
                self.late = True
                raise NoMoreData() from None
            self.sock.settimeout(None)
        self.clock = _HeadClock(self.sock, self.deadline)
        self.parser = get_parser(self.cfg, self.sock, self.client)
        self.parser.unreader.sock = self.clock

    def start_head(self) -> None:
        """A later request on a kept-alive connection has begun to arrive."""
        if self.clock is not None:
            self.clock.deadline = time.monotonic() + self.head_timeout

    def end_head(self) -> None:
        """The head is in: the application reads the body and writes at its own pace."""
        if self.clock is not None:
            self.clock.deadline = None

    def close(self, graceful: bool = False) -> None:
        # A graceful close lingers up to 2 s for the client to close its side: not for a
        # client that missed its deadline, which may well send nothing more.
        if self.closed:
            return
        self.closed = True
        late = self.late or (self.clock is not None and self.clock.expired)
        super().close(graceful=graceful and not late)


class Worker(ThreadWorker):  # type: ignore[misc]
    head_timeout: ClassVar[float] = DEFAULT_HEAD_TIMEOUT

    def accept(self, listener: socket.socket) -> None:
        """Accept a connection into the poller: it gets a thread when it has sent something."""
        try:
            client, address = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = Conn(self.cfg, client, address, listener.getsockname(), self.head_timeout)
        conn.timeout = conn.deadline  # murder_pending closes it then if it is still silent
        self.pending_conns.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )

    def handle(self, conn: Any) -> Any:
        if isinstance(conn, Conn) and conn.initialized and conn.clock is not None:
            conn.start_head()
        keep = super().handle(conn)
        if keep is False and isinstance(conn, Conn):
            # Close here: gthread would linger in its event loop, where a client that keeps its
            # socket open after an answer stalled every other connection for 2 s.
            conn.close(graceful=True)
        return keep

    def handle_request(self, req: Any, conn: Any) -> Any:
        if isinstance(conn, Conn):
            conn.end_head()
        return super().handle_request(req, conn)


def worker_class(head_timeout: float) -> type[Worker]:
    """The worker class to give gunicorn, with its head deadline."""
    return type("Worker", (Worker,), {"head_timeout": head_timeout})
