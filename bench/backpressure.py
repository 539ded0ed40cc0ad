"""Back-pressure of the API server under gunicorn over HTTPS, as a careless or hostile client
meets it: ``/healthz`` latency with 140 connections that send nothing and how long they stay
open, watches one node token can hold and ``/healthz`` meanwhile, how long the server takes to
give a watch's slot back once its client closed it, and the answers to a flood over the
read-only cap.

No Docker: a private Redis and ``python -m control --tls``. Targets: ``/healthz`` under 1 s,
silent sockets closed after the head timeout, a node token refused beyond its cap and
``/healthz`` still answered, a closed watch released within 5 s, 429s under the flood.
Usage: python bench/backpressure.py [--silent 140] [--flood 600] [--flood-cap 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.redis_server import free_port, start_redis

ADMIN, NODE = "bench-admin", "bench-node"
NODE_WATCH = "/api/v1/nodes?watch=true"


class Server:
    def __init__(self, port: int, ca: Path) -> None:
        self.port = port
        self.tls = ssl.create_default_context(cafile=str(ca))

    def connect(self, timeout: float = 30) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls,
                                           timeout=timeout)  # fmt: skip

    def call(self, path: str, token: str = "", method: str = "GET", body: Any = None) -> int:
        conn = self.connect()
        try:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def healthz(self) -> str:
        start = time.monotonic()
        try:
            code = self.call("/healthz")
        except OSError as e:
            return f"no answer ({type(e).__name__}) after {time.monotonic() - start:.2f} s"
        return f"{code} in {time.monotonic() - start:.2f} s"


@contextmanager
def control_plane(extra: list[str]) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="tinykube-bench-") as tmp:
        data = Path(tmp)
        redis_port, port = free_port(), free_port()
        redis = start_redis(data / "redis", redis_port)
        tokens = data / "tokens.csv"
        tokens.write_text(
            f'{ADMIN},admin,a,"system:masters"\n{NODE},system:node:n1,n1,"system:nodes"\n'
        )
        with open(data / "control.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "control", "--redis-url", f"redis://127.0.0.1:{redis_port}/0",
                 "--port", str(port), "--tls", "--data-dir", str(data / "server"),
                 "--token-auth-file", str(tokens), "--no-controllers", *extra],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            ca = data / "server" / "tls" / "server-ca.crt"
            deadline = time.monotonic() + 60
            while True:
                try:
                    server = Server(port, ca)
                    server.call("/healthz")
                    break
                except (OSError, ssl.SSLError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
            server.call("/api/v1/nodes", ADMIN, "POST", node)
            yield server
        finally:
            proc.terminate()
            proc.wait(30)
            redis.terminate()
            redis.wait(10)


def silent_sockets(server: Server, count: int) -> None:
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
    time.sleep(0.2)
    print(f"/healthz with {count} connections that send nothing: {server.healthz()}")
    start = time.monotonic()

    def closed(s: socket.socket) -> bool:
        s.settimeout(120)
        try:
            return s.recv(1) == b""
        except OSError:
            return True

    with ThreadPoolExecutor(count) as pool:
        done = sum(pool.map(closed, socks))
    print(f"  closed by the server after {time.monotonic() - start:.1f} s ({done}/{count})")
    for s in socks:
        s.close()


def open_watch(server: Server) -> tuple[ssl.SSLSocket | None, str]:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock = server.tls.wrap_socket(raw, server_hostname="127.0.0.1")
        sock.sendall(f"GET {NODE_WATCH} HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {NODE}\r\n\r\n".encode())  # fmt: skip
        head = sock.recv(65536).decode(errors="replace")
    except OSError as e:
        raw.close()
        return None, f"no answer ({e})"
    code = head.split()[1]
    if code != "200":
        sock.close()
        after = [h for h in head.splitlines() if h.lower().startswith("retry-after")]
        return None, f"{code}, {after[0] if after else 'no Retry-After'}"
    return sock, ""


def node_watches(server: Server, most: int = 150) -> None:
    held = []
    refusal = f"none refused up to {most}"
    for _ in range(most):
        watch, refusal_now = open_watch(server)
        if watch is None:
            refusal = refusal_now
            break
        held.append(watch)
    print(f"watches one node token holds: {len(held)}, then {refusal}")
    print(f"  /healthz meanwhile: {server.healthz()}")
    for sock in held:
        sock.close()
    start = time.monotonic()
    again = None
    while again is None and time.monotonic() - start < 30:
        again, _ = open_watch(server)
    waited = f"after {time.monotonic() - start:.1f} s" if again else "not within 30 s"
    print(f"  all closed by their client: a new watch admitted {waited}, "
          f"/healthz {server.healthz()}")  # fmt: skip
    if again is not None:
        again.close()


def flood(server: Server, clients: int) -> None:
    def one(_: int) -> str:
        try:
            return str(server.call("/api/v1/nodes", NODE))
        except OSError as e:
            return type(e).__name__

    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        answers = Counter(pool.map(one, range(clients * 3)))
    print(f"  {clients * 3} lists from {clients} clients at once: {dict(answers)} "
          f"in {time.monotonic() - start:.1f} s")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--silent", type=int, default=140)
    p.add_argument("--flood", type=int, default=600)
    p.add_argument(
        "--flood-cap", type=int, default=20, help="--max-requests-inflight then (0: not given)"
    )
    args = p.parse_args()
    with control_plane([]) as server:
        silent_sockets(server, args.silent)
        node_watches(server)
    caps = ["--max-requests-inflight", str(args.flood_cap)] if args.flood_cap else []
    print(f"a flood, {' '.join(caps) or 'default caps'}:")
    with control_plane(caps) as server:
        flood(server, args.flood)


if __name__ == "__main__":
    main()
