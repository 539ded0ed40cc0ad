"""The two ways kubectl reaches port-forward over SPDY/3.1: a plain ``Upgrade: SPDY/3.1`` (with
``X-Stream-Protocol-Version: portforward.k8s.io``, negotiated as kubelet's httpstream.Handshake
does), and since kubectl 1.31 a WebSocket whose subprotocol is ``SPDY/3.1+portforward.k8s.io``
and whose binary messages carry the raw SPDY bytes (client-go's tunneling connection). Both end
in the same ``spdyforward.Session``; exec and attach use the plain upgrade too (``spdyexec``).
Effectful (takes the request's socket over).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

from flask import Response, request
from simple_websocket import ConnectionClosed, Server

from common import errors
from control.apiserver.agentdial import agent_of
from control.apiserver.spdyforward import Session
from control.apiserver.spdysession import Connection, Transport

SPDY_UPGRADE = "SPDY/3.1"
PORT_FORWARD_PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = f"{SPDY_UPGRADE}+{PORT_FORWARD_PROTOCOL}"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"


def wants_spdy() -> bool:
    return request.headers.get("Upgrade", "").lower() == SPDY_UPGRADE.lower()


def wants_tunnel() -> bool:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return False
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return TUNNEL_PROTOCOL in (p.strip() for p in offered.split(","))


def negotiate(supported: tuple[str, ...] = (PORT_FORWARD_PROTOCOL,)) -> str:
    """The first protocol the client offers that the server speaks (httpstream.Handshake), or
    403 with the kubelet's words."""
    offered = [
        p.strip() for v in request.headers.getlist(PROTOCOL_HEADER) for p in v.split(",") if p
    ]
    if not offered:
        raise errors.BadRequestError(f"unable to upgrade: {PROTOCOL_HEADER} is required")
    for protocol in offered:
        if protocol in supported:
            return protocol
    raise errors.ForbiddenError(
        "unable to upgrade: unable to negotiate protocol: client supports "
        f"[{' '.join(offered)}], server accepts [{' '.join(supported)}]"
    )


class SocketTransport:
    """SPDY straight on the upgraded connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = sock.makefile("rb")

    def read_exactly(self, size: int) -> bytes:
        try:
            return self._reader.read(size) or b""
        except (OSError, ValueError):
            return b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._reader.close()


class WebSocketTransport:
    """SPDY inside WebSocket binary messages (a text message or a close ends the stream)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._buffer = bytearray()

    def read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                message = self.ws.receive()
            except ConnectionClosed:
                break
            if not isinstance(message, bytes | bytearray):
                break
            self._buffer += message
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def send(self, data: bytes) -> None:
        try:
            self.ws.send(data)
        except ConnectionClosed as e:
            raise OSError("the WebSocket is closed") from e

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close(1000)


def _socket_and_mode() -> tuple[socket.socket, str]:
    for key, mode in (("werkzeug.socket", "werkzeug"), ("gunicorn.socket", "gunicorn")):
        sock = request.environ.get(key)
        if sock is not None:
            return sock, mode
    raise errors.InternalError("the server cannot take this connection over")


def serve_port_forward(pod: dict[str, Any], hijacked: type[Response]) -> Response:
    """Upgrade (plain SPDY or the WebSocket tunnel) and serve kubectl's streams."""
    namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    agent = agent_of(pod)
    path = f"/portForward/{namespace}/{name}"

    def dial(port: int) -> Any:
        return agent.open(path, {"port": port})

    uid = pod["metadata"].get("uid", "")
    if wants_tunnel():
        ws = Server(request.environ, subprotocols=[TUNNEL_PROTOCOL])
        Session(WebSocketTransport(ws), dial, name, uid).run()
        return hijacked(ws.mode)
    protocol = negotiate()
    return serve_spdy(protocol, lambda t: Session(t, dial, name, uid), hijacked)


def serve_spdy(
    protocol: str, connection: Callable[[Transport], Connection], hijacked: type[Response]
) -> Response:
    """Answer ``101`` with the negotiated protocol and serve SPDY on the request's socket."""
    sock, mode = _socket_and_mode()
    sock.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
            f"Upgrade: {SPDY_UPGRADE}\r\n{PROTOCOL_HEADER}: {protocol}\r\n\r\n"
        ).encode()
    )
    connection(SocketTransport(sock)).run()
    return hijacked(mode)
