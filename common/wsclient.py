"""A WebSocket client for the API server's exec and port-forward streams (``common.channels``).

``ChannelClient.connect`` opens ``wss://``/``ws://`` with the bearer token, offers the channel
subprotocols and returns a client that sends and receives ``(channel, payload)`` pairs. A refused
upgrade becomes the ``ApiError`` of the server's ``Status`` body (simple-websocket alone keeps only
the HTTP code). Effectful (network).
"""

from __future__ import annotations

import json
import ssl
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

import simple_websocket
from simple_websocket import ConnectionClosed
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request

from common import channels, errors

# Ping the server this often so that idle sessions stay open through proxies (kubectl: 5 s).
PING_SECONDS = 25.0


class _Rejected(Exception):
    def __init__(self, code: int, body: bytes) -> None:
        super().__init__(code)
        self.code, self.body = code, body


class _Client(simple_websocket.Client):  # type: ignore[misc]
    """simple-websocket's client, keeping a refusal's body and frames sent with the 101."""

    def handshake(self) -> None:
        request = Request(
            host=self.host,
            target=self.path,
            subprotocols=self.subprotocols,
            extra_headers=self.extra_headeers,
        )
        self.sock.send(self.ws.send(request))
        status: int | None = None
        body = b""
        while True:
            data = self.sock.recv(self.receive_bytes)
            if not data:
                break
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, AcceptConnection):
                    self.subprotocol = event.subprotocol
                    self.connected = True
                    self._handle_events()  # messages that came in the same read as the 101
                    self.connected = True  # a close among them is seen again by the reader
                    return
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        break
                elif isinstance(event, RejectData):
                    body += bytes(event.data)
                    if event.body_finished:
                        break
            else:
                continue
            break
        self.sock.close()
        raise _Rejected(status or 400, body)  # before Base.__init__ starts its reader thread


def _ssl_context(ca_file: str | None, ca_data: bytes | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=ca_file, cadata=ca_data.decode() if ca_data else None)


def refusal_error(code: int, body: bytes) -> errors.ApiError:
    try:
        status = json.loads(body)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return errors.from_status(status, code)
    text = body.decode(errors="replace").strip() or f"the server refused the upgrade ({code})"
    return errors.from_status({"code": code, "message": text})


class ChannelClient:
    """One open stream; ``send`` is safe from several threads."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._lock = threading.Lock()
        self.protocol: str = ws.subprotocol or ""

    @classmethod
    def connect(
        cls,
        server: str,
        path: str,
        params: dict[str, Any],
        *,
        token: str | None = None,
        ca_file: str | None = None,
        ca_data: bytes | None = None,
        insecure: bool = False,
        protocols: tuple[str, ...] = channels.PROTOCOLS,
    ) -> ChannelClient:
        parts = urlsplit(server.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = urlencode(params, doseq=True)
        url = f"{scheme}://{parts.netloc}{parts.path}{path}" + (f"?{query}" if query else "")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        ctx = _ssl_context(ca_file, ca_data, insecure) if scheme == "wss" else None
        try:
            ws = _Client(url, subprotocols=list(protocols), headers=headers, ssl_context=ctx,
                         ping_interval=PING_SECONDS)  # fmt: skip
        except _Rejected as e:
            raise refusal_error(e.code, e.body) from None
        except (OSError, simple_websocket.ConnectionError) as e:
            raise errors.ServiceUnavailableError(
                f"unable to upgrade connection: cannot reach {parts.netloc}: {e}"
            ) from e
        return cls(ws)

    def send(self, channel: int, payload: bytes = b"") -> bool:
        """Send one message; False once the connection is closed."""
        try:
            with self._lock:
                for i in range(0, max(len(payload), 1), channels.CHUNK):
                    self._ws.send(channels.ws_message(channel, payload[i : i + channels.CHUNK]))
        except (ConnectionClosed, OSError):
            return False
        return True

    def recv(self, timeout: float | None = None) -> tuple[int, bytes] | None:
        """The next ``(channel, payload)``; ``None`` once closed. Raises ``TimeoutError``."""
        while True:
            try:
                message = self._ws.receive(timeout=timeout)
            except ConnectionClosed:
                return None
            if message is None:
                if not self._ws.connected:
                    return None
                raise TimeoutError("no message in time")
            frame = channels.split_message(message)
            if frame is not None:
                return frame

    def close(self) -> None:
        try:
            with self._lock:
                self._ws.close()
        except (ConnectionClosed, OSError):
            pass
