"""The API server's gunicorn worker: gevent's, with a deadline on each request's head.

Each connection is a greenlet, not a thread: an open log stream or exec session costs a few
kilobytes and a socket, so thousands of them leave the worker free, and a watch whose first
events are out is parked, with no greenlet until its next event (``parking``, docs/serving.md);
so is a connection kept alive between requests, until its next bytes (``Idle``). A
connection's TLS handshake plus its first request head must arrive within ``head_timeout`` of
its opening (kube-apiserver's ReadHeaderTimeout, 32 s, is shorter here to free sockets sooner);
so must each later request head on a kept-alive connection, once its first byte is in. A
connection that misses it is closed without a word, as is one idle between requests for the
keep-alive time. Effectful: sockets and gevent's event loop.
"""

from __future__ import annotations

import errno
import io
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, ClassVar

import gevent
from gevent import Greenlet
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn import http, util
from gunicorn.http.errors import NoMoreData
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

from control.apiserver import inflight, parking, priority
from control.registry.reads import Parked

# Settings of the server: no client is trusted to speak for the connection (the scheme of
# X-Forwarded-Proto and the like, SCRIPT_NAME or PATH_INFO from a header), whatever its address,
# as none sits behind a proxy. Trusting every address to set none of them, rather than a list
# of addresses, spares parsing the peer's address on each request.
NO_FORWARDING: dict[str, Any] = {
    "forwarded_allow_ips": "*",
    "secure_scheme_headers": {},
    "forwarder_headers": "",
}
# A greenlet per connection, thousands at once: none keeps the stack and the greenlet that
# spawned it (gevent's debugging aid, some 0.5 KB each).
gevent.config.track_greenlet_tree = False
# The Date of each answer, formatted once a second rather than once an answer (``email.utils``
# takes some 10 us): gunicorn's headers read it from ``util.http_date``, whose resolution is
# the second.
_format_date = util.http_date
_date: list[Any] = [0, ""]


def _http_date(timestamp: float | None = None) -> str:
    if timestamp is not None:
        return str(_format_date(timestamp))
    now = int(time.time())
    if now != _date[0]:
        _date[:] = [now, _format_date(now)]
    return str(_date[1])


util.http_date = _http_date
# Seconds of requests a worker starts in one turn of its event loop, from the connections whose
# next request came, before it looks for the ones that came since (and may start a request of a
# higher priority level first).
TURN = 0.01
# Seconds after which a waiting connection goes first, whatever its priority level.
OVERDUE = 1.0
# Bytes read of a kept-alive connection's next request when it comes, to place it (``Idle``):
# its request line, most often its whole head.
EARLY_BYTES = 16384
# Where a connection none of whose requests had a priority level waits (``Ready``).
DEFAULT_ORDER = priority.order_of(None)
# Errors of a client that went away: nothing to log.
_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN)


class HeadClock:
    """The socket the request parser reads from: within a head, every read gets the time left
    until the head's deadline, so a client trickling bytes cannot stretch it. Between requests
    (``idle``) the first read waits as long as the keep-alive allows and starts the next head's
    clock; after a head (``deadline`` None) the application reads at its own pace."""

    def __init__(
        self, sock: socket.socket, deadline: float, head_timeout: float, early: bytes | None = None
    ) -> None:
        self.sock = sock
        self.deadline: float | None = deadline
        self.head_timeout = head_timeout
        self.waiting = False  # idle between requests: the next bytes start a head
        self.early = early  # bytes read already (``Idle``), the first read's; b"": the end

    def idle(self) -> None:
        self.deadline, self.waiting = None, True

    def end_head(self) -> None:
        self.deadline, self.waiting = None, False

    def recv(self, size: int) -> bytes:
        if self.early is not None:
            data, self.early = self.early, None
            if self.waiting:
                self.deadline, self.waiting = time.monotonic() + self.head_timeout, False
            return data
        if self.deadline is None:
            data = self.sock.recv(size)
            if self.waiting:
                self.deadline, self.waiting = time.monotonic() + self.head_timeout, False
            return data
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            return self.sock.recv(size)
        except TimeoutError:
            raise NoMoreData() from None  # the connection is closed without a word
        finally:
            self.sock.settimeout(None)


