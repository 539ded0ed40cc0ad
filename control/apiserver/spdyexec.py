"""exec and attach over SPDY/3.1, for clients older than kubectl's WebSockets or told not to use
them, served as the kubelet's remotecommand/httpstream.go: the client opens one stream per
``streamType`` (error, and stdin, stdout, stderr, resize as asked); once all have come, the
agent's channel frames are copied to and from them. Every protocol version the kubelet speaks:
``v5``/``v4.channel.k8s.io`` write the exit Status as JSON on the error stream; ``v3`` and ``v2``
only a failure's message, as text; ``channel.k8s.io`` (v1) resets its error stream and closes
stdin at once, as 1.0 kubelets did; resize streams from v3 on. Every stream the server writes is
closed at the end, and the client then closes the connection. Effectful (threads).
"""

from __future__ import annotations

import json
import logging
import threading

from common import channels, spdy
from common.channelsock import ChannelSocket
from control.apiserver.spdysession import Connection, Transport

log = logging.getLogger(__name__)

V5, V4, V3, V2, V1 = (
    "v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
    "channel.k8s.io",
)  # fmt: skip
# The kubelet's order (remotecommand's SupportedStreamingProtocols); over SPDY v5 is v4.
PROTOCOLS = (V5, V4, V3, V2, V1)
# The versions whose error stream carries a JSON Status, and those with terminal resizing.
JSON_STATUS, RESIZING = (V5, V4), (V5, V4, V3)
# The kubelet's stream creation timeout: every expected stream must come within this time.
STREAM_CREATION_TIMEOUT = 30.0
# A terminal size is ~30 bytes of JSON; more that does not parse is junk, not a size to come.
MAX_PENDING_RESIZE = 4096
# Once every stream is closed the client closes the connection; one that does not is closed.
CLOSE_WAIT = 5.0
ERROR, STDIN, STDOUT, STDERR, RESIZE = "error", "stdin", "stdout", "stderr", "resize"
OUTPUT = {channels.STDOUT: STDOUT, channels.STDERR: STDERR, channels.ERROR: ERROR}


def expected_streams(
    stdin: bool, stdout: bool, stderr: bool, tty: bool, protocol: str = V4
) -> frozenset[str]:
    """The streams the client opens for these options (a TTY has no stderr, and a resize
    stream where the protocol resizes terminals)."""
    kinds = {ERROR}
    for kind, wanted in ((STDIN, stdin), (STDOUT, stdout), (STDERR, stderr and not tty)):
        if wanted:
            kinds.add(kind)
    if tty and protocol in RESIZING:
        kinds.add(RESIZE)
    return frozenset(kinds)


def error_stream_data(payload: bytes, protocol: str) -> bytes:
    """What the error stream carries for the agent's exit Status: the Status itself (v4, v5),
    else nothing on success and the failure's message (v1WriteStatusFunc)."""
    if protocol in JSON_STATUS:
        return payload
    try:
        status = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(status, dict) or status.get("status") == "Success":
        return b""
    return str(status.get("message", "")).encode()


class Session(Connection):
    """One ``kubectl exec``/``attach`` over SPDY, relayed to an agent connection already open."""

    name = "exec"

    def __init__(
        self, transport: Transport, agent: ChannelSocket, expected: frozenset[str],
        protocol: str = V4,
    ) -> None:  # fmt: skip
        super().__init__(transport)
        self.agent, self.expected, self.protocol = agent, expected, protocol
        self._streams: dict[str, int] = {}
        self._kinds: dict[int, str] = {}
        self._resize = b""
        self._done = threading.Event()
        self._timer = threading.Timer(STREAM_CREATION_TIMEOUT, self._timed_out)
        self._timer.daemon = True
        self._timer.start()

    def opened(self, frame: spdy.SynStream) -> None:
        kind = spdy.header(frame.headers, "streamType")
        self.write(spdy.SynReply(frame.stream_id))
        started = self._timer.finished.is_set()  # every stream came (or too late): no more
        if kind not in self.expected or kind in self._streams or started:
            log.info("exec: unexpected stream type %r", kind)
            return
        self._streams[kind] = frame.stream_id
        self._kinds[frame.stream_id] = kind
        if set(self._streams) == self.expected:
            self._timer.cancel()
            if self.protocol == V1:
                self._v1_start()
            threading.Thread(target=self._relay, name="exec-spdy", daemon=True).start()

    def _v1_start(self) -> None:
        """channel.k8s.io's known bugs, kept by the kubelet: the error stream is reset once the
        streams are there (errors never reach the client) and the server's end of stdin is
        closed."""
        error = self._streams.pop(ERROR)
        del self._kinds[error]
        self.write(spdy.RstStream(error, spdy.CANCEL))
        if STDIN in self._streams:
            self.write(spdy.Data(self._streams[STDIN], fin=True))

    def received(self, frame: spdy.Data) -> None:
        kind = self._kinds.get(frame.stream_id)
        if kind == STDIN:
            if frame.data:
                self.agent.send(channels.STDIN, frame.data)
            if frame.fin:
                self.agent.send(channels.CLOSE, bytes([channels.STDIN]))
        elif kind == RESIZE:
            self._resize += frame.data
            for width, height in self._sizes():
                self.agent.send(channels.RESIZE, channels.resize_payload(width, height))

    def _sizes(self) -> list[tuple[int, int]]:
        """The terminal sizes complete in the resize stream so far (JSON values, one by one)."""
        sizes, decoder = [], json.JSONDecoder()
        text = self._resize.decode(errors="replace")
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            try:
                value, pos = decoder.raw_decode(text, pos)
            except ValueError:
                break
            size = channels.parse_resize(json.dumps(value).encode())
            if size is not None:
                sizes.append(size)
        rest = text[pos:].encode()
        self._resize = rest if len(rest) <= MAX_PENDING_RESIZE else b""  # not a size: dropped
        return sizes

    def reset(self, stream_id: int) -> None:
        if stream_id in self._kinds:
            self.agent.shutdown()

    def ended(self) -> None:
        self._done.set()
        self._timer.cancel()
        self.agent.shutdown()

    def _timed_out(self) -> None:
        if ERROR in self._streams:
            message = b"timed out waiting for client to create streams"
            self.write(spdy.Data(self._streams[ERROR], message, fin=True))
        self.transport.close()

    def _relay(self) -> None:
        try:
            while (frame := self.agent.recv()) is not None:
                channel, payload = frame
                stream = self._streams.get(OUTPUT.get(channel, ""))
                if channel == channels.ERROR:
                    payload = error_stream_data(payload, self.protocol)
                if stream and payload and not self.write(spdy.Data(stream, payload)):
                    break
        finally:
            self.agent.close()
            for kind in (STDOUT, STDERR, ERROR):
                if kind in self._streams:
                    self.write(spdy.Data(self._streams[kind], fin=True))
            if not self._done.wait(CLOSE_WAIT):
                self.transport.close()
