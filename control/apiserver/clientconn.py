"""Whether the client of a streamed answer (a watch) has gone away, without writing to it.

A stream that writes only when something happens would otherwise notice a client that closed
its end only at its next write, and hold its greenlet (and its socket in CLOSE-WAIT) until
then. Asking the kernel whether the peer has shut down its side is cheap (one poll(0)), so a
watch asks before each line it sends and, when quiet, every ``CHECK_SECONDS``. Effectful (a poll
of the socket), never blocking: it uses the kernel's poll even where gevent has patched
``select.poll`` (gevent's knows only POLLIN and POLLOUT, so it would miss POLLRDHUP).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Mapping
from typing import Any

from gevent.monkey import get_original

# How often a quiet watch looks at its client: a closed watch frees its slot within this. Each
# look wakes the watch's greenlet; a large cluster has thousands of quiet watches (a node's pod
# watch, a watch for each ConfigMap its pods use...), so they look no more often than they send
# bookmarks.
CHECK_SECONDS = 10.0
# Linux reports a peer's FIN as POLLRDHUP even when unread bytes come before it.
_RDHUP = getattr(select, "POLLRDHUP", 0)
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL | _RDHUP
_poll = get_original("select", "poll")


def closed_check(environ: Mapping[str, Any]) -> Callable[[], bool]:
    """A function telling whether this request's client has closed its connection (always
    False where the server does not expose the socket, e.g. a test client)."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if sock is None:
        return lambda: False
    return lambda: peer_closed(sock)


def peer_closed(sock: socket.socket) -> bool:
    try:
        fd = sock.fileno()
    except (OSError, ValueError):
        return True
    if fd < 0:
        return True
    poller = _poll()
    poller.register(fd, select.POLLIN | _RDHUP)
    for _, events in poller.poll(0):
        if events & _GONE:
            return True
        if events & select.POLLIN and not _RDHUP and type(sock) is socket.socket:
            # Without POLLRDHUP: readable and nothing to read means end of file.
            try:
                return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True
    return False
