"""Scheduler throughput, in-process: N Ready nodes and M pending pods created through the
Registry on a private Redis, then the scheduler is started; prints binds/s from its start until
every pod is bound, and checks that no node holds more than its allocatable. ``--tree`` runs the
scheduler of another checkout (e.g. ``git archive`` of an older commit), for a before/after pair.
Usage: python bench/scheduler_binds.py [--nodes 20] [--pods 300] [--tree PATH]
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.2
TIMEOUT_SECONDS = 600.0


def node(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "16"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "tinykube/sleeper:1",
                                 "resources": {"requests": {"cpu": "250m"}}}]},
    }  # fmt: skip


def start_scheduler(registry: Any, stop: threading.Event) -> None:
    """The scheduler of the tree under test, in a thread: the informer-fed one if the tree has
    it, else the pass-based loop (which makes its first pass at once)."""
    from control import scheduling

    if "informers" in inspect.signature(scheduling.Scheduler).parameters:
        from control.informers import SharedInformers

        informers = SharedInformers(registry)
        scheduler = scheduling.Scheduler(registry, informers)
        informers.start(stop)
        informers.wait_for_sync(stop)
    else:
        scheduler = scheduling.Scheduler(registry)
    threading.Thread(target=scheduler.run, args=(stop,), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    sys.path.insert(0, args.tree)

    from common.redis_server import free_port, start_redis
    from common.resources import must
    from control.redis_store import RedisStore
    from control.registry.registry import Registry

    pods_rt, nodes_rt = must("pods"), must("nodes")
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        redis = start_redis(Path(data), port)
        store = RedisStore(f"redis://127.0.0.1:{port}/0", prefix="bench:")
        registry = Registry(store)
        registry.ensure_namespaces()
        stop = threading.Event()
        try:
            for i in range(args.nodes):
                registry.create(nodes_rt, "", node(f"node-{i:04}"))
            for i in range(args.pods):
                registry.create(pods_rt, "default", pod(f"pod-{i:05}"))
            start = time.perf_counter()
            cpu = time.process_time()
            start_scheduler(registry, stop)
            while True:
                items, _ = store.list("pods", "default")
                bound = [p for p in items if p["spec"].get("nodeName")]
                if len(bound) == args.pods or time.perf_counter() - start > TIMEOUT_SECONDS:
                    break
                time.sleep(POLL_SECONDS)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
            per_node: dict[str, int] = {}
            for p in bound:
                per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
            over = {n: c for n, c in per_node.items() if c > 16}
            print(f"tree {args.tree}")
            print(f"{args.nodes} nodes, {args.pods} pods: {len(bound)} bound in {elapsed:.2f} s "
                  f"= {len(bound) / elapsed:.1f} binds/s (process CPU {cpu:.2f} s); "
                  f"over-committed nodes: {over or 'none'}")  # fmt: skip
        finally:
            stop.set()
            store.close()
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
