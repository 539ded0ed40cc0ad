"""The Endpoints controller's plan: a Service's pods as repacked subsets."""

from __future__ import annotations

import copy

from common.wellknown import ENDPOINTS_OVER_CAPACITY, HEADLESS_LABEL
from control.controllers.endpoints_plan import plan_endpoints, subsets_for
from tests.unit.test_endpointslice_plan import pod, svc

TWO_PORTS = [
    {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
    {"name": "admin", "port": 81, "targetPort": 9000, "protocol": "TCP"},
]


def ref(name: str) -> dict[str, str]:
    return {"kind": "Pod", "namespace": "ns", "name": name, "uid": f"uid-{name}"}


def test_ready_and_not_ready_addresses_share_one_subset() -> None:
    subsets = subsets_for(svc(), [pod("web-2"), pod("web-1"), pod("web-3", ready=False)])
    assert subsets == [
        {
            "addresses": [
                {"ip": "10.244.0.1", "nodeName": "n1", "targetRef": ref("web-1")},
                {"ip": "10.244.0.2", "nodeName": "n1", "targetRef": ref("web-2")},
            ],
            "notReadyAddresses": [
                {"ip": "10.244.0.3", "nodeName": "n1", "targetRef": ref("web-3")}
            ],
            "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
        }
    ]


def test_terminating_pods_are_left_out_unless_not_ready_ones_are_published() -> None:
    pods = [pod("web-1"), pod("web-2", deleting=True)]
    [subset] = subsets_for(svc(), pods)
    assert [a["ip"] for a in subset["addresses"]] == ["10.244.0.1"]
    [subset] = subsets_for(svc(publishNotReadyAddresses=True), [*pods, pod("web-3", ready=False)])
    assert [a["ip"] for a in subset["addresses"]] == ["10.244.0.1", "10.244.0.2", "10.244.0.3"]


def test_pods_resolving_different_ports_get_different_subsets() -> None:
    other = pod("web-2")
    other["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 9090}]
    subsets = subsets_for(svc(TWO_PORTS), [pod("web-1"), other])
    shapes = sorted(
        ([a["ip"] for a in s["addresses"]], [(p["name"], p["port"]) for p in s["ports"]])
        for s in subsets
    )
    assert shapes == [
        (["10.244.0.1"], [("http", 8080)]),
        (["10.244.0.1", "10.244.0.2"], [("admin", 9000)]),
        (["10.244.0.2"], [("http", 9090)]),
    ]


def test_headless_without_ports_lists_addresses_only() -> None:
    service = svc([], clusterIP="None", clusterIPs=["None"])
    assert subsets_for(service, [pod("web-1")]) == [
        {"addresses": [{"ip": "10.244.0.1", "nodeName": "n1", "targetRef": ref("web-1")}]}
    ]


def test_a_service_with_ports_and_no_resolvable_port_has_no_subset() -> None:
    service = svc([{"name": "x", "port": 80, "targetPort": "nope", "protocol": "TCP"}])
    assert subsets_for(service, [pod("web-1")]) == []


def test_hostname_is_set_when_subdomain_names_the_service() -> None:
    [subset] = subsets_for(svc(), [pod("web-1", hostname="h", subdomain="web")])
    assert subset["addresses"][0]["hostname"] == "h"


def test_plan_creates_then_leaves_alone_then_updates() -> None:
    service = svc()
    new = plan_endpoints(service, [pod("web-1")], None)
    assert new is not None
    assert new["metadata"]["name"] == "web" and new["metadata"]["namespace"] == "ns"
    assert new["metadata"]["labels"] == {"tier": "front"}
    stored = copy.deepcopy(new)
    stored["metadata"]["resourceVersion"] = "7"
    assert plan_endpoints(service, [pod("web-1")], stored) is None
    changed = plan_endpoints(service, [pod("web-1", ready=False)], stored)
    assert changed is not None and changed["metadata"]["resourceVersion"] == "7"
    assert "addresses" not in changed["subsets"][0]


def test_headless_endpoints_carry_the_headless_label() -> None:
    service = svc([], clusterIP="None", clusterIPs=["None"])
    new = plan_endpoints(service, [pod("web-1")], None)
    assert new is not None and new["metadata"]["labels"][HEADLESS_LABEL] == ""
    assert plan_endpoints(service, [pod("web-1")], new) is None


def test_over_a_thousand_addresses_are_truncated_and_annotated() -> None:
    pods = [pod(f"web-{i}", ip=f"10.1.{i // 250}.{i % 250 + 1}") for i in range(1005)]
    new = plan_endpoints(svc(), pods, None)
    assert new is not None
    assert sum(len(s["addresses"]) for s in new["subsets"]) == 1000
    assert new["metadata"]["annotations"] == {ENDPOINTS_OVER_CAPACITY: "truncated"}
    assert plan_endpoints(svc(), pods, new) is None
    fewer = plan_endpoints(svc(), pods[:10], new)
    assert fewer is not None and "annotations" not in fewer["metadata"]


def test_truncation_cuts_not_ready_addresses_first() -> None:
    pods = [pod(f"web-{i}", ip=f"10.1.{i // 250}.{i % 250 + 1}") for i in range(990)]
    pods += [pod(f"web-{i}", ip=f"10.2.0.{i - 989}", ready=False) for i in range(990, 1010)]
    new = plan_endpoints(svc(), pods, None)
    assert new is not None
    [subset] = new["subsets"]
    assert len(subset["addresses"]) == 990 and len(subset["notReadyAddresses"]) == 10