class Corked:
    """The connection as a response writes to it: a head that announces a ``Content-Length``
    waits for the first bytes of its body, and both leave in one write (one TLS record, one
    system call, one wake-up of the client, where gunicorn makes two of each). Any other
    head (a chunked stream, an upgrade) leaves at once. Everything else is the socket's."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._held = b""
        # A watch its response parked: (the Parked, the WSGI response, whether it is chunked).
        self.parked: tuple[Parked, Any, bool] | None = None
        # The priority level of the connection's last request that had one, and where the
        # connection waits for its next request to start (``Ready``) when its first bytes do not
        # tell: by that level and work.
        self.level: str | None = None
        self.order = DEFAULT_ORDER

    def sendall(self, data: bytes) -> None:
        if self._held:
            data, self._held = self._held + data, b""
        elif _fixed_length_head(data):
            self._held = bytes(data)
            return
        _send_all(self._sock, data)

    def flush(self) -> None:
        """Send a head still held (a response whose body was empty)."""
        if self._held:
            held, self._held = self._held, b""
            _send_all(self._sock, held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _send_all(sock: socket.socket, data: bytes) -> None:
    """``sock.sendall(data)``, in one ``send`` where the socket takes it all (most answers):
    gevent's ``sendall`` first asks the kernel for the socket's buffer size, a system call
    per write."""
    if not data:
        return
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


def _fixed_length_head(data: bytes) -> bool:
    return (
        data[:5] == b"HTTP/" and data[-4:] == b"\r\n\r\n" and b"\r\ncontent-length:" in data.lower()
    )


class Settled:
    """gunicorn's settings as a worker reads them: each looked up once, then an attribute.
    gunicorn's ``Config`` resolves every read through its table of settings (about 0.6 us), and
    its request parser, WSGI environ and response read some 25 of them per request. A worker's
    settings never change: the master restarts its workers to reload them."""

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._cfg, name)
        setattr(self, name, value)
        return value


class ParkingApp:
    """The WSGI application as this worker calls it: each request may park a watch
    (``parking.PARK_KEY``); the response of one that does (``parking.PARKS_KEY``) is iterated
    by ``Parkable``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[parking.PARK_KEY] = True
        respiter = self.app(environ, start_response)
        level = environ.get(priority.LEVEL_KEY)
        if level is not None:
            work = environ.get(priority.WORK_KEY, priority.MORE)
            corked = environ["gunicorn.socket"]
            corked.level, corked.order = level, priority.order_of(level, work)
        if not environ.get(parking.PARKS_KEY):
            return respiter
        # gunicorn's start_response is a method of the response it writes.
        return Parkable(respiter, start_response.__self__, environ["gunicorn.socket"])


class Parkable:
    """A response that ends, for gunicorn, where its stream yields a ``Parked`` watch: the
    stream is handed over on ``Corked.parked`` unclosed, with no last chunk, and the request
    loop stops (``_serve`` then parks it)."""

    def __init__(self, inner: Any, resp: Any, corked: Corked) -> None:
        self.inner, self.resp, self.corked = inner, resp, corked

    def __iter__(self) -> Iterator[bytes]:
        for item in self.inner:
            if isinstance(item, Parked):
                self.corked.parked = (item, self.inner, bool(self.resp.chunked))
                self.resp.chunked = False  # gunicorn's close must not end the body
                self.resp.force_close()  # nor its loop read another request
                return
            yield item

    def close(self) -> None:
        if self.corked.parked is None and hasattr(self.inner, "close"):
            self.inner.close()


class Server(StreamServer):  # type: ignore[misc]
    """gevent's server, but for the connections a watch was parked on: gevent closes a client's
    socket once its handler returns, and such a socket lives on (under TLS it is the wrapped
    socket that lives on, the one gevent closes is already detached)."""

    def __init__(self, listener: socket.socket, handle: Callable[..., None], spawn: Pool) -> None:
        """``handle(server, client, address)``: this server comes first."""
        super().__init__(listener, handle=partial(handle, self), spawn=spawn)
        self.kept: set[int] = set()  # id() of each socket whose handler parked a watch on it

    def do_close(self, sock: socket.socket, *args: Any) -> None:
        if id(sock) in self.kept:
            self.kept.discard(id(sock))
            return
        sock.close()


