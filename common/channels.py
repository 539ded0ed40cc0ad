"""The channel framing of exec and port-forward streams, and the exec exit Status. Pure.

Kubernetes' WebSocket channel protocol (``v4.channel.k8s.io``, ``v5.channel.k8s.io``): every
binary message is one channel byte and its payload. Exec uses 0 stdin, 1 stdout, 2 stderr,
3 error (one ``Status`` JSON at the end), 4 resize (``{"Width":W,"Height":H}``); v5 adds 255
close (payload: the channel closed, ``\\xff\\x00`` = end of stdin). Port-forward uses, per port,
channel 0 data and 1 error; the server's first message on each carries the port (u16 LE).

Between the API server and a node agent the same channels travel over an upgraded HTTP/1.1
connection (``Upgrade: tinykube-channels``) as frames ``channel u8 | length u32 BE | payload``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
DATA, PORT_ERROR = 0, 1  # port-forward channels of the first (only) port
V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
# Offered and accepted in this order of preference (kubectl offers only v5; older clients v4).
PROTOCOLS = (V5, V4)
UPGRADE = "tinykube-channels"
HEADER = struct.Struct(">BI")
# A frame larger than this is a protocol error, never data: senders cut data into 32 KiB pieces.
MAX_FRAME = 1 << 20
CHUNK = 32 * 1024


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol."""


def encode_frame(channel: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(channel, len(payload)) + payload


def read_frame(read_exactly: Callable[[int], bytes]) -> tuple[int, bytes] | None:
    """The next frame from ``read_exactly(n)`` (which returns fewer bytes only at the end);
    ``None`` when the stream ends cleanly between frames."""
    head = read_exactly(HEADER.size)
    if not head:
        return None
    if len(head) < HEADER.size:
        raise FrameError("stream cut inside a frame header")
    channel, length = HEADER.unpack(head)
    if length > MAX_FRAME:
        raise FrameError(f"frame of {length} bytes is larger than {MAX_FRAME}")
    payload = read_exactly(length) if length else b""
    if len(payload) < length:
        raise FrameError("stream cut inside a frame")
    return channel, payload


def ws_message(channel: int, payload: bytes = b"") -> bytes:
    """One WebSocket binary message of the channel protocol."""
    return bytes([channel]) + payload


def split_message(message: bytes | str) -> tuple[int, bytes] | None:
    """A WebSocket message as ``(channel, payload)``; ``None`` for an empty one."""
    data = message.encode() if isinstance(message, str) else bytes(message)
    if not data:
        return None
    return data[0], data[1:]


def port_prefix(port: int) -> bytes:
    """The first payload of each port-forward channel: the port, u16 little endian."""
    return struct.pack("<H", port)


def parse_resize(payload: bytes) -> tuple[int, int] | None:
    """``{"Width":W,"Height":H}`` as ``(width, height)``; ``None`` if malformed."""
    try:
        size = json.loads(payload)
        width, height = int(size["Width"]), int(size["Height"])
    except (ValueError, KeyError, TypeError):
        return None
    if width <= 0 or height <= 0:
        return None
    return width, height


def resize_payload(width: int, height: int) -> bytes:
    return json.dumps({"Width": width, "Height": height}).encode()


def exec_status(command: list[str], exit_code: int | None, error: str = "") -> dict[str, Any]:
    """The Status the kubelet writes on the error channel when an exec ends."""
    if error:
        return {
            "metadata": {},
            "status": "Failure",
            "message": error,
            "reason": "InternalError",
            "code": 500,
        }
    if not exit_code:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {exit_code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


def exit_of(payload: bytes) -> tuple[int, str]:
    """What an exec client makes of the error channel: ``(exit code, error message)``.

    Empty or Success is ``(0, "")``; NonZeroExitCode gives its code and no message; any other
    Failure gives exit code 1 and the Status message.
    """
    if not payload.strip():
        return 0, ""
    try:
        status = json.loads(payload)
    except ValueError:
        return 1, payload.decode(errors="replace")
    if not isinstance(status, dict) or status.get("status") == "Success":
        return 0, ""
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message")), ""
                except (TypeError, ValueError):
                    break
    return 1, str(status.get("message") or "error executing command")
