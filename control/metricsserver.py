"""The controller process's ``/metrics`` (and ``/healthz``), as kube-controller-manager serves
them on its own port: the process's work queues, scheduler and process figures in the Prometheus
text format, for the admins of the API server's static token file (``system:masters``), 401
without a known token and 403 for anyone else. Built on the standard library's HTTP server.
Shell."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import errors, metrics
from control.apiserver.auth import MASTERS_GROUP, TokenAuthenticator, User

log = logging.getLogger(__name__)

# kube-controller-manager's --secure-port.
DEFAULT_ADDRESS = "127.0.0.1:10257"


class MetricsServer:
    def __init__(self, address: str, token_file: Path | None) -> None:
        host, _, port = address.rpartition(":")
        auth = TokenAuthenticator.from_file(token_file) if token_file else TokenAuthenticator({})
        handler = type("Handler", (_Handler,), {"auth": auth})
        self.httpd = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), handler)
        self.httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        threading.Thread(target=self.httpd.serve_forever, name="metrics", daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start(address: str, token_file: Path | None) -> MetricsServer | None:
    """Serve on ``address`` ("" for none); a port already taken is logged, never fatal."""
    if not address:
        return None
    try:
        server = MetricsServer(address, token_file)
    except (OSError, ValueError) as e:
        log.warning("controller process: /metrics not served on %s: %s", address, e)
        return None
    server.start()
    log.info("controller process: /metrics on %s", address)
    return server


class _Handler(BaseHTTPRequestHandler):
    auth = TokenAuthenticator({})

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, b"ok", "text/plain")
            return
        user = self._user()
        if user is None:
            self._status(401, "Unauthorized", "Unauthorized")
        elif MASTERS_GROUP not in user.groups:
            message = f'forbidden: User "{user.name}" cannot get path "{self.path}"'
            self._status(403, "Forbidden", message)
        elif self.path != "/metrics":
            self._status(404, "NotFound", "the server could not find the requested resource")
        else:
            self._send(200, metrics.exposition(), metrics.CONTENT_TYPE)

    def _user(self) -> User | None:
        try:
            return self.auth.authenticate(self.headers.get("Authorization"))
        except errors.UnauthorizedError:
            return None

    def _status(self, code: int, reason: str, message: str) -> None:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}  # fmt: skip
        self._send(code, json.dumps(status).encode(), "application/json")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("metrics: " + format, *args)
