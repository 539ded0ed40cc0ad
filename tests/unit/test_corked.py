"""The worker's connection wrapper: a fixed-length response leaves in one write."""

from __future__ import annotations

from typing import Any

from control.httpworker import Corked


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(data)

    def fileno(self) -> int:
        return 7


def corked() -> tuple[Corked, Recorder]:
    sock = Recorder()
    wrapped: Any = sock
    return Corked(wrapped), sock


HEAD = b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 2\r\n\r\n"


def test_a_fixed_length_head_leaves_with_its_body() -> None:
    c, sock = corked()
    c.sendall(HEAD)
    assert sock.writes == []
    c.sendall(b"{}")
    c.flush()
    assert sock.writes == [HEAD + b"{}"]


def test_an_empty_body_s_head_leaves_at_the_flush() -> None:
    c, sock = corked()
    c.sendall(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
    c.flush()
    c.flush()
    assert sock.writes == [b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"]


def test_streams_and_upgrades_leave_at_once() -> None:
    c, sock = corked()
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    c.sendall(chunked)
    assert sock.writes == [chunked]
    upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n\r\n"
    c.sendall(upgrade)
    c.sendall(b"frame")
    assert sock.writes == [chunked, upgrade, b"frame"]
    assert c.fileno() == 7  # the rest is the socket's
