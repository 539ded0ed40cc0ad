"""API CPU per node Lease renewal: the real Flask app in this process over a private Redis, a
node token renewing its Lease N times the way the agent does (a PUT of the whole Lease), and the
CPU seconds spent inside the app divided by N. For scale, the same for ``GET /healthz``, for the
agent's Node status PUT (what every node sent every 10 s before it posted only changes), and for
a renewal forced down the general path (read, decode, validate, write): the figure before the
quick path existed. The figures leave out the test client's own work and Redis's. A smoke run
takes a second: ``python bench/lease_renewal.py -n 200``.
Usage: python bench/lease_renewal.py [-n 2000]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.node import HostFacts, build_node_status
from agent.runtime import EngineInfo
from common.redis_server import free_port, start_redis
from common.resources import must
from control.apiserver.app import ServerConfig, create_app
from control.apiserver.auth import TokenAuthenticator, User
from control.redis_store import RedisStore

ADMIN, NODE = "bench-admin", "bench-node"
LEASES = must("leases")
ENGINE = EngineInfo(2, 4 * 2**30, "20.10.24", "Debian GNU/Linux 12 (bookworm)", "6.1.0", "x86_64")
LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"


def micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Metered:
    """The app's WSGI callable, adding up the CPU seconds spent inside it (the server's share of
    a call, not the test client's)."""

    def __init__(self, wsgi: Any) -> None:
        self.wsgi = wsgi
        self.seconds = 0.0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        start = time.process_time()
        try:
            return self.wsgi(environ, start_response)
        finally:
            self.seconds += time.process_time() - start


METER: Metered | None = None


def cpu_per_call(n: int, call: Callable[[], None]) -> float:
    """Milliseconds of the server's CPU per call, after a short warm-up."""
    assert METER is not None
    for _ in range(min(50, n)):
        call()
    start = METER.seconds
    for _ in range(n):
        call()
    return (METER.seconds - start) * 1000 / n


def best_of(rounds: int, n: int, calls: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Each call's lowest figure over ``rounds`` interleaved rounds: other load on the machine
    inflates a round, never deflates it."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for what, call in calls.items():
            ms = cpu_per_call(n, call)
            best[what] = min(best.get(what, ms), ms)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=2000, help="calls timed per line")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_redis(Path(tmp), port)
        try:
            return run(f"redis://127.0.0.1:{port}/0", args.n)
        finally:
            proc.terminate()
            proc.wait(10)


def run(redis_url: str, n: int) -> int:
    store = RedisStore(redis_url, prefix="bench:")
    auth = TokenAuthenticator(
        {
            ADMIN: User("admin", ("system:masters",)),
            NODE: User("system:node:node-1", ("system:nodes",)),
        }
    )
    global METER
    app = create_app(store, auth, ServerConfig())
    METER = Metered(app.wsgi_app)
    app.wsgi_app = METER  # type: ignore[method-assign]
    app.extensions["tinykube"]["registry"].ensure_namespaces()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {NODE}"}

    def ok(resp: Any) -> Any:
        if resp.status_code >= 300:
            raise SystemExit(f"{resp.status_code}: {resp.get_data(as_text=True)}")
        return resp.get_json()

    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}
    node = ok(client.post("/api/v1/nodes", json=node, headers=headers))
    lease: dict[str, Any] = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": micro_now()},
    }
    state = {"lease": ok(client.post(LEASE_PATH.rsplit("/", 1)[0], json=lease, headers=headers))}

    def renew() -> None:
        body = copy.deepcopy(state["lease"])
        body["spec"]["renewTime"] = micro_now()
        state["lease"] = ok(client.put(LEASE_PATH, json=body, headers=headers))

    state["node"] = node
    facts = HostFacts("host-1", "10.0.0.1", "machine", "uuid", "boot", ENGINE)

    def node_status() -> None:
        """The agent's own status post, as it was made every 10 s before it posted only
        changes."""
        body = copy.deepcopy(state["node"])
        now = dt.datetime.now(dt.UTC)
        body["status"] = build_node_status("node-1", facts, 10250, body.get("status") or {}, now)
        state["node"] = ok(client.put("/api/v1/nodes/node-1/status", json=body, headers=headers))

    quick = app.extensions["tinykube"]["registry"].node_leases

    def general_renew() -> None:
        memo, quick._memo = quick._memo, OrderedDict()  # nothing remembered: the general path
        try:
            renew()
        finally:
            quick._memo = memo
            quick.remember(LEASES, state["lease"])

    rows = best_of(
        5,
        max(1, n // 5),
        {
            "GET /healthz": lambda: ok(client.get("/healthz")) and None,
            "PUT lease (renewal)": renew,
            "PUT lease, general path": general_renew,
            "PUT node status": node_status,
        },
    )
    print(f"API CPU per call (inside the WSGI app), best of 5 rounds of {max(1, n // 5)} calls")
    for what, ms in rows.items():
        print(f"  {what:<26} {ms:6.3f} ms")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
