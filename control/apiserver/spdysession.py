"""The server's end of one SPDY/3.1 connection (what spdystream is to the kubelet): reads frames
on the calling thread, answers PINGs, refuses reused or even stream ids, writes frames from any
thread (header blocks compressed in sending order), and hands new streams, data, resets and the
end to a subclass. No flow control, as spdystream does none. Effectful (threads, transport I/O).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from common import spdy

log = logging.getLogger(__name__)


class Transport(Protocol):
    """The byte stream under the frames: an upgraded socket, or a WebSocket tunnel."""

    def read_exactly(self, size: int) -> bytes: ...

    def send(self, data: bytes) -> None: ...  # raises OSError once the peer has gone

    def close(self) -> None: ...


class Connection:
    """``run`` serves the connection until the client goes, sends GOAWAY or breaks the framing."""

    name = "spdy"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.framer = spdy.Framer()
        self._write_lock = threading.Lock()
        self._known: set[int] = set()
        self._last_id = 0

    def write(self, frame: spdy.Frame) -> bool:
        """Send one frame; False once the client has gone."""
        try:
            with self._write_lock:
                self.transport.send(self.framer.encode(frame))
        except OSError:
            return False
        return True

    def run(self) -> None:
        try:
            while (frame := self.framer.read(self.transport.read_exactly)) is not None:
                if not self._handle(frame):
                    break
        except spdy.FrameError as e:
            log.info("%s: %s", self.name, e)
            self.write(spdy.GoAway(self._last_id, spdy.GOAWAY_PROTOCOL_ERROR))
        except Exception:  # the connection is taken over: nothing may reach Flask's handlers
            log.exception("%s: the connection failed", self.name)
            self.write(spdy.GoAway(self._last_id, spdy.GOAWAY_INTERNAL_ERROR))
        finally:
            self.ended()
            self.transport.close()

    def _handle(self, frame: spdy.Frame) -> bool:
        if isinstance(frame, spdy.SynStream):
            sid = frame.stream_id
            if sid in self._known or sid % 2 == 0:
                self.write(spdy.RstStream(sid, spdy.PROTOCOL_ERROR))
            else:
                self._known.add(sid)
                self._last_id = max(self._last_id, sid)
                self.opened(frame)
        elif isinstance(frame, spdy.Data):
            self.received(frame)
        elif isinstance(frame, spdy.RstStream):
            self.reset(frame.stream_id)
        elif isinstance(frame, spdy.Ping):
            self.write(frame)
        elif isinstance(frame, spdy.GoAway):
            return False
        return True  # SETTINGS, WINDOW_UPDATE, HEADERS: spdystream sends none that matter

    def refuse(self, stream_id: int, why: str) -> None:
        """What spdystream does when the stream handler returns an error: reset the stream."""
        log.info("%s: stream %d rejected: %s", self.name, stream_id, why)
        self.write(spdy.RstStream(stream_id, spdy.CANCEL))

    # -- for the subclass ---------------------------------------------------------------------

    def opened(self, frame: spdy.SynStream) -> None:
        """A new stream from the client: answer it (SYN_REPLY) or refuse it."""
        self.refuse(frame.stream_id, "no streams are served here")

    def received(self, frame: spdy.Data) -> None:
        """Data (and the end of it, ``fin``) the client sent on a stream."""

    def reset(self, stream_id: int) -> None:
        """The client reset a stream."""

    def ended(self) -> None:
        """The connection is over: stop everything it started."""
