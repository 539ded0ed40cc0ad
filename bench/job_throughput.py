"""Job throughput: N Jobs of one short pod each (``sh -c true``) created at once; pods
completed per second, from the first create until every pod has Succeeded.

The floor, measured in the same run on the same engine: the same N pods straight on Docker
with the Docker SDK (a sandbox, then the app container joined to it, waited until it exits),
over as many threads as the tinykube run creates Jobs with.
Target: tinykube >= 0.7x the floor's pods per second.
Usage: python bench/job_throughput.py [--jobs 100] [--image tinykube/sleeper:1]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cluster import cluster
from common import errors
from common.client import ApiClient
from common.resources import must

JOBS, PODS = must("jobs"), must("pods")
SANDBOX_IMAGE = "tinykube/pause:1"
THREADS = 16
COMMAND = ["sh", "-c", "true"]


def manifest(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "work", "image": image, "command": COMMAND}],
                }
            }
        },
    }


class SucceededWatcher:
    """Watches pods and records when each first reports phase Succeeded."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.done: dict[str, float] = {}
        self.cond = threading.Condition()
        rv = client.list(PODS, "default")["metadata"]["resourceVersion"]
        threading.Thread(target=self._run, args=(rv,), daemon=True).start()

    def _run(self, rv: str) -> None:
        try:
            for event in self.client.watch(PODS, "default", resource_version=rv,
                                           timeout_seconds=3600):  # fmt: skip
                obj = event["object"]
                if (
                    event["type"] != "BOOKMARK"
                    and obj.get("status", {}).get("phase") == "Succeeded"
                ):
                    with self.cond:
                        self.done.setdefault(obj["metadata"]["uid"], time.monotonic())
                        self.cond.notify_all()
        except errors.ApiError:
            return  # the cluster is going down at the end of the run

    def wait(self, count: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.done) < count:
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"{len(self.done)} of {count} pods Succeeded")
            return max(self.done.values())


def tinykube_seconds(n: int, image: str, agents: int) -> float:
    with cluster(agents) as (client, _):
        watcher = SucceededWatcher(client)
        t0 = time.monotonic()
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda i: client.create(JOBS, manifest(f"job-{i}", image), "default"),
                          range(n)))  # fmt: skip
        return watcher.wait(n, timeout=60 + 3.0 * n) - t0


def floor_pod(client: docker.DockerClient, image: str, label: str) -> None:
    """What a kubelet must do at least for a Job's pod: a sandbox, the app container joined to
    it, run until it exits."""
    name = uuid.uuid4().hex[:12]
    labels = {"tinykube.io/bench": label}
    sandbox = client.containers.create(SANDBOX_IMAGE, name=f"bench_POD_{name}", labels=labels)
    sandbox.start()
    app = client.containers.create(
        image, entrypoint=COMMAND, name=f"bench_app_{name}", labels=labels,
        network_mode=f"container:{sandbox.id}",
    )  # fmt: skip
    app.start()
    app.wait()
    sandbox.stop(timeout=0)


def floor_seconds(n: int, image: str) -> float:
    client = docker.from_env()
    label = uuid.uuid4().hex
    try:
        client.images.get(SANDBOX_IMAGE)
        t0 = time.monotonic()
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda _: floor_pod(client, image, label), range(n)))
        return time.monotonic() - t0
    finally:
        for c in client.containers.list(all=True, filters={"label": f"tinykube.io/bench={label}"}):
            c.remove(force=True)
        client.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--jobs", type=int, default=100)
    p.add_argument("--image", default="tinykube/sleeper:1")
    p.add_argument("--agents", type=int, default=1)
    args = p.parse_args()
    tk = tinykube_seconds(args.jobs, args.image, args.agents)
    fl = floor_seconds(args.jobs, args.image)
    tk_rate, fl_rate = args.jobs / tk, args.jobs / fl
    print(f"job throughput, {args.jobs} Jobs of one pod, image {args.image}")
    print(f"{'':28}{'tinykube':>12}{'docker floor':>14}")
    print(f"{'all pods done (s)':28}{tk:12.2f}{fl:14.2f}")
    print(f"{'pods completed per second':28}{tk_rate:12.2f}{fl_rate:14.2f}")
    ratio = tk_rate / fl_rate
    print(f"ratio {ratio:.2f}x; target >= 0.7x the floor: {'met' if ratio >= 0.7 else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
