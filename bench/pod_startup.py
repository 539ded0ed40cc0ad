"""Pod start-up latency: time from creating a pod (what ``tkctl apply`` sends) to seeing it
Running, for 20 pods one after another (p50/p99) and 20 created at once (until all Running).

The baseline, measured in the same run on the same engine, is the floor: a pod's containers (a
sandbox and one app container joined to its network namespace) created and started directly with
the Docker SDK, one pod at a time and 20 pods over parallel threads.
Targets: one at a time, p50 <= floor + 0.15 s; 20 at once <= 1.3x the parallel floor.
With --before-commit REV an earlier commit (``bench/_before.py``) starts the same pods too.
Usage: python bench/pod_startup.py [--pods 20] [--image tinykube/sleeper:1]
       [--before-commit REV [--before-dir DIR]]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _before
from bench._cluster import BIN, cluster
from common import errors
from common.client import ApiClient
from common.resources import must

PODS = must("pods")
SANDBOX_IMAGE = "tinykube/pause:1"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def manifest(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "startup"}},
        "spec": {
            "containers": [{"name": "app", "image": image}],
            "terminationGracePeriodSeconds": 2,
        },
    }


class RunningWatcher:
    """Watches pods and records when each first reports phase Running."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        rv = client.list(PODS, "default")["metadata"]["resourceVersion"]
        threading.Thread(target=self._run, args=(rv,), daemon=True).start()

    def _run(self, rv: str) -> None:
        try:
            self._follow(rv)
        except errors.ApiError:
            return  # the cluster is going down at the end of the run

    def _follow(self, rv: str) -> None:
        for event in self.client.watch(PODS, "default", resource_version=rv, timeout_seconds=3600):
            obj = event["object"]
            if event["type"] != "BOOKMARK" and obj.get("status", {}).get("phase") == "Running":
                with self.cond:
                    self.seen.setdefault(obj["metadata"]["name"], time.monotonic())
                    self.cond.notify_all()

    def wait(self, names: list[str], timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(n in self.seen for n in names):
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(
                        f"pods not Running: {[n for n in names if n not in self.seen]}"
                    )
            return max(self.seen[n] for n in names)


def tinykube_figures(n: int, image: str, bin_dir: Path = BIN) -> tuple[list[float], float]:
    with cluster(1, bin_dir=bin_dir) as (client, _):
        watcher = RunningWatcher(client)
        sequential = []
        for i in range(n):
            name = f"seq-{i}"
            t0 = time.monotonic()
            client.create(PODS, manifest(name, image), "default")
            sequential.append(watcher.wait([name]) - t0)
        names = [f"par-{i}" for i in range(n)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda nm: client.create(PODS, manifest(nm, image), "default"), names))
        parallel = watcher.wait(names) - t0
        return sequential, parallel


def floor_pod(client: docker.DockerClient, image: str, label: str) -> None:
    """What a kubelet must do at least: start a sandbox, then an app container joined to it."""
    name = uuid.uuid4().hex[:12]
    labels = {"tinykube.io/bench": label}
    sandbox = client.containers.create(SANDBOX_IMAGE, name=f"bench_POD_{name}", labels=labels)
    sandbox.start()
    app = client.containers.create(
        image, name=f"bench_app_{name}", labels=labels, network_mode=f"container:{sandbox.id}"
    )
    app.start()


def floor_figures(n: int, image: str) -> tuple[list[float], float]:
    client = docker.from_env()
    label = uuid.uuid4().hex
    try:
        client.images.get(SANDBOX_IMAGE)
        sequential = []
        for _ in range(n):
            t0 = time.monotonic()
            floor_pod(client, image, label)
            sequential.append(time.monotonic() - t0)
        t0 = time.monotonic()
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda _: floor_pod(client, image, label), range(n)))
        return sequential, time.monotonic() - t0
    finally:
        for c in client.containers.list(all=True, filters={"label": f"tinykube.io/bench={label}"}):
            c.remove(force=True)
        client.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pods", type=int, default=20)
    p.add_argument("--image", default="tinykube/sleeper:1")
    _before.add_arguments(p)
    args = p.parse_args()
    before_bin = _before.from_arguments(args)
    seq, par = tinykube_figures(args.pods, args.image)  # also builds the sandbox image if absent
    fseq, fpar = floor_figures(args.pods, args.image)
    before = tinykube_figures(args.pods, args.image, before_bin) if before_bin else None
    print(f"pod start-up, {args.pods} pods, image {args.image}")
    head = f"{'':32}{'tinykube':>12}{'docker floor':>14}{'difference':>12}"
    print(head + (f"{'before':>10}" if before else ""))
    rows = [
        ("one at a time, p50 (s)", statistics.median(seq), statistics.median(fseq)),
        ("one at a time, p99 (s)", pct(seq, 99), pct(fseq, 99)),
        (f"{args.pods} at once, all Running (s)", par, fpar),
    ]
    earlier = (
        [statistics.median(before[0]), pct(before[0], 99), before[1]] if before else [None] * 3
    )
    for (label, a, b), e in zip(rows, earlier, strict=True):
        tail = f"{e:10.3f}" if e is not None else ""
        print(f"{label:32}{a:12.3f}{b:14.3f}{a - b:+12.3f}{tail}")
    if before:
        print(f"before: {args.before_commit}, same run")
    p50_ok = statistics.median(seq) <= statistics.median(fseq) + 0.15
    par_ok = par <= 1.3 * fpar
    print(
        f"target p50 <= floor + 0.15 s: {'met' if p50_ok else 'missed'}; "
        f"{args.pods} at once <= 1.3x floor ({par / fpar:.2f}x): {'met' if par_ok else 'missed'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
