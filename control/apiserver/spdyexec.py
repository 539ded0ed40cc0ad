"""exec and attach over SPDY/3.1 (``v4.channel.k8s.io``), for clients older than kubectl's
WebSockets or told not to use them, served as the kubelet's remotecommand/httpstream.go: the
client opens one stream per ``streamType`` (error, and stdin, stdout, stderr, resize as asked);
once all have come, the agent's channel frames are copied to and from them. The error stream
carries the exit Status (JSON, as v4 writes it); every stream the server writes is closed at the
end, and the client then closes the connection. Effectful (threads).
"""

from __future__ import annotations

import json
import logging
import threading

from common import channels, spdy
from common.channelsock import ChannelSocket
from control.apiserver.spdysession import Connection, Transport

log = logging.getLogger(__name__)

PROTOCOLS = ("v4.channel.k8s.io",)
# The kubelet's stream creation timeout: every expected stream must come within this time.
STREAM_CREATION_TIMEOUT = 30.0
# A terminal size is ~30 bytes of JSON; more that does not parse is junk, not a size to come.
MAX_PENDING_RESIZE = 4096
# Once every stream is closed the client closes the connection; one that does not is closed.
CLOSE_WAIT = 5.0
ERROR, STDIN, STDOUT, STDERR, RESIZE = "error", "stdin", "stdout", "stderr", "resize"
OUTPUT = {channels.STDOUT: STDOUT, channels.STDERR: STDERR, channels.ERROR: ERROR}


def expected_streams(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> frozenset[str]:
    """The streams the client opens for these options (a TTY has no stderr but a resize)."""
    kinds = {ERROR}
    for kind, wanted in ((STDIN, stdin), (STDOUT, stdout), (STDERR, stderr and not tty)):
        if wanted:
            kinds.add(kind)
    if tty:
        kinds.add(RESIZE)
    return frozenset(kinds)


class Session(Connection):
    """One ``kubectl exec``/``attach`` over SPDY, relayed to an agent connection already open."""

    name = "exec"

    def __init__(self, transport: Transport, agent: ChannelSocket, expected: frozenset[str]):
        super().__init__(transport)
        self.agent, self.expected = agent, expected
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
        if kind not in self.expected or kind in self._streams:
            log.info("exec: unexpected stream type %r", kind)
            return
        self._streams[kind] = frame.stream_id
        self._kinds[frame.stream_id] = kind
        if set(self._streams) == self.expected:
            self._timer.cancel()
            threading.Thread(target=self._relay, name="exec-spdy", daemon=True).start()

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
                if stream and payload and not self.write(spdy.Data(stream, payload)):
                    break
        finally:
            self.agent.close()
            for kind in (STDOUT, STDERR, ERROR):
                if kind in self._streams:
                    self.write(spdy.Data(self._streams[kind], fin=True))
            if not self._done.wait(CLOSE_WAIT):
                self.transport.close()
