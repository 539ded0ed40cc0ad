"""exec over SPDY against a scripted client and a scripted agent (socket pairs): the streams
kubectl opens, stdin and its end, terminal sizes, output and the exit Status, in every protocol
version the kubelet speaks (v1's reset error stream, v2/v3's text failures)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from common import channels, spdy
from common.channelsock import ChannelSocket
from control.apiserver import spdyexec
from control.apiserver.spdyupgrade import SocketTransport
from tests.unit.test_spdyforward import Client

pytestmark = pytest.mark.timeout(20)


def test_expected_streams() -> None:
    assert spdyexec.expected_streams(False, True, True, False) == {"error", "stdout", "stderr"}
    assert spdyexec.expected_streams(True, True, True, True) == {
        "error", "stdin", "stdout", "resize"
    }  # fmt: skip


class Agent:
    """The agent's end: records what it got; replies with the scripted frames once stdin ends."""

    def __init__(self, replies: list[tuple[int, bytes]], stdin: bool = True) -> None:
        ours, self.theirs = socket.socketpair()
        self.stdin = stdin
        self.conn = ChannelSocket(ours)
        self.peer = ChannelSocket(self.theirs)
        self.got: list[tuple[int, bytes]] = []
        threading.Thread(target=self._serve, args=(replies,), daemon=True).start()

    def _serve(self, replies: list[tuple[int, bytes]]) -> None:
        while self.stdin and (frame := self.peer.recv()) is not None:
            self.got.append(frame)
            if frame[0] == channels.CLOSE:
                break
        for channel, payload in replies:
            self.peer.send(channel, payload)
        self.peer.close()


def session(
    agent: Agent, expected: frozenset[str], protocol: str = spdyexec.V4
) -> Iterator[Client]:
    ours, theirs = socket.socketpair()
    s = spdyexec.Session(SocketTransport(theirs), agent.conn, expected, protocol)
    t = threading.Thread(target=s.run, daemon=True)
    t.start()
    client = Client(ours)
    yield client
    client.reader.close()
    ours.close()
    t.join(5)
    theirs.close()
    assert not t.is_alive()


STATUS = json.dumps(channels.exec_status(["sh"], 3)).encode()


@pytest.fixture
def agent() -> Agent:
    return Agent([(channels.STDOUT, b"out"), (channels.STDERR, b"err"), (channels.ERROR, STATUS)])


def test_a_command_with_stdin_and_a_tty(agent: Agent) -> None:
    expected = spdyexec.expected_streams(True, True, False, True)
    for client in session(agent, expected):
        ids = {kind: client.open(kind, 0) for kind in ("error", "stdin", "stdout", "resize")}
        client.open("bogus", 0)  # accepted, then ignored, as the kubelet does
        assert [client.recv() for _ in range(5)] == [spdy.SynReply(i) for i in (1, 3, 5, 7, 9)]
        client.send(spdy.Data(ids["resize"], b'{"Width":80,"Height":24}\n{"Width":'))
        client.send(spdy.Data(ids["resize"], b'100,"Height":30}\n'))
        client.send(spdy.Data(ids["stdin"], b"input", fin=True))
        got = client.until_fin({ids["stdout"], ids["error"]})
        assert got == {ids["stdout"]: b"out", ids["error"]: STATUS}  # no stderr with a TTY
    assert agent.got == [
        (channels.RESIZE, channels.resize_payload(80, 24)),
        (channels.RESIZE, channels.resize_payload(100, 30)),
        (channels.STDIN, b"input"),
        (channels.CLOSE, bytes([channels.STDIN])),
    ]


def test_output_waits_for_every_stream() -> None:
    replies = [(channels.STDOUT, b"out"), (channels.STDERR, b"err"), (channels.ERROR, b"")]
    agent = Agent(replies, stdin=False)  # answers at once: the session holds it back
    expected = spdyexec.expected_streams(False, True, True, False)
    for client in session(agent, expected):
        error, stdout = client.open("error", 0), client.open("stdout", 0)
        assert [client.recv(), client.recv()] == [spdy.SynReply(error), spdy.SynReply(stdout)]
        stderr = client.open("stderr", 0)
        assert client.recv() == spdy.SynReply(stderr)
        got = client.until_fin({error, stdout, stderr})
        assert got == {stdout: b"out", stderr: b"err", error: b""}


def test_the_streams_and_the_status_of_each_protocol_version() -> None:
    tty = spdyexec.expected_streams(True, True, True, True, spdyexec.V2)
    assert tty == {"error", "stdin", "stdout"}  # v1 and v2 resize no terminal
    assert "resize" in spdyexec.expected_streams(True, True, True, True, spdyexec.V3)
    assert spdyexec.PROTOCOLS == (
        "v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
        "channel.k8s.io",
    )  # fmt: skip
    ok = json.dumps(channels.exec_status(["sh"], 0)).encode()
    for version in (spdyexec.V5, spdyexec.V4):
        assert spdyexec.error_stream_data(STATUS, version) == STATUS
    for version in (spdyexec.V3, spdyexec.V2, spdyexec.V1):
        assert spdyexec.error_stream_data(ok, version) == b""
        assert spdyexec.error_stream_data(STATUS, version) == (
            b"command terminated with non-zero exit code: error executing command [sh], exit code 3"
        )
        assert spdyexec.error_stream_data(b"not json", version) == b"not json"


def test_v3_writes_the_failure_as_text(agent: Agent) -> None:
    expected = spdyexec.expected_streams(True, True, True, False, spdyexec.V3)
    for client in session(agent, expected, spdyexec.V3):
        ids = {kind: client.open(kind, 0) for kind in ("error", "stdin", "stdout", "stderr")}
        assert [client.recv() for _ in range(4)] == [spdy.SynReply(i) for i in ids.values()]
        client.send(spdy.Data(ids["stdin"], b"", fin=True))
        got = client.until_fin({ids["stdout"], ids["stderr"], ids["error"]})
        assert got == {
            ids["stdout"]: b"out", ids["stderr"]: b"err",
            ids["error"]: spdyexec.error_stream_data(STATUS, spdyexec.V3),
        }  # fmt: skip


def test_v1_resets_its_error_stream_and_closes_stdin(agent: Agent) -> None:
    expected = spdyexec.expected_streams(True, True, False, False, spdyexec.V1)
    for client in session(agent, expected, spdyexec.V1):
        ids = {kind: client.open(kind, 0) for kind in ("error", "stdin", "stdout")}
        assert [client.recv() for _ in range(3)] == [spdy.SynReply(i) for i in ids.values()]
        assert client.recv() == spdy.RstStream(ids["error"], spdy.CANCEL)
        assert client.recv() == spdy.Data(ids["stdin"], b"", fin=True)
        client.send(spdy.Data(ids["stdin"], b"in", fin=True))
        assert client.until_fin({ids["stdout"]}) == {ids["stdout"]: b"out"}
    assert agent.got == [(channels.STDIN, b"in"), (channels.CLOSE, bytes([channels.STDIN]))]
