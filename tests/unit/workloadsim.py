"""A pure, in-memory simulation of a Deployment's world for property tests: the Deployment and
ReplicaSet planners applied to plain dicts, plus a FAKE kubelet step that binds pods and makes a
chosen subset Ready and removes pods being deleted. No store, no threads, no clock but ``now``."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from common import meta
from common.workloads import default_deployment, max_surge, max_unavailable
from control.controllers.deployment_plan import plan_deployment
from control.controllers.replicaset_plan import plan_replicas, related_pods

Obj = dict[str, Any]
START = dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=dt.UTC)


def deployment(replicas: int, image: str = "web:1", **spec: Any) -> Obj:
    d: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 1,
                     "creationTimestamp": meta.timestamp(START)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": image}]}},
            **spec,
        },
        "status": {},
    }  # fmt: skip
    default_deployment(d)
    return d


class World:
    def __init__(self, d: Obj) -> None:
        self.d = d
        self.rss: dict[str, Obj] = {}
        self.pods: dict[str, Obj] = {}
        self.now = START
        self.ids = itertools.count(1)
        self.events: list[str] = []

    # -- helpers -----------------------------------------------------------------------------

    def tick(self, seconds: float = 1.0) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def _uid(self, prefix: str) -> str:
        return f"{prefix}-{next(self.ids):05d}"

    def live_pods(self) -> list[Obj]:
        return [p for p in self.pods.values() if not p["metadata"].get("deletionTimestamp")]

    def ready_pods(self) -> list[Obj]:
        return [p for p in self.live_pods() if p["status"].get("phase") == "Running"]

    def surge(self) -> int:
        return max_surge(self.d)

    def unavailable(self) -> int:
        return max_unavailable(self.d)

    def spec_total(self) -> int:
        return sum(int(rs["spec"]["replicas"]) for rs in self.rss.values())

    def set_template_image(self, image: str) -> None:
        self.d = copy.deepcopy(self.d)
        self.d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.d["metadata"]["generation"] += 1

    def scale(self, replicas: int) -> None:
        self.d = copy.deepcopy(self.d)
        self.d["spec"]["replicas"] = replicas
        self.d["metadata"]["generation"] += 1

    # -- the controllers ---------------------------------------------------------------------

    def deployment_step(self) -> None:
        plan = plan_deployment(self.d, list(self.rss.values()), list(self.pods.values()), self.now)
        for rs in plan.adopt + plan.release:
            self.rss[rs["metadata"]["name"]] = rs
        if plan.create is not None:
            rs = copy.deepcopy(plan.create)
            rs["metadata"].update(uid=self._uid("rs"), generation=1,
                                  creationTimestamp=meta.timestamp(self.now))  # fmt: skip
            rs["status"] = {}
            self.rss[rs["metadata"]["name"]] = rs
        for rs in plan.update:
            old = self.rss[rs["metadata"]["name"]]
            new = copy.deepcopy(rs)
            if new["spec"] != old["spec"]:
                new["metadata"]["generation"] = old["metadata"]["generation"] + 1
            self.rss[rs["metadata"]["name"]] = new
        for rs in plan.delete:
            self.rss.pop(rs["metadata"]["name"], None)
        if plan.deployment is not None:
            self.d = copy.deepcopy(plan.deployment)
        self.events += [m for _, _, _, m in plan.events]

    def replicaset_step(self) -> None:
        pods = list(self.pods.values())
        for name in sorted(self.rss):
            rs = self.rss[name]
            plan = plan_replicas(rs, pods, self.now, related_pods(rs, self.rss.values(), pods))
            for pod in plan.adopt + plan.release:
                self.pods[pod["metadata"]["name"]] = pod
            for _ in range(plan.create):
                self._create_pod(rs)
            for pod in plan.delete:
                p = self.pods[pod["metadata"]["name"]]
                p["metadata"]["deletionTimestamp"] = meta.timestamp(self.now)
            self.rss[name] = {**rs, "status": plan.status}
            pods = list(self.pods.values())

    def _create_pod(self, rs: Obj) -> None:
        template = rs["spec"]["template"]
        uid = self._uid("pod")
        name = f"{rs['metadata']['name']}-{uid}"
        self.pods[name] = {
            "metadata": {"name": name, "namespace": "default", "uid": uid,
                         "labels": dict(template["metadata"]["labels"]),
                         "creationTimestamp": meta.timestamp(self.now),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": rs["metadata"]["name"],
                                              "uid": rs["metadata"]["uid"], "controller": True}]},
            "spec": copy.deepcopy(template["spec"]),
            "status": {"phase": "Pending"},
        }  # fmt: skip

    def kubelet_step(self, ready: Callable[[Obj], bool] = lambda pod: True) -> None:
        """FAKE kubelet: removes deleted pods; binds pending ones; makes ``ready`` ones Ready."""
        for name in [n for n, p in self.pods.items() if p["metadata"].get("deletionTimestamp")]:
            del self.pods[name]
        stamp = meta.timestamp(self.now)
        for pod in self.pods.values():
            pod["spec"]["nodeName"] = "node-1"
            if pod["status"]["phase"] == "Pending" and ready(pod):
                pod["status"] = {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": stamp}]}  # fmt: skip

    def round(self, ready: Callable[[Obj], bool] = lambda pod: True) -> None:
        self.deployment_step()
        self.replicaset_step()
        self.kubelet_step(ready)
        self.replicaset_step()
        self.tick()

    def converged(self) -> bool:
        s, replicas = self.d["status"], self.d["spec"]["replicas"]
        return (
            s.get("observedGeneration") == self.d["metadata"]["generation"]
            and s.get("updatedReplicas", 0) == replicas
            and s.get("replicas", 0) == replicas
            and s.get("availableReplicas", 0) == replicas
            and len(self.pods) == replicas
        )

    def settle(self, rounds: int = 60) -> None:
        for _ in range(rounds):
            if self.converged():
                return
            self.round()
        raise AssertionError(f"no convergence: {self.d['status']}")
