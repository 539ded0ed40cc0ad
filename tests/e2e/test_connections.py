"""The API server's connections under gunicorn, as a hostile or careless client holds them:
sockets that never speak or stop halfway through their request head, clients that keep their
socket after an answer, watches their client closed. None may keep ``/healthz`` from answering."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from common.redis_server import free_port
from tests.e2e.conftest import wait_for

ADMIN = "admin-token"
NODE = "node-1-token"
HEAD_TIMEOUT = 2
PER_USER = 2
# Generous against the 0.01 s it takes: the point is not to wait for the idle sockets (4.8 s).
HEALTHZ_TIMEOUT = 2.0
# A closed watch gives its slot back at once; this only allows for a loaded machine.
SLOT_BACK_SECONDS = 2.0


@dataclass
class Server:
    port: int
    ca: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def get(self, path: str, token: str | None = None, timeout: float = 10) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, verify=self.ca, timeout=timeout)

    def tls(self) -> ssl.SSLSocket:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        return ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=10),
                               server_hostname="127.0.0.1")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("connections")
    tokens = tmp / "tokens.csv"
    tokens.write_text(
        f'{ADMIN},admin,admin,"system:masters"\n{NODE},system:node:node-1,n1,"system:nodes"\n'
    )
    port = free_port()
    log = open(tmp / "control.log", "wb")  # noqa: SIM115 - the process writes it until the end
    proc = subprocess.Popen(
        [sys.executable, "-m", "control", "--redis-url", redis_url,
         "--redis-prefix", f"c{uuid.uuid4().hex[:8]}:", "--port", str(port), "--tls",
         "--data-dir", str(tmp / "data"), "--token-auth-file", str(tokens), "--no-controllers",
         "--read-header-timeout", str(HEAD_TIMEOUT),
         "--max-long-running-requests-per-user", str(PER_USER),
         # The caps are each worker's: one worker, so the cap is the whole server's.
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    s = Server(port, tmp / "data" / "tls" / "server-ca.crt")
    try:
        wait_for("the API server", lambda: s.ca.exists() and _healthy(s), timeout=60)
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
        resp = requests.post(s.url + "/api/v1/nodes", json=node, verify=s.ca, timeout=10,
                             headers={"Authorization": f"Bearer {ADMIN}"})  # fmt: skip
        assert resp.status_code == 201, resp.text
        yield s
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def _healthy(s: Server) -> bool:
    try:
        return s.get("/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed this connection (it reads end of file or a reset)."""
    try:
        sock.settimeout(HEAD_TIMEOUT + 8)
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except (TimeoutError, ssl.SSLError):
        return False


def test_silent_connections_cost_no_thread_and_are_closed_after_the_head_timeout(
    server: Server,
) -> None:
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(140)]
    try:
        assert server.get("/healthz", timeout=HEALTHZ_TIMEOUT).text == "ok"
        assert server.get("/api/v1/nodes", ADMIN, timeout=HEALTHZ_TIMEOUT).status_code == 200
        assert all(closed_by_server(s) for s in silent)
    finally:
        for s in silent:
            s.close()


def test_a_request_head_cut_halfway_is_closed_after_the_head_timeout(server: Server) -> None:
    halfway = [server.tls() for _ in range(5)]
    try:
        for s in halfway:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert server.get("/healthz", timeout=HEALTHZ_TIMEOUT).text == "ok"
        assert all(closed_by_server(s) for s in halfway)
    finally:
        for s in halfway:
            s.close()


def test_clients_that_keep_their_socket_after_an_answer_do_not_stall_the_others(
    server: Server,
) -> None:
    keepers = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
    try:
        for s in keepers:
            # The server closes after an HTTP/1.0 answer; these clients never close their side.
            tls = ssl.create_default_context(cafile=str(server.ca))
            wrapped = tls.wrap_socket(s, server_hostname="127.0.0.1")
            wrapped.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            keepers[keepers.index(s)] = wrapped
        assert server.get("/healthz", timeout=HEALTHZ_TIMEOUT).text == "ok"
    finally:
        for s in keepers:
            s.close()


def open_watch(server: Server) -> tuple[int, ssl.SSLSocket]:
    s = server.tls()
    s.sendall(
        f"GET /api/v1/nodes?watch=true HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {NODE}\r\n\r\n".encode()
    )
    head = s.recv(65536).decode(errors="replace")
    return int(head.split()[1]), s


def test_watches_of_one_node_are_capped_and_closed_ones_give_their_slot_back(
    server: Server,
) -> None:
    held: list[Any] = []
    try:
        for _ in range(PER_USER):
            code, s = open_watch(server)
            held.append(s)
            assert code == 200
        over = server.get("/api/v1/nodes?watch=true", NODE)
        assert over.status_code == 429
        assert over.headers["Retry-After"] == "1"
        assert server.get("/healthz", timeout=HEALTHZ_TIMEOUT).text == "ok"
        for s in held:
            s.close()
        held.clear()

        def admitted() -> bool:
            code, s = open_watch(server)
            held.append(s)
            return code == 200

        # The server watches each watch's socket: a close ends the watch at once, long before
        # its next bookmark or look at a quiet client (10 s).
        wait_for("a watch slot given back", admitted, timeout=SLOT_BACK_SECONDS, every=0.2)
    finally:
        for s in held:
            s.close()


def test_a_kept_alive_connection_serves_one_request_after_another(server: Server) -> None:
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, context=ssl.create_default_context(cafile=str(server.ca))
    )
    try:
        paths = ["/healthz", "/api/v1/nodes", "/api/v1/nodes/nope", "/api/v1/nodes/node-1"]
        sockets = set()
        for path in paths:
            conn.request("GET", path, headers={"Authorization": f"Bearer {ADMIN}"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 404), (path, resp.status)
            sockets.add(id(conn.sock))
        assert len(sockets) == 1  # one connection for all of them
    finally:
        conn.close()


def test_a_connection_idle_between_requests_is_served_again_and_pipelined_ones_answered(
    server: Server,
) -> None:
    """Between requests a kept-alive connection waits with no greenlet of its own; its next
    bytes bring it back, several requests sent at once included (the parser holds the next ones
    already: the connection must not wait for bytes that have come)."""
    s = server.tls()
    try:
        s.settimeout(10)
        ask = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

        def answers(n: int) -> bytes:
            got = b""
            while got.count(b"\r\n\r\nok") < n:
                chunk = s.recv(65536)
                assert chunk, f"closed after {got!r}"
                got += chunk
            return got

        s.sendall(ask)
        assert answers(1).startswith(b"HTTP/1.1 200")
        time.sleep(1.5)  # idle, waiting for its next bytes
        s.sendall(ask * 3)
        assert answers(3).count(b"HTTP/1.1 200") == 3
        time.sleep(0.5)
        s.sendall(ask)
        assert answers(1).startswith(b"HTTP/1.1 200")
    finally:
        s.close()
