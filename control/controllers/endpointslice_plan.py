"""The EndpointSlices a Service must have, as Kubernetes' EndpointSlice reconciler computes them
(staging/src/k8s.io/endpointslice/reconciler.go): one endpoint per pod its selector matches
(ready / serving / terminating from the pod's Ready condition and deletion), grouped by the
ports the pod resolves, at most ``max_endpoints`` per slice, with the least churn: endpoints
stay in the slice that holds them, changed slices are filled first, a new slice takes the name
of one that would be deleted, and a Service with no endpoints keeps one empty placeholder.
Pure: objects in, a plan out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common.services import is_headless, spec_of
from common.wellknown import (
    ENDPOINTSLICE_CONTROLLER,
    HEADLESS_LABEL,
    MANAGED_BY_LABEL,
    SLICE_SERVICE_LABEL,
    ZONE_LABEL,
)
from control.controllers.endpoint_pods import (
    address_types,
    find_port,
    is_ipv6,
    is_terminating,
    pod_ips,
    should_be_in_endpoints,
    should_set_hostname,
)
from control.controllers.ranking import is_ready

Obj = dict[str, Any]
# kube-controller-manager's --max-endpoints-per-slice.
MAX_ENDPOINTS_PER_SLICE = 100
RESERVED_LABELS = (SLICE_SERVICE_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
# The longest valid generateName (a DNS subdomain); the server cuts it before its suffix.
MAX_GENERATE_PREFIX = 253

PortKey = tuple[tuple[str, str, int, str], ...]
EndpointKey = tuple[tuple[str, ...], str, str, str]


@dataclass
class SlicePlan:
    """What to write: new slices (``generateName``), whole slices to PUT, slices to delete, and
    the pods left out because their Node is not known (the sync is retried for them)."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    missing_nodes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name") or "")


def slice_labels(svc: Mapping[str, Any], controller: str = ENDPOINTSLICE_CONTROLLER) -> Obj:
    """setEndpointSliceLabels: the Service's labels but the reserved ones, the headless label
    for a Service without a ClusterIP, the service-name and managed-by labels."""
    labels = {k: v for k, v in (_meta(svc).get("labels") or {}).items() if k not in RESERVED_LABELS}
    if is_headless(svc) or not spec_of(svc).get("clusterIP"):
        labels[HEADLESS_LABEL] = ""
    labels[SLICE_SERVICE_LABEL] = _name(svc)
    labels[MANAGED_BY_LABEL] = controller
    return labels


def owner_ref(svc: Mapping[str, Any]) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "name": _name(svc),
            "uid": _meta(svc).get("uid"), "controller": True,
            "blockOwnerDeletion": True}  # fmt: skip


def owned_by(slice_: Mapping[str, Any], svc: Mapping[str, Any]) -> bool:
    uid = _meta(svc).get("uid")
    return any(r.get("uid") == uid for r in _meta(slice_).get("ownerReferences") or [])


def port_key(ports: list[Any]) -> PortKey:
    """NewPortMapKey: slices with the same ports, whatever their order, share a key."""
    return tuple(
        sorted(
            (
                str(p.get("name") or ""),
                str(p.get("protocol") or ""),
                int(p.get("port") or 0),
                str(p.get("appProtocol") or ""),
            )
            for p in ports
        )
    )


def endpoint_key(ep: Mapping[str, Any]) -> EndpointKey:
    """hashEndpoint: an endpoint is the same one by its addresses, hostname and target."""
    ref = ep.get("targetRef") or {}
    return (
        tuple(sorted(ep.get("addresses") or [])),
        str(ep.get("hostname") or ""),
        str(ref.get("namespace") or ""),
        str(ref.get("name") or ""),
    )


