"""Services' defaults, normalisation, type-change rules and printing, table-driven."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common.serviceprinting import external_ip, port_string, service_cells
from common.services import (
    default_ip_families,
    default_service,
    drop_type_dependent_fields,
    keep_allocated,
    normalize_cluster_ips,
)
from control.validation import validate

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def svc(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": spec}


def test_defaults_of_a_bare_service() -> None:
    s = svc(ports=[{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}])
    default_service(s)
    assert s["spec"] == {
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 53, "protocol": "UDP", "targetPort": "dns"},
        ],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
    }


@pytest.mark.parametrize(
    ("kind", "etp", "itp", "allocate"),
    [
        ("NodePort", "Cluster", "Cluster", None),
        ("LoadBalancer", "Cluster", "Cluster", True),
        ("ExternalName", None, None, None),
    ],
)
def test_defaults_by_type(kind: str, etp: str | None, itp: str | None, allocate: Any) -> None:
    s = svc(type=kind)
    default_service(s)
    assert s["spec"].get("externalTrafficPolicy") == etp
    assert s["spec"].get("internalTrafficPolicy") == itp
    assert s["spec"].get("allocateLoadBalancerNodePorts") == allocate


def test_ip_families() -> None:
    plain, headless, bare, external = (
        svc(selector={"a": "b"}),
        svc(clusterIP="None", clusterIPs=["None"], selector={"a": "b"}),
        svc(clusterIP="None", clusterIPs=["None"]),
        svc(type="ExternalName"),
    )
    for s in (plain, headless, bare, external):
        default_ip_families(s)
    assert (plain["spec"]["ipFamilyPolicy"], plain["spec"]["ipFamilies"]) == ("SingleStack",
                                                                            ["IPv4"])  # fmt: skip
    assert headless["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert (bare["spec"]["ipFamilyPolicy"], bare["spec"]["ipFamilies"]) == (
        "RequireDualStack", ["IPv4", "IPv6"])  # fmt: skip
    assert "ipFamilies" not in external["spec"]


def test_normalize_cluster_ips() -> None:
    s = svc(clusterIP="10.96.0.5")
    normalize_cluster_ips(s, None)
    assert s["spec"]["clusterIPs"] == ["10.96.0.5"]
    old = svc(clusterIP="10.96.0.5", clusterIPs=["10.96.0.5"])
    changed = svc(clusterIP="10.96.0.6", clusterIPs=["10.96.0.5"])
    normalize_cluster_ips(changed, old)
    assert changed["spec"]["clusterIPs"] == ["10.96.0.6"]
    cleared = svc(clusterIPs=["10.96.0.5"])
    normalize_cluster_ips(cleared, old)
    assert "clusterIPs" not in cleared["spec"]


def test_keep_allocated_values_on_update() -> None:
    old = svc(type="NodePort", clusterIP="10.96.0.5", clusterIPs=["10.96.0.5"],
              ports=[{"name": "a", "port": 80, "nodePort": 30001},
                     {"name": "b", "port": 81, "nodePort": 30002}])  # fmt: skip
    new = svc(type="NodePort", ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81,
                                                                   "nodePort": 30001}])  # fmt: skip
    keep_allocated(new, old)
    assert new["spec"]["clusterIPs"] == ["10.96.0.5"]
    # 30001 is now taken by port b: port a does not get it back.
    assert "nodePort" not in new["spec"]["ports"][0]


def test_type_change_drops_what_the_old_type_filled_in() -> None:
    old = svc(type="NodePort", clusterIP="10.96.0.5", clusterIPs=["10.96.0.5"],
              ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack", externalTrafficPolicy="Cluster",
              ports=[{"port": 80, "nodePort": 30001}])  # fmt: skip
    new = svc(**{**old["spec"], "type": "ExternalName", "externalName": "example.com",
                 "ports": [{"port": 80, "nodePort": 30001}]})  # fmt: skip
    drop_type_dependent_fields(new, old)
    for absent in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy",
                   "externalTrafficPolicy"):  # fmt: skip
        assert absent not in new["spec"]
    assert new["spec"]["ports"] == [{"port": 80}]


def test_validation_of_a_defaulted_service_passes() -> None:
    s = svc(selector={"app": "web"}, ports=[{"port": 80}], clusterIP="10.96.0.9")
    default_service(s)
    normalize_cluster_ips(s, None)
    default_ip_families(s)
    assert validate("Service", s) == []


def test_validation_of_family_mismatch_and_clusterips() -> None:
    s = svc(ports=[{"port": 80}], clusterIP="fd00::1", clusterIPs=["fd00::1"])
    default_service(s)
    default_ip_families(s)
    messages = [c.message for c in validate("Service", s)]
    assert messages == [
        'Invalid value: "fd00::1": expected an IPv4 value as indicated by `ipFamilies[0]`'
    ]
    s["spec"]["clusterIPs"] = ["10.96.0.1"]
    s["spec"]["clusterIP"] = "10.96.0.2"
    fields = [c.field for c in validate("Service", s)]
    assert fields == ["spec.clusterIPs"]


def test_printing() -> None:
    ports = [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]
    assert port_string(ports) == "80:30080/TCP,53/UDP"
    lb = svc(type="LoadBalancer", clusterIPs=["10.96.0.4"], ports=ports[:1])
    assert external_ip(lb) == "<pending>"
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}, {"ip": "192.0.2.1"}]}}
    assert external_ip(lb) == "192.0.2.1,192.0.2.2"
    assert external_ip(svc(type="ExternalName", externalName="db.example.com")) == (
        "db.example.com"
    )
    cells = service_cells(svc(type="ClusterIP", clusterIPs=["None"], selector={"b": "2", "a": "1"}),
                          NOW)  # fmt: skip
    assert cells[:5] == ["web", "ClusterIP", "None", "<none>", "<none>"]
    assert cells[6] == "a=1,b=2"


def test_allocation_bands_and_ranges() -> None:
    import ipaddress
    import random

    from control.registry.allocation import (
        ServiceRanges,
        claims_of,
        fill,
        parse_node_port_range,
        pick_index,
        range_causes,
    )

    rng = random.Random(1)
    # The upper band first, then the lower one once the upper is full.
    assert pick_index(10, 4, set(), rng) in range(4, 10)
    assert pick_index(10, 4, set(range(4, 10)), rng) in range(4)
    assert pick_index(10, 4, set(range(10)), rng) is None
    ranges = ServiceRanges(ipaddress.ip_network("10.96.0.0/12"))
    assert (ranges.kubernetes_ip(), ranges.dns_ip()) == ("10.96.0.1", "10.96.0.10")
    assert ranges.ip_index("10.96.0.0") is None and ranges.ip_index("10.111.255.255") is None
    assert parse_node_port_range("30000-32767") == (30000, 32767)
    assert parse_node_port_range("30000+2767") == (30000, 32767)
    with pytest.raises(ValueError):
        parse_node_port_range("32767-30000")
    s = svc(type="NodePort", clusterIPs=["10.96.0.5"], clusterIP="10.96.0.5",
            ports=[{"port": 80, "nodePort": 30001}, {"port": 81}])  # fmt: skip
    fill(s, ranges, lambda pool: {"30002"} if pool == "nodeports" else set(), rng)
    assert s["spec"]["clusterIP"] == "10.96.0.5"
    second = s["spec"]["ports"][1]["nodePort"]
    assert second not in (30001, 30002) and 30000 <= second <= 32767
    assert claims_of(s) == ["serviceips:10.96.0.5", "nodeports:30001", f"nodeports:{second}"]
    far = svc(clusterIPs=["10.200.0.1"], ports=[{"port": 80, "nodePort": 80}])
    fields = [c.field for c in range_causes(far, set(claims_of(far)), ranges)]
    assert fields == ["spec.clusterIPs", "spec.ports[0].nodePort"]
    # Values held before an update are not checked again (the range may have changed since).
    assert range_causes(far, set(), ranges) == []
