"""Parked watches (control.apiserver.parking) over a real watcher, in gevent's loop, with a
socket that records what is written: events are written as HTTP chunks when the watcher is
handed them, BOOKMARKs when due, the last chunk at the deadline, then the connection is served
on; a client gone or a worker stopping closes it instead."""

from __future__ import annotations

import time

import gevent

from common.selectors import FieldSelector, LabelSelector
from control.apiserver.parking import LAST_CHUNK, Lot
from control.cache.dispatch import Filter, Watcher
from control.cache.ring import Delivered
from control.registry.reads import Parked


class Sock:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False
        self.fail = False

    def sendall(self, data: bytes) -> None:
        if self.fail:
            raise BrokenPipeError
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True


class Cacher:
    def __init__(self) -> None:
        self.marks = 0

    def bookmark(self, w: Watcher) -> Delivered | None:
        if w.pending():
            return None
        self.marks += 1
        return Delivered("BOOKMARK", b'{"metadata":{"resourceVersion":"9"}}')


class Spot:
    """What a parked watch's server hands the lot, and what became of it."""

    def __init__(self, lot: Lot, *, until: float | None = None, every: float | None = None,
                 chunked: bool = True) -> None:  # fmt: skip
        self.sock = Sock()
        self.cacher = Cacher()
        self.watcher = Watcher(Filter("", LabelSelector(), FieldSelector()))
        mark = None if every is None else time.monotonic() + every
        self.parked = Parked(self.cacher, self.watcher, until, every, mark)  # type: ignore[arg-type]
        self.closed = 0
        self.resumed = 0
        lot.park(self.parked, self.sock, chunked, self.close, self.resume)  # type: ignore[arg-type]
        self.held = next((s for s in lot.spots if s.parked is self.parked), None)

    def close(self) -> None:
        self.closed += 1

    def resume(self) -> None:
        self.resumed += 1


def event(name: str) -> Delivered:
    return Delivered("ADDED", b'{"metadata":{"name":"%s"}}' % name.encode())


def settle(lot: Lot) -> None:
    gevent.sleep(0)
    gevent.joinall(list(lot._finishing), timeout=2)
    gevent.sleep(0)


def test_events_handed_to_the_watcher_go_out_as_one_chunk() -> None:
    lot = Lot()
    spot = Spot(lot)
    spot.watcher.push(event("a"))
    spot.watcher.push(event("b"))
    settle(lot)
    lines = b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n' \
            b'{"type":"ADDED","object":{"metadata":{"name":"b"}}}\n'  # fmt: skip
    assert spot.sock.sent == [b"%X\r\n%s\r\n" % (len(lines), lines)]
    assert len(lot) == 1 and spot.closed == 0


def test_an_unchunked_stream_gets_the_lines_alone_and_ends_with_its_connection() -> None:
    lot = Lot()
    spot = Spot(lot, chunked=False)
    spot.watcher.push(event("a"))
    settle(lot)
    assert spot.sock.sent == [b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n']
    assert spot.held is not None
    lot.end(spot.held)
    settle(lot)
    # Its body ends with the connection: nothing more is served on it.
    assert len(spot.sock.sent) == 1
    assert (spot.closed, spot.resumed, spot.sock.closed) == (1, 0, True)


def test_the_deadline_ends_the_watch_and_the_connection_goes_on() -> None:
    lot = Lot()
    spot = Spot(lot, until=time.monotonic() + 10)
    other = Spot(lot, until=time.monotonic() + 100)
    lot.sweep(time.monotonic() + 11)
    settle(lot)
    assert spot.sock.sent == [LAST_CHUNK]
    assert (spot.closed, spot.resumed, spot.sock.closed) == (1, 1, False)
    assert spot.watcher.notify is None
    assert len(lot) == 1 and other.closed == 0
    assert spot.held is not None
    lot.end(spot.held)  # ended once only, whoever asks again
    settle(lot)
    assert (spot.closed, spot.resumed) == (1, 1)


def test_a_bookmark_is_sent_when_due_and_not_before() -> None:
    lot = Lot()
    spot = Spot(lot, every=5.0)
    lot.sweep(time.monotonic() + 1)
    settle(lot)
    assert spot.sock.sent == [] and spot.cacher.marks == 0
    lot.sweep(time.monotonic() + 6)
    settle(lot)
    assert spot.cacher.marks == 1 and b"BOOKMARK" in spot.sock.sent[0]
    lot.sweep(time.monotonic() + 6)  # the next one is 5 s after this one
    settle(lot)
    assert spot.cacher.marks == 1


def test_a_closed_watcher_ends_the_watch_once_drained() -> None:
    lot = Lot()
    spot = Spot(lot)
    spot.watcher.push(event("a"))
    spot.watcher.close()
    settle(lot)
    assert spot.sock.sent[0].endswith(b"\r\n") and b'"a"' in spot.sock.sent[0]
    assert spot.sock.sent[-1] == LAST_CHUNK
    assert (spot.closed, spot.resumed, len(lot)) == (1, 1, 0)


def test_a_client_gone_closes_the_connection() -> None:
    lot = Lot()
    spot = Spot(lot)
    spot.sock.fail = True
    spot.watcher.push(event("a"))
    settle(lot)
    assert (spot.closed, spot.resumed, spot.sock.closed, len(lot)) == (1, 0, True, 0)


def test_a_stopping_worker_ends_every_watch_and_serves_no_more() -> None:
    lot = Lot()
    spots = [Spot(lot) for _ in range(3)]
    lot.end_all(timeout=2)
    for spot in spots:
        assert spot.sock.sent == [LAST_CHUNK]
        assert (spot.closed, spot.resumed, spot.sock.closed) == (1, 0, True)
    late = Spot(lot)  # parked while stopping: ended at once
    settle(lot)
    assert (late.closed, late.resumed, late.sock.closed) == (1, 0, True)
