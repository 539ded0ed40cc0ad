"""The Endpoints (v1) object a Service must have, as Kubernetes' Endpoints controller computes it
(pkg/controller/endpoint): its pods' addresses, ready ones in ``addresses`` and the others in
``notReadyAddresses``, repacked into subsets of addresses sharing the same ports
(RepackSubsets), at most 1,000 addresses (the rest cut off, and the object annotated
``endpoints.kubernetes.io/over-capacity: truncated``). Terminating pods are left out unless the
Service publishes not-ready addresses. Pure: objects in, the object to write (or None) out.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from common.services import NONE, is_headless, spec_of
from common.wellknown import ENDPOINTS_OVER_CAPACITY, HEADLESS_LABEL
from control.controllers.endpoint_pods import (
    find_port,
    is_ipv6,
    pod_ips,
    should_be_in_endpoints,
    should_set_hostname,
)
from control.controllers.ranking import is_ready

Obj = dict[str, Any]
MAX_CAPACITY = 1000
TRUNCATED = "truncated"
PortKey = tuple[str, int, str, str]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _family(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> str:
    """podToEndpointAddressForService: the Service's first IP family (else its ClusterIP's,
    else, headless, the pod's)."""
    spec = spec_of(svc)
    families = spec.get("ipFamilies") or []
    if families:
        return str(families[0])
    cluster_ip = str(spec.get("clusterIP") or "")
    if cluster_ip and cluster_ip != NONE:
        return "IPv6" if is_ipv6(cluster_ip) else "IPv4"
    return "IPv6" if is_ipv6(str((pod.get("status") or {}).get("podIP") or "")) else "IPv4"


def endpoint_address(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj | None:
    """The pod's address of the Service's family (None when it has none)."""
    want_v6 = _family(svc, pod) == "IPv6"
    ip = next((ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6), "")
    if not ip:
        return None
    pm = _meta(pod)
    address: Obj = {"ip": ip}
    if should_set_hostname(pod, svc):
        address["hostname"] = pod["spec"]["hostname"]
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        address["nodeName"] = node_name
    address["targetRef"] = {"kind": "Pod", "namespace": pm.get("namespace") or "",
                            "name": pm.get("name") or "", "uid": pm.get("uid") or ""}  # fmt: skip
    return address


def _port_entry(port: Obj) -> PortKey:
    return (str(port.get("name") or ""), int(port.get("port") or 0),
            str(port.get("protocol") or ""), str(port.get("appProtocol") or ""))  # fmt: skip


def _address_key(address: Mapping[str, Any]) -> tuple[str, str]:
    return (str(address.get("ip")), str((address.get("targetRef") or {}).get("uid") or ""))


def subsets_for(svc: Mapping[str, Any], pods: list[Obj]) -> list[Obj]:
    """The repacked subsets of the Service's pods."""
    spec = spec_of(svc)
    publish = bool(spec.get("publishNotReadyAddresses"))
    # port (a sentinel for a headless Service with no ports) -> address key -> ready
    by_port: dict[PortKey | None, dict[tuple[str, str], bool]] = {}
    addresses: dict[tuple[str, str], Obj] = {}
    ports: dict[PortKey, Obj] = {}
    for pod in pods:
        if not should_be_in_endpoints(pod, publish):
            continue
        address = endpoint_address(svc, pod)
        if address is None:
            continue
        key = _address_key(address)
        addresses.setdefault(key, address)
        ready = publish or is_ready(pod)
        pod_ports: list[PortKey | None] = _pod_ports(svc, pod, ports)
        if not spec.get("ports") and is_headless(svc):
            pod_ports.append(None)  # a headless Service may have no ports
        for pk in pod_ports:
            seen = by_port.setdefault(pk, {})
            seen[key] = seen.get(key, True) and ready  # not ready always wins
    return _repack(by_port, addresses, ports)


def _pod_ports(
    svc: Mapping[str, Any], pod: Mapping[str, Any], ports: dict[PortKey, Obj]
) -> list[Any]:
    """The Service's ports the pod resolves (each also recorded in ``ports``)."""
    out: list[Any] = []
    for sp in spec_of(svc).get("ports") or []:
        number = find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {"name": sp.get("name") or "", "port": number,
                     "protocol": sp.get("protocol") or "TCP"}  # fmt: skip
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        ports[_port_entry(port)] = port
        out.append(_port_entry(port))
    return out


def _repack(
    by_port: dict[PortKey | None, dict[tuple[str, str], bool]],
    addresses: dict[tuple[str, str], Obj],
    ports: dict[PortKey, Obj],
) -> list[Obj]:
    """RepackSubsets: one subset per distinct set of (address, readiness), with every port
    that set serves; addresses sorted by IP then uid, subsets in a stable order."""
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[PortKey | None]] = {}
    for pk, seen in by_port.items():
        groups.setdefault(tuple(sorted(seen.items())), []).append(pk)
    out: list[Obj] = []
    for members, pks in sorted(groups.items(), key=lambda g: g[0]):
        subset: Obj = {}
        ready = [copy.deepcopy(addresses[k]) for k, ok in members if ok]
        not_ready = [copy.deepcopy(addresses[k]) for k, ok in members if not ok]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        real = sorted(pk for pk in pks if pk is not None)
        if real:
            subset["ports"] = [copy.deepcopy(ports[pk]) for pk in real]
        out.append(subset)
    return out


