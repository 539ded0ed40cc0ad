"""Connections kept alive between requests (control.httpworker.Idle, ``quiet``), over real
socket pairs in gevent's loop: an idle one holds no greenlet and is served again when its
client sends, or closes; it is closed once its keep-alive time is up, or when the worker stops.
``quiet`` lets a connection wait so only when nothing of its next request was read already."""

from __future__ import annotations

import io
import time
from typing import Any

import gevent
import pytest
from gevent import socket

from control.httpworker import Idle, Ready, quiet


class Served:
    """The ``resume`` of one idle connection: what it read when served again (the bytes read
    of its next request as its socket turned readable, or its own read when there were none)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reads: list[bytes] = []

    def __call__(self, early: bytes | None) -> None:
        self.reads.append(self.sock.recv(100) if early is None else early)


def wait_until(what: str, cond: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never happened")
        gevent.sleep(0.01)


def test_an_idle_connection_holds_no_greenlet_and_is_served_when_its_client_sends() -> None:
    idle = Idle(keepalive=60, ready=Ready())
    server, client = socket.socketpair()
    served = Served(server)
    idle.park(server, served)
    gevent.sleep(0.1)
    assert served.reads == [] and len(idle) == 1
    client.sendall(b"GET / HTTP/1.1\r\n")
    wait_until("served again", lambda: served.reads)
    assert served.reads == [b"GET / HTTP/1.1\r\n"] and len(idle) == 0
    client.sendall(b"more")
    gevent.sleep(0.1)
    assert served.reads == [b"GET / HTTP/1.1\r\n"], "served once: its watcher is gone"
    server.close(), client.close()


def test_a_client_that_closes_an_idle_connection_has_it_served_to_read_the_end() -> None:
    idle = Idle(keepalive=60, ready=Ready())
    server, client = socket.socketpair()
    served = Served(server)
    idle.park(server, served)
    client.close()
    wait_until("served again", lambda: served.reads)
    assert served.reads == [b""]
    server.close()


def test_an_idle_connection_is_closed_at_its_keepalive_time_and_not_before() -> None:
    idle = Idle(keepalive=30, ready=Ready())
    server, client = socket.socketpair()
    served = Served(server)
    idle.park(server, served)
    idle.sweep(time.monotonic() + 29)
    assert len(idle) == 1 and server.fileno() != -1
    idle.sweep(time.monotonic() + 31)
    assert len(idle) == 0 and server.fileno() == -1
    client.settimeout(2)
    assert client.recv(1) == b"", "the client reads the end"
    gevent.sleep(0.05)
    assert served.reads == []
    client.close()


def test_a_stopping_worker_closes_every_idle_connection() -> None:
    idle = Idle(keepalive=60, ready=Ready())
    pairs = [socket.socketpair() for _ in range(3)]
    for server, _ in pairs:
        idle.park(server, Served(server))
    idle.close_all()
    assert len(idle) == 0
    for server, client in pairs:
        assert server.fileno() == -1
        client.settimeout(2)
        assert client.recv(1) == b""
        client.close()


class Mesg:
    def __init__(self, close: bool = False) -> None:
        self.close = close

    def should_close(self) -> bool:
        return self.close


class Parser:
    def __init__(self, mesg: Mesg | None, buffered: bytes = b"", drained: bool = True) -> None:
        self.mesg = mesg
        self.unreader = type("Unreader", (), {"buf": io.BytesIO(buffered)})()
        self.drained = drained

    def finish_body(self) -> bool:
        return self.drained


def test_quiet_only_when_nothing_of_the_next_request_is_read_and_the_connection_goes_on() -> None:
    server, client = socket.socketpair()
    try:
        assert quiet(Parser(Mesg()), server)
        assert not quiet(Parser(None), server), "no request served yet"
        assert not quiet(Parser(Mesg(close=True)), server), "the connection is to close"
        assert not quiet(Parser(Mesg(), drained=False), server), "the body could not be read"
        pipelined = Parser(Mesg(), buffered=b"GET /next HTTP/1.1\r\n")
        assert not quiet(pipelined, server), "the next request is read already"
    finally:
        server.close(), client.close()
