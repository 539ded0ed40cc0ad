"""Where the scheduler puts a DaemonSet's pods, over the real registry and Redis (the DaemonSet
controller, the scheduler and a FAKE kubelet stepped by tests/integration/daemonsfake.py): the
controller creates each pod for its node by node affinity and the scheduler binds it; a cordoned
node still gets its daemon pod and no other pod; a node that is not Ready keeps its daemon pod
and gets a new one only from a DaemonSet that tolerates the not-ready taint."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.appsfake import NODES, PODS
from tests.integration.daemonsfake import DAEMONSETS, Daemons, daemonset
from tests.integration.schedpass import schedule_pending

Obj = dict[str, Any]
CORDONED = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


@pytest.fixture
def cluster(app: Any) -> Daemons:
    return Daemons(app.extensions["tinykube"]["registry"])


def _on(cluster: Daemons, name: str, node: str) -> Obj:
    return _all_on(cluster, node)[name]


def _all_on(cluster: Daemons, node: str) -> dict[str, Obj]:
    """The live pods on ``node``, by their app label (one each)."""
    pods = [p for p in cluster.live() if p["spec"]["nodeName"] == node]
    by_app = {p["metadata"]["labels"]["app"]: p for p in pods}
    assert len(by_app) == len(pods)
    return by_app


def _edit_node(cluster: Daemons, name: str, **spec: Any) -> None:
    node = cluster.registry.get(NODES, "", name)
    node["spec"].update(spec)
    cluster.registry.replace(NODES, "", name, node)


def _delete(cluster: Daemons, pod: Obj) -> None:
    cluster.registry.delete(PODS, "default", pod["metadata"]["name"], {})


def _pinned(name: str, node: str) -> Obj:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    required = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "tinykube/sleeper:1"}],
                     "affinity": {"nodeAffinity": required}}}  # fmt: skip


def test_the_scheduler_binds_each_daemon_pod_to_its_node(cluster: Daemons) -> None:
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    cluster.settle(cluster.rolled_out)
    assert cluster.nodes_of() == ["n1", "n2", "n3"]
    for pod in cluster.live():
        name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
        affinity = pod["spec"]["affinity"]["nodeAffinity"]
        [term] = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert term["matchFields"][0]["values"] == [node]
        scheduled = ("Scheduled", f"Successfully assigned default/{name} to {node}")
        assert scheduled in cluster.events(name)
    assert [r for r, _ in cluster.events("logs")].count("SuccessfulCreate") == 3


def test_a_cordoned_node_gets_its_daemon_pod_and_no_other_pod(cluster: Daemons) -> None:
    _edit_node(cluster, "n2", unschedulable=True, taints=[CORDONED])
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    cluster.settle(cluster.rolled_out)
    assert cluster.nodes_of() == ["n1", "n2", "n3"]
    # Deleted, it comes back on the cordoned node.
    _delete(cluster, _on(cluster, "logs", "n2"))
    cluster.settle(lambda: cluster.nodes_of() == ["n1", "n2", "n3"] and cluster.rolled_out())
    # An ordinary pod meant for that node is not placed there.
    cluster.registry.create(PODS, "default", _pinned("web", "n2"))
    assert schedule_pending(cluster.registry) == 0
    web = cluster.registry.get(PODS, "default", "web")
    assert not web["spec"].get("nodeName")
    [scheduled] = [c for c in web["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled["message"].startswith("0/3 nodes are available: ")
    assert "1 node(s) were unschedulable" in scheduled["message"]
    # Uncordoned, it goes there.
    _edit_node(cluster, "n2", unschedulable=False, taints=[])
    assert schedule_pending(cluster.registry) == 1
    assert cluster.registry.get(PODS, "default", "web")["spec"]["nodeName"] == "n2"


def _not_ready(cluster: Daemons, name: str) -> None:
    """The node reports Ready=False and gets the node lifecycle controller's taints."""
    node = cluster.registry.get(NODES, "", name)
    node["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    node = cluster.registry.replace(NODES, "", name, node, sub="status")
    node["spec"]["taints"] = [
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute",
         "timeAdded": "2024-05-01T10:00:00Z"},
    ]  # fmt: skip
    cluster.registry.replace(NODES, "", name, node)


def test_a_not_ready_node_keeps_its_daemon_pod_and_gets_one_if_tolerated(cluster: Daemons) -> None:
    cluster.registry.create(DAEMONSETS, "default", daemonset())
    everywhere = daemonset("cni")
    everywhere["spec"]["template"]["spec"]["tolerations"] = [{"operator": "Exists"}]
    cluster.registry.create(DAEMONSETS, "default", everywhere)
    cluster.settle(lambda: cluster.rolled_out() and cluster.rolled_out("cni"))
    _not_ready(cluster, "n3")
    for _ in range(3):
        cluster.round()
    # The daemon pods tolerate the not-ready NoExecute taint: both stay.
    logs_n3, cni_n3 = _on(cluster, "logs", "n3"), _on(cluster, "cni", "n3")
    _delete(cluster, logs_n3)
    _delete(cluster, cni_n3)
    # Only the DaemonSet tolerating the not-ready NoSchedule taint starts a pod there again.
    cluster.settle(lambda: "cni" in _all_on(cluster, "n3"))
    for _ in range(3):
        cluster.round()
    assert list(_all_on(cluster, "n3")) == ["cni"]
    assert _on(cluster, "cni", "n3")["metadata"]["uid"] != cni_n3["metadata"]["uid"]
    assert cluster.status("logs")["desiredNumberScheduled"] == 2
    assert cluster.status("cni")["desiredNumberScheduled"] == 3
