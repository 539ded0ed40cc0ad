"""Several ports' agent connections seen as one stream of channels (2i data, 2i+1 error)."""

from __future__ import annotations

import socket

import pytest

from common import channels
from common.channelsock import ChannelSocket
from control.apiserver.portmux import PortMux

pytestmark = pytest.mark.timeout(10)


def pairs(n: int) -> tuple[list[ChannelSocket], list[ChannelSocket]]:
    ours, theirs = [], []
    for _ in range(n):
        a, b = socket.socketpair()
        ours.append(ChannelSocket(a))
        theirs.append(ChannelSocket(b))
    return ours, theirs


def test_channels_are_numbered_per_port_and_the_stream_ends_with_the_last() -> None:
    ours, agents = pairs(2)
    mux = PortMux(ours)
    agents[1].send(channels.PORT_ERROR, b"refused")
    agents[1].close()
    assert mux.recv() == (3, b"refused")
    mux.send(0, b"data")
    mux.send(3, b"ignored: clients write data channels only")
    mux.send(channels.CLOSE, bytes([0]))
    assert agents[0].recv() == (channels.DATA, b"data")
    assert agents[0].recv() == (channels.CLOSE, bytes([channels.DATA]))
    agents[0].send(channels.DATA, b"answer")
    assert mux.recv() == (0, b"answer")
    agents[0].close()
    assert mux.recv() is None
    mux.close()
