"""The node API the API server proxies to, like the kubelet's port 10250: logs, exec, port-forward.

``GET /containerLogs/<ns>/<pod>/<container>?tailLines=&follow=&previous=&timestamps=
&sinceSeconds=&limitBytes=&containerID=`` streams the log as chunked ``text/plain``;
``GET /healthz``; ``POST /exec/..``, ``POST /attach/..`` and ``POST /portForward/..`` upgrade
to channel frames (``agent.streams``).
Every other request must carry ``Authorization: Bearer <agent token>``. Errors are plain-text
messages with the HTTP status, as the kubelet sends them. Built on the standard library's
ThreadingHTTPServer. Effectful.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agent import runtime as rt
from agent import streams
from agent.runtime import ContainerInfo, Runtime
from common import metrics

log = logging.getLogger(__name__)

DEFAULT_PORT = 10250


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return (query.get(name) or [""])[-1].lower() in ("true", "1", "yes")


def _int(query: dict[str, list[str]], name: str) -> int | None:
    raw = (query.get(name) or [""])[-1]
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise _HttpError(400, "BadRequest", f"invalid {name}: {raw!r}") from None


class _HttpError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def pick_container(
    containers: list[ContainerInfo],
    namespace: str,
    pod: str,
    name: str,
    previous: bool,
    container_id: str = "",
) -> ContainerInfo:
    """The container whose log is asked for: the newest attempt; with ``previous`` the one the
    pod's ``lastState.terminated`` names (``container_id``, sent by the API server), or without
    it the exited one before the newest."""
    mine = [
        c
        for c in containers
        if c.role == "app"
        and c.pod_namespace == namespace
        and c.pod_name == pod
        and c.container_name == name
    ]
    if not mine:
        raise _HttpError(
            400, "BadRequest", f'container "{name}" in pod "{pod}" is waiting to start'
        )
    mine.sort(key=lambda c: (c.created_at is not None, c.created_at, c.attempt), reverse=True)
    uid = mine[0].pod_uid  # the newest pod of that name, if an older one lingers
    mine = sorted((c for c in mine if c.pod_uid == uid), key=lambda c: c.attempt, reverse=True)
    if not previous:
        return mine[0]
    if container_id:
        wanted = container_id.removeprefix("docker://")
        older = [c for c in mine if c.id == wanted and c.state == "exited"]
    else:
        older = [c for c in mine[1:] if c.state == "exited"]
    if not older:
        raise _HttpError(
            400,
            "BadRequest",
            f'previous terminated container "{name}" in pod "{pod}" not found',
        )
    return older[0]


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    node_api: NodeApiServer


class NodeApiServer:
    """Serves the node API on ``address:port`` (port 0 picks a free one) in a thread."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        cluster: str,
        node: str,
        token: str,
        address: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        resource_metrics: Callable[[], dict[str, Any] | None] = lambda: None,
    ) -> None:
        self.runtime = runtime
        self.resource_metrics = resource_metrics
        self.cluster = cluster
        self.node = node
        self._token = token.encode()
        self.httpd = _HttpServer((address, port), _Handler)
        self.httpd.node_api = self
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="node-api", daemon=True
        )
        self._thread.start()
        log.info("node api: listening on %s:%d", self.address, self.port)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), self._token)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tinykube-node"
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("node api: " + format, *args)

    def do_GET(self) -> None:
        api = self.server.node_api
        url = urlsplit(self.path)
        try:
            if url.path == "/healthz":
                self._send(200, b"ok", "text/plain")
                return
            if not api.authorized(self.headers.get("Authorization")):
                raise _HttpError(401, "Unauthorized", "Unauthorized")
            if url.path == "/metrics":
                self._send(200, metrics.exposition(), metrics.CONTENT_TYPE)
                return
            if url.path == "/stats/resource":
                self._resource_metrics(api)
                return
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if len(parts) == 4 and parts[0] == "containerLogs":
                self._logs(api, parts[1], parts[2], parts[3], parse_qs(url.query))
                return
            raise _HttpError(404, "NotFound", f"the path {url.path} is not served here")
        except _HttpError as e:
            self._status(e.code, e.reason, e.message)
        except rt.ContainerRuntimeError as e:
            self._status(500, "InternalError", str(e))

    def do_POST(self) -> None:
        """Streams (exec, port-forward): upgraded to ``common.channels`` frames."""
        api = self.server.node_api
        url = urlsplit(self.path)
        try:
            if not api.authorized(self.headers.get("Authorization")):
                raise _HttpError(401, "Unauthorized", "Unauthorized")
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            query = parse_qs(url.query)
            if len(parts) == 4 and parts[0] == "exec":
                containers = api.runtime.list_containers(api.cluster, api.node)
                target = streams.running_container(containers, parts[1], parts[2], parts[3])
                command = query.get("command") or []
                stdin, tty = _flag(query, "stdin"), _flag(query, "tty")
                streams.serve_exec(self, api.runtime, target, command, stdin=stdin, tty=tty)
                return
            if len(parts) == 4 and parts[0] == "attach":
                containers = api.runtime.list_containers(api.cluster, api.node)
                target = streams.running_container(containers, parts[1], parts[2], parts[3])
                streams.serve_attach(self, api.runtime, target, stdin=_flag(query, "stdin"))
                return
            if len(parts) == 3 and parts[0] == "portForward":
                port = _int(query, "port")
                if port is None or not 0 < port < 65536:
                    raise _HttpError(400, "BadRequest", f"invalid port: {port}")
                containers = api.runtime.list_containers(api.cluster, api.node)
                sandbox = streams.pod_sandbox(containers, parts[1], parts[2])
                streams.serve_port_forward(self, sandbox, port)
                return
            raise _HttpError(404, "NotFound", f"the path {url.path} is not served here")
        except streams.Refused as e:
            self._status(e.code, "Refused", e.message)
        except _HttpError as e:
            self._status(e.code, e.reason, e.message)
        except rt.ContainerRuntimeError as e:
            self._status(500, "InternalError", str(e))

    def _resource_metrics(self, api: NodeApiServer) -> None:
        """The node's and its containers' CPU and memory (``agent.resourcemetrics``), in JSON;
        503 until two readings give a rate."""
        summary = api.resource_metrics()
        if summary is None:
            raise _HttpError(503, "ServiceUnavailable", "no resource metrics yet")
        self._send(200, json.dumps(summary).encode(), "application/json")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _status(self, code: int, reason: str, message: str) -> None:
        # Plain text, as the kubelet answers: the API server wraps it into its own Status.
        log.debug("node api: %d %s: %s", code, reason, message)
        self._send(code, message.encode(), "text/plain; charset=utf-8")

    def _logs(
        self, api: NodeApiServer, ns: str, pod: str, name: str, query: dict[str, list[str]]
    ) -> None:
        tail = _int(query, "tailLines")
        since_seconds = _int(query, "sinceSeconds")
        limit = _int(query, "limitBytes")
        containers = api.runtime.list_containers(api.cluster, api.node)
        target = pick_container(containers, ns, pod, name, _flag(query, "previous"),
                                (query.get("containerID") or [""])[0])  # fmt: skip
        chunks = api.runtime.logs(
            target.id,
            tail=tail,
            follow=_flag(query, "follow") and target.state == "running",
            timestamps=_flag(query, "timestamps"),
            since=time.time() - since_seconds if since_seconds else None,
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._stream(chunks, limit)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("node api: log reader of %s/%s went away", ns, pod)
        except rt.ContainerRuntimeError as e:
            log.info("node api: log of %s/%s cut: %s", ns, pod, e)
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _stream(self, chunks: Iterator[bytes], limit: int | None) -> None:
        sent = 0
        for chunk in chunks:
            if limit is not None:
                chunk = chunk[: max(0, limit - sent)]
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                sent += len(chunk)
            if limit is not None and sent >= limit:
                break
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
