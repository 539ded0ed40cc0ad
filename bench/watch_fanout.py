"""CPU of the API server per pod event with N node-bound pod watches open, as agents hold them.

The app runs in this process (werkzeug, one thread per connection) over a private Redis; N clients
watch ``fieldSelector=spec.nodeName=node-<i>``; another store client creates M pods spread over
the N nodes, as a second API process would; the figure is this process's CPU time until every
watch has seen its pods, divided by M, printed beside the same run with no watch (the writer's
and the clients' share). Run ``python -m bench.watch_fanout [WATCHES] [PODS]`` from a checkout
to compare two versions of the server (one watch cache against an XREAD per watch: 0.44 against
14.6 ms per event with 100 watches and 1,000 pods, on a loaded 2-core machine).
"""

from __future__ import annotations

import logging
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from common.redis_server import free_port, start_redis
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore

TOKEN = "bench"


def pod(name: str, node: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "tinykube/web:1"}]},
        "status": {"phase": "Pending"},
    }


class Watches:
    """N raw HTTP watches, each counting the ADDED lines it reads."""

    def __init__(self, port: int, count: int, rv: int) -> None:
        self.seen = 0
        self.lock = threading.Lock()
        for i in range(count):
            threading.Thread(target=self._watch, args=(port, i, rv), daemon=True).start()

    def _watch(self, port: int, i: int, rv: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        query = f"watch=1&resourceVersion={rv}&timeoutSeconds=600"
        query += f"&fieldSelector=spec.nodeName%3Dnode-{i}"
        head = f"GET /api/v1/pods?{query} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}"
        sock.sendall(f"{head}\r\n\r\n".encode())
        for line in sock.makefile("rb"):
            if line.startswith(b"{") and b'"ADDED"' in line:
                with self.lock:
                    self.seen += 1


def run(watches: int, pods: int) -> str:
    with tempfile.TemporaryDirectory(prefix="tinykube-bench-") as tmp:
        port = free_port()
        redis = start_redis(Path(tmp), port)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            store, writer = RedisStore(url), RedisStore(url)
            auth = TokenAuthenticator({TOKEN: User("admin", ("system:masters",))})
            app = create_app(store, auth, ServerConfig())
            app.extensions["tinykube"]["registry"].ensure_namespaces()
            httpd = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            clients = Watches(httpd.server_port, watches, store.revision())
            time.sleep(2)  # every watch open and quiet
            cpu = time.process_time()
            for n in range(pods):
                writer.create("pods", pod(f"p{n}", f"node-{n % max(watches, 1)}"))
            deadline = time.monotonic() + 120
            while watches and clients.seen < pods and time.monotonic() < deadline:
                time.sleep(0.01)
            cpu = time.process_time() - cpu
            httpd.shutdown()
        finally:
            redis.terminate()
            redis.wait(10)
    return (f"{watches:>4} node-bound watches: {1000 * cpu / pods:6.2f} ms CPU per pod event "
            f"({clients.seen} of {pods if watches else 0} delivered)")  # fmt: skip


def main(argv: list[str]) -> int:
    watches = int(argv[0]) if argv else 100
    pods = int(argv[1]) if len(argv) > 1 else 1000
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(run(0, pods), "(the writer and the clients alone)")
    print(run(watches, pods))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
