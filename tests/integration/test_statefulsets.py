"""The StatefulSet controller over the real registry and Redis (the Flask app's), its informers
pumped and its queue drained step by step. Pod readiness is written into pod status as an agent
does; nothing runs containers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common import errors, meta
from common.resources import must
from control.controllers.gc import GarbageCollector
from control.controllers.statefulset import StatefulSetController
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.conftest import Api
from tests.integration.informerpump import drain, pump

PODS, PVCS, EVENTS = must("pods"), must("persistentvolumeclaims"), must("events")
STS, REVISIONS, SERVICES = must("statefulsets"), must("controllerrevisions"), must("services")
NS = "default"
Obj = dict[str, Any]


def statefulset(replicas: int = 3, image: str = "tinykube/web:1", **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "volumeMounts": [{"name": "www", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "www"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Mi"}},
                    },
                }
            ],
            **spec,
        },
    }


HEADLESS = {
    "metadata": {"name": "web"},
    "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80}]},
}


class Harness:
    """The StatefulSet controller and the garbage collector on their own informers."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.start()

    def start(self) -> None:
        """A fresh controller process: new informers, new queue, nothing remembered."""
        self.informers = SharedInformers(self.registry)
        self.controller = StatefulSetController(self.registry, self.informers)
        self.gc = GarbageCollector(self.registry, self.informers)

    def step(self) -> None:
        pump(self.informers)
        for key in self.controller._all_keys():
            self.controller.queue.add(key)
        drain(self.controller)
        pump(self.informers)
        drain(self.gc)

    def pods(self) -> list[str]:
        items = self.registry.list(PODS, NS)["items"]
        return sorted(p["metadata"]["name"] for p in items)

    def pod(self, name: str) -> Obj:
        return self.registry.get(PODS, NS, name)

    def claims(self) -> list[str]:
        return sorted(c["metadata"]["name"] for c in self.registry.list(PVCS, NS)["items"])

    def ready(self, name: str) -> None:
        """What an agent writes once the pod's containers run and pass their probes."""
        if not self.pod(name)["spec"].get("nodeName"):
            node = {"apiVersion": "v1", "kind": "Node", "name": "node-1"}
            binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}}
            binding["target"] = node
            self.registry.bind(NS, name, binding)
        pod = self.pod(name)
        stamp = meta.timestamp(meta.now())
        pod["status"] = {
            **pod["status"],
            "phase": "Running",
            "podIP": "10.0.0.9",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": stamp}
                for t in ("Initialized", "ContainersReady", "Ready")
            ],
        }
        self.registry.replace(PODS, NS, name, pod, sub="status")

    def finish_deletions(self) -> None:
        """What an agent does once a deleted pod's containers have stopped."""
        for pod in self.registry.list(PODS, NS)["items"]:
            m = pod["metadata"]
            if m.get("deletionTimestamp"):
                options = {"gracePeriodSeconds": 0, "preconditions": {"uid": m["uid"]}}
                self.registry.delete(PODS, NS, m["name"], options)

    def bring_up(self, names: list[str]) -> None:
        for name in names:
            self.step()
            self.ready(name)
        self.step()

    def status(self) -> Obj:
        return dict(self.registry.get(STS, NS, "web").get("status") or {})

    def events(self) -> list[tuple[str, str]]:
        found = self.registry.list(EVENTS, NS, field_selector="involvedObject.name=web")
        return [(e["reason"], e["message"]) for e in found["items"]]


@pytest.fixture
def cluster(app: Any) -> Harness:
    registry: Registry = app.extensions["tinykube"]["registry"]
    registry.create(SERVICES, NS, copy.deepcopy(HEADLESS))
    return Harness(registry)


