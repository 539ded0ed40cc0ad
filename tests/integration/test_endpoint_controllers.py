"""The EndpointSlice and Endpoints controllers over the real registry and Redis, stepped: the
informers list again, then each controller syncs every queued key (tests/integration/informerpump).
Pods are written with the status an agent would report; no containers run."""

from __future__ import annotations

from typing import Any

import pytest

from common import errors
from common.resources import must
from common.wellknown import ENDPOINTSLICE_CONTROLLER, MANAGED_BY_LABEL, SLICE_SERVICE_LABEL
from control.controllers.endpoints import EndpointsController
from control.controllers.endpointslice import EndpointSliceController
from control.controllers.gc import GarbageCollector
from control.controllers.mirroring import MirroringController
from control.controllers.namespace import NamespaceController
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump

PODS, NODES, SERVICES = must("pods"), must("nodes"), must("services")
SLICES, ENDPOINTS, NAMESPACES = must("endpointslices"), must("endpoints"), must("namespaces")
Obj = dict[str, Any]


class Cluster:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.informers = SharedInformers(registry)
        self.slices = EndpointSliceController(registry, self.informers)
        self.endpoints = EndpointsController(registry, self.informers)
        self.mirroring = MirroringController(registry, self.informers)
        self.gc = GarbageCollector(registry, self.informers)
        self.namespaces = NamespaceController(registry, self.informers)
        self.started = False
        registry.create(NODES, "", {"metadata": {"name": "node-1"}})

    def settle(self, rounds: int = 10) -> None:
        """Rounds of list-then-sync until no controller has anything queued."""
        if not self.started:  # a term starts on synced caches with every key queued
            pump(self.informers)
            for c in (self.slices, self.endpoints, self.mirroring):
                for key in c.initial() if c.initial else ():
                    c.queue.add(key)
            self.started = True
        for _ in range(rounds):
            pump(self.informers)
            loops = (self.slices, self.endpoints, self.mirroring)
            synced = [drain(c) for c in (*loops, self.gc, self.namespaces)]
            if not any(synced) and all(len(c.queue) == 0 for c in loops):
                return
        pump(self.informers)

    def pod(self, name: str, ready: bool = True, ns: str = "default", **labels: str) -> Obj:
        ports = [{"name": "http", "containerPort": 8080}]
        body = {"metadata": {"name": name, "labels": labels or {"app": "web"}},
                "spec": {"nodeName": "node-1", "containers": [
                    {"name": "c", "image": "tinykube/web:1", "ports": ports}]}}  # fmt: skip
        pod, _ = self.registry.create(PODS, ns, body)
        return self.set_ready(
            pod, ready, ip=f"10.244.0.{len(self.registry.list(PODS, '')['items'])}"
        )

    def set_ready(self, pod: Obj, ready: bool, ip: str = "") -> Obj:
        pod = self.registry.get(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        ip = ip or pod["status"]["podIP"]
        state = "True" if ready else "False"
        pod["status"].update({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                              "conditions": [{"type": "Ready", "status": state}]})  # fmt: skip
        m = pod["metadata"]
        return self.registry.replace(PODS, m["namespace"], m["name"], pod, sub="status")

    def service(self, name: str = "web", ns: str = "default", **spec: Any) -> Obj:
        body = {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}], **spec}
        svc, _ = self.registry.create(SERVICES, ns, {"metadata": {"name": name}, "spec": body})
        return svc

    def slices_of(self, name: str = "web", ns: str = "default") -> list[Obj]:
        found = self.registry.list(SLICES, ns, label_selector=f"{SLICE_SERVICE_LABEL}={name}")
        return list(found["items"])

    def ready_addresses(self, name: str = "web", ns: str = "default") -> list[str]:
        return sorted(
            a
            for s in self.slices_of(name, ns)
            for e in s["endpoints"]
            if e["conditions"]["ready"]
            for a in e["addresses"]
        )

    def endpoints_of(self, name: str = "web", ns: str = "default") -> Obj | None:
        try:
            return self.registry.get(ENDPOINTS, ns, name)
        except errors.NotFoundError:
            return None