def endpoint_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """getEndpointPorts: each ServicePort the pod resolves (a name no container has: none)."""
    out: list[Obj] = []
    for sp in spec_of(svc).get("ports") or []:
        number = find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {"name": str(sp.get("name") or ""), "protocol": sp.get("protocol") or "TCP",
                     "port": number}  # fmt: skip
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def pod_to_endpoint(
    pod: Mapping[str, Any], node: Mapping[str, Any] | None, svc: Mapping[str, Any], family: str
) -> Obj:
    """podToEndpoint: a terminating pod is never ready (unless the Service publishes not-ready
    addresses); serving is its Ready condition, whether it terminates or not."""
    serving = is_ready(pod)
    terminating = is_terminating(pod)
    ready = bool(spec_of(svc).get("publishNotReadyAddresses")) or (serving and not terminating)
    pm = _meta(pod)
    ep: Obj = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == (family == "IPv6")],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {"kind": "Pod", "namespace": pm.get("namespace") or "",
                      "name": pm.get("name") or "", "uid": pm.get("uid") or ""},
    }  # fmt: skip
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        ep["nodeName"] = node_name
    zone = (_meta(node).get("labels") or {}).get(ZONE_LABEL) if node is not None else None
    if zone:
        ep["zone"] = zone
    if should_set_hostname(pod, svc):
        ep["hostname"] = pod["spec"]["hostname"]
    return ep


def generate_prefix(service_name: str) -> str:
    """getEndpointSlicePrefix: ``<service>-`` (the bare name if that is not a valid prefix)."""
    prefix = f"{service_name}-"
    return prefix if len(prefix) <= MAX_GENERATE_PREFIX else service_name


