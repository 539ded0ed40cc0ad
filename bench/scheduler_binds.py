"""Scheduler throughput, in-process: N Ready nodes and M pending pods created through the
Registry on a private Redis, with the scheduler run by the controller manager; the pods are
created while it runs (or before it starts, ``--backlog``). Prints creates/s and binds/s (from
the first create, or the start, until every pod is bound) and checks that no node holds more
than its allocatable. ``--tree`` runs the
scheduler of another checkout (e.g. ``git archive`` of an older commit), for a before/after pair.
Usage: python bench/scheduler_binds.py [--nodes 20] [--pods 300] [--tree PATH]
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
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


def start_control(registry: Any) -> Any:
    """A controller manager running only the scheduler of the tree under test, as ``tinykube
    control`` runs it: the informer-fed scheduler if the tree has it, else the pass-based loop
    (woken by the manager's watch of pods and nodes)."""
    from control import scheduling
    from control.manager import Manager

    if "informers" in inspect.signature(scheduling.Scheduler).parameters:
        from control.informers import SharedInformers

        informers = SharedInformers(registry)
        loops = [scheduling.Scheduler(registry, informers)]
        manager = Manager(registry, loops=loops, informers=informers)  # type: ignore[list-item]
    else:
        manager = Manager(registry, loops=[scheduling.Scheduler(registry)])
    manager.start()
    return manager


def count_bound(store: Any) -> list[dict[str, Any]]:
    items, _ = store.list("pods", "default")
    return [p for p in items if p["spec"].get("nodeName")]


def wait_bound(store: Any, pods: int, start: float) -> list[dict[str, Any]]:
    while True:
        bound = count_bound(store)
        if len(bound) == pods or time.perf_counter() - start > TIMEOUT_SECONDS:
            return bound
        time.sleep(POLL_SECONDS)


def scheduling_file() -> str:
    from control import scheduling

    return str(scheduling.__file__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument(
        "--backlog", action="store_true",
        help="create every pod before the scheduler starts (default: create them while it runs)",
    )  # fmt: skip
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
        manager = None
        try:
            for i in range(args.nodes):
                registry.create(nodes_rt, "", node(f"node-{i:04}"))
            created = 0.0
            if args.backlog:
                for i in range(args.pods):
                    registry.create(pods_rt, "default", pod(f"pod-{i:05}"))
            start, cpu = time.perf_counter(), time.process_time()
            manager = start_control(registry)
            if not args.backlog:
                manager.leading.wait(TIMEOUT_SECONDS)
                start, cpu = time.perf_counter(), time.process_time()
                for i in range(args.pods):
                    registry.create(pods_rt, "default", pod(f"pod-{i:05}"))
                created = time.perf_counter() - start
            bound = wait_bound(store, args.pods, start)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
            per_node: dict[str, int] = {}
            for p in bound:
                per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
            over = {n: c for n, c in per_node.items() if c > 16}
            print(f"tree {args.tree} (control from {Path(scheduling_file()).parent})")
            if not args.backlog:
                print(f"created {args.pods} pods in {created:.2f} s = "
                      f"{args.pods / created:.1f} creates/s, while the scheduler ran")  # fmt: skip
            print(f"{args.nodes} nodes, {args.pods} pods: {len(bound)} bound in {elapsed:.2f} s "
                  f"= {len(bound) / elapsed:.1f} binds/s (process CPU {cpu:.2f} s); "
                  f"over-committed nodes: {over or 'none'}")  # fmt: skip
        finally:
            if manager is not None:
                manager.shutdown()
            store.close()
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