@pytest.fixture
def cluster(app: Any) -> Cluster:
    return Cluster(app.extensions["tinykube"]["registry"])


def test_service_and_pods_give_one_slice_and_endpoints(cluster: Cluster) -> None:
    svc = cluster.service()
    cluster.pod("web-1")
    cluster.pod("web-2")
    cluster.pod("other", app="db")
    cluster.settle()
    [s] = cluster.slices_of()
    assert s["metadata"]["name"].startswith("web-") and len(s["metadata"]["name"]) == 9
    assert s["metadata"]["labels"][MANAGED_BY_LABEL] == ENDPOINTSLICE_CONTROLLER
    assert s["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
    assert s["metadata"]["ownerReferences"][0]["controller"] is True
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "", "protocol": "TCP", "port": 8080}]
    assert cluster.ready_addresses() == ["10.244.0.1", "10.244.0.2"]
    assert {e["targetRef"]["name"] for e in s["endpoints"]} == {"web-1", "web-2"}
    assert all(e["nodeName"] == "node-1" for e in s["endpoints"])
    ep = cluster.endpoints_of()
    assert ep is not None
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.244.0.1", "10.244.0.2"]
    assert ep["subsets"][0]["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    trigger = "endpoints.kubernetes.io/last-change-trigger-time"
    assert s["metadata"]["annotations"][trigger] == svc["metadata"]["creationTimestamp"]
    assert ep["metadata"]["annotations"][trigger] == svc["metadata"]["creationTimestamp"]


def test_a_settled_service_is_not_written_again(cluster: Cluster) -> None:
    cluster.service()
    cluster.pod("web-1")
    cluster.settle()
    [before] = cluster.slices_of()
    ep_before = cluster.endpoints_of()
    for c in (cluster.slices, cluster.endpoints):
        c.queue.add("default/web")
    cluster.settle()
    [after] = cluster.slices_of()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    ep_after = cluster.endpoints_of()
    assert ep_before is not None and ep_after is not None
    assert ep_after["metadata"]["resourceVersion"] == ep_before["metadata"]["resourceVersion"]


def test_readiness_flips_move_the_pod_in_and_out(cluster: Cluster) -> None:
    cluster.service()
    one = cluster.pod("web-1")
    cluster.pod("web-2")
    cluster.settle()
    [before] = cluster.slices_of()
    cluster.set_ready(one, False)
    cluster.settle()
    [after] = cluster.slices_of()
    assert after["metadata"]["name"] == before["metadata"]["name"]
    assert cluster.ready_addresses() == ["10.244.0.2"]
    ep = cluster.endpoints_of()
    assert ep is not None
    assert [a["ip"] for a in ep["subsets"][0]["notReadyAddresses"]] == ["10.244.0.1"]
    cluster.set_ready(one, True)
    cluster.settle()
    assert cluster.ready_addresses() == ["10.244.0.1", "10.244.0.2"]


def test_terminating_pod_leaves_the_ready_set_at_once(cluster: Cluster) -> None:
    cluster.service()
    cluster.pod("web-1")
    cluster.pod("web-2")
    cluster.settle()
    cluster.registry.delete(PODS, "default", "web-1", {"gracePeriodSeconds": 30})
    cluster.settle()
    [s] = cluster.slices_of()
    going = next(e for e in s["endpoints"] if e["targetRef"]["name"] == "web-1")
    assert going["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert cluster.ready_addresses() == ["10.244.0.2"]
    ep = cluster.endpoints_of()
    assert ep is not None and [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.244.0.2"]
    assert "notReadyAddresses" not in ep["subsets"][0]


def test_scaling_from_zero_to_three(cluster: Cluster) -> None:
    cluster.service()
    cluster.settle()
    [placeholder] = cluster.slices_of()
    assert placeholder["endpoints"] == [] and placeholder["ports"] == []
    ep = cluster.endpoints_of()
    assert ep is not None and ep.get("subsets", []) == []
    for i in range(1, 4):
        cluster.pod(f"web-{i}")
    cluster.settle()
    [s] = cluster.slices_of()
    assert s["metadata"]["name"] == placeholder["metadata"]["name"]
    assert cluster.ready_addresses() == ["10.244.0.1", "10.244.0.2", "10.244.0.3"]


def test_named_target_port_and_a_name_no_container_has(cluster: Cluster) -> None:
    ports = [{"name": "web", "port": 80, "targetPort": "http"},
             {"name": "metrics", "port": 9100, "targetPort": "metrics"}]  # fmt: skip
    cluster.service(ports=ports)
    cluster.pod("web-1")
    cluster.settle()
    [s] = cluster.slices_of()
    assert s["ports"] == [{"name": "web", "protocol": "TCP", "port": 8080}]
    ep = cluster.endpoints_of()
    assert ep is not None and ep["subsets"][0]["ports"] == [
        {"name": "web", "port": 8080, "protocol": "TCP"}
    ]


def test_over_a_hundred_pods_make_two_slices(cluster: Cluster) -> None:
    cluster.service()
    for i in range(1, 106):
        cluster.pod(f"web-{i}")
    cluster.settle()
    slices = cluster.slices_of()
    assert sorted(len(s["endpoints"]) for s in slices) == [5, 100]
    assert len(cluster.ready_addresses()) == 105


def test_service_delete_removes_its_slices_and_endpoints(cluster: Cluster) -> None:
    cluster.service()
    cluster.pod("web-1")
    cluster.settle()
    assert cluster.slices_of() and cluster.endpoints_of() is not None
    cluster.registry.delete(SERVICES, "default", "web", {})
    cluster.settle()
    assert cluster.slices_of() == []
    assert cluster.endpoints_of() is None


def test_pod_relabelled_out_of_the_selector_leaves(cluster: Cluster) -> None:
    cluster.service()
    pod = cluster.pod("web-1")
    cluster.pod("web-2")
    cluster.settle()
    pod = cluster.registry.get(PODS, "default", "web-1")
    pod["metadata"]["labels"] = {"app": "gone"}
    cluster.registry.replace(PODS, "default", "web-1", pod)
    cluster.settle()
    assert cluster.ready_addresses() == ["10.244.0.2"]


def test_slice_deleted_by_hand_is_made_again(cluster: Cluster) -> None:
    cluster.service()
    cluster.pod("web-1")
    cluster.settle()
    [s] = cluster.slices_of()
    cluster.registry.delete(SLICES, "default", s["metadata"]["name"], {})
    cluster.registry.delete(ENDPOINTS, "default", "web", {})
    cluster.settle()
    assert cluster.ready_addresses() == ["10.244.0.1"]
    assert cluster.endpoints_of() is not None


def test_services_without_selector_or_external_name_are_left_alone(cluster: Cluster) -> None:
    cluster.service("manual", selector=None)
    cluster.service("ext", type="ExternalName", externalName="example.com", ports=[])
    cluster.pod("web-1")
    cluster.settle()
    assert cluster.slices_of("manual") == [] and cluster.slices_of("ext") == []
    assert cluster.endpoints_of("manual") is None and cluster.endpoints_of("ext") is None


def test_leftover_endpoints_of_a_deleted_service_go_at_the_start(cluster: Cluster) -> None:
    subset = {"addresses": [{"ip": "10.244.9.9"}], "ports": [{"port": 80}]}
    body = {"metadata": {"name": "gone"}, "subsets": [subset]}
    cluster.registry.create(ENDPOINTS, "default", body)
    cluster.settle()
    assert cluster.endpoints_of("gone") is None


def test_namespace_delete_removes_everything(cluster: Cluster) -> None:
    cluster.registry.create(NAMESPACES, "", {"metadata": {"name": "shop"}})
    cluster.service(ns="shop")
    cluster.pod("web-1", ns="shop")
    cluster.settle()
    assert cluster.slices_of(ns="shop") and cluster.endpoints_of(ns="shop") is not None
    cluster.registry.delete(NAMESPACES, "", "shop", {})
    for _ in range(5):
        cluster.settle()
        with_pods = cluster.registry.list(PODS, "shop")["items"]
        for p in with_pods:  # as the agent finishes the deletions
            m = p["metadata"]
            cluster.registry.delete(PODS, "shop", m["name"], {"gracePeriodSeconds": 0})
    assert cluster.slices_of(ns="shop") == []
    assert cluster.endpoints_of(ns="shop") is None
    with pytest.raises(errors.NotFoundError):
        cluster.registry.get(NAMESPACES, "", "shop")


def mirrored(cluster: Cluster, name: str = "db") -> list[Obj]:
    return [
        s
        for s in cluster.slices_of(name)
        if s["metadata"]["labels"][MANAGED_BY_LABEL] == "endpointslicemirroring-controller.k8s.io"
    ]


def manual_endpoints(*ips: str, **labels: str) -> Obj:
    subset = {"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "pg", "port": 5432}]}
    return {"metadata": {"name": "db", "labels": labels}, "subsets": [subset]}


def test_endpoints_written_by_hand_are_mirrored_into_slices(cluster: Cluster) -> None:
    cluster.service("db", selector=None, ports=[{"name": "pg", "port": 5432}])
    ep, _ = cluster.registry.create(ENDPOINTS, "default", manual_endpoints("192.168.5.1"))
    cluster.settle()
    [s] = mirrored(cluster)
    assert s["endpoints"] == [{"addresses": ["192.168.5.1"], "conditions": {"ready": True}}]
    assert s["ports"] == [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    assert s["metadata"]["ownerReferences"][0]["uid"] == ep["metadata"]["uid"]
    assert cluster.endpoints_of("db") is not None  # the Endpoints controller leaves it alone
    ep = cluster.registry.get(ENDPOINTS, "default", "db")
    ep["subsets"][0]["addresses"].append({"ip": "192.168.5.2"})
    cluster.registry.replace(ENDPOINTS, "default", "db", ep)
    cluster.settle()
    [again] = mirrored(cluster)
    assert again["metadata"]["name"] == s["metadata"]["name"]
    assert [e["addresses"][0] for e in again["endpoints"]] == ["192.168.5.1", "192.168.5.2"]
    cluster.registry.delete(ENDPOINTS, "default", "db", {})
    cluster.settle()
    assert cluster.slices_of("db") == []


def test_nothing_is_mirrored_when_marked_or_for_a_service_with_a_selector(
    cluster: Cluster,
) -> None:
    cluster.service("db", selector=None)
    body = manual_endpoints("192.168.5.1", **{"endpointslice.kubernetes.io/skip-mirror": "true"})
    cluster.registry.create(ENDPOINTS, "default", body)
    cluster.service("web")
    cluster.pod("web-1")
    cluster.settle()
    assert cluster.slices_of("db") == []
    assert [s["metadata"]["labels"][MANAGED_BY_LABEL] for s in cluster.slices_of("web")] == [
        ENDPOINTSLICE_CONTROLLER
    ]


def test_mirrored_slices_go_with_their_service(cluster: Cluster) -> None:
    cluster.service("db", selector=None)
    cluster.registry.create(ENDPOINTS, "default", manual_endpoints("192.168.5.1"))
    cluster.settle()
    assert mirrored(cluster)
    cluster.registry.delete(SERVICES, "default", "db", {})
    cluster.settle()
    assert cluster.slices_of("db") == []