class Ready:
    """Kept-alive connections whose next request came, started in the order of its priority
    level (``priority.RANKS``: the level of the connection's last request, its client being the
    same, a node's moved by the resource of the new one; a connection whose requests had none
    yet ranks as ``global-default``), within a level a read of one object first, the least work
    (``priority.order_of``, from the request line, read as its socket turns readable, ``Idle``;
    an admin's read of one object goes before the nodes' writes, ``priority.STARTS``), then first
    come first served. gevent's loop would start them in the order their sockets
    turned readable, and each runs to its end: a request that came while the loop was busy
    waited for every one that came before it, a GET of one pod behind a burst of the nodes'
    events and status writes. Here the loop first sees every connection turned readable, then
    starts the waiting requests of the highest level, and after ``turn`` seconds of them looks
    for new arrivals again, so a request waits for the current turn and the requests of its
    level or higher, not for the whole backlog; and a read of one object does not wait for the
    writes of its level (kube-apiserver's fair queuing, too, lets the request estimated to
    finish first go first). The connection waiting longest opens a turn once it has waited
    ``overdue`` seconds, whatever its level (one a turn): a level below, or a level's writes,
    are slowed, never starved; its run does not count against the turn, whose ``turn`` seconds
    then start by level (on a busy machine the overdue request alone took the turn, turn after
    turn, and a GET waited out as many). The levels are kube-apiserver's
    (docs/back-pressure.md); their seats (``priority.Gate``) still bound what each runs at once.
    See docs/serving.md, "Who goes first"."""

    def __init__(self, turn: float = TURN, overdue: float = OVERDUE) -> None:
        self.turn, self.overdue = turn, overdue
        # per order (``priority.order_of``): (when it came, resume), in arrival order
        self.queues: list[deque[tuple[float, Callable[[], object]]]] = [
            deque() for _ in range(priority.ORDERS)
        ]
        self._timer: Any = None

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues)

    def add(self, order: int, resume: Callable[[], object]) -> None:
        """Start ``resume`` in a greenlet of its own, in turn (``order``: where it waits,
        ``priority.order_of``)."""
        self.queues[order].append((time.monotonic(), resume))
        if self._timer is None:
            loop = gevent.get_hub().loop
            self._timer = loop.timer(0.0)
            # After every other watcher of the loop's turn: every connection turned readable
            # in it is queued before one is started.
            self._timer.priority = getattr(loop, "MINPRI", 0)
        if not self._timer.active:
            self._timer.start(self._run)

    def _overdue(self, now: float) -> Callable[[], object] | None:
        """The connection waiting longest, if it has waited ``overdue`` seconds."""
        oldest = None
        for queue in self.queues:
            if queue and (oldest is None or queue[0][0] < oldest[0][0]):
                oldest = queue
        if oldest is None or now - oldest[0][0] < self.overdue:
            return None
        return oldest.popleft()[1]

    def _next(self) -> Callable[[], object] | None:
        for queue in self.queues:
            if queue:
                return queue.popleft()[1]
        return None

    def _run(self) -> None:
        """One turn, in the loop's own greenlet: each request runs until it waits or ends."""
        overdue = self._overdue(time.monotonic())
        if overdue is not None:
            Greenlet(overdue).switch()
        start = time.monotonic()
        resume = self._next()
        while resume is not None:
            Greenlet(resume).switch()
            if time.monotonic() - start >= self.turn:
                break
            resume = self._next()
        if len(self):
            self._timer.start(self._run)  # the loop polls first, without blocking

    def close_all(self) -> None:
        """The worker stops: the connections still waiting are served, in one go."""
        for queue in self.queues:
            while queue:
                gevent.spawn(queue.popleft()[1])


