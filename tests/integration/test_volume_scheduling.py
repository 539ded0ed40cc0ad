"""The scheduler and a pod's PersistentVolumeClaims over the real registry and Redis: a pod
whose volume is pinned to a node goes there or stays Pending with kube-scheduler's message; a
WaitForFirstConsumer claim gets the node the pod is bound to as its selected node, and the pod is
bound only once its claim is; a missing claim or an unbound Immediate one refuses the pod on every
node."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from common.resources import must
from common.wellknown import HOSTNAME_LABEL, LOCAL_PATH_DIR_ANNOTATION, SELECTED_NODE
from control.controllers.pvbinder import PersistentVolumeController
from control.informers import SharedInformers
from control.registry.defaultstorage import ensure_default_storage_class
from control.registry.registry import Registry
from control.scheduling import Scheduler
from tests.integration.schedpass import schedule_pending
from tests.integration.test_scheduling import node, wait_for

PODS, NODES, PVS, PVCS = (
    must("pods"),
    must("nodes"),
    must("persistentvolumes"),
    must("persistentvolumeclaims"),
)
PREEMPTION = "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."


def registry(app: Any) -> Registry:
    reg: Registry = app.extensions["tinykube"]["registry"]
    return reg


def two_nodes(reg: Registry, ready2: bool = True) -> None:
    for name, ready in (("node-1", True), ("node-2", ready2)):
        obj = node(name, ready, **{HOSTNAME_LABEL: name})
        obj["metadata"]["annotations"] = {LOCAL_PATH_DIR_ANNOTATION: f"/var/lib/tk/{name}/storage"}
        reg.create(NODES, "", obj)


def pod_with_claim(reg: Registry, name: str, claim: str) -> None:
    reg.create(PODS, "default", {"metadata": {"name": name}, "spec": {
        "containers": [{"name": "c", "image": "i:1"}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}})  # fmt: skip


def claim(reg: Registry, name: str, cls: str | None = None, volume: str = "") -> None:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}}  # fmt: skip
    if cls is not None:
        spec["storageClassName"] = cls
    if volume:
        spec["volumeName"] = volume
    reg.create(PVCS, "default", {"metadata": {"name": name}, "spec": spec})


def pinned_volume(reg: Registry, name: str, on: str) -> None:
    term = {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [on]}]}
    reg.create(PVS, "", {"metadata": {"name": name}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "local": {"path": f"/srv/{name}"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [
            term]}}}})  # fmt: skip


def scheduled_message(reg: Registry, name: str) -> str:
    pod = reg.get(PODS, "default", name)
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    return str(cond["message"])


def test_a_pod_goes_to_the_node_its_volume_is_pinned_to(app: Any) -> None:
    reg = registry(app)
    two_nodes(reg)
    pinned_volume(reg, "disk", "node-2")
    claim(reg, "data", cls="", volume="disk")
    pod_with_claim(reg, "db", "data")
    assert schedule_pending(reg) == 1
    assert reg.get(PODS, "default", "db")["spec"]["nodeName"] == "node-2"


def test_a_pod_whose_volume_node_is_down_stays_pending(app: Any) -> None:
    reg = registry(app)
    two_nodes(reg, ready2=False)
    pinned_volume(reg, "disk", "node-2")
    claim(reg, "data", cls="", volume="disk")
    pod_with_claim(reg, "db", "data")
    assert schedule_pending(reg) == 0
    assert scheduled_message(reg, "db") == (
        "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: "
        f"}}, 1 node(s) had volume node affinity conflict. {PREEMPTION}"
    )


@pytest.fixture
def control_plane(app: Any) -> Iterator[Scheduler]:
    """The scheduler and the PersistentVolume controller running on shared informers."""
    reg = registry(app)
    informers = SharedInformers(reg)
    scheduler = Scheduler(reg, informers, volume_bind_timeout=30)
    volumes = PersistentVolumeController(reg, informers)
    stop = threading.Event()
    informers.start(stop)
    assert informers.wait_for_sync(stop, 10)
    threads = [threading.Thread(target=loop.run, args=(stop,), daemon=True)
               for loop in (scheduler, volumes)]  # fmt: skip
    for t in threads:
        t.start()
    yield scheduler
    stop.set()
    for t in threads:
        t.join(10)


def test_wait_for_first_consumer_claims_get_the_chosen_node(
    app: Any, control_plane: Scheduler
) -> None:
    reg = registry(app)
    ensure_default_storage_class(reg)
    two_nodes(reg)
    claim(reg, "data")
    pod_with_claim(reg, "db", "data")
    wait_for("the pod bound", lambda: reg.get(PODS, "default", "db")["spec"].get("nodeName"))
    chosen = reg.get(PODS, "default", "db")["spec"]["nodeName"]
    pvc = reg.get(PVCS, "default", "data")
    assert pvc["spec"]["storageClassName"] == "local-path"
    assert pvc["metadata"]["annotations"][SELECTED_NODE] == chosen
    # The pod was bound only once its claim was (kube-scheduler's PreBind).
    assert pvc["status"]["phase"] == "Bound"
    pv = reg.get(PVS, "", pvc["spec"]["volumeName"])
    assert pv["spec"]["hostPath"]["path"].startswith(f"/var/lib/tk/{chosen}/storage/")


def test_a_pod_is_not_bound_while_its_claim_is_not(app: Any) -> None:
    """No provisioner answers: the binding cycle gives up and the pod waits unbound."""
    reg = registry(app)
    ensure_default_storage_class(reg)
    two_nodes(reg)
    claim(reg, "data")
    pod_with_claim(reg, "db", "data")
    informers = SharedInformers(reg)
    scheduler = Scheduler(reg, informers, volume_bind_timeout=0.3)
    stop = threading.Event()
    informers.start(stop)
    try:
        assert informers.wait_for_sync(stop, 10)
        assert scheduler.schedule_next(1)
        assert scheduler.wait_for_bindings(10)
    finally:
        stop.set()
    assert scheduler.bound == 0
    assert "nodeName" not in reg.get(PODS, "default", "db")["spec"]
    annotations = reg.get(PVCS, "default", "data")["metadata"]["annotations"]
    assert annotations[SELECTED_NODE] in ("node-1", "node-2")


def test_a_missing_claim_refuses_the_pod_everywhere(app: Any) -> None:
    reg = registry(app)
    two_nodes(reg)
    pod_with_claim(reg, "db", "nothing")
    assert schedule_pending(reg) == 0
    assert scheduled_message(reg, "db") == (
        f'0/2 nodes are available: persistentvolumeclaim "nothing" not found. {PREEMPTION}'
    )


def test_an_unbound_immediate_claim_refuses_the_pod(app: Any) -> None:
    reg = registry(app)
    two_nodes(reg)
    claim(reg, "data", cls="")
    pod_with_claim(reg, "db", "data")
    assert schedule_pending(reg) == 0
    assert scheduled_message(reg, "db") == (
        f"0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. {PREEMPTION}"
    )