def repack_subsets(subsets: list[Any]) -> list[Obj]:
    """RepackSubsets of any subsets (an Endpoints object written by hand)."""
    by_port: dict[PortKey | None, dict[tuple[str, str], bool]] = {}
    addresses: dict[tuple[str, str], Obj] = {}
    ports: dict[PortKey, Obj] = {}
    for subset in subsets:
        keys: list[PortKey | None] = []
        for port in subset.get("ports") or []:
            ports.setdefault(_port_entry(port), port)
            keys.append(_port_entry(port))
        pairs = [(a, True) for a in subset.get("addresses") or []]
        pairs += [(a, False) for a in subset.get("notReadyAddresses") or []]
        for address, ready in pairs:
            key = _address_key(address)
            addresses.setdefault(key, address)
            for pk in keys or [None]:
                seen = by_port.setdefault(pk, {})
                seen[key] = seen.get(key, True) and ready  # not ready always wins
    return _repack(by_port, addresses, ports)


def truncate(subsets: list[Obj]) -> bool:
    """truncateEndpoints: keep at most 1,000 addresses, not-ready ones going first, each subset
    keeping its share; True if any was cut."""
    ready = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if ready + not_ready <= MAX_CAPACITY:
        return False
    cut_ready = ready > MAX_CAPACITY
    limit = MAX_CAPACITY if cut_ready else MAX_CAPACITY - ready
    total = ready if cut_ready else not_ready
    room = limit
    for s in subsets:
        field = "addresses" if cut_ready else "notReadyAddresses"
        have = s.get(field) or []
        share = min(math.ceil(len(have) / total * limit), room)
        s[field] = have[:share]
        if cut_ready:
            s.pop("notReadyAddresses", None)
        room -= len(s[field])
        if not s[field]:
            del s[field]
    return True


def plan_endpoints(
    svc: Mapping[str, Any], pods: list[Obj], current: Mapping[str, Any] | None
) -> Obj | None:
    """The Endpoints object to write for the Service (create when ``current`` is None, else
    replace), or None when ``current`` is already right."""
    subsets = subsets_for(svc, pods)
    truncated = truncate(subsets)
    labels = dict(_meta(svc).get("labels") or {})
    if current is not None:
        current_labels = dict(_meta(current).get("labels") or {})
        current_labels.pop(HEADLESS_LABEL, None)
        annotations = _meta(current).get("annotations") or {}
        capacity_ok = (ENDPOINTS_OVER_CAPACITY in annotations) == truncated
        if (current.get("subsets") or []) == subsets and current_labels == labels and capacity_ok:
            return None
    new: Obj = copy.deepcopy(dict(current)) if current is not None else {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": _meta(svc).get("name"), "namespace": _meta(svc).get("namespace")},
    }  # fmt: skip
    m = new["metadata"]
    annotations = dict(m.get("annotations") or {})
    if truncated:
        annotations[ENDPOINTS_OVER_CAPACITY] = TRUNCATED
    else:
        annotations.pop(ENDPOINTS_OVER_CAPACITY, None)
    if annotations:
        m["annotations"] = annotations
    else:
        m.pop("annotations", None)
    if is_headless(svc) or not spec_of(svc).get("clusterIP"):
        labels[HEADLESS_LABEL] = ""
    m["labels"] = labels
    new["subsets"] = subsets
    return new
