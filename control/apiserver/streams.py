"""``pods/NAME/exec|attach|portforward``: WebSocket streams relayed to the pod's agent.

The client speaks Kubernetes' channel protocol (``v5``/``v4.channel.k8s.io``, ``common.channels``).
Before answering 101 the API server checks the request, then dials the agent's node API with the
node's token and asks it to upgrade too (``Upgrade: tinykube-channels``), so every refusal
(unknown container, agent down) reaches the client as a ``Status`` with its HTTP code. Then
frames are copied both ways until either side ends. Port-forward carries two channels per
port (``?ports=P,Q``, ``portmux``), as kubelet's WebSocket port-forward did; kubectl's SPDY
port-forward (plain or tunnelled in a WebSocket) is ``spdyupgrade``'s. Admins only: a node
token may not exec. Effectful.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, request
from simple_websocket import ConnectionClosed, Server

from common import channels, errors
from common.channelsock import ChannelSocket
from common.resources import must
from control.apiserver import query, spdyexec, spdyupgrade
from control.apiserver.agentdial import dial_agent
from control.apiserver.auth import Attributes, authorize
from control.apiserver.logs import container_of
from control.apiserver.portmux import PortMux

log = logging.getLogger(__name__)

blueprint = Blueprint("streams", __name__)
F = TypeVar("F", bound=Callable[..., Any])

POD_PATH = "/api/v1/namespaces/<namespace>/pods/<name>"
# How often the client-reading thread looks up from a quiet connection to see if it should end.
POLL_SECONDS = 1.0
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
    params: dict[str, Any] = {"command": command}
    for flag in ("stdin", "tty"):
        if _flag(flag):
            params[flag] = "true"
    return _remote_command(pod, f"/exec/{namespace}/{name}/{container}", params)


@_routes(f"{POD_PATH}/attach")
def attach(namespace: str, name: str) -> Response:
    """The container's main process: its output from now on, stdin if asked (and kept open by
    the container), terminal resizes; ends with a Success Status as the kubelet's attach."""
    pod = _pod(namespace, name, "attach")
    container = container_of(pod, request.args.get("container"))
    params = {"stdin": "true"} if _flag("stdin") else {}
    return _remote_command(pod, f"/attach/{namespace}/{name}/{container}", params)


def _remote_command(pod: dict[str, Any], path: str, params: dict[str, Any]) -> Response:
    """Dial the agent, then upgrade the client: to SPDY if it asks, else to a WebSocket."""
    if not spdyupgrade.wants_spdy():
        _require_upgrade()
        return serve(dial_agent(pod, path, params), [])
    stdin, stdout, stderr, tty = (_flag(f) for f in ("stdin", "stdout", "stderr", "tty"))
    if not (stdin or stdout or stderr):
        raise errors.BadRequestError("you must specify at least 1 of stdin, stdout, stderr")
    protocol = spdyupgrade.negotiate(spdyexec.PROTOCOLS)
    expected = spdyexec.expected_streams(stdin, stdout, stderr, tty, protocol)
    agent = dial_agent(pod, path, params)
    try:
        return spdyupgrade.serve_spdy(
            protocol, lambda t: spdyexec.Session(t, agent, expected, protocol), _Hijacked
        )
    finally:
        agent.close()


@_routes(f"{POD_PATH}/portforward")
def portforward(namespace: str, name: str) -> Response:
    pod = _pod(namespace, name, "portforward")
    if spdyupgrade.wants_spdy() or spdyupgrade.wants_tunnel():
        return spdyupgrade.serve_port_forward(pod, _Hijacked)
    ports = [p for value in request.args.getlist("ports") for p in value.split(",") if p]
    if not ports:
        raise errors.BadRequestError("at least one port is required (?ports=P)")
    numbers = [_port(p) for p in ports]
    _require_upgrade()
    agents: list[ChannelSocket] = []
    try:
        for port in numbers:
            agents.append(dial_agent(pod, f"/portForward/{namespace}/{name}", {"port": port}))
    except errors.ApiError:
        for agent in agents:
            agent.close()
        raise
    prefix = []
    for i, port in enumerate(numbers):
        prefix += [(2 * i, channels.port_prefix(port)), (2 * i + 1, channels.port_prefix(port))]
    return serve(agents[0] if len(agents) == 1 else PortMux(agents), prefix)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise errors.BadRequestError(f"invalid port: {text!r}")
    return port


# -- the client side --------------------------------------------------------------------------


def serve(agent: ChannelSocket | PortMux, prefix: list[tuple[int, bytes]]) -> Response:
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


def relay(ws: Any, agent: ChannelSocket | PortMux, prefix: list[tuple[int, bytes]]) -> None:
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


def _client_to_agent(ws: Any, agent: ChannelSocket | PortMux, done: threading.Event) -> None:
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