class Idle:
    """Connections kept alive between requests, with no greenlet: each waits on a read watcher
    of the event loop until its client sends (or closes), which queues ``resume`` (``Ready``)
    to serve it again, or until its keep-alive time is up, when it is closed. A greenlet
    waiting for the next request head keeps its saved stack, the request parser and a timer: a
    kept-alive TLS connection cost the worker 32.7 KB, 18 of them gone parked
    (docs/serving.md)."""

    def __init__(self, keepalive: float, ready: Ready) -> None:
        self.keepalive = keepalive
        self.ready = ready  # where a connection whose client sent waits its turn
        # socket -> (read watcher, deadline, where it waits in ``ready`` unless its next
        # request's first bytes tell, priority level of its last request); the socket lives on
        # by this reference
        self.waiting: dict[socket.socket, tuple[Any, float, int, str | None]] = {}
        self._sweeper: Any = None

    def __len__(self) -> int:
        return len(self.waiting)

    def park(
        self,
        sock: socket.socket,
        resume: Callable[[bytes | None], object],
        order: int = DEFAULT_ORDER,
        level: str | None = None,
    ) -> None:
        """Wait for ``sock``'s next request; ``resume(early)`` serves it, ``early`` the bytes
        read of it already (b"": the client closed; None: none could be read yet), and waits in
        ``ready`` where those bytes place it (``inflight.order_of_next``, with ``level``, the
        priority level of its last request), or at ``order`` when they do not tell."""
        watcher = gevent.get_hub().loop.io(sock.fileno(), 1)  # 1: readable
        self.waiting[sock] = (watcher, time.monotonic() + self.keepalive, order, level)
        watcher.start(self._readable, sock, resume)
        if self._sweeper is None:
            self._sweeper = gevent.spawn(self._sweep)

    def _readable(self, sock: socket.socket, resume: Callable[[bytes | None], object]) -> None:
        entry = self.waiting.pop(sock, None)
        if entry is None:
            return
        watcher, _, order, level = entry
        _stop(watcher)
        early = read_early(sock)
        if early:
            told = inflight.order_of_next(level, early)
            if told is not None:
                order = told
        self.ready.add(order, partial(resume, early))

    def _sweep(self) -> None:
        while True:
            gevent.sleep(parking.SWEEP_SECONDS)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """Close the connections idle past their keep-alive time."""
        for sock, (watcher, deadline, _, _) in list(self.waiting.items()):
            if now >= deadline:
                self._close(sock, watcher)

    def close_all(self) -> None:
        """The worker stops: no idle connection is served again."""
        for sock, (watcher, _, _, _) in list(self.waiting.items()):
            self._close(sock, watcher)

    def _close(self, sock: socket.socket, watcher: Any) -> None:
        del self.waiting[sock]
        _stop(watcher)
        util.close(sock)


def read_early(sock: socket.socket) -> bytes | None:
    """What a client sent of its next request, read without waiting (in the event loop's own
    greenlet, which must not wait): b"" when it closed the connection; None when nothing can be
    read yet (a TLS record not whole) or the read failed (the request's own read meets it)."""
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        return sock.recv(EARLY_BYTES)
    except OSError:  # BlockingIOError, ssl.SSLWantReadError, a reset connection
        return None
    finally:
        sock.settimeout(timeout)


def _stop(watcher: Any) -> None:
    watcher.stop()
    watcher.close()


def quiet(parser: Any, client: socket.socket) -> bool:
    """Whether a connection between requests may wait with no greenlet: its last request's body
    is read through, it is to be kept alive, and nothing of the next request was read already
    (by the parser, or decrypted by TLS), so that its socket turning readable is the sign."""
    mesg = parser.mesg
    if mesg is None or mesg.should_close() or not parser.finish_body():
        return False
    if parser.unreader.buf.seek(0, io.SEEK_END):
        return False
    return not (isinstance(client, ssl.SSLSocket) and client.pending())


