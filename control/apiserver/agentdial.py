"""Dialing a pod's agent for a stream (exec, port-forward): the node API's address and the
node's token are looked up in the request (``agent_of``), so the dial itself (``Agent.open``)
may run in any thread, once per forwarded connection. The agent answers ``101`` and then speaks
``common.channels`` frames, or refuses with an HTTP error that becomes the matching ApiError.
Effectful (sockets).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app

from common import channels, errors
from common.channelsock import ChannelSocket
from common.resources import must
from control.apiserver.auth import NODE_PREFIX, TokenAuthenticator
from control.apiserver.logs import node_endpoint

# Dialing the agent: a node that does not answer in this time is reported unavailable.
AGENT_CONNECT_TIMEOUT = 5.0
# The agent answers an upgrade at once; a longer silence means it is stuck.
AGENT_ANSWER_TIMEOUT = 30.0
MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class Agent:
    node: str
    host: str
    port: int
    netloc: str
    token: str

    def open(self, path: str, params: dict[str, Any]) -> ChannelSocket:
        """An upgraded connection to ``path`` of the node API."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=AGENT_CONNECT_TIMEOUT)
        except OSError as e:
            raise errors.ServiceUnavailableError(
                f'unable to reach the agent of node "{self.node}": {e}'
            ) from e
        try:
            sock.settimeout(AGENT_ANSWER_TIMEOUT)
            request_line = f"POST {path}?{urlencode(params, doseq=True)} HTTP/1.1\r\n"
            headers = (
                f"Host: {self.netloc}\r\nAuthorization: Bearer {self.token}\r\n"
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
                f'the agent of node "{self.node}" did not answer: {e}'
            ) from e
        except errors.ApiError:
            sock.close()
            raise


def agent_of(pod: dict[str, Any]) -> Agent:
    """The agent of the pod's node (in a request: reads the Node and the node's token)."""
    name = pod["metadata"]["name"]
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.BadRequestError(f'pod "{name}" is not scheduled to a node yet')
    reg = current_app.extensions["tinykube"]["registry"]
    auth: TokenAuthenticator = current_app.extensions["tinykube"]["auth"]
    url = urlsplit(node_endpoint(reg.get(must("nodes"), "", node_name)))
    token = auth.token_of(NODE_PREFIX + node_name) or ""
    return Agent(node_name, url.hostname or "", url.port or 80, url.netloc, token)


def dial_agent(pod: dict[str, Any], path: str, params: dict[str, Any]) -> ChannelSocket:
    """Open an upgraded connection to the node API of the pod's node."""
    return agent_of(pod).open(path, params)


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
