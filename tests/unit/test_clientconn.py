"""Telling a closed client from a quiet one without writing to it."""

from __future__ import annotations

import socket

from control.apiserver.clientconn import closed_check, peer_closed


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
