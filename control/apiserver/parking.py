"""Watches parked between events: served from the event loop, not each by a greenlet of its own.

A watch is a long wait with a line now and then. Served by the greenlet of its request, each
open watch keeps that greenlet's saved stack, the request's parser, WSGI environ and response
objects and its generators for the watch's life: some 40 KB a watch in all, for the thousands a
cluster's nodes hold open (a kubelet multiplexes its watches over one HTTP/2 connection; here
each is a connection). Once a watch's first events are out, the worker parks it instead (its
stream yields a ``reads.Parked``): the greenlet ends, the socket stays open, and the watcher's
``notify`` spawns a short-lived greenlet that writes what the cache handed it, as HTTP chunks,
then ends. One sweep a second ends the watches past their deadline and sends the BOOKMARKs that
are due; the client's close (``clientconn.Hangup``) ends its watch at once. An ended watch's
response is closed (its callbacks: the long-running slot, the metrics) and its connection goes
back to serving requests, as after any response. Effectful: sockets and gevent's event loop.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent

from control.apiserver import clientconn
from control.registry.reads import Parked, next_bookmark

log = logging.getLogger(__name__)

# The WSGI environ key a server that parks watches sets; a view that parks one sets PARKS.
PARK_KEY = "tinykube.park"
PARKS_KEY = "tinykube.parks"
# How often deadlines and BOOKMARKs are looked at: a watch ends within this of its deadline.
SWEEP_SECONDS = 1.0
# HTTP/1.1's last chunk: the end of a chunked body.
LAST_CHUNK = b"0\r\n\r\n"


def available(environ: Mapping[str, Any]) -> bool:
    """Whether this request's server parks watches (and can watch its client for a close)."""
    return environ.get(PARK_KEY) is not None and clientconn.watchable(environ)


@dataclass(eq=False, slots=True)
class Spot:
    """One parked watch: its state, its socket, and what ends it."""

    lot: Lot
    parked: Parked
    sock: socket.socket
    chunked: bool
    close: Callable[[], None]  # the response's close: its callbacks, its stream (and watcher)
    resume: Callable[[], object]  # serves the connection's next requests, in the caller's greenlet
    flusher: Any = None  # the greenlet writing events, while there are some
    ended: bool = False

    def ready(self) -> None:
        """The watcher has events (or was closed): write them, unless a writer is at it."""
        if self.flusher is None and not self.ended:
            self.flusher = gevent.spawn(self.lot.flush, self, b"")

    def gone(self) -> None:
        self.lot.end(self, gone=True)


class Lot:
    """The parked watches of one worker."""

    def __init__(self) -> None:
        self.spots: set[Spot] = set()
        self.closing = False
        self._sweeper: Any = None
        self._finishing: set[Any] = set()

    def __len__(self) -> int:
        return len(self.spots)

    def park(
        self,
        parked: Parked,
        sock: socket.socket,
        chunked: bool,
        close: Callable[[], None],
        resume: Callable[[], object],
    ) -> None:
        spot = Spot(self, parked, sock, chunked, close, resume)
        self.spots.add(spot)
        parked.watcher.notify = spot.ready
        client = parked.client
        if isinstance(client, clientconn.Hangup):
            client.detach(spot.gone)
        if self._sweeper is None:
            self._sweeper = gevent.spawn(self._sweep)
        if self.closing or getattr(client, "gone", False):
            self.end(spot, gone=not self.closing)
        elif parked.watcher.pending() or parked.watcher.closed:
            spot.ready()

    def flush(self, spot: Spot, first: bytes) -> None:
        """Write ``first`` and every event the watcher has, until it has none; end the watch
        once its watcher is closed and drained, or its client is gone."""
        parked = spot.parked
        watcher = parked.watcher
        data = first
        try:
            while True:
                events = watcher.drain()
                if events:
                    data += b"".join(e.line() for e in events)
                    parked.mark = next_bookmark(time.monotonic(), parked.bookmarks, parked.until)
                if not data or spot.ended:
                    break
                self._send(spot, data)
                data = b""
        except OSError:
            spot.flusher = None
            self.end(spot, gone=True)
            return
        spot.flusher = None
        if watcher.closed and not watcher.pending():
            self.end(spot)

    def _send(self, spot: Spot, data: bytes) -> None:
        if spot.chunked:
            data = b"%X\r\n%s\r\n" % (len(data), data)
        spot.sock.sendall(data)

    def end(self, spot: Spot, *, gone: bool = False) -> None:
        """End a watch (once): its last chunk, its response closed, its connection served on
        (or closed, when its client is gone or the worker is stopping)."""
        if spot.ended:
            return
        spot.ended = True
        self.spots.discard(spot)
        spot.parked.watcher.notify = None
        finisher = gevent.spawn(self._finish, spot, gone)
        self._finishing.add(finisher)
        finisher.link(self._finishing.discard)

    def _finish(self, spot: Spot, gone: bool) -> None:
        flusher = spot.flusher
        if flusher is not None:
            if gone:
                flusher.kill()
            else:
                flusher.join()
        # A chunked body ends with its last chunk and the connection goes on; any other ends
        # with the connection (an HTTP/1.0 client's).
        go_on = not gone and spot.chunked
        if go_on:
            try:
                spot.sock.sendall(LAST_CHUNK)
            except OSError:
                go_on = False
        try:
            spot.close()
        except Exception:
            log.exception("closing a parked watch's response")
        if go_on and not self.closing:
            spot.resume()
        else:
            _close(spot.sock)

    def _sweep(self) -> None:
        while True:
            gevent.sleep(SWEEP_SECONDS)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """End the watches past their deadline; send each BOOKMARK that is due (when nothing is
        waiting to be written first)."""
        for spot in list(self.spots):
            parked = spot.parked
            if parked.until is not None and now >= parked.until:
                self.end(spot)
            elif parked.mark is not None and now >= parked.mark and spot.flusher is None:
                mark = parked.cacher.bookmark(parked.watcher)
                if mark is not None:
                    parked.mark = next_bookmark(now, parked.bookmarks, parked.until)
                    spot.flusher = gevent.spawn(self.flush, spot, mark.line())

    def end_all(self, timeout: float) -> None:
        """The worker stops: every watch ends (its client re-watches elsewhere)."""
        self.closing = True
        for spot in list(self.spots):
            self.end(spot)
        gevent.joinall(list(self._finishing), timeout=timeout)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
