"""Deployment convergence: how long a Deployment of 10 and of 30 replicas takes until every pod is
Ready, a scale 10 -> 30 -> 0, and a rolling update of 10 replicas; beside Docker Swarm doing the
same on the same engine in the same run (``service create -d --replicas N``, ``service scale``,
``service update -d --image --update-parallelism P --update-delay 0s`` with P = tinykube's surge)
and beside the raw floor (each pod's sandbox + app container made with the Docker SDK over
parallel threads).

tinykube is done when N pods are Ready (and, for updates and scale-down, none of the old remain);
Swarm when N task containers run (and none of the old remain).
Targets: 30 replicas and scale 10 -> 30 ahead of Swarm; 10 replicas within 1.3x the floor.
With --before-commit REV it also runs an earlier commit (installed in a venv of its own, see
``bench/_before.py``) in the same run, in a "before" column.
Usage: python bench/deploy_converge.py [--image tinykube/sleeper:1] [--update-image tinykube/web:1]
       [--up-arg=--agent-arg=--workers=16] [--before-commit REV [--before-dir DIR]]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _before
from bench._cluster import BIN, cluster
from bench._deploy_baselines import Floor, swarm
from common import errors
from common.client import ApiClient
from common.resources import must
from common.workloads import resolve_fenceposts

PODS, DEPLOYS = must("pods"), must("deployments")
NAME = "bench"
SELECTOR = f"app={NAME}"
Obj = dict[str, Any]


def manifest(replicas: int, image: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {
                    "containers": [{"name": "app", "image": image}],
                    "terminationGracePeriodSeconds": 2,
                },
            },
        },
    }


class PodView:
    """The benchmark's pods as a watch shows them, with the time each change arrived."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.pods: dict[str, Obj] = {}
        self.cond = threading.Condition()
        listing = client.list(PODS, "default", label_selector=SELECTOR)
        for pod in listing["items"]:
            self.pods[pod["metadata"]["name"]] = pod
        rv = listing["metadata"]["resourceVersion"]
        threading.Thread(target=self._follow, args=(rv,), daemon=True).start()

    def _follow(self, rv: str) -> None:
        try:
            for event in self.client.watch(
                PODS, "default", resource_version=rv, label_selector=SELECTOR, timeout_seconds=3600
            ):
                if event["type"] == "BOOKMARK":
                    continue
                obj = event["object"]
                with self.cond:
                    if event["type"] == "DELETED":
                        self.pods.pop(obj["metadata"]["name"], None)
                    else:
                        self.pods[obj["metadata"]["name"]] = obj
                    self.cond.notify_all()
        except errors.ApiError:
            return  # the cluster goes down at the end of the run

    def wait(self, check: Callable[[list[Obj]], bool], what: str, timeout: float = 300) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not check(list(self.pods.values())):
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"tinykube: timed out waiting for {what}")
            return time.monotonic()


def ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def image_of(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


def all_ready(n: int, image: str) -> Callable[[list[Obj]], bool]:
    """N pods Ready with ``image`` and no pod of another image left (terminating included)."""
    return lambda pods: (
        sum(1 for p in pods if ready(p) and image_of(p) == image) == n
        and all(image_of(p) == image for p in pods)
    )


def tinykube_figures(
    image: str, update_image: str, extra: list[str], bin_dir: Path = BIN
) -> dict[str, float]:
    out: dict[str, float] = {}
    with cluster(1, *extra, bin_dir=bin_dir) as (client, _):
        view = PodView(client)

        def create(n: int, img: str) -> float:
            t0 = time.monotonic()
            client.create(DEPLOYS, manifest(n, img), "default")
            return view.wait(all_ready(n, img), f"{n} pods Ready") - t0

        def scale(n: int, img: str) -> float:
            t0 = time.monotonic()
            client.patch(DEPLOYS, NAME, {"spec": {"replicas": n}}, "default", sub="scale")
            # Scaling down is done when the surplus pods are gone, not merely terminating.
            return view.wait(lambda p: all_ready(n, img)(p) and len(p) == n, f"{n} pods") - t0

        def remove() -> None:
            client.delete(DEPLOYS, NAME, "default")
            view.wait(lambda pods: not pods, "all pods gone")

        create(1, image)  # warm-up: the agent has seen the image, the sandbox exists
        remove()
        out["create 10"] = create(10, image)
        remove()
        out["create 30"] = create(30, image)
        remove()
        create(10, image)
        out["scale 10->30"] = scale(30, image)
        out["scale 30->0"] = scale(0, image)
        remove()
        create(10, image)
        t0 = time.monotonic()
        container = {"name": "app", "image": update_image}
        patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
        client.patch(
            DEPLOYS, NAME, patch, "default", patch_type="application/strategic-merge-patch+json"
        )
        out["rolling update 10"] = view.wait(all_ready(10, update_image), "the update") - t0
        remove()
    return out


def swarm_figures(image: str, update_image: str, parallelism: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with swarm() as s:
        s.create(1, image)
        s.remove()
        out["create 10"] = s.create(10, image)
        s.remove()
        out["create 30"] = s.create(30, image)
        s.remove()
        s.create(10, image)
        out["scale 10->30"] = s.scale(30, image)
        out["scale 30->0"] = s.scale(0, image)
        s.remove()
        s.create(10, image)
        out["rolling update 10"] = s.update(10, update_image, parallelism)
        s.remove()
    return out


def floor_figures(image: str, update_image: str) -> dict[str, float]:
    out: dict[str, float] = {}
    floor = Floor()
    try:
        floor.stop(floor.start(1, image)[1])
        out["create 10"], pods = floor.start(10, image)
        floor.stop(pods)
        out["create 30"], pods = floor.start(30, image)
        floor.stop(pods)
        _, pods = floor.start(10, image)
        out["scale 10->30"], more = floor.start(20, image)
        out["scale 30->0"] = floor.stop(pods + more)
        _, pods = floor.start(10, image)
        out["rolling update 10"], pods = floor.replace(pods, update_image)
        floor.stop(pods)
    finally:
        floor.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--image", default="tinykube/sleeper:1")
    p.add_argument("--update-image", default="tinykube/web:1")
    p.add_argument(
        "--up-arg",
        action="append",
        default=[],
        help="extra flag for tinykube up (e.g. --up-arg=--agent-arg=--workers=16)",
    )
    _before.add_arguments(p)
    args = p.parse_args()
    before_bin = _before.from_arguments(args)
    surge, _ = resolve_fenceposts("25%", "25%", 10)
    tk = tinykube_figures(args.image, args.update_image, args.up_arg)
    before = (
        tinykube_figures(args.image, args.update_image, args.up_arg, before_bin)
        if before_bin is not None
        else None
    )
    sw = swarm_figures(args.image, args.update_image, surge)
    fl = floor_figures(args.image, args.update_image)
    print(
        f"deployment convergence, image {args.image} (update to {args.update_image}), "
        f"rolling update parallelism {surge}"
    )
    head = f"{'':22}{'tinykube':>10}{'swarm':>10}{'floor':>10}{'tk/swarm':>10}{'tk/floor':>10}"
    print(head + (f"{'before':>10}" if before is not None else ""))
    for key in tk:
        print(
            f"{key + ' (s)':22}{tk[key]:10.2f}{sw[key]:10.2f}{fl[key]:10.2f}"
            f"{tk[key] / sw[key]:10.2f}{tk[key] / fl[key]:10.2f}"
            + (f"{before[key]:10.2f}" if before is not None else "")
        )
    if before is not None:
        print(f"before: {args.before_commit}, same run")
    targets = [
        ("create 30 ahead of swarm", tk["create 30"] < sw["create 30"]),
        ("scale 10->30 ahead of swarm", tk["scale 10->30"] < sw["scale 10->30"]),
        ("create 10 within 1.3x floor", tk["create 10"] <= 1.3 * fl["create 10"]),
    ]
    print("; ".join(f"{label}: {'met' if ok else 'missed'}" for label, ok in targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
