"""Telling a closed client from a quiet one without writing to it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.socket

from control.apiserver.clientconn import (
    GONE,
    Hangup,
    Polled,
    client_of,
    closed_check,
    look,
    peer_closed,
    watchable,
)
from control.apiserver.logs import _relay
from control.apiserver.rest import _stream


def test_an_open_quiet_peer_is_not_closed() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert not peer_closed(ours)


def test_a_peer_that_closed_is_seen_even_behind_unread_bytes() -> None:
    ours, theirs = socket.socketpair()
    with ours:
        theirs.sendall(b"GET /next HTTP/1.1\r\n")
        theirs.close()
        assert peer_closed(ours)


def test_a_peer_that_shut_its_side_down_is_closed() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.shutdown(socket.SHUT_WR)
        assert peer_closed(ours)


def test_a_socket_closed_here_counts_as_closed() -> None:
    ours, theirs = socket.socketpair()
    ours.close()
    with theirs:
        assert peer_closed(ours)


def test_without_a_socket_in_the_environ_the_client_never_looks_closed() -> None:
    assert closed_check({})() is False
    ours, theirs = socket.socketpair()
    with ours:
        check = closed_check({"gunicorn.socket": ours})
        assert not check()
        theirs.close()
        assert check()


# -- a watch's client watched in gevent's loop --------------------------------------------------


def _connected() -> tuple[gevent.socket.socket, socket.socket]:
    """(the server's side, as gevent accepts it, the client's) of a real TCP connection."""
    with gevent.socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        theirs = socket.create_connection(listener.getsockname())
        ours, _ = listener.accept()
    return ours, theirs


def _serve_quiet_watch(ours: gevent.socket.socket) -> tuple[gevent.Greenlet, list[str]]:
    """A watch with nothing to send for a minute, served in a greenlet; the list says whether its
    events ended (the watch cache forgets a watcher when they do)."""
    ended: list[str] = []

    def quiet() -> Iterator[dict[str, Any] | None]:
        try:
            gevent.sleep(60)
            yield None
        finally:
            ended.append("ended")

    def serve() -> list[str]:
        return list(_stream(quiet(), 60.0, lambda: Hangup(ours)))

    return gevent.spawn(serve), ended


def test_a_watch_ends_as_soon_as_its_client_closes() -> None:
    ours, theirs = _connected()
    with ours:
        served, ended = _serve_quiet_watch(ours)
        gevent.sleep(0.1)
        assert not served.ready()
        theirs.close()
        served.join(timeout=1.0)
        assert served.ready() and served.successful()
        assert served.value == [b""]  # only the head went out
        assert ended == ["ended"]


def test_a_quiet_open_client_keeps_its_watch() -> None:
    ours, theirs = _connected()
    with ours, theirs:
        served, ended = _serve_quiet_watch(ours)
        served.join(timeout=1.0)
        assert not served.ready()
        assert ended == []
        served.kill()


def test_bytes_sent_early_are_left_unread_and_a_close_after_them_still_ends_the_watch() -> None:
    ours, theirs = _connected()
    with ours:
        theirs.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        served, ended = _serve_quiet_watch(ours)
        served.join(timeout=0.5)
        assert not served.ready()
        assert ours.recv(64, socket.MSG_PEEK) == b"GET /healthz HTTP/1.1\r\n\r\n"
        theirs.close()
        served.join(timeout=1.0)
        assert served.ready() and ended == ["ended"]


def test_a_client_that_closed_before_the_wait_ends_it_at_once() -> None:
    ours, theirs = _connected()
    with ours:
        theirs.close()
        gevent.sleep(0.05)
        assert look(ours) == GONE
        served, ended = _serve_quiet_watch(ours)
        served.join(timeout=1.0)
        assert served.ready() and ended == ["ended"]


def test_a_parked_stream_hears_its_client_close_in_the_loop() -> None:
    """Detached from the greenlet that served it, a close calls back instead of throwing."""
    ours, theirs = _connected()
    with ours:
        gone: list[str] = []
        hangup = gevent.spawn(Hangup, ours).get()  # its greenlet has ended
        hangup.detach(lambda: gone.append("gone"))
        gevent.sleep(0.1)
        assert gone == [] and not hangup.gone
        theirs.close()
        gevent.sleep(0.1)
        assert gone == ["gone"] and hangup.gone
        hangup.close()


def test_the_loop_stops_watching_the_socket_when_the_watch_ends() -> None:
    ours, theirs = _connected()
    with ours:
        hangup = Hangup(ours)
        assert hangup._io.active
        hangup.close()
        assert not hangup._io.active
        theirs.close()


def test_without_a_socket_or_a_cooperative_server_the_client_is_looked_at_when_asked() -> None:
    assert not watchable({})
    assert isinstance(client_of({}), Polled)
    assert client_of({}).gone is False
    ours, theirs = socket.socketpair()
    with ours:
        # This test process is not monkey-patched: a thread's wait cannot be interrupted.
        client = client_of({"gunicorn.socket": ours})
        assert isinstance(client, Polled)
        assert not client.gone
        theirs.close()
        assert client.gone


class QuietLog:
    """An agent's followed log of a container that writes nothing for a minute."""

    def __init__(self) -> None:
        self.closed = False

    def iter_content(self, chunk_size: int | None = None) -> Iterator[bytes]:
        yield b"first line\n"
        gevent.sleep(60)
        yield b"a line a minute later\n"

    def close(self) -> None:
        self.closed = True


def test_a_followed_log_ends_and_lets_the_agent_go_as_soon_as_its_client_closes() -> None:
    ours, theirs = _connected()
    upstream = QuietLog()
    with ours:
        relayed = gevent.spawn(lambda: list(_relay(upstream, lambda: Hangup(ours))))  # type: ignore[arg-type]
        relayed.join(timeout=0.5)
        assert not relayed.ready() and not upstream.closed
        theirs.close()
        relayed.join(timeout=1.0)
        assert relayed.ready() and relayed.value == [b"first line\n"]
        assert upstream.closed
