"""Test scaffolding for PodDisruptionBudgets over the real registry and Redis: the workload
cluster of tests/integration/appsfake.py (a FAKE kubelet marks pods Ready) with the disruption
controller in its rounds, a Deployment ``web`` with budgets, and the eviction request."""

from __future__ import annotations

from typing import Any

from common.resources import must
from common.workqueue import RateLimitedQueue
from control.controllers.disruption import DisruptionController
from control.registry.registry import Registry
from tests.integration.appsfake import DEPLOYS, PODS, Cluster, one_pass
from tests.integration.conftest import Api
from tests.integration.informerpump import pump
from tests.integration.test_workloads import deployment

PDBS = must("poddisruptionbudgets")
PDB_PATH = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
POD_PATH = "/api/v1/namespaces/default/pods"
Obj = dict[str, Any]
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


class BudgetCluster(Cluster):
    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        registry.clock = self.clock  # evictions stamp disruptedPods on the same clock
        self.disruption = DisruptionController(registry, self.informers, clock=self.clock)
        self.disruption.controller.queue = RateLimitedQueue(self.clock.monotonic)

    def control_round(self) -> None:
        super().control_round()
        pump(self.informers)
        one_pass(self.disruption.controller)


def budget(name: str = "web", selector: str = "web", **spec: Any) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": selector}}, **spec}}  # fmt: skip


def status(cluster: Cluster, name: str = "web") -> Obj:
    pdb = cluster.get(PDBS, name)
    assert pdb is not None
    return dict(pdb["status"])


def observed(cluster: Cluster, *names: str) -> bool:
    for name in names:
        pdb = cluster.get(PDBS, name) or {"metadata": {}}
        if (pdb.get("status") or {}).get("observedGeneration") != pdb["metadata"].get("generation"):
            return False
    return True


def running(cluster: Cluster, replicas: int, *budgets: Obj) -> list[str]:
    """A Deployment ``web`` of ``replicas`` Ready pods with the budgets synced; its pods."""
    cluster.registry.create(DEPLOYS, "default", deployment(replicas=replicas))
    for b in budgets:
        cluster.registry.create(PDBS, "default", b)
    cluster.settle(lambda: len(ready_pods(cluster)) == replicas)
    names = [b["metadata"]["name"] for b in budgets]
    cluster.settle(lambda: observed(cluster, *names) and all(
        status(cluster, n)["currentHealthy"] == replicas for n in names))  # fmt: skip
    return ready_pods(cluster)


def ready_pods(cluster: Cluster) -> list[str]:
    return sorted(
        p["metadata"]["name"]
        for p in cluster.items(PODS)
        if not p["metadata"].get("deletionTimestamp") and p["status"].get("phase") == "Running"
    )


def evict(api: Api, pod: str, **options: Any) -> tuple[int, Any]:
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction",
                 "metadata": {"name": pod, "namespace": "default"}}  # fmt: skip
    if options:
        body["deleteOptions"] = options
    return api.call("POST", f"{POD_PATH}/{pod}/eviction", body)
