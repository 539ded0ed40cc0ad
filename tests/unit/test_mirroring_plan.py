"""The EndpointSlice mirroring plan: an Endpoints object written by hand, as slices."""

from __future__ import annotations

import copy
from typing import Any

from common.wellknown import MANAGED_BY_LABEL, SLICE_SERVICE_LABEL
from control.controllers.mirroring_plan import MIRRORING_CONTROLLER, plan_mirrored

Obj = dict[str, Any]


def endpoints(*subsets: Obj, **labels: str) -> Obj:
    return {"metadata": {"name": "db", "namespace": "ns", "uid": "ep-uid", "labels": labels,
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                         "team": "x"}},
            "subsets": list(subsets)}  # fmt: skip


def subset(*ips: str, not_ready: tuple[str, ...] = (), port: int = 5432) -> Obj:
    return {"addresses": [{"ip": ip} for ip in ips],
            "notReadyAddresses": [{"ip": ip} for ip in not_ready],
            "ports": [{"name": "pg", "port": port, "protocol": "TCP"}]}  # fmt: skip


def stored(plan_slices: list[Obj]) -> list[Obj]:
    out = []
    for i, s in enumerate(plan_slices):
        s = copy.deepcopy(s)
        s["metadata"]["name"] = s["metadata"].pop("generateName", "") + f"s{i}"
        s["metadata"]["uid"] = f"uid-{i}"
        out.append(s)
    return out


def test_one_slice_per_family_with_labels_annotations_and_owner() -> None:
    ep = endpoints(subset("10.1.0.1", "fd00::1", not_ready=("10.1.0.2",)), tier="db")
    plan = plan_mirrored(ep, [])
    assert not plan.update and not plan.delete
    v4, v6 = sorted(plan.create, key=lambda s: s["addressType"])
    assert v4["addressType"] == "IPv4" and v6["addressType"] == "IPv6"
    assert v4["metadata"]["generateName"] == "db-"
    assert v4["metadata"]["labels"] == {"tier": "db", SLICE_SERVICE_LABEL: "db",
                                        MANAGED_BY_LABEL: MIRRORING_CONTROLLER}  # fmt: skip
    assert v4["metadata"]["annotations"] == {"team": "x"}
    assert v4["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert v4["metadata"]["ownerReferences"][0]["uid"] == "ep-uid"
    assert v4["endpoints"] == [
        {"addresses": ["10.1.0.1"], "conditions": {"ready": True}},
        {"addresses": ["10.1.0.2"], "conditions": {"ready": False}},
    ]
    assert v4["ports"] == [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    assert v6["endpoints"] == [{"addresses": ["fd00::1"], "conditions": {"ready": True}}]


def test_settled_slices_are_left_alone_and_changes_rewrite_in_place() -> None:
    ep = endpoints(subset("10.1.0.1"))
    slices = stored(plan_mirrored(ep, []).create)
    assert plan_mirrored(ep, slices).empty
    changed = plan_mirrored(endpoints(subset("10.1.0.1", "10.1.0.3")), slices)
    [s] = changed.update
    assert s["metadata"]["name"] == slices[0]["metadata"]["name"]
    assert len(s["endpoints"]) == 2


def test_a_port_change_recycles_the_slice() -> None:
    slices = stored(plan_mirrored(endpoints(subset("10.1.0.1")), []).create)
    plan = plan_mirrored(endpoints(subset("10.1.0.1", port=6432)), slices)
    assert not plan.create and not plan.delete
    [s] = plan.update
    assert s["metadata"]["name"] == slices[0]["metadata"]["name"]
    assert s["ports"][0]["port"] == 6432


def test_no_addresses_deletes_the_slices() -> None:
    slices = stored(plan_mirrored(endpoints(subset("10.1.0.1")), []).create)
    plan = plan_mirrored(endpoints(), slices)
    assert plan.delete == slices and not plan.create


def test_invalid_and_excess_addresses_are_skipped_and_counted() -> None:
    plan = plan_mirrored(endpoints(subset("10.1.0.1", "10.1.0.2", "10.1.0.3", "nope")), [], 2)
    [s] = plan.create
    assert len(s["endpoints"]) == 2
    assert (plan.invalid, plan.skipped) == (0, 2)
    plan = plan_mirrored(endpoints(subset("nope", "10.1.0.1")), [])
    assert (plan.invalid, plan.skipped) == (1, 1)


def test_endpoints_being_deleted_get_no_new_slices() -> None:
    ep = endpoints(subset("10.1.0.1"))
    ep["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert plan_mirrored(ep, []).create == []
