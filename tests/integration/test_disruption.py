"""The disruption controller over the real registry and Redis: each budget's status from a
Deployment's pods (a FAKE kubelet marks them Ready) and the scale of their controllers, its
failSafe, its events, the 2-minute wait for an approved eviction, and its server-side Table."""

from __future__ import annotations

from typing import Any

import pytest

from common import meta
from tests.integration.appsfake import NODES, one_pass
from tests.integration.budgetfake import (
    DEPLOYS,
    PDB_PATH,
    PDBS,
    PODS,
    BudgetCluster,
    budget,
    observed,
    running,
    status,
)
from tests.integration.conftest import Api
from tests.integration.informerpump import pump


@pytest.fixture
def cluster(app: Any) -> BudgetCluster:
    return BudgetCluster(app.extensions["tinykube"]["registry"])


def test_budget_arithmetic_for_each_kind_of_budget(cluster: BudgetCluster) -> None:
    budgets = [
        budget("min-int", minAvailable=3),
        budget("min-pct", minAvailable="50%"),
        budget("max-int", maxUnavailable=1),
        budget("max-pct", maxUnavailable="50%"),
    ]
    running(cluster, 4, *budgets)
    want = {  # (desiredHealthy, disruptionsAllowed, expectedPods)
        "min-int": (3, 1, 4), "min-pct": (2, 2, 4), "max-int": (3, 1, 4), "max-pct": (2, 2, 4),
    }  # fmt: skip
    for name, (desired, allowed, expected) in want.items():
        s = status(cluster, name)
        assert (s["desiredHealthy"], s["disruptionsAllowed"], s["expectedPods"]) == (
            desired, allowed, expected), name  # fmt: skip
        (cond,) = s["conditions"]
        assert (cond["type"], cond["status"], cond["reason"]) == (
            "DisruptionAllowed", "True", "SufficientPods")  # fmt: skip
    # Scaling the Deployment up counts its new scale before the pods exist.
    cluster.registry.patch(DEPLOYS, "default", "web", {"spec": {"replicas": 6}},
                           "application/merge-patch+json")  # fmt: skip
    cluster.kubelet.ready_filter = lambda pod: False
    cluster.settle(lambda: status(cluster, "max-pct")["expectedPods"] == 6)
    s = status(cluster, "max-pct")
    assert (s["desiredHealthy"], s["currentHealthy"], s["disruptionsAllowed"]) == (3, 4, 1)


def test_an_uncountable_controller_stops_every_disruption(cluster: BudgetCluster) -> None:
    node = cluster.registry.get(NODES, "", "node-1")  # an owner that exists, without a scale
    cluster.registry.create(PODS, "default", {
        "metadata": {"name": "owned", "labels": {"app": "web"}, "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "node-1",
             "uid": node["metadata"]["uid"], "controller": True}]},
        "spec": {"containers": [{"name": "c", "image": "tinykube/web:1"}]}})  # fmt: skip
    cluster.registry.create(PDBS, "default", budget(minAvailable="50%"))
    cluster.settle(lambda: bool(status(cluster).get("conditions")))
    s = status(cluster)
    assert s["disruptionsAllowed"] == 0
    assert (s["conditions"][0]["reason"], s["conditions"][0]["message"]) == (
        "SyncFailed", "nodes does not implement the scale subresource")  # fmt: skip
    assert (
        "CalculateExpectedPodCountFailed",
        "Failed to calculate the number of expected "
        "pods: nodes does not implement the scale subresource",
    ) in cluster.events("web")
    # Written once: the next syncs find the same failSafe status and change nothing.
    written = cluster.get(PDBS, "web")
    assert written is not None
    for _ in range(3):
        cluster.disruption.controller.queue.add("default/web")
        pump(cluster.informers)
        one_pass(cluster.disruption.controller)
    assert cluster.get(PDBS, "web") == written


def test_kubectl_get_pdb_is_a_server_side_table(cluster: BudgetCluster, api: Api) -> None:
    running(cluster, 2, budget(minAvailable="50%"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    resp = api.client.open(PDB_PATH, headers={**api.headers, "Accept": accept})
    table = resp.get_json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]  # fmt: skip
    assert table["rows"][0]["cells"][:4] == ["web", "50%", "N/A", 1]


def test_an_approved_eviction_not_done_in_2_minutes_counts_again(cluster: BudgetCluster) -> None:
    pods = running(cluster, 3, budget(minAvailable=1))
    pdb = cluster.get(PDBS, "web")
    assert pdb is not None
    # As if an eviction had been approved and its delete never came.
    pdb["status"]["disruptedPods"] = {pods[0]: meta.timestamp(cluster.clock())}
    pdb["status"]["disruptionsAllowed"] = 1
    cluster.registry.replace(PDBS, "default", "web", pdb, sub="status")
    cluster.settle(lambda: status(cluster)["currentHealthy"] == 2)
    assert list(status(cluster)["disruptedPods"]) == [pods[0]]
    cluster.clock.advance(60)
    cluster.round()
    assert list(status(cluster).get("disruptedPods") or {}) == [pods[0]]
    cluster.clock.advance(61)  # the controller asked to look again at the 2-minute mark
    cluster.settle(lambda: "disruptedPods" not in status(cluster))
    s = status(cluster)
    assert (s["currentHealthy"], s["disruptionsAllowed"]) == (3, 2)
    assert ("NotDeleted", "Pod was expected by PDB default/web to be deleted but it wasn't") in (
        cluster.events(pods[0])
    )


def test_unmanaged_pods_are_reported(cluster: BudgetCluster) -> None:
    cluster.registry.create(PODS, "default", {
        "metadata": {"name": "bare", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "tinykube/web:1"}]}})  # fmt: skip
    cluster.registry.create(PDBS, "default", budget(maxUnavailable=1))
    cluster.settle(lambda: observed(cluster, "web"))
    assert status(cluster)["expectedPods"] == 0
    (message,) = [m for r, m in cluster.events("web") if r == "UnmanagedPods"][:1]
    assert message.startswith(
        "Pods selected by this PodDisruptionBudget (selector: &LabelSelector{MatchLabels:"
        "map[string]string{app: web,},MatchExpressions:[]LabelSelectorRequirement{},}) were "
        "found to be unmanaged."
    )
