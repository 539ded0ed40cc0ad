"""kubectl's port-forward over SPDY/3.1, served as the kubelet serves it (httpstream.go).

The client opens a pair of streams per forwarded connection, both carrying the ``port`` and
``requestID`` headers: ``streamType: error`` then ``streamType: data``. Once a pair is complete
its port is dialed through the pod's agent (``dial``) and the data stream's bytes are copied both
ways; a failure is written, in the kubelet's words, on the error stream, which is closed when the
forward ends. Any number of pairs, for any ports, share one connection. Effectful (threads).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from common import channels, errors, spdy
from common.channelsock import ChannelSocket
from control.apiserver.spdysession import Connection, Transport

log = logging.getLogger(__name__)

# The kubelet's stream creation timeout: both streams of a pair must come within this time.
STREAM_CREATION_TIMEOUT = 30.0
DATA, ERROR = "data", "error"


Dial = Callable[[int], ChannelSocket]  # the pod's port through its agent; raises ApiError


class Session(Connection):
    """One SPDY connection of ``kubectl port-forward``; ``run`` serves it until it ends."""

    name = "port-forward"

    def __init__(self, transport: Transport, dial: Dial, pod: str, uid: str) -> None:
        super().__init__(transport)
        self.dial, self.pod, self.uid = dial, pod, uid
        self._lock = threading.Lock()
        self._pairs: dict[str, Pair] = {}
        self._streams: dict[int, Pair] = {}  # data stream id → its pair

    def ended(self) -> None:
        with self._lock:
            pairs = list(self._pairs.values()) + list(self._streams.values())
        for pair in pairs:
            pair.stop()

    def received(self, frame: spdy.Data) -> None:
        pair = self._streams.get(frame.stream_id)
        if pair is not None:
            pair.from_client(frame.data, frame.fin)

    def reset(self, stream_id: int) -> None:
        with self._lock:
            pair = self._streams.pop(stream_id, None)
        if pair is not None:
            pair.stop()

    def opened(self, frame: spdy.SynStream) -> None:
        """Accept (SYN_REPLY) or refuse (RST_STREAM) a new stream, as the kubelet does."""
        sid = frame.stream_id
        problem = stream_problem(frame.headers)
        if problem:
            self.refuse(sid, problem)
            return
        self.write(spdy.SynReply(sid))
        kind = spdy.header(frame.headers, "streamType")
        rid = request_id(frame.headers, sid)
        with self._lock:
            pair = self._pairs.get(rid)
            if pair is None:
                pair = self._pairs[rid] = Pair(self, rid)
                pair.start_timer()
        message = pair.add(kind, sid, int(spdy.header(frame.headers, "port")))
        if message:
            pair.report(message)
            return
        with self._lock:
            if kind == DATA:
                self._streams[sid] = pair
            if pair.complete():
                self._pairs.pop(rid, None)
        if pair.complete():
            pair.start()

    def forget(self, pair: Pair) -> None:
        with self._lock:
            if self._pairs.get(pair.request_id) is pair:
                del self._pairs[pair.request_id]
            if self._streams.get(pair.data_id) is pair:
                del self._streams[pair.data_id]


def stream_problem(headers: spdy.Headers) -> str:
    """Why the kubelet refuses a stream (httpStreamReceived), or ``""``."""
    port = spdy.header(headers, "port")
    if not port:
        return '"port" header is required'
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        return f'unable to parse "{port}" as a port'
    if int(port) < 1:
        return f'port "{port}" must be > 0'
    kind = spdy.header(headers, "streamType")
    if not kind:
        return '"streamType" header is required'
    if kind not in (DATA, ERROR):
        return f'invalid stream type "{kind}"'
    return ""


def request_id(headers: spdy.Headers, stream_id: int) -> str:
    """The pair a stream belongs to; clients older than the header pair consecutive streams."""
    rid = spdy.header(headers, "requestID")
    if rid:
        return rid
    return str(stream_id if spdy.header(headers, "streamType") == ERROR else stream_id - 2)


class Pair:
    """One forwarded connection: its data and error streams and the agent connection."""

    def __init__(self, session: Session, request_id: str) -> None:
        self.session, self.request_id = session, request_id
        self.data_id = self.error_id = 0
        self.port = 0
        self._lock = threading.Lock()
        self._agent: ChannelSocket | None = None
        self._pending: list[bytes] = []
        self._client_done = self._stopped = False
        self._timer: threading.Timer | None = None

    def add(self, kind: str, stream_id: int, port: int) -> str:
        """Take one stream of the pair; the kubelet's complaint if it already has one."""
        if kind == DATA:
            if self.data_id:
                return f"error processing stream for request {self.request_id}: " \
                       "data stream already assigned"  # fmt: skip
            self.data_id, self.port = stream_id, port
        else:
            if self.error_id:
                return f"error processing stream for request {self.request_id}: " \
                       "error stream already assigned"  # fmt: skip
            self.error_id = stream_id
        return ""

    def complete(self) -> bool:
        return bool(self.data_id and self.error_id)

    def start_timer(self) -> None:
        self._timer = threading.Timer(STREAM_CREATION_TIMEOUT, self._timed_out)
        self._timer.daemon = True
        self._timer.start()

    def _timed_out(self) -> None:
        if not self.complete():
            self.report(f"(request={self.request_id}) timed out waiting for streams")
            self.session.forget(self)

    def report(self, message: str) -> None:
        if self.error_id:
            self.session.write(spdy.Data(self.error_id, message.encode()))

    def start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        name = f"pf-{self.request_id}"
        threading.Thread(target=self._forward, name=name, daemon=True).start()

    def from_client(self, data: bytes, fin: bool) -> None:
        with self._lock:
            if self._agent is None:
                self._pending.append(data)
                self._client_done = self._client_done or fin
                return
            agent = self._agent
        _to_agent(agent, data, fin)

    def stop(self) -> None:
        """The client reset the data stream or left: end the forward."""
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._stopped = True
            agent = self._agent
        if agent is not None:
            agent.shutdown()

    def _forward(self) -> None:
        try:
            agent = self.session.dial(self.port)
        except errors.ApiError as e:
            self.report(f"error forwarding port {self.port} to pod {self.session.pod}, "
                        f"uid {self.session.uid}: {e}")  # fmt: skip
            self._finish()
            return
        with self._lock:
            self._agent, pending, done = agent, self._pending, self._client_done
            self._pending = []
            stopped = self._stopped
        if stopped:
            agent.close()
            self._finish()
            return
        for data in pending:
            _to_agent(agent, data, False)
        if done:
            _to_agent(agent, b"", True)
        self._relay(agent)

    def _relay(self, agent: ChannelSocket) -> None:
        try:
            while (frame := agent.recv()) is not None:
                channel, payload = frame
                stream = self.data_id if channel == channels.DATA else self.error_id
                if payload and not self.session.write(spdy.Data(stream, payload)):
                    break
        finally:
            agent.close()
            self._finish()

    def _finish(self) -> None:
        self.session.write(spdy.Data(self.data_id, fin=True))
        self.session.write(spdy.Data(self.error_id, fin=True))
        self.session.forget(self)


def _to_agent(agent: ChannelSocket, data: bytes, fin: bool) -> None:
    if data:
        agent.send(channels.DATA, data)
    if fin:  # the client is done sending: the pod reads the end and answers the rest
        with contextlib.suppress(OSError):
            agent.send(channels.CLOSE, bytes([channels.DATA]))
