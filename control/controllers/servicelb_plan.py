"""What k3s's ServiceLB gives a LoadBalancer Service on a small cluster: the addresses of the
Ready nodes (ExternalIP, else InternalIP) as ``status.loadBalancer.ingress``, the traffic reaching
them on the Service's port through the node ports kube-proxy opens on every node. Services with
a ``loadBalancerClass`` belong to another implementation and are left alone. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from common import conditions
from common.services import LOAD_BALANCER
from common.wellknown import READY

Obj = dict[str, Any]
# kube-apiserver's default ipMode of an ingress with an IP (LoadBalancerIPMode, GA in 1.32).
IP_MODE = "VIP"


def _m(obj: object, key: str) -> Mapping[str, Any]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def node_address(node: Mapping[str, Any]) -> str:
    """The address ServiceLB advertises for a node: its ExternalIP, else its InternalIP."""
    found = {a.get("type"): a.get("address") for a in _m(node, "status").get("addresses") or []}
    return str(found.get("ExternalIP") or found.get("InternalIP") or "")


def handled(svc: Mapping[str, Any]) -> bool:
    spec = _m(svc, "spec")
    return spec.get("type") == LOAD_BALANCER and not spec.get("loadBalancerClass")


def ingress_of(nodes: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The Ready nodes' addresses, each once, sorted."""
    addresses = sorted({node_address(n) for n in nodes if conditions.is_true(n, READY)} - {""})
    return [{"ip": ip, "ipMode": IP_MODE} for ip in addresses]


def planned_status(svc: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]]) -> Obj | None:
    """The Service's status with its ingress set, or None when it is not ServiceLB's."""
    if not handled(svc):
        return None
    status = dict(_m(svc, "status"))
    status["loadBalancer"] = {"ingress": ingress_of(nodes)} if ingress_of(nodes) else {}
    return status
