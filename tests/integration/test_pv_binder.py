"""The PersistentVolume controller over the real registry and Redis, fed by shared informers
pumped by hand: static volumes bind by class, access modes and the smallest size that fits; a
deleted claim releases its volume (Retain) or has it deleted (Delete, local-path); a
WaitForFirstConsumer claim waits for the scheduler's node and gets a volume pinned there; a
claim in use and a bound volume keep their protection finalizers."""

from __future__ import annotations

from typing import Any

import pytest

from common.resources import must
from common.wellknown import (
    BIND_COMPLETED,
    BOUND_BY_CONTROLLER,
    HOSTNAME_LABEL,
    LOCAL_PATH_DIR_ANNOTATION,
    PV_PROTECTION,
    PVC_PROTECTION,
    SELECTED_NODE,
)
from control.controllers.pvbinder import PersistentVolumeController
from control.informers import SharedInformers
from control.registry.defaultstorage import ensure_default_storage_class
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump

PVS, PVCS, NODES, PODS = (
    must("persistentvolumes"), must("persistentvolumeclaims"), must("nodes"), must("pods")
)  # fmt: skip


def pv(reg: Registry, name: str, size: str, *, modes: tuple[str, ...] = ("ReadWriteOnce",),
       cls: str = "manual", policy: str | None = None) -> None:  # fmt: skip
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": list(modes),
                            "storageClassName": cls}  # fmt: skip
    spec["hostPath"] = {"path": f"/srv/{name}"}
    if policy:
        spec["persistentVolumeReclaimPolicy"] = policy
    reg.create(PVS, "", {"metadata": {"name": name}, "spec": spec})


def pvc(reg: Registry, name: str, size: str, *, cls: str | None = "manual",
        modes: tuple[str, ...] = ("ReadWriteOnce",)) -> None:  # fmt: skip
    spec: dict[str, Any] = {
        "accessModes": list(modes),
        "resources": {"requests": {"storage": size}},
    }
    if cls is not None:
        spec["storageClassName"] = cls
    reg.create(PVCS, "default", {"metadata": {"name": name}, "spec": spec})


def settle(informers: SharedInformers, ctl: PersistentVolumeController) -> None:
    for _ in range(6):
        pump(informers)
        drain(ctl.claim_queue)
        drain(ctl.volume_queue)


@pytest.fixture
def world(app: Any) -> tuple[Registry, SharedInformers, PersistentVolumeController]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    informers = SharedInformers(reg)
    return reg, informers, PersistentVolumeController(reg, informers)


def test_a_claim_binds_the_smallest_volume_that_fits(world: Any) -> None:
    reg, informers, ctl = world
    pv(reg, "big", "10Gi")
    pv(reg, "small", "1Gi")
    pv(reg, "rox", "2Gi", modes=("ReadOnlyMany",))
    pv(reg, "other", "2Gi", cls="fast")
    pv(reg, "fits", "2Gi")
    pvc(reg, "data", "1500Mi")
    settle(informers, ctl)
    claim = reg.get(PVCS, "default", "data")
    assert claim["spec"]["volumeName"] == "fits"
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                               "capacity": {"storage": "2Gi"}}  # fmt: skip
    assert claim["metadata"]["annotations"][BIND_COMPLETED] == "yes"
    assert claim["metadata"]["annotations"][BOUND_BY_CONTROLLER] == "yes"
    volume = reg.get(PVS, "", "fits")
    assert volume["status"]["phase"] == "Bound"
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert reg.get(PVS, "", "big")["status"]["phase"] == "Available"


def test_a_claim_with_no_volume_that_fits_stays_pending(world: Any) -> None:
    reg, informers, ctl = world
    pv(reg, "small", "1Gi")
    pvc(reg, "data", "5Gi")
    settle(informers, ctl)
    claim = reg.get(PVCS, "default", "data")
    assert claim["status"]["phase"] == "Pending"
    assert not claim["spec"].get("volumeName")
    pv(reg, "large", "8Gi")
    settle(informers, ctl)
    assert reg.get(PVCS, "default", "data")["spec"]["volumeName"] == "large"


