"""Node loss: time from a node going silent to all its pods Running on other nodes, p50 over
several trials, tinykube with its default timings next to Docker Swarm with its own.

tinykube: ``tinykube up --agents 3``, a Deployment of 6 replicas; each trial freezes (SIGSTOP)
the agent of the node holding the most pods, measures until 6 pods are Running elsewhere, then
thaws it and waits for the cluster to settle. Swarm: 3 nodes, each a container running its own
engine (see ``bench/_swarm.py``), a service of 6 replicas; each trial freezes the engine of the
worker holding the most tasks, the same way. Target: tinykube p50 under 20 s with the defaults.
Usage: python bench/node_loss.py [--trials 5] [--replicas 6] [--no-swarm]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cluster import cluster
from bench._swarm import Swarm, SwarmUnavailable, swarm
from common.client import ApiClient
from common.resources import must

PODS, NODES, DEPLOYMENTS = must("pods"), must("nodes"), must("deployments")
IMAGE = "tinykube/sleeper:1"
TARGET = 20.0
POLL = 0.1


def wait(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(POLL)
    raise TimeoutError(f"timed out waiting for {what}")


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "loss"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "loss"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"terminationGracePeriodSeconds": 2,
                         "containers": [{"name": "main", "image": IMAGE}]},
            },
        },
    }  # fmt: skip


def elsewhere(counts: Counter[str], node: str) -> int:
    return sum(c for name, c in counts.items() if name != node)


def running_by_node(client: ApiClient) -> Counter[str]:
    pods = client.list(PODS, "default", label_selector="app=loss")["items"]
    return Counter(
        p["spec"].get("nodeName", "")
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    )


def settled(client: ApiClient, replicas: int) -> bool:
    """Every node Ready and untainted, and exactly ``replicas`` pods, all Running."""
    for node in client.list(NODES)["items"]:
        ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
        if not ready or ready[0]["status"] != "True" or node["spec"].get("taints"):
            return False
    pods = client.list(PODS, "default", label_selector="app=loss")["items"]
    return len(pods) == replicas and sum(running_by_node(client).values()) == replicas


def tinykube_trials(trials: int, replicas: int) -> list[float]:
    with cluster(3) as (client, data):
        client.create(DEPLOYMENTS, deployment(replicas), "default")
        results = []
        for trial in range(trials):
            wait("the cluster to settle", lambda: settled(client, replicas), timeout=180)
            node, _ = running_by_node(client).most_common(1)[0]
            pid = json.loads((data / "state.json").read_text())["processes"][node]
            os.kill(pid, signal.SIGSTOP)
            t0 = time.monotonic()
            try:
                wait("the pods elsewhere",
                     lambda n=node: elsewhere(running_by_node(client), n) >= replicas)  # fmt: skip
                results.append(time.monotonic() - t0)
            finally:
                os.kill(pid, signal.SIGCONT)
            print(f"  tinykube trial {trial + 1}: {node} stopped, {replicas} pods Running "
                  f"elsewhere after {results[-1]:.1f}s", flush=True)  # fmt: skip
        return results


def swarm_running(s: Swarm, service: str) -> Counter[str]:
    return Counter(
        node for node, desired, current in s.tasks(service)
        if desired == "Running" and current.startswith("Running")
    )  # fmt: skip


def swarm_settled(s: Swarm, service: str, replicas: int) -> bool:
    states = s.node_states()
    if list(states.values()).count("Ready") != len(s.nodes):
        return False
    tasks = s.tasks(service)
    live = [t for t in tasks if t[1] == "Running"]
    return len(live) == replicas and sum(swarm_running(s, service).values()) == replicas


def swarm_trials(trials: int, replicas: int) -> list[float]:
    with swarm(3, [IMAGE]) as s:
        s.docker("service", "create", "--detach", "--no-resolve-image", "--name", "loss",
                 "--replicas", str(replicas), "--stop-grace-period", "2s", IMAGE)  # fmt: skip
        results = []
        for trial in range(trials):
            wait("the swarm to settle", lambda: swarm_settled(s, "loss", replicas), timeout=180)
            counts = swarm_running(s, "loss")
            workers = [n for n in s.nodes[1:] if counts.get(n)]
            node = max(workers, key=lambda n: counts[n])
            pid = s.engine_pid(node)
            os.kill(pid, signal.SIGSTOP)
            t0 = time.monotonic()
            try:
                wait("the tasks elsewhere",
                     lambda n=node: elsewhere(swarm_running(s, "loss"), n) >= replicas,
                     timeout=300)  # fmt: skip
                results.append(time.monotonic() - t0)
            finally:
                os.kill(pid, signal.SIGCONT)
            print(f"  swarm trial {trial + 1}: {node} stopped, {replicas} tasks Running "
                  f"elsewhere after {results[-1]:.1f}s", flush=True)  # fmt: skip
        return results


def summary(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):5.1f}s  min {min(values):5.1f}s  "
            f"max {max(values):5.1f}s  ({len(values)} trials)")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--replicas", type=int, default=6)
    p.add_argument("--no-swarm", action="store_true", help="skip the Docker Swarm baseline")
    args = p.parse_args()
    print(f"node loss: {args.replicas} replicas on 3 nodes; one node frozen per trial")
    tk = tinykube_trials(args.trials, args.replicas)
    sw: list[float] | None = None
    why = "skipped (--no-swarm)"
    if not args.no_swarm:
        try:
            sw = swarm_trials(args.trials, args.replicas)
        except (SwarmUnavailable, OSError) as e:
            why = f"could not run Docker Swarm nodes here: {e}"
    print(f"{'tinykube (defaults: 10s grace + 5s eviction)':48}{summary(tk)}")
    if sw:
        print(f"{'Docker Swarm (defaults: 5s heartbeat)':48}{summary(sw)}")
    else:
        print(f"{'Docker Swarm':48}{why}")
    p50 = statistics.median(tk)
    print(f"target tinykube p50 < {TARGET:.0f}s: {'met' if p50 < TARGET else 'missed'}"
          f" ({p50:.1f}s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