def new_slice(svc: Mapping[str, Any], family: str, ports: list[Obj]) -> Obj:
    """newEndpointSlice: named by the server from ``<service>-``, owned by the Service."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": generate_prefix(_name(svc)),
            "namespace": _meta(svc).get("namespace"),
            "labels": slice_labels(svc),
            "ownerReferences": [owner_ref(svc)],
        },
        "addressType": family,
        "endpoints": [],
        "ports": copy.deepcopy(ports),
    }


@dataclass
class _Desired:
    """The endpoints of one port mapping, in the order they are handed out."""

    ports: list[Obj]
    endpoints: dict[EndpointKey, Obj] = field(default_factory=dict)

    def pop(self) -> Obj:
        return self.endpoints.pop(next(iter(self.endpoints)))


def desired_endpoints(
    svc: Mapping[str, Any],
    pods: list[Obj],
    nodes: Mapping[str, Mapping[str, Any]],
    family: str,
    missing: list[str],
) -> dict[PortKey, _Desired]:
    """The endpoints of the Service's pods by port mapping; pods on an unknown Node are left
    out (and named in ``missing``) unless the Service publishes not-ready addresses."""
    out: dict[PortKey, _Desired] = {}
    publish = bool(spec_of(svc).get("publishNotReadyAddresses"))
    for pod in sorted(pods, key=_name):
        if not should_be_in_endpoints(pod, True):
            continue
        ports = endpoint_ports(svc, pod)
        desired = out.setdefault(port_key(ports), _Desired(ports))
        node = nodes.get(str((pod.get("spec") or {}).get("nodeName") or ""))
        if node is None and not publish:
            missing.append(_name(pod))
            continue
        ep = pod_to_endpoint(pod, node, svc, family)
        if ep["addresses"]:
            desired.endpoints[endpoint_key(ep)] = ep
    return out


def plan_slices(
    svc: Mapping[str, Any],
    pods: list[Obj],
    nodes: Mapping[str, Mapping[str, Any]],
    existing: list[Obj],
    max_endpoints: int = MAX_ENDPOINTS_PER_SLICE,
) -> SlicePlan:
    """Reconcile: the writes that turn the Service's ``existing`` slices (those labelled as
    its own and managed by this controller) into the desired ones. ``pods`` are those its
    selector matches, ``nodes`` the Nodes by name."""
    plan = SlicePlan()
    families = address_types(svc)
    by_family: dict[str, list[Obj]] = {f: [] for f in families}
    for s in sorted(existing, key=_name):
        if s.get("addressType") in by_family and owned_by(s, svc):
            by_family[str(s["addressType"])].append(s)
        else:
            plan.delete.append(s)  # a family the Service lost, or an older Service's slice
    for family in families:
        _plan_family(plan, svc, pods, nodes, by_family[family], family, max_endpoints)
    return plan


def _plan_family(
    plan: SlicePlan,
    svc: Mapping[str, Any],
    pods: list[Obj],
    nodes: Mapping[str, Mapping[str, Any]],
    existing: list[Obj],
    family: str,
    max_endpoints: int,
) -> None:
    """reconcileByAddressType."""
    desired = desired_endpoints(svc, pods, nodes, family, plan.missing_nodes)
    by_ports: dict[PortKey, list[Obj]] = {}
    for s in existing:
        by_ports.setdefault(port_key(s.get("ports") or []), []).append(s)
    create: list[Obj] = []
    update: list[Obj] = []
    delete: list[Obj] = []
    labels = slice_labels(svc)
    for key, want in desired.items():
        c, u, d = _plan_ports(svc, by_ports.get(key, []), want, labels, family, max_endpoints)
        create += c
        update += u
        delete += d
    for key, slices in by_ports.items():
        if key not in desired:
            delete.extend(slices)
    if len(existing) == len(delete) and not create:
        placeholder = new_slice(svc, family, [])
        if not (len(delete) == 1 and _is_placeholder(delete[0], placeholder)):
            create.append(placeholder)
        else:
            delete = []
    _finalize(plan, svc, create, update, delete)


def _is_placeholder(s: Mapping[str, Any], placeholder: Mapping[str, Any]) -> bool:
    return (
        not s.get("endpoints")
        and not s.get("ports")
        and s.get("addressType") == placeholder["addressType"]
        and (_meta(s).get("labels") or {}) == placeholder["metadata"]["labels"]
    )


def _plan_ports(
    svc: Mapping[str, Any],
    existing: list[Obj],
    want: _Desired,
    labels: Obj,
    family: str,
    max_endpoints: int,
) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """reconcileByPortMapping: (create, update, delete) for the slices of one port mapping."""
    changed: dict[str, Obj] = {}
    unchanged: dict[str, Obj] = {}
    delete: list[Obj] = []
    for s in existing:  # 1. keep the endpoints still wanted, as they are now wanted
        kept, updated = [], False
        for ep in s.get("endpoints") or []:
            got = want.endpoints.pop(endpoint_key(ep), None)
            if got is not None:
                kept.append(got)
                updated = updated or got != ep
        same_count = len(kept) == len(s.get("endpoints") or [])
        if not kept and not same_count:
            delete.append(s)
        elif updated or not same_count or (_meta(s).get("labels") or {}) != labels:
            new = copy.deepcopy(s)
            new["endpoints"] = kept
            new["metadata"]["labels"] = dict(labels)
            changed[_name(s)] = new
        else:
            unchanged[_name(s)] = s
    # 2. fill the changed slices, the fullest first
    for s in sorted(changed.values(), key=lambda s: -len(s["endpoints"])):
        while want.endpoints and len(s["endpoints"]) < max_endpoints:
            s["endpoints"].append(want.pop())
    # 3. what is left goes into an unchanged slice it fits in, else into new slices
    create: list[Obj] = []
    while want.endpoints:
        target = None
        if len(want.endpoints) < max_endpoints and unchanged:
            target = _slice_to_fill(list(unchanged.values()), len(want.endpoints), max_endpoints)
        if target is None:
            target = new_slice(svc, family, want.ports)
            create.append(target)
        else:
            target = copy.deepcopy(target)
            del unchanged[_name(target)]
            changed[_name(target)] = target
        while want.endpoints and len(target["endpoints"]) < max_endpoints:
            target["endpoints"].append(want.pop())
    return create, list(changed.values()), delete


def _slice_to_fill(slices: list[Obj], count: int, max_endpoints: int) -> Obj | None:
    """getSliceToFill: the unchanged slice that the endpoints left fill the closest to full."""
    best, closest = None, max_endpoints
    for s in slices:
        diff = max_endpoints - (count + len(s.get("endpoints") or []))
        if 0 <= diff < closest:
            best, closest = s, diff
            if diff == 0:
                break
    return best


def _finalize(
    plan: SlicePlan, svc: Mapping[str, Any], create: list[Obj], update: list[Obj],
    delete: list[Obj],
) -> None:  # fmt: skip
    """finalize: a slice to create takes the place of one to delete (an update, not a delete
    and a create); nothing is created for a Service being deleted."""
    kept: list[Obj] = []
    for old in delete:
        if create and create[-1]["addressType"] == old.get("addressType") and owned_by(old, svc):
            new = create.pop()
            m = new["metadata"]
            m.pop("generateName", None)
            for key in ("name", "uid", "resourceVersion", "creationTimestamp", "generation"):
                if key in _meta(old):
                    m[key] = old["metadata"][key]
            update.append(new)
        else:
            kept.append(old)
    if not _meta(svc).get("deletionTimestamp"):
        plan.create += create
    plan.update += update
    plan.delete += kept
