"""The EndpointSlice reconciler's plan: given a Service, its pods and its slices, the writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from common.wellknown import (
    ENDPOINTSLICE_CONTROLLER,
    HEADLESS_LABEL,
    MANAGED_BY_LABEL,
    SLICE_SERVICE_LABEL,
)
from control.controllers.endpoint_pods import find_port, pod_endpoints_changed
from control.controllers.endpointslice_plan import SlicePlan, plan_slices
from control.flags import parse_args

Obj = dict[str, Any]
NODES = {"n1": {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}},
         "n2": {"metadata": {"name": "n2"}}}  # fmt: skip


def svc(ports: list[Obj] | None = None, **spec: Any) -> Obj:
    base = {
        "selector": {"app": "web"},
        "clusterIP": "10.96.0.20",
        "clusterIPs": ["10.96.0.20"],
        "ipFamilies": ["IPv4"],
        "ports": ports if ports is not None else [
            {"name": "", "port": 80, "targetPort": 8080, "protocol": "TCP"}
        ],
    }  # fmt: skip
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid",
                         "labels": {"tier": "front"}}, "spec": base}  # fmt: skip


def pod(name: str, ip: str = "", ready: bool = True, node: str = "n1", **extra: Any) -> Obj:
    n = int(name.rsplit("-", 1)[-1]) if name[-1].isdigit() else 1
    p: Obj = {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                     "labels": {"app": "web"}},
        "spec": {"nodeName": node, "containers": [
            {"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": "Running", "podIP": ip or f"10.244.0.{n}",
                   "podIPs": [{"ip": ip or f"10.244.0.{n}"}],
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }  # fmt: skip
    for k, v in extra.items():
        if k == "deleting":
            p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        else:
            p["spec"][k] = v
    return p


def apply(plan: SlicePlan, existing: list[Obj]) -> list[Obj]:
    """What the store holds after the plan: names for created slices, as the server gives."""
    by_name = {s["metadata"]["name"]: s for s in existing}
    for s in plan.delete:
        del by_name[s["metadata"]["name"]]
    for s in plan.update:
        assert s["metadata"]["name"] in by_name
        by_name[s["metadata"]["name"]] = copy.deepcopy(s)
    for i, s in enumerate(plan.create):
        new = copy.deepcopy(s)
        new["metadata"]["name"] = new["metadata"].pop("generateName") + f"x{len(by_name)}{i}"
        by_name[new["metadata"]["name"]] = new
    return list(by_name.values())


def addresses(slices: list[Obj]) -> list[str]:
    return sorted(a for s in slices for e in s["endpoints"] for a in e["addresses"])


def converge(service: Obj, pods: list[Obj], existing: list[Obj] | None = None) -> list[Obj]:
    existing = apply(plan_slices(service, pods, NODES, existing or []), existing or [])
    assert plan_slices(service, pods, NODES, existing).empty  # a second pass changes nothing
    return existing


def test_one_slice_with_an_endpoint_per_pod() -> None:
    plan = plan_slices(svc(), [pod("web-1"), pod("web-2", node="n2")], NODES, [])
    assert not plan.update and not plan.delete
    [s] = plan.create
    assert s["metadata"]["generateName"] == "web-"
    assert s["metadata"]["namespace"] == "ns"
    assert s["metadata"]["labels"] == {"tier": "front", SLICE_SERVICE_LABEL: "web",
                                       MANAGED_BY_LABEL: ENDPOINTSLICE_CONTROLLER}  # fmt: skip
    assert s["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc-uid",
         "controller": True, "blockOwnerDeletion": True}]  # fmt: skip
    assert s["addressType"] == "IPv4"
    assert s["ports"] == [{"name": "", "protocol": "TCP", "port": 8080}]
    assert s["endpoints"][0] == {
        "addresses": ["10.244.0.1"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": "web-1", "uid": "uid-web-1"},
        "nodeName": "n1",
        "zone": "z1",
    }
    assert "zone" not in s["endpoints"][1]


def test_not_ready_pod_is_neither_ready_nor_serving() -> None:
    [s] = plan_slices(svc(), [pod("web-1", ready=False)], NODES, []).create
    assert s["endpoints"][0]["conditions"] == {"ready": False, "serving": False,
                                               "terminating": False}  # fmt: skip


def test_terminating_pod_leaves_the_ready_set_at_once_but_keeps_serving() -> None:
    [s] = plan_slices(svc(), [pod("web-1", deleting=True)], NODES, []).create
    assert s["endpoints"][0]["conditions"] == {"ready": False, "serving": True,
                                               "terminating": True}  # fmt: skip


def test_publish_not_ready_addresses_makes_every_pod_ready() -> None:
    service = svc(publishNotReadyAddresses=True)
    pods = [pod("web-1", ready=False), pod("web-2", deleting=True)]
    [s] = plan_slices(service, pods, NODES, []).create
    assert [e["conditions"]["ready"] for e in s["endpoints"]] == [True, True]
    assert s["endpoints"][1]["conditions"]["terminating"] is True


def test_pods_without_ip_or_finished_are_left_out() -> None:
    no_ip = pod("web-1")
    no_ip["status"].pop("podIP")
    no_ip["status"].pop("podIPs")
    done = pod("web-2")
    done["status"]["phase"] = "Succeeded"
    plan = plan_slices(svc(), [no_ip, done, pod("web-3")], NODES, [])
    assert addresses(plan.create) == ["10.244.0.3"]


def test_named_target_port_resolves_per_pod_and_a_missing_name_gives_no_port() -> None:
    service = svc([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    other = pod("web-2")
    other["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 9090}]
    nameless = pod("web-3")
    nameless["spec"]["containers"][0]["ports"] = []
    plan = plan_slices(service, [pod("web-1"), other, nameless], NODES, [])
    by_port = {tuple(p["port"] for p in s["ports"]): addresses([s]) for s in plan.create}
    assert by_port == {(8080,): ["10.244.0.1"], (9090,): ["10.244.0.2"], (): ["10.244.0.3"]}


def test_find_port_matches_name_and_protocol() -> None:
    p = pod("web-1")
    p["spec"]["containers"][0]["ports"].append(
        {"name": "dns", "containerPort": 53, "protocol": "UDP"}
    )
    assert find_port(p, {"port": 80, "targetPort": 81}) == 81
    assert find_port(p, {"port": 80}) == 80
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None


def test_no_pods_gives_one_placeholder_kept_as_it_is() -> None:
    plan = plan_slices(svc(), [], NODES, [])
    [s] = plan.create
    assert s["endpoints"] == [] and s["ports"] == []
    stored = apply(plan, [])
    assert plan_slices(svc(), [], NODES, stored).empty


def test_first_pod_takes_over_the_placeholder_by_name() -> None:
    stored = apply(plan_slices(svc(), [], NODES, []), [])
    plan = plan_slices(svc(), [pod("web-1")], NODES, stored)
    assert not plan.create and not plan.delete
    [s] = plan.update
    assert s["metadata"]["name"] == stored[0]["metadata"]["name"]
    assert addresses([s]) == ["10.244.0.1"] and s["ports"][0]["port"] == 8080


def test_last_pod_gone_leaves_a_placeholder_in_its_place() -> None:
    stored = converge(svc(), [pod("web-1")])
    plan = plan_slices(svc(), [], NODES, stored)
    assert not plan.create and not plan.delete
    [s] = plan.update
    assert s["metadata"]["name"] == stored[0]["metadata"]["name"]
    assert s["endpoints"] == [] and s["ports"] == []


def test_at_most_max_endpoints_per_slice() -> None:
    pods = [pod(f"web-{i}", ip=f"10.244.{i // 200}.{i % 200 + 1}") for i in range(250)]
    plan = plan_slices(svc(), pods, NODES, [])
    assert sorted(len(s["endpoints"]) for s in plan.create) == [50, 100, 100]
    assert len(addresses(plan.create)) == 250


def test_readiness_flip_updates_only_the_slice_holding_the_pod() -> None:
    pods = [pod(f"web-{i}", ip=f"10.244.1.{i}") for i in range(1, 151)]
    stored = converge(svc(), pods)
    pods[3]["status"]["conditions"][0]["status"] = "False"
    plan = plan_slices(svc(), pods, NODES, stored)
    assert not plan.create and not plan.delete
    [s] = plan.update
    flipped = [e for e in s["endpoints"] if e["targetRef"]["name"] == "web-4"]
    assert flipped[0]["conditions"]["ready"] is False
    assert len(s["endpoints"]) == len(
        next(x for x in stored if x["metadata"]["name"] == s["metadata"]["name"])["endpoints"]
    )


def test_scale_down_removes_endpoints_and_empty_slices() -> None:
    pods = [pod(f"web-{i}", ip=f"10.244.1.{i}") for i in range(1, 151)]
    stored = converge(svc(), pods)
    assert len(stored) == 2
    stored = converge(svc(), pods[:3], stored)
    assert len(stored) == 1 and addresses(stored) == ["10.244.1.1", "10.244.1.2", "10.244.1.3"]


def test_scale_up_fills_the_existing_slice_before_creating_one() -> None:
    stored = converge(svc(), [pod("web-1")])
    pods = [pod(f"web-{i}", ip=f"10.244.1.{i}") for i in range(1, 4)]
    plan = plan_slices(svc(), pods, NODES, stored)
    assert not plan.create and not plan.delete and len(plan.update) == 1
    stored = apply(plan, stored)
    assert addresses(stored) == ["10.244.1.1", "10.244.1.2", "10.244.1.3"]


def test_new_endpoints_go_to_the_unchanged_slice_they_fill_the_closest() -> None:
    pods = [pod(f"web-{i}", ip=f"10.244.1.{i}") for i in range(1, 151)]
    stored = converge(svc(), pods)  # 100 + 50
    more = [*pods, *(pod(f"web-{i}", ip=f"10.244.2.{i}") for i in range(151, 161))]
    plan = plan_slices(svc(), more, NODES, stored)
    assert not plan.create and len(plan.update) == 1
    assert len(plan.update[0]["endpoints"]) == 60


def test_service_label_change_relabels_slices() -> None:
    stored = converge(svc(), [pod("web-1")])
    relabelled = svc()
    relabelled["metadata"]["labels"] = {"tier": "back", SLICE_SERVICE_LABEL: "spoof"}
    [s] = plan_slices(relabelled, [pod("web-1")], NODES, stored).update
    assert s["metadata"]["labels"][SLICE_SERVICE_LABEL] == "web"
    assert s["metadata"]["labels"]["tier"] == "back"


def test_headless_service_slices_carry_the_headless_label_and_no_ports_needed() -> None:
    service = svc([], clusterIP="None", clusterIPs=["None"])
    [s] = plan_slices(service, [pod("web-1")], NODES, []).create
    assert s["metadata"]["labels"][HEADLESS_LABEL] == ""
    assert s["ports"] == [] and addresses([s]) == ["10.244.0.1"]


def test_hostname_when_subdomain_names_the_service() -> None:
    p = pod("web-1", hostname="db-0", subdomain="web")
    q = pod("web-2", hostname="db-1", subdomain="other")
    [s] = plan_slices(svc(), [p, q], NODES, []).create
    assert s["endpoints"][0]["hostname"] == "db-0"
    assert "hostname" not in s["endpoints"][1]


def test_pod_on_an_unknown_node_is_left_out_and_reported() -> None:
    plan = plan_slices(svc(), [pod("web-1", node="gone"), pod("web-2")], NODES, [])
    assert addresses(plan.create) == ["10.244.0.2"]
    assert plan.missing_nodes == ["web-1"]
    published = plan_slices(svc(publishNotReadyAddresses=True), [pod("web-1", node="gone")],
                            NODES, [])  # fmt: skip
    assert addresses(published.create) == ["10.244.0.1"]


def test_slices_of_another_owner_or_family_are_deleted() -> None:
    stored = converge(svc(), [pod("web-1")])
    stale = copy.deepcopy(stored[0])
    stale["metadata"]["name"] = "web-old"
    stale["metadata"]["ownerReferences"][0]["uid"] = "previous-service"
    v6 = copy.deepcopy(stored[0])
    v6["metadata"]["name"] = "web-v6"
    v6["addressType"] = "IPv6"
    plan = plan_slices(svc(), [pod("web-1")], NODES, [*stored, stale, v6])
    assert sorted(s["metadata"]["name"] for s in plan.delete) == ["web-old", "web-v6"]
    assert plan.empty is False and not plan.create and not plan.update


def test_service_being_deleted_gets_no_new_slices() -> None:
    service = svc()
    service["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert plan_slices(service, [pod("web-1")], NODES, []).create == []


def test_long_service_names_keep_the_generated_name_valid() -> None:
    service = svc()
    service["metadata"]["name"] = "a" * 253
    [s] = plan_slices(service, [pod("web-1")], NODES, []).create
    assert s["metadata"]["generateName"] == "a" * 253
    service["metadata"]["name"] = "a" * 252
    [s] = plan_slices(service, [pod("web-1")], NODES, []).create
    assert s["metadata"]["generateName"] == "a" * 252 + "-"


def test_pod_changes_that_matter_to_endpoints() -> None:
    old = pod("web-1")
    assert pod_endpoints_changed(old, copy.deepcopy(old)) == (False, False)
    flipped = copy.deepcopy(old)
    flipped["status"]["conditions"][0]["status"] = "False"
    assert pod_endpoints_changed(old, flipped) == (True, False)
    going = pod("web-1", deleting=True)
    assert pod_endpoints_changed(old, going) == (True, False)
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"] = {"app": "other"}
    assert pod_endpoints_changed(old, relabelled) == (False, True)


def test_max_endpoints_per_slice_flag() -> None:
    assert parse_args([]).max_endpoints_per_slice == 100
    assert parse_args(["--max-endpoints-per-slice", "1000"]).max_endpoints_per_slice == 1000
    for bad in ("0", "1001", "x"):
        with pytest.raises(SystemExit):
            parse_args(["--max-endpoints-per-slice", bad])
    pods = [pod(f"web-{i}") for i in range(1, 6)]
    assert [len(s["endpoints"]) for s in plan_slices(svc(), pods, NODES, [], 2).create] == [2, 2, 1]
