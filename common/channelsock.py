"""A connected socket carrying ``common.channels`` frames between the API server and an agent:
thread-safe sends, blocking receives, and a shutdown that wakes a reader blocked in another
thread. Effectful (socket I/O).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import BinaryIO

from common import channels


class ChannelSocket:
    """Frames over ``sock``; ``reader`` may be a buffered reader already holding bytes of it."""

    def __init__(self, sock: socket.socket, reader: BinaryIO | None = None) -> None:
        self.sock = sock
        self._reader = reader if reader is not None else sock.makefile("rb")
        self._send_lock = threading.Lock()
        self._closed = False

    def _read_exactly(self, size: int) -> bytes:
        try:
            return self._reader.read(size) or b""
        except (OSError, ValueError):  # reset, or closed by another thread
            return b""

    def recv(self) -> tuple[int, bytes] | None:
        """The next ``(channel, payload)``, or ``None`` once the peer has gone."""
        try:
            return channels.read_frame(self._read_exactly)
        except channels.FrameError:
            return None

    def wait_readable(self, timeout: float) -> bool:
        """Whether the peer sent something within ``timeout`` (use before anything was read:
        bytes already buffered by the reader are not seen)."""
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
        except (OSError, ValueError):
            return False
        return bool(ready)

    def send(self, channel: int, payload: bytes = b"") -> bool:
        """Send one frame (data longer than a chunk goes as several); False if the peer went."""
        pieces = [payload[i : i + channels.CHUNK] for i in range(0, len(payload), channels.CHUNK)]
        try:
            with self._send_lock:
                for piece in pieces or [b""]:
                    self.sock.sendall(channels.encode_frame(channel, piece))
        except OSError:
            return False
        return True

    def shutdown(self) -> None:
        """End the connection both ways; a ``recv`` blocked in another thread returns None."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.shutdown()
        with contextlib.suppress(OSError):
            self._reader.close()
        with contextlib.suppress(OSError):
            self.sock.close()
