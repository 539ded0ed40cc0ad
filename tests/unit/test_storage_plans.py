"""The storage planners over plain objects: the volume a claim binds to, a volume's phase and
reclaim, the local-path volume provisioned on a node, the protection finalizers, the
scheduler's VolumeBinding filter, the agent's claim resolution and kubectl's columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from agent.claims import ClaimError, resolve
from agent.localpath import stale, volume_of
from common.storage import access_modes_string, default_class, node_affinity_matches
from common.storageprinting import pv_cells, pvc_cells, storage_class_cells
from common.wellknown import (
    DEFAULT_CLASS_ANNOTATION,
    LOCAL_PATH_DIR_ANNOTATION,
    PVC_PROTECTION,
)
from control.controllers import pvbinder_plan as plan
from control.volumebinding import (
    AFFINITY_CONFLICT,
    NO_VOLUME,
    UNBOUND_IMMEDIATE,
    volume_conflict,
    volume_wants,
)

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


def pv(name: str, size: str = "1Gi", cls: str = "", modes: tuple[str, ...] = ("ReadWriteOnce",),
       on: str = "", **spec: Any) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {
        "metadata": {"name": name, "creationTimestamp": "2026-12-05T11:00:00Z"},
        "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                 "storageClassName": cls, "hostPath": {"path": f"/srv/{name}"}, **spec},
        "status": {"phase": "Available"},
    }  # fmt: skip
    if on:
        term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                      "values": [on]}]}  # fmt: skip
        out["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return out


def pvc(name: str = "data", size: str = "1Gi", cls: str = "", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
                 "storageClassName": cls, **spec},
        "status": {"phase": "Pending"},
    }  # fmt: skip


def node(name: str) -> dict[str, Any]:
    annotations = {LOCAL_PATH_DIR_ANNOTATION: "/var/lib/tk/storage"}
    labels = {"kubernetes.io/hostname": name}
    return {"metadata": {"name": name, "labels": labels, "annotations": annotations}}


@pytest.mark.parametrize(
    ("volumes", "claim", "expected"),
    [
        ([pv("a", "5Gi"), pv("b", "2Gi"), pv("c", "1Gi")], pvc(size="1500Mi"), "b"),
        ([pv("a", "1Gi", cls="fast")], pvc(), None),  # another class
        ([pv("a", modes=("ReadOnlyMany",))], pvc(), None),  # access modes
        ([pv("a", "500Mi")], pvc(), None),  # too small
        ([pv("a", claimRef={"namespace": "default", "name": "other", "uid": "x"})], pvc(), None),
        # pre-bound by name to this claim: chosen even though a smaller one fits
        ([pv("small"), pv("big", "9Gi", claimRef={"namespace": "default", "name": "data"})],
         pvc(), "big"),
    ],
)  # fmt: skip
def test_find_volume(volumes: list[Any], claim: Any, expected: str | None) -> None:
    found = plan.find_volume(claim, volumes, None)
    assert (found["metadata"]["name"] if found else None) == expected


def test_find_volume_on_the_selected_node() -> None:
    volumes = [pv("n1", on="node-1"), pv("n2", on="node-2")]
    assert plan.find_volume(pvc(), volumes, node("node-2"))["metadata"]["name"] == "n2"


def test_binding_halves() -> None:
    volume = plan.bound_volume(pv("a"), pvc())
    assert volume["spec"]["claimRef"]["uid"] == "uid-data"
    assert volume["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes"}
    claim = plan.bound_claim(pvc(), volume, True)
    assert claim["spec"]["volumeName"] == "a"
    assert plan.claim_status(claim, volume) == {
        "phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}
    }  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "provisioned", "claim", "expected"),
    [
        ("Retain", False, None, plan.VolumeState("Released")),
        ("Delete", True, None, plan.VolumeState("Released", delete=True)),
        ("Delete", False, None, plan.VolumeState("Failed", plan.NO_DELETER.format("a"))),
        ("Retain", False, {"metadata": {"uid": "uid-data"}, "spec": {"volumeName": "a"}},
         plan.VolumeState("Bound")),
        # a new claim of the same name is not the one the volume was bound to
        ("Retain", False, {"metadata": {"uid": "new"}, "spec": {}}, plan.VolumeState("Released")),
    ],
)  # fmt: skip
def test_volume_state(policy: str, provisioned: bool, claim: Any, expected: Any) -> None:
    volume = plan.bound_volume(pv("a", persistentVolumeReclaimPolicy=policy), pvc())
    if provisioned:
        volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] = (
            "rancher.io/local-path"
        )
    assert plan.volume_state(volume, claim) == expected


def test_volume_state_of_a_free_volume() -> None:
    assert plan.volume_state(pv("a"), None) == plan.VolumeState("Available")


def test_provision_local_path() -> None:
    sc = {"metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path",
          "reclaimPolicy": "Delete"}  # fmt: skip
    made = plan.provision(pvc(cls="local-path"), sc, node("node-2")).volume
    assert made is not None
    assert made["metadata"]["name"] == "pvc-uid-data"
    assert made["spec"]["hostPath"]["path"] == "/var/lib/tk/storage/pvc-uid-data_default_data"
    assert made["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert node_affinity_matches(made, {"kubernetes.io/hostname": "node-2"}, "node-2")
    assert not node_affinity_matches(made, {"kubernetes.io/hostname": "node-1"}, "node-1")
    failed = plan.provision(pvc(cls="local-path"), sc, None)
    assert failed.volume is None
    assert failed.error == "configuration error, no node was specified"


def test_claim_protection_waits_for_its_pods() -> None:
    claim = pvc()
    claim["metadata"]["deletionTimestamp"] = "2026-12-05T12:00:00Z"
    claim["metadata"]["finalizers"] = [PVC_PROTECTION]
    pod = {"spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]},
           "status": {"phase": "Running"}}  # fmt: skip
    assert plan.claim_unprotected(claim, [pod]) is None
    pod["status"]["phase"] = "Succeeded"
    freed = plan.claim_unprotected(claim, [pod])
    assert freed is not None and freed["metadata"]["finalizers"] == []


def wants(pod_claims: dict[str, Any], volumes: dict[str, Any], classes: dict[str, Any]) -> Any:
    pod = {"metadata": {"namespace": "default"}, "spec": {"volumes": [
        {"name": n, "persistentVolumeClaim": {"claimName": n}} for n in pod_claims]}}  # fmt: skip
    free = [v for v in volumes.values() if not v["spec"].get("claimRef")]
    return volume_wants(pod, pod_claims.get, volumes.get, classes.get, free,
                        lambda sc: sc.get("provisioner") == "rancher.io/local-path")  # fmt: skip


def test_volume_binding_filter() -> None:
    bound = pvc(volumeName="disk")
    w = wants({"data": bound}, {"disk": pv("disk", on="node-2")}, {})
    assert volume_conflict(w, node("node-1")) == AFFINITY_CONFLICT
    assert volume_conflict(w, node("node-2")) is None
    assert wants({"data": None}, {}, {}).error == 'persistentvolumeclaim "data" not found'
    assert wants({"data": pvc()}, {}, {}).error == UNBOUND_IMMEDIATE
    wffc = {"slow": {"metadata": {"name": "slow"}, "provisioner": "example.com/none",
                     "volumeBindingMode": "WaitForFirstConsumer"}}  # fmt: skip
    w = wants({"data": pvc(cls="slow")}, {"n2": pv("n2", cls="slow", on="node-2")}, wffc)
    assert w.to_select == ("data",)
    assert volume_conflict(w, node("node-1")) == NO_VOLUME
    assert volume_conflict(w, node("node-2")) is None


def lookup(objects: dict[tuple[str, str], Any]) -> Any:
    return lambda kind, name: objects.get((kind, name))


def test_agent_resolves_a_bound_claim() -> None:
    claim = pvc(volumeName="pvc-1")
    claim["status"]["phase"] = "Bound"
    volume = pv("pvc-1", claimRef={"uid": "uid-data"})
    volume["spec"]["hostPath"] = {"path": "/d", "type": "DirectoryOrCreate"}
    source = {"name": "v", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}}
    got = resolve("default", source, lookup({("persistentvolumeclaim", "data"): claim,
                                             ("persistentvolume", "pvc-1"): volume}))  # fmt: skip
    assert (got.path, got.create, got.read_only) == ("/d", True, True)


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        (None, 'error processing PVC default/data: failed to fetch PVC from API server: '
               'persistentvolumeclaims "data" not found'),
        (pvc(), "error processing PVC default/data: PVC is not bound"),
    ],
)  # fmt: skip
def test_agent_refuses_an_unusable_claim(claim: Any, message: str) -> None:
    source = {"name": "v", "persistentVolumeClaim": {"claimName": "data"}}
    with pytest.raises(ClaimError) as e:
        resolve("default", source, lookup({("persistentvolumeclaim", "data"): claim}))
    assert str(e.value) == message


def test_kubectl_columns() -> None:
    volume = plan.bound_volume(pv("a", modes=("ReadWriteMany", "ReadWriteOnce")), pvc())
    volume["status"]["phase"] = "Bound"
    volume["spec"]["persistentVolumeReclaimPolicy"] = "Retain"
    volume["spec"]["volumeMode"] = "Filesystem"
    assert pv_cells(volume, NOW) == ["a", "1Gi", "RWO,RWX", "Retain", "Bound", "default/data",
                                     "", "<unset>", "", "60m", "Filesystem"]  # fmt: skip
    claim = plan.bound_claim(pvc(cls="local-path"), volume, True)
    claim["metadata"]["creationTimestamp"] = "2026-12-05T11:59:30Z"
    claim["status"] = plan.claim_status(claim, volume)
    assert pvc_cells(claim, NOW) == ["data", "Bound", "a", "1Gi", "RWO,RWX", "local-path",
                                     "<unset>", "30s", "<unset>"]  # fmt: skip
    sc = {"metadata": {"name": "local-path", "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
                       "creationTimestamp": "2026-12-05T11:00:00Z"},
          "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
          "volumeBindingMode": "WaitForFirstConsumer"}  # fmt: skip
    assert storage_class_cells(sc, NOW) == [
        "local-path (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
        "false", "60m",
    ]  # fmt: skip
    assert access_modes_string(["ReadWriteOncePod", "ReadOnlyMany"]) == "ROX,RWOP"
    older = {"metadata": {"name": "old", "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
                          "creationTimestamp": "2026-01-01T00:00:00Z"}}  # fmt: skip
    assert default_class([older, sc]) is sc


def test_local_path_directories_of_deleted_volumes_are_stale() -> None:
    uid = "0f8e3c2a-1b2c-4d5e-8f90-123456789abc"
    names = [f"pvc-{uid}_default_data", "pvc-other", "notes", f"pvc-{uid[:-1]}d_web_cache"]
    assert volume_of(names[0]) == f"pvc-{uid}"
    assert volume_of("pvc-other") is None
    kept = {f"pvc-{uid[:-1]}d"}
    assert stale(names, lambda volume: volume in kept) == [names[0]]


def test_a_provisioned_claim_names_its_provisioner() -> None:
    sc = {"metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path"}
    annotated = plan.claim_annotated(pvc(cls="local-path"), sc)
    assert annotated is not None
    assert annotated["metadata"]["annotations"] == {
        "volume.kubernetes.io/storage-provisioner": "rancher.io/local-path",
        "volume.beta.kubernetes.io/storage-provisioner": "rancher.io/local-path",
    }
    assert plan.claim_annotated(annotated, sc) is None
