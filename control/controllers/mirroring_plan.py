"""The EndpointSlices mirrored from an Endpoints object written by hand, as Kubernetes'
EndpointSlice mirroring controller computes them (pkg/controller/endpointslicemirroring): the
repacked subsets, one slice per subset's ports and address family, at most 1,000 addresses of a
subset (ready ones as ``ready: true``, not-ready ones as ``false``; an address that is not an IP
is skipped), labelled and annotated as the Endpoints object is, owned by it. A slice that is
already right is left alone; the first slice of a mapping is rewritten in place, any other
deleted. Pure: objects in, a plan out.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common.wellknown import LAST_APPLIED, MANAGED_BY_LABEL, SLICE_SERVICE_LABEL
from control.controllers.endpoints_plan import repack_subsets
from control.controllers.endpointslice_plan import SlicePlan, generate_prefix, port_key

Obj = dict[str, Any]
MIRRORING_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
# kube-controller-manager's --mirroring-max-endpoints-per-subset.
MAX_ENDPOINTS_PER_SUBSET = 1000
# Annotations a mirrored slice does not copy.
NOT_MIRRORED = (LAST_APPLIED, "endpoints.kubernetes.io/last-change-trigger-time")
FAMILIES = ("IPv4", "IPv6")

Key = tuple[str, tuple[tuple[str, str, int, str], ...]]


@dataclass
class MirrorPlan(SlicePlan):
    invalid: int = 0  # addresses that are not IPs
    skipped: int = 0  # addresses left out: not IPs, or over the per-subset maximum


@dataclass
class _Mapping:
    ports: list[Obj]
    endpoints: list[Obj] = field(default_factory=list)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _family(ip: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


def address_to_endpoint(address: Mapping[str, Any], ready: bool) -> Obj:
    ep: Obj = {"addresses": [address.get("ip")], "conditions": {"ready": ready}}
    if address.get("targetRef"):
        ep["targetRef"] = copy.deepcopy(address["targetRef"])
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    return ep


def slice_ports(ports: list[Any]) -> list[Obj]:
    out = []
    for p in ports:
        port: Obj = {"name": p.get("name") or "", "port": p.get("port"),
                     "protocol": p.get("protocol") or "TCP"}  # fmt: skip
        if p.get("appProtocol"):
            port["appProtocol"] = p["appProtocol"]
        out.append(port)
    return out


def mirrored_meta(endpoints: Mapping[str, Any]) -> tuple[Obj, Obj]:
    """The labels and annotations a mirrored slice carries."""
    m = _meta(endpoints)
    labels = {**(m.get("labels") or {}), SLICE_SERVICE_LABEL: m.get("name"),
              MANAGED_BY_LABEL: MIRRORING_CONTROLLER}  # fmt: skip
    annotations = {k: v for k, v in (m.get("annotations") or {}).items() if k not in NOT_MIRRORED}
    return labels, annotations


def desired(
    endpoints: Mapping[str, Any], max_per_subset: int, plan: MirrorPlan
) -> dict[Key, _Mapping]:
    """The endpoints of each (family, ports) mapping of the repacked subsets."""
    out: dict[Key, _Mapping] = {}
    for subset in repack_subsets(list(endpoints.get("subsets") or [])):
        ports = slice_ports(list(subset.get("ports") or []))
        for family in FAMILIES:
            out.setdefault((family, port_key(ports)), _Mapping(ports))
        added = 0
        pairs = [(a, True) for a in subset.get("addresses") or []]
        pairs += [(a, False) for a in subset.get("notReadyAddresses") or []]
        for address, ready in pairs:
            if added >= max_per_subset:
                plan.skipped += 1
                continue
            kind = _family(str(address.get("ip") or ""))
            if kind is None:
                plan.invalid += 1
                plan.skipped += 1
                continue
            out[(kind, port_key(ports))].endpoints.append(address_to_endpoint(address, ready))
            added += 1
    return out


def new_mirrored_slice(endpoints: Mapping[str, Any], family: str, want: _Mapping) -> Obj:
    m = _meta(endpoints)
    labels, annotations = mirrored_meta(endpoints)
    owner = {"apiVersion": "v1", "kind": "Endpoints", "name": m.get("name"), "uid": m.get("uid"),
             "controller": True, "blockOwnerDeletion": True}  # fmt: skip
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"generateName": generate_prefix(str(m.get("name"))),
                     "namespace": m.get("namespace"), "labels": labels,
                     "annotations": annotations, "ownerReferences": [owner]},
        "addressType": family,
        "endpoints": copy.deepcopy(want.endpoints),
        "ports": copy.deepcopy(want.ports),
    }  # fmt: skip


def _matches(s: Mapping[str, Any], new: Obj) -> bool:
    return bool(
        (s.get("endpoints") or []) == new["endpoints"]
        and (_meta(s).get("labels") or {}) == new["metadata"]["labels"]
        and (_meta(s).get("annotations") or {}) == new["metadata"]["annotations"]
        and (_meta(s).get("ownerReferences") or []) == new["metadata"]["ownerReferences"]
    )


def plan_mirrored(
    endpoints: Mapping[str, Any],
    existing: list[Obj],
    max_per_subset: int = MAX_ENDPOINTS_PER_SUBSET,
) -> MirrorPlan:
    """reconcile: the writes that make the mirrored slices match the Endpoints object."""
    plan = MirrorPlan()
    want = desired(endpoints, max_per_subset, plan)
    by_key: dict[Key, list[Obj]] = {}
    for s in sorted(existing, key=lambda s: str(_meta(s).get("name"))):
        by_key.setdefault((str(s.get("addressType")), port_key(s.get("ports") or [])), []).append(s)
    for key, mapping in want.items():
        current = by_key.get(key, [])
        if not mapping.endpoints:
            plan.delete += current
            continue
        plan.delete += current[1:]
        new = new_mirrored_slice(endpoints, key[0], mapping)
        if not current:
            plan.create.append(new)
        elif not _matches(current[0], new):
            _take_place(new, current[0])
            plan.update.append(new)
    for key, slices in by_key.items():
        if key not in want:
            plan.delete += slices
    _recycle(plan)
    if _meta(endpoints).get("deletionTimestamp"):
        plan.create = []
    return plan


def _take_place(new: Obj, old: Mapping[str, Any]) -> None:
    m = new["metadata"]
    m.pop("generateName", None)
    for key in ("name", "uid", "resourceVersion", "creationTimestamp", "generation"):
        if key in _meta(old):
            m[key] = _meta(old)[key]


def _recycle(plan: MirrorPlan) -> None:
    """recycleSlices: a slice to create takes the place of one of its family to delete."""
    kept = []
    for old in plan.delete:
        new = next((c for c in reversed(plan.create)
                    if c["addressType"] == old.get("addressType")), None)  # fmt: skip
        if new is None:
            kept.append(old)
            continue
        plan.create.remove(new)
        _take_place(new, old)
        plan.update.append(new)
    plan.delete = kept
