"""The SPDY port-forward session against a scripted client over a socket pair, with agents that
echo (or refuse): stream pairs, several at once, and the kubelet's refusals."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from common import channels, errors, spdy
from common.channelsock import ChannelSocket
from control.apiserver.spdyforward import Session
from control.apiserver.spdysession import Connection
from control.apiserver.spdyupgrade import SocketTransport

pytestmark = pytest.mark.timeout(20)


def echo_agent(port: int) -> ChannelSocket:
    """What the agent of a pod would be: answers each DATA frame with ``port:data``."""
    ours, theirs = socket.socketpair()
    agent = ChannelSocket(theirs)

    def serve() -> None:
        while (frame := agent.recv()) is not None:
            if frame[0] == channels.CLOSE:
                break
            agent.send(channels.DATA, f"{port}:".encode() + frame[1])
        agent.close()

    threading.Thread(target=serve, daemon=True).start()
    return ChannelSocket(ours)


def refusing_agent(port: int) -> ChannelSocket:
    raise errors.ServiceUnavailableError('unable to reach the agent of node "n1": refused')


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.framer = sock, spdy.Framer()
        self.reader = sock.makefile("rb")
        self.next_id = 1

    def send(self, frame: spdy.Frame) -> None:
        self.sock.sendall(self.framer.encode(frame))

    def recv(self) -> spdy.Frame | None:
        return self.framer.read(lambda n: self.reader.read(n) or b"")

    def open(self, kind: str, port: int | str, rid: str | None = "0") -> int:
        sid, self.next_id = self.next_id, self.next_id + 2
        headers = {"streamtype": [kind], "port": [str(port)]}
        if rid is not None:
            headers["requestid"] = [rid]
        self.send(spdy.SynStream(sid, headers))
        return sid

    def until_fin(self, streams: set[int]) -> dict[int, bytes]:
        """Frames until every stream of ``streams`` has ended; the data of each stream."""
        got: dict[int, bytes] = {}
        while streams:
            frame = self.recv()
            assert frame is not None
            if isinstance(frame, spdy.Data):
                got[frame.stream_id] = got.get(frame.stream_id, b"") + frame.data
                if frame.fin:
                    streams.discard(frame.stream_id)
        return got


def start(dial) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    ours, theirs = socket.socketpair()
    session = Session(SocketTransport(theirs), dial, "web", "uid-1")
    t = threading.Thread(target=session.run, daemon=True)
    t.start()
    client = Client(ours)
    yield client
    client.reader.close()
    ours.close()
    t.join(5)
    theirs.close()
    assert not t.is_alive()


@pytest.fixture
def client() -> Iterator[Client]:
    yield from start(echo_agent)


@pytest.fixture
def refused() -> Iterator[Client]:
    yield from start(refusing_agent)


def test_pairs_of_streams_forward_to_their_ports(client: Client) -> None:
    pairs = []
    for rid, port in (("0", 80), ("1", 8080)):
        error = client.open("error", port, rid)
        client.send(spdy.Data(error, fin=True))  # kubectl closes its side of the error stream
        data = client.open("data", port, rid)
        pairs.append((error, data))
    replies = [client.recv() for _ in range(4)]
    assert replies == [spdy.SynReply(sid) for pair in pairs for sid in pair]
    for (_, data), text in zip(pairs, (b"one", b"two"), strict=True):
        client.send(spdy.Data(data, text))
    client.send(spdy.Data(pairs[0][1], fin=True))
    client.send(spdy.Data(pairs[1][1], fin=True))
    got = client.until_fin({sid for pair in pairs for sid in pair})
    assert got[pairs[0][1]] == b"80:one" and got[pairs[1][1]] == b"8080:two"
    assert not got.get(pairs[0][0]) and not got.get(pairs[1][0])


def test_pings_are_answered(client: Client) -> None:
    client.send(spdy.Ping(1))
    assert client.recv() == spdy.Ping(1)


@pytest.mark.parametrize(
    "headers",
    [
        {"streamtype": ["data"]},
        {"streamtype": ["data"], "port": ["http"]},
        {"streamtype": ["data"], "port": ["0"]},
        {"streamtype": ["data"], "port": ["²"]},
        {"streamtype": ["data"], "port": ["65536"]},
        {"port": ["80"]},
        {"streamtype": ["stdin"], "port": ["80"]},
    ],
)
def test_streams_the_kubelet_refuses_are_reset(client: Client, headers: spdy.Headers) -> None:
    client.send(spdy.SynStream(1, headers))
    assert client.recv() == spdy.RstStream(1, spdy.CANCEL)
    client.send(spdy.SynStream(1, {"streamtype": ["data"], "port": ["80"]}))
    assert client.recv() == spdy.RstStream(1, spdy.PROTOCOL_ERROR)  # a stream id once only


def test_a_second_error_stream_is_reported_on_the_first(client: Client) -> None:
    first = client.open("error", 80)
    second = client.open("error", 80)
    assert [client.recv(), client.recv()] == [spdy.SynReply(first), spdy.SynReply(second)]
    assert client.recv() == spdy.Data(
        first, b"error processing stream for request 0: error stream already assigned"
    )


def test_old_clients_without_request_ids_pair_consecutive_streams(client: Client) -> None:
    error = client.open("error", 80, rid=None)
    data = client.open("data", 80, rid=None)
    assert [client.recv(), client.recv()] == [spdy.SynReply(error), spdy.SynReply(data)]
    client.send(spdy.Data(data, b"x", fin=True))
    assert client.until_fin({error, data}) == {data: b"80:x", error: b""}


def test_an_unreachable_agent_is_reported_on_the_error_stream(refused: Client) -> None:
    error = refused.open("error", 80)
    data = refused.open("data", 80)
    refused.send(spdy.Data(data, b"lost"))
    got = refused.until_fin({error, data})
    assert got[error] == (
        b"error forwarding port 80 to pod web, uid uid-1: "
        b'unable to reach the agent of node "n1": refused'
    )
    assert not got.get(data)


def test_garbage_ends_the_session_with_a_goaway(client: Client) -> None:
    client.sock.sendall(bytes.fromhex("8002000600000004000000010000"))
    assert client.recv() == spdy.GoAway(0, spdy.GOAWAY_PROTOCOL_ERROR)
    assert client.recv() is None


def test_a_failing_handler_ends_the_connection_with_a_goaway() -> None:
    class Broken(Connection):
        def opened(self, frame: spdy.SynStream) -> None:
            raise RuntimeError("bug")

    ours, theirs = socket.socketpair()
    connection = Broken(SocketTransport(theirs))
    t = threading.Thread(target=connection.run, daemon=True)
    t.start()
    client = Client(ours)
    client.open("data", 80)
    assert client.recv() == spdy.GoAway(1, spdy.GOAWAY_INTERNAL_ERROR)
    assert client.recv() is None
    t.join(5)
    client.reader.close()
    ours.close()
    theirs.close()
    # The base class refuses every stream: a subclass says what it serves.
    ours, theirs = socket.socketpair()
    t = threading.Thread(target=Connection(SocketTransport(theirs)).run, daemon=True)
    t.start()
    client = Client(ours)
    client.open("data", 80)
    assert client.recv() == spdy.RstStream(1, spdy.CANCEL)
    client.reader.close()
    ours.close()
    t.join(5)
    theirs.close()