class Worker(GeventWorker):  # type: ignore[misc]
    head_timeout: ClassVar[float] = 10.0  # --read-header-timeout
    tls: ssl.SSLContext | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cfg: Any = Settled(self.cfg)
        self.lot = parking.Lot()
        self.ready = Ready()
        self.idle = Idle(self.cfg.keepalive, self.ready)
        # Each listener's address, asked of the kernel once, not once per request served.
        self._names: dict[socket.socket, Any] = {}

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi: Any = ParkingApp(self.wsgi)

    def run(self) -> None:
        """gunicorn's gevent loop, with TLS left to ``handle`` so that the handshake runs under
        the head deadline (gevent's server would run it with no deadline at all)."""
        self.tls = ssl_context(self.cfg) if self.cfg.is_ssl else None
        servers = []
        for s in self.sockets:
            s.setblocking(1)
            pool = Pool(self.worker_connections)
            server = Server(s, partial(self.handle, listener=s), pool)
            if self.cfg.workers > 1:
                server.max_accept = 1  # leave the next connection to a less busy worker
            server.start()
            servers.append(server)
        while self.alive:
            self.notify()
            gevent.sleep(1.0)
        self._drain(servers)

    def _drain(self, servers: list[StreamServer]) -> None:
        """Stop accepting; give open connections the graceful timeout, then end them."""
        for server in servers:
            server.close()
        self.lot.end_all(timeout=1.0)
        self.idle.close_all()
        self.ready.close_all()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline:
            if all(server.pool.free_count() == server.pool.size for server in servers):
                return
            self.notify()
            gevent.sleep(0.2)
        for server in servers:
            server.stop(timeout=1)

    def handle(
        self, server: Server, accepted: socket.socket, addr: Any, *, listener: socket.socket
    ) -> None:
        deadline = time.monotonic() + self.head_timeout
        accepted.setblocking(True)
        client = accepted
        if self.tls is not None:
            try:
                client = self._handshake(accepted, deadline)
            except Exception as e:
                self._failed(accepted, addr, e)
                util.close(accepted)
                return
        if self._own(listener, client, addr, deadline):
            server.kept.add(id(accepted))

    def _own(
        self,
        listener: socket.socket,
        client: socket.socket,
        addr: Any,
        deadline: float | None,
        order: int = DEFAULT_ORDER,
        level: str | None = None,
        early: bytes | None = None,
    ) -> bool:
        """Serve a connection (``_serve``) and close it after, unless a watch was parked on it
        or it waits idle for its next request, which then owns it (True); once that watch
        ends, or the next request comes, this serves it again."""
        kept = False
        try:
            kept = self._serve(listener, client, addr, deadline, order, level, early)
        except Exception as e:
            self._failed(client, addr, e)
        finally:
            if not kept:
                util.close(client)
        return kept

    def _failed(self, client: socket.socket, addr: Any, e: Exception) -> None:
        if isinstance(e, ssl.SSLError):
            self.log.debug("TLS: %s", e)
        elif isinstance(e, OSError):
            if e.errno not in _GONE:
                self.log.exception("socket error while serving a connection")
        else:
            self.handle_error(None, client, addr, e)

    def _handshake(self, client: socket.socket, deadline: float) -> socket.socket:
        assert self.tls is not None
        wrapped = self.tls.wrap_socket(
            client,
            server_side=True,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
        )
        wrapped.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            wrapped.do_handshake()
        except TimeoutError:
            raise ssl.SSLError("the TLS handshake missed its deadline") from None
        wrapped.settimeout(None)
        return wrapped

    def _serve(
        self,
        listener: socket.socket,
        client: socket.socket,
        addr: Any,
        deadline: float | None,
        order: int = DEFAULT_ORDER,
        level: str | None = None,
        early: bytes | None = None,
    ) -> bool:
        """Requests of one connection until it ends, misses a deadline or idles too long (its
        first head due by ``deadline``; None: it is between requests; ``order`` and
        ``level``: where it waits between requests and the priority level of its last request,
        ``Idle``; ``early``: the bytes read of its next request already); True when a watch
        was parked on it, which then owns the connection, or the connection itself, between two
        requests (``Idle``)."""
        clock = HeadClock(client, deadline or time.monotonic() + self.head_timeout,
                          self.head_timeout, early)  # fmt: skip
        if deadline is None:
            clock.idle()
        parser = http.get_parser(self.cfg, client, addr)
        parser.unreader.sock = clock
        name = self._names.get(listener)
        if name is None:
            name = self._names[listener] = listener.getsockname()
        corked = Corked(client)
        corked.order, corked.level = order, level
        try:
            while True:
                req = None
                with gevent.Timeout(self.cfg.keepalive, False):  # idle between requests
                    req = next(parser)
                if req is None:
                    return False
                clock.end_head()
                # Raises StopIteration when the connection must close (gevent's worker returns
                # nothing otherwise, as AsyncWorker's loop expects).
                try:
                    self.handle_request(name, req, corked, addr)
                finally:
                    corked.flush()
                clock.idle()
                if quiet(parser, client):
                    order, level = corked.order, corked.level
                    resume = partial(self._own, listener, client, addr, None, order, level)
                    self.idle.park(client, resume, order, level)
                    return True
        except (NoMoreData, StopIteration):
            pass
        if corked.parked is None:
            return False
        parked, respiter, chunked = corked.parked
        corked.parked = None
        self.lot.park(parked, client, chunked, respiter.close,
                      partial(self._own, listener, client, addr, None, corked.order,
                              corked.level))  # fmt: skip
        return True


def worker_class(head_timeout: float) -> type[Worker]:
    """The worker class to give gunicorn, with its head deadline."""
    return type("Worker", (Worker,), {"head_timeout": head_timeout})
