"""``pods/NAME/exec`` and ``pods/NAME/portforward``: WebSocket streams relayed to the pod's agent.

The client speaks Kubernetes' channel protocol (``v5``/``v4.channel.k8s.io``, ``common.channels``).
Before answering 101 the API server checks the request, then dials the agent's node API with the
node's token and asks it to upgrade too (``Upgrade: tinykube-channels``), so every refusal
(unknown container, agent down) reaches the client as a ``Status`` with its HTTP code. Then
frames are copied both ways until either side ends. Port-forward carries one port per
connection (``?ports=P``), as kubelet's WebSocket port-forward did. Admins only: a node token
may not exec. Effectful.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, g, request
from simple_websocket import ConnectionClosed, Server

from common import channels, errors
from common.channelsock import ChannelSocket
from common.resources import must
from control.apiserver import query
from control.apiserver.auth import NODE_PREFIX, Attributes, TokenAuthenticator, authorize
from control.apiserver.logs import container_of, node_endpoint

log = logging.getLogger(__name__)

blueprint = Blueprint("streams", __name__)
F = TypeVar("F", bound=Callable[..., Any])

POD_PATH = "/api/v1/namespaces/<namespace>/pods/<name>"
# Dialing the agent: a node that does not answer in this time is reported unavailable.
AGENT_CONNECT_TIMEOUT = 5.0
# The agent answers an upgrade at once; a longer silence means it is stuck.
AGENT_ANSWER_TIMEOUT = 30.0
# How often the client-reading thread looks up from a quiet connection to see if it should end.
POLL_SECONDS = 1.0
MAX_ERROR_BODY = 64 * 1024
TERMINAL_PHASES = ("Succeeded", "Failed")


def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("true", "1")


def _pod(namespace: str, name: str, sub: str) -> dict[str, Any]:
    query.check(request.args)
    attrs = Attributes("create", "pods", subresource=sub, namespace=namespace, name=name)
    authorize(g.user, attrs)
    pod: dict[str, Any] = current_app.extensions["tinykube"]["registry"].get(
        must("pods"), namespace, name
    )
    return pod


def _require_upgrade() -> None:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.BadRequestError("Upgrade request required")


def _routes(path: str) -> Callable[[F], F]:
    """Register a view for WebSocket requests and for plain ones (which it refuses with a Status;
    werkzeug would otherwise answer a bare 400 for a WebSocket rule hit without an upgrade)."""

    def register(view: F) -> F:
        blueprint.add_url_rule(path, view_func=view, methods=["GET"], websocket=True)
        blueprint.add_url_rule(
            path, endpoint=f"{view.__name__}_plain", view_func=view, methods=["GET", "POST"]
        )
        return view

    return register


@_routes(f"{POD_PATH}/exec")
def exec_(namespace: str, name: str) -> Response:
    pod = _pod(namespace, name, "exec")
    container = container_of(pod, request.args.get("container"))
    command = request.args.getlist("command")
    if not command:
        raise errors.BadRequestError("you must specify at least one command for the container")
    phase = (pod.get("status") or {}).get("phase")
    if phase in TERMINAL_PHASES:
        raise errors.BadRequestError(
            f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    _require_upgrade()
    params: dict[str, Any] = {"command": command}
    for flag in ("stdin", "tty"):
        if _flag(flag):
            params[flag] = "true"
    agent = dial_agent(pod, f"/exec/{namespace}/{name}/{container}", params)
    return serve(agent, [])


@_routes(f"{POD_PATH}/portforward")
def portforward(namespace: str, name: str) -> Response:
    pod = _pod(namespace, name, "portforward")
    ports = [p for value in request.args.getlist("ports") for p in value.split(",") if p]
    if len(ports) != 1:
        raise errors.BadRequestError("exactly one port is forwarded per connection (?ports=P)")
    try:
        port = int(ports[0])
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise errors.BadRequestError(f"invalid port: {ports[0]!r}")
    _require_upgrade()
    agent = dial_agent(pod, f"/portForward/{namespace}/{name}", {"port": port})
    prefix = [(channels.DATA, channels.port_prefix(port))]
    prefix.append((channels.PORT_ERROR, channels.port_prefix(port)))
    return serve(agent, prefix)


# -- the agent side ---------------------------------------------------------------------------


def dial_agent(pod: dict[str, Any], path: str, params: dict[str, Any]) -> ChannelSocket:
    """Open an upgraded connection to the node API of the pod's node."""
    name = pod["metadata"]["name"]
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequestError(f'pod "{name}" is not scheduled to a node yet')
    reg = current_app.extensions["tinykube"]["registry"]
    auth: TokenAuthenticator = current_app.extensions["tinykube"]["auth"]
    url = urlsplit(node_endpoint(reg.get(must("nodes"), "", node_name)))
    host, port = url.hostname or "", url.port or 80
    token = auth.token_of(NODE_PREFIX + node_name) or ""
    try:
        sock = socket.create_connection((host, port), timeout=AGENT_CONNECT_TIMEOUT)
    except OSError as e:
        raise errors.ServiceUnavailableError(
            f'unable to reach the agent of node "{node_name}": {e}'
        ) from e
    try:
        sock.settimeout(AGENT_ANSWER_TIMEOUT)
        request_line = f"POST {path}?{urlencode(params, doseq=True)} HTTP/1.1\r\n"
        headers = (
            f"Host: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Connection: Upgrade\r\nUpgrade: {channels.UPGRADE}\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendall((request_line + headers).encode())
        reader = sock.makefile("rb")
        code, length = _read_head(reader)
        if code != 101:
            body = reader.read(min(length, MAX_ERROR_BODY)) if length else b""
            raise errors.from_status({"code": code, "message": body.decode(errors="replace")})
        sock.settimeout(None)
        return ChannelSocket(sock, reader)
    except OSError as e:
        sock.close()
        raise errors.ServiceUnavailableError(
            f'the agent of node "{node_name}" did not answer: {e}'
        ) from e
    except errors.ApiError:
        sock.close()
        raise


def _read_head(reader: Any) -> tuple[int, int]:
    """The status code and Content-Length of an HTTP/1.1 answer."""
    status = reader.readline(1024).decode("latin-1").split()
    if len(status) < 2 or not status[1].isdigit():
        raise OSError(f"not an HTTP answer: {' '.join(status)!r}")
    length = 0
    while line := reader.readline(8192).decode("latin-1").strip():
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    return int(status[1]), length


# -- the client side --------------------------------------------------------------------------


def serve(agent: ChannelSocket, prefix: list[tuple[int, bytes]]) -> Response:
    """Upgrade the client to a WebSocket and relay frames until either side ends."""
    try:
        ws = Server(request.environ, subprotocols=list(channels.PROTOCOLS))
    except Exception:
        agent.close()
        raise
    try:
        relay(ws, agent, prefix)
    finally:
        agent.close()
        with contextlib.suppress(Exception):
            ws.close(1000)
    return _Hijacked(ws.mode)


def relay(ws: Any, agent: ChannelSocket, prefix: list[tuple[int, bytes]]) -> None:
    done = threading.Event()
    pump = threading.Thread(
        target=_client_to_agent, args=(ws, agent, done), name="stream-in", daemon=True
    )
    try:
        for channel, payload in prefix:
            ws.send(channels.ws_message(channel, payload))
        pump.start()
        while (frame := agent.recv()) is not None:
            ws.send(channels.ws_message(*frame))
    except (ConnectionClosed, OSError) as e:
        log.debug("stream: client went away: %s", e)
    finally:
        done.set()


def _client_to_agent(ws: Any, agent: ChannelSocket, done: threading.Event) -> None:
    try:
        while not done.is_set():
            message = ws.receive(timeout=POLL_SECONDS)
            if message is None:
                continue
            frame = channels.split_message(message)
            if frame is not None and not agent.send(*frame):
                break
    except ConnectionClosed:
        log.debug("stream: client closed the connection")
    finally:
        agent.shutdown()  # wakes the relay loop if the client left first


class _Hijacked(Response):
    """The answer after a WebSocket session: the server must not write anything more."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if self.mode == "gunicorn":
            raise StopIteration()  # gunicorn then closes the connection without a response
        if self.mode == "werkzeug":
            return super().__call__(environ, start_response)
        return []