def test_a_deleted_claim_releases_a_retained_volume(world: Any) -> None:
    reg, informers, ctl = world
    pv(reg, "keep", "1Gi")
    pvc(reg, "data", "1Gi")
    settle(informers, ctl)
    reg.delete(PVCS, "default", "data", {})
    settle(informers, ctl)
    assert reg.list(PVCS, "default")["items"] == []
    volume = reg.get(PVS, "", "keep")
    assert volume["status"]["phase"] == "Released"
    assert volume["status"]["lastPhaseTransitionTime"]
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    pvc(reg, "again", "1Gi")
    settle(informers, ctl)
    assert reg.get(PVCS, "default", "again")["status"]["phase"] == "Pending"


def test_a_static_volume_with_delete_fails_with_no_deleter(world: Any) -> None:
    reg, informers, ctl = world
    pv(reg, "gone", "1Gi", policy="Delete")
    pvc(reg, "data", "1Gi")
    settle(informers, ctl)
    reg.delete(PVCS, "default", "data", {})
    settle(informers, ctl)
    status = reg.get(PVS, "", "gone")["status"]
    assert status["phase"] == "Failed"
    assert status["message"] == (
        'error getting deleter volume plugin for volume "gone": no deletable volume plugin matched'
    )


def node(reg: Registry, name: str) -> None:
    reg.create(NODES, "", {"metadata": {
        "name": name, "labels": {HOSTNAME_LABEL: name},
        "annotations": {LOCAL_PATH_DIR_ANNOTATION: f"/var/lib/tk/{name}/storage"}}})  # fmt: skip


def test_wait_for_first_consumer_provisions_on_the_selected_node(world: Any) -> None:
    reg, informers, ctl = world
    ensure_default_storage_class(reg)
    node(reg, "node-1")
    node(reg, "node-2")
    pvc(reg, "data", "1Gi", cls=None)
    settle(informers, ctl)
    claim = reg.get(PVCS, "default", "data")
    assert claim["spec"]["storageClassName"] == "local-path"  # the default class
    assert claim["status"]["phase"] == "Pending"
    assert reg.list(PVS, "")["items"] == []
    claim["metadata"].setdefault("annotations", {})[SELECTED_NODE] = "node-2"
    reg.replace(PVCS, "default", "data", claim)
    settle(informers, ctl)
    claim = reg.get(PVCS, "default", "data")
    uid = claim["metadata"]["uid"]
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["volumeName"] == f"pvc-{uid}"
    volume = reg.get(PVS, "", f"pvc-{uid}")
    assert (
        volume["spec"]["hostPath"]["path"] == f"/var/lib/tk/node-2/storage/pvc-{uid}_default_data"
    )
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    term = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"] == [
        {"key": HOSTNAME_LABEL, "operator": "In", "values": ["node-2"]}
    ]
    # Delete reclaim: the claim goes, then the volume (its protection finalizer dropped).
    reg.delete(PVCS, "default", "data", {})
    settle(informers, ctl)
    assert reg.list(PVS, "")["items"] == []


def test_a_claim_in_use_is_deleted_only_once_its_pod_is_gone(world: Any) -> None:
    reg, informers, ctl = world
    pv(reg, "vol", "1Gi")
    pvc(reg, "data", "1Gi")
    pod = {"metadata": {"name": "db"}, "spec": {
        "containers": [{"name": "c", "image": "tinykube/web:1"}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}  # fmt: skip
    reg.create(PODS, "default", pod)
    settle(informers, ctl)
    claim = reg.get(PVCS, "default", "data")
    assert PVC_PROTECTION in claim["metadata"]["finalizers"]
    reg.delete(PVCS, "default", "data", {})
    settle(informers, ctl)
    claim = reg.get(PVCS, "default", "data")
    assert claim["metadata"].get("deletionTimestamp")
    assert claim["metadata"]["finalizers"] == [PVC_PROTECTION]
    reg.delete(PODS, "default", "db", {})
    settle(informers, ctl)
    assert reg.list(PVCS, "default")["items"] == []


def test_a_bound_volume_is_deleted_only_once_released(world: Any) -> None:
    reg, informers, ctl = world
    pv(reg, "vol", "1Gi")
    pvc(reg, "data", "1Gi")
    settle(informers, ctl)
    reg.delete(PVS, "", "vol", {})
    settle(informers, ctl)
    assert reg.get(PVS, "", "vol")["metadata"]["finalizers"] == [PV_PROTECTION]
    reg.delete(PVCS, "default", "data", {})
    settle(informers, ctl)
    assert reg.list(PVS, "")["items"] == []
