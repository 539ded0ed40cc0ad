"""Test scaffolding for the DaemonSet controller over the real registry and Redis: three
registered fake Nodes (n1..n3), the controller, the scheduler (which binds the daemon pods) and
the pod garbage collector (no quarantine) stepped pass by pass, and the FAKE kubelet of
tests/integration/appsfake.py marking placed pods Ready."""

from __future__ import annotations

import datetime as dt
from typing import Any

from common.resources import must
from common.workqueue import RateLimitedQueue
from control.controllers.daemonset import DaemonSetsController
from control.controllers.podgc import PodGarbageCollector
from control.registry.registry import Registry
from tests.integration.appsfake import NODES, PODS, Cluster, one_pass, ready_node
from tests.integration.informerpump import pump
from tests.integration.schedpass import schedule_pending

DAEMONSETS, REVISIONS = must("daemonsets"), must("controllerrevisions")
Obj = dict[str, Any]


def daemonset(name: str = "logs", image: str = "tinykube/sleeper:1", **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            **spec,
        },
    }


class Daemons(Cluster):
    """The DaemonSet controller, the scheduler and the fake kubelet, one pass each per round,
    on n1..n3."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)  # registers node-1
        registry.delete(NODES, "", "node-1", {})
        self.daemonsets = DaemonSetsController(registry, self.informers, clock=self.clock)
        self.daemonsets.queue = RateLimitedQueue(self.clock.monotonic)
        # Pods of a deleted Node go through the pod garbage collector, as in Kubernetes.
        self.podgc = PodGarbageCollector(registry, self.informers, clock=self.clock,
                                         quarantine=dt.timedelta(0))  # fmt: skip
        self.podgc.queue = RateLimitedQueue(self.clock.monotonic)
        for name in ("n1", "n2", "n3"):
            registry.create(NODES, "", ready_node(name))

    def control_round(self) -> None:
        pump(self.informers)
        one_pass(self.daemonsets)
        schedule_pending(self.registry)
        one_pass(self.podgc)

    def live(self) -> list[Obj]:
        return [p for p in self.items(PODS) if not p["metadata"].get("deletionTimestamp")]

    def nodes_of(self, image: str | None = None) -> list[str]:
        return sorted(
            p["spec"]["nodeName"]
            for p in self.live()
            if image is None or p["spec"]["containers"][0]["image"] == image
        )

    def status(self, name: str = "logs") -> Obj:
        ds = self.get(DAEMONSETS, name)
        assert ds is not None
        return dict(ds.get("status") or {})

    def rolled_out(self, name: str = "logs") -> bool:
        ds = self.get(DAEMONSETS, name)
        assert ds is not None
        s = ds.get("status") or {}
        desired = s.get("desiredNumberScheduled", -1)
        return (
            s.get("observedGeneration") == ds["metadata"]["generation"]
            and s.get("updatedNumberScheduled", 0) == desired
            and s.get("numberAvailable", 0) == desired
            and len([p for p in self.live() if p["metadata"]["labels"].get("app") == name])
            == desired
        )
