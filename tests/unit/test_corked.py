"""The worker's connection wrapper: a fixed-length response leaves in one write; the Date of
its answers."""

from __future__ import annotations

from typing import Any

import pytest

from control import httpworker
from control.httpworker import Corked


class Recorder:
    """A socket that takes at most ``take`` bytes a ``send`` (all of them by default)."""

    def __init__(self, take: int | None = None) -> None:
        self.writes: list[bytes] = []
        self.take = take

    def send(self, data: bytes) -> int:
        n = len(data) if self.take is None else min(self.take, len(data))
        self.writes.append(bytes(data[:n]))
        return n

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def fileno(self) -> int:
        return 7


def corked(take: int | None = None) -> tuple[Corked, Recorder]:
    sock = Recorder(take)
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


def test_what_a_send_leaves_goes_after_it() -> None:
    c, sock = corked(take=10)
    c.sendall(HEAD)
    c.sendall(b"{}")
    assert sock.writes == [HEAD[:10], HEAD[10:] + b"{}"]


def test_nothing_to_send_is_no_write() -> None:
    c, sock = corked()
    c.sendall(b"")
    c.flush()
    assert sock.writes == []


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


def test_the_date_header_is_formatted_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    from gunicorn import util

    assert util.http_date is httpworker._http_date
    monkeypatch.setattr(httpworker.time, "time", lambda: 86400.25)
    first = util.http_date()
    assert first == "Fri, 02 Jan 1970 00:00:00 GMT"
    monkeypatch.setattr(httpworker.time, "time", lambda: 86400.75)
    assert util.http_date() is first  # the same second's string, not formatted again
    monkeypatch.setattr(httpworker.time, "time", lambda: 86401.0)
    assert util.http_date() == "Fri, 02 Jan 1970 00:00:01 GMT"
    assert httpworker._format_date(86400) == "Fri, 02 Jan 1970 00:00:00 GMT"
    assert util.http_date(86400) == "Fri, 02 Jan 1970 00:00:00 GMT"