def test_pods_are_created_in_order_each_once_the_previous_is_ready(cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset())
    cluster.step()
    assert cluster.pods() == ["web-0"]
    cluster.step()
    assert cluster.pods() == ["web-0"], "web-1 must wait for web-0 to be Running and Ready"
    cluster.ready("web-0")
    cluster.step()
    assert cluster.pods() == ["web-0", "web-1"]
    cluster.ready("web-1")
    cluster.step()
    cluster.ready("web-2")
    cluster.step()
    assert cluster.pods() == ["web-0", "web-1", "web-2"]
    assert cluster.claims() == ["www-web-0", "www-web-1", "www-web-2"]
    pod = cluster.pod("web-1")
    assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "web"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "www-web-1"}
    status = cluster.status()
    [revision] = cluster.registry.list(REVISIONS, NS)["items"]
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"] == revision["metadata"]["name"]
    assert status["observedGeneration"] == 1
    assert ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful") in (
        cluster.events()
    )
    assert ("SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success") in (
        cluster.events()
    )


def test_scale_down_goes_in_reverse_and_keeps_the_claims(cluster: Harness, api: Api) -> None:
    cluster.registry.create(STS, NS, statefulset())
    cluster.bring_up(["web-0", "web-1", "web-2"])
    code, _ = api.call(
        "PATCH",
        "/apis/apps/v1/namespaces/default/statefulsets/web/scale",
        {"spec": {"replicas": 1}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    cluster.step()
    web2 = cluster.pod("web-2")
    assert web2["metadata"].get("deletionTimestamp")
    assert not cluster.pod("web-1")["metadata"].get("deletionTimestamp")
    cluster.step()
    assert not cluster.pod("web-1")["metadata"].get("deletionTimestamp"), "one at a time"
    cluster.finish_deletions()
    cluster.step()
    assert cluster.pod("web-1")["metadata"].get("deletionTimestamp")
    cluster.finish_deletions()
    cluster.step()
    assert cluster.pods() == ["web-0"]
    assert cluster.claims() == ["www-web-0", "www-web-1", "www-web-2"]
    assert cluster.status()["replicas"] == 1
    code, scale = api.call("GET", "/apis/apps/v1/namespaces/default/statefulsets/web/scale")
    assert (code, scale["spec"], scale["status"]["replicas"]) == (200, {"replicas": 1}, 1)


def test_scale_up_again_mounts_the_same_claims(cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset(replicas=2))
    cluster.bring_up(["web-0", "web-1"])
    uid = cluster.registry.get(PVCS, NS, "www-web-1")["metadata"]["uid"]
    sts = cluster.registry.get(STS, NS, "web")
    sts["spec"]["replicas"] = 1
    cluster.registry.replace(STS, NS, "web", sts)
    cluster.step()
    cluster.finish_deletions()
    cluster.step()
    assert cluster.pods() == ["web-0"]
    sts = cluster.registry.get(STS, NS, "web")
    sts["spec"]["replicas"] = 2
    cluster.registry.replace(STS, NS, "web", sts)
    cluster.step()
    assert cluster.pods() == ["web-0", "web-1"]
    assert cluster.registry.get(PVCS, NS, "www-web-1")["metadata"]["uid"] == uid


def test_when_scaled_delete_removes_the_claim_with_its_pod(cluster: Harness) -> None:
    policy = {"whenDeleted": "Retain", "whenScaled": "Delete"}
    cluster.registry.create(STS, NS, statefulset(persistentVolumeClaimRetentionPolicy=policy))
    cluster.bring_up(["web-0", "web-1", "web-2"])
    sts = cluster.registry.get(STS, NS, "web")
    sts["spec"]["replicas"] = 2
    cluster.registry.replace(STS, NS, "web", sts)
    cluster.step()
    owner = cluster.registry.get(PVCS, NS, "www-web-2")["metadata"]["ownerReferences"]
    assert [(r["kind"], r["name"]) for r in owner] == [("Pod", "web-2")]
    cluster.finish_deletions()
    cluster.step()
    cluster.step()
    claims = cluster.registry.list(PVCS, NS)["items"]
    gone = [c for c in claims if c["metadata"]["name"] == "www-web-2"]
    assert gone == [] or gone[0]["metadata"].get("deletionTimestamp")
    assert "www-web-1" in cluster.claims()


def test_when_deleted_delete_removes_the_claims_with_the_set(cluster: Harness) -> None:
    policy = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    cluster.registry.create(
        STS, NS, statefulset(replicas=2, persistentVolumeClaimRetentionPolicy=policy)
    )
    cluster.bring_up(["web-0", "web-1"])
    for name in ("www-web-0", "www-web-1"):
        refs = cluster.registry.get(PVCS, NS, name)["metadata"]["ownerReferences"]
        assert [(r["kind"], r["name"]) for r in refs] == [("StatefulSet", "web")]
    cluster.registry.delete(STS, NS, "web", {})
    for _ in range(3):
        cluster.step()
        cluster.finish_deletions()
    live = [c for c in cluster.registry.list(PVCS, NS)["items"]
            if not c["metadata"].get("deletionTimestamp")]  # fmt: skip
    assert live == []


def _update_image(cluster: Harness, image: str, partition: int) -> None:
    sts = cluster.registry.get(STS, NS, "web")
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
    sts["spec"]["updateStrategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": partition},
    }
    cluster.registry.replace(STS, NS, "web", sts)


def _image(cluster: Harness, name: str) -> str:
    return str(cluster.pod(name)["spec"]["containers"][0]["image"])


def test_a_partitioned_rolling_update_stops_at_the_partition(cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset())
    cluster.bring_up(["web-0", "web-1", "web-2"])
    old = cluster.status()["currentRevision"]
    _update_image(cluster, "tinykube/web:2", partition=1)
    cluster.step()
    assert cluster.pod("web-2")["metadata"].get("deletionTimestamp")
    assert not cluster.pod("web-1")["metadata"].get("deletionTimestamp")
    cluster.finish_deletions()
    cluster.step()
    assert _image(cluster, "web-2") == "tinykube/web:2"
    cluster.step()
    assert not cluster.pod("web-1")["metadata"].get("deletionTimestamp"), "web-2 is not Ready"
    cluster.ready("web-2")
    cluster.step()
    assert cluster.pod("web-1")["metadata"].get("deletionTimestamp")
    cluster.finish_deletions()
    cluster.step()
    cluster.ready("web-1")
    cluster.step()
    cluster.step()
    assert [_image(cluster, n) for n in ("web-0", "web-1", "web-2")] == [
        "tinykube/web:1",
        "tinykube/web:2",
        "tinykube/web:2",
    ]
    status = cluster.status()
    assert status["currentRevision"] == old != status["updateRevision"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 2)
    assert len(cluster.registry.list(REVISIONS, NS)["items"]) == 2


def test_a_controller_restart_mid_rollout_makes_no_extra_pod(cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset())
    cluster.bring_up(["web-0", "web-1", "web-2"])
    _update_image(cluster, "tinykube/web:2", partition=0)
    cluster.step()
    cluster.finish_deletions()
    # The controller creates the new web-2 and is killed before its cache has seen it.
    stale = cluster.controller
    pump(cluster.informers)
    stale.queue.add(f"{NS}/web")
    drain(stale)
    created = cluster.pod("web-2")["metadata"]["uid"]
    cluster.start()
    cluster.step()
    cluster.step()
    # The old process, still holding its old cache, syncs once more before it dies.
    stale.queue.add(f"{NS}/web")
    drain(stale)
    assert cluster.pods() == ["web-0", "web-1", "web-2"]
    assert cluster.pod("web-2")["metadata"]["uid"] == created
    assert _image(cluster, "web-2") == "tinykube/web:2"
    assert [e for e in cluster.events() if e[0] == "FailedCreate"] == []


def test_a_missing_service_does_not_stop_the_pods_and_says_so(cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset(replicas=1, serviceName="nowhere"))
    cluster.step()
    assert cluster.pods() == ["web-0"]
    assert cluster.pod("web-0")["spec"]["subdomain"] == "nowhere"
    assert (
        "FailedToFindService",
        'Service "nowhere" not found: the pods of StatefulSet web get no DNS names until it exists',
    ) in cluster.events()


def test_a_deleted_pod_comes_back_with_its_name_and_claim(cluster: Harness) -> None:
    cluster.registry.create(STS, NS, statefulset())
    cluster.bring_up(["web-0", "web-1", "web-2"])
    old = cluster.pod("web-1")["metadata"]["uid"]
    cluster.registry.delete(PODS, NS, "web-1", {})
    cluster.finish_deletions()
    cluster.step()
    web1 = cluster.pod("web-1")
    assert web1["metadata"]["uid"] != old
    assert web1["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "www-web-1"}
    assert cluster.claims() == ["www-web-0", "www-web-1", "www-web-2"]


def test_forbidden_update_and_table(api: Api) -> None:
    base = "/apis/apps/v1/namespaces/default/statefulsets"
    code, created = api.call("POST", base, statefulset())
    assert code == 201
    changed = copy.deepcopy(created)
    changed["spec"]["serviceName"] = "other"
    code, body = api.call("PUT", f"{base}/web", changed)
    assert code == 422
    assert "spec: Forbidden: updates to statefulset spec for fields other than" in body["message"]
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    resp = api.client.get(base, headers={**api.headers, "Accept": accept})
    table = resp.get_json()
    assert resp.status_code == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Age",
        "Containers",
        "Images",
    ]
    assert table["rows"][0]["cells"][:2] == ["web", "0/3"]
    assert table["rows"][0]["cells"][3:] == ["web", "tinykube/web:1"]


def test_a_bad_statefulset_is_refused_and_not_stored(api: Api, app: Any) -> None:
    base = "/apis/apps/v1/namespaces/default/statefulsets"
    code, body = api.call("POST", base, statefulset(replicas=-1))
    assert code == 422
    assert "spec.replicas: Invalid value: -1" in body["message"]
    registry: Registry = app.extensions["tinykube"]["registry"]
    with pytest.raises(errors.NotFoundError):
        registry.get(STS, NS, "web")


# -- maxUnavailable --------------------------------------------------------------------------


def _roll_to(cluster: Harness, image: str) -> None:
    sts = cluster.registry.get(STS, NS, "web")
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
    cluster.registry.replace(STS, NS, "web", sts)


def _deleting(cluster: Harness) -> list[str]:
    items = cluster.registry.list(PODS, NS)["items"]
    return sorted(p["metadata"]["name"] for p in items if p["metadata"].get("deletionTimestamp"))


def test_max_unavailable_rolls_two_pods_at_a_time(cluster: Harness) -> None:
    rolling = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}
    cluster.registry.create(STS, NS, statefulset(replicas=4, updateStrategy=rolling))
    cluster.bring_up(["web-0", "web-1", "web-2", "web-3"])
    stored = cluster.registry.get(STS, NS, "web")["spec"]["updateStrategy"]["rollingUpdate"]
    assert stored == {"maxUnavailable": 2, "partition": 0}
    _roll_to(cluster, "tinykube/web:2")
    cluster.step()
    assert _deleting(cluster) == ["web-2", "web-3"]
    cluster.finish_deletions()
    # OrderedReady brings them back one after the other, and waits for both to be Ready.
    cluster.bring_up(["web-2", "web-3"])
    assert _deleting(cluster) == ["web-0", "web-1"]
    cluster.finish_deletions()
    cluster.bring_up(["web-0", "web-1"])
    cluster.step()
    assert [_image(cluster, f"web-{i}") for i in range(4)] == ["tinykube/web:2"] * 4
    status = cluster.status()
    assert status["currentRevision"] == status["updateRevision"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (4, 4)


def test_max_unavailable_is_validated_and_defaulted_through_the_api(api: Api, app: Any) -> None:
    base = "/apis/apps/v1/namespaces/default/statefulsets"
    zero = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "0%"}}
    code, body = api.call("POST", base, statefulset(updateStrategy=zero))
    assert code == 422
    assert (
        'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "0%": cannot be 0'
        in body["message"]
    )
    registry: Registry = app.extensions["tinykube"]["registry"]
    with pytest.raises(errors.NotFoundError):
        registry.get(STS, NS, "web")
    code, created = api.call("POST", base, statefulset())
    assert code == 201
    assert created["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": 1},
    }
