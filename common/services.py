"""Services (core/v1): the defaults kube-apiserver gives them (SetDefaults_Service and the
REST layer's ClusterIP/ipFamily normalisation) and the predicates every part of tinykube asks of
one (headless, needs a ClusterIP, needs node ports, externally accessible). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
EXTERNAL_NAME = "ExternalName"
TYPES = (CLUSTER_IP, EXTERNAL_NAME, LOAD_BALANCER, NODE_PORT)
NONE = "None"  # spec.clusterIP of a headless Service
SINGLE_STACK = "SingleStack"
PREFER_DUAL_STACK = "PreferDualStack"
REQUIRE_DUAL_STACK = "RequireDualStack"
IPV4, IPV6 = "IPv4", "IPv6"

Obj = dict[str, Any]


def spec_of(svc: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = svc.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def service_type(svc: Mapping[str, Any]) -> str:
    return str(spec_of(svc).get("type") or CLUSTER_IP)


def is_headless(svc: Mapping[str, Any]) -> bool:
    """``clusterIPs == ["None"]`` (after normalisation, ``clusterIP: None`` alone too)."""
    spec = spec_of(svc)
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return list(ips) == [NONE]


def needs_cluster_ip(svc: Mapping[str, Any]) -> bool:
    """Every type but ExternalName gets a ClusterIP (unless headless)."""
    return service_type(svc) != EXTERNAL_NAME


def needs_node_ports(svc: Mapping[str, Any]) -> bool:
    """NodePort Services, and LoadBalancer ones unless allocateLoadBalancerNodePorts is false."""
    kind = service_type(svc)
    if kind == NODE_PORT:
        return True
    return kind == LOAD_BALANCER and spec_of(svc).get("allocateLoadBalancerNodePorts") is not False


def externally_accessible(svc: Mapping[str, Any]) -> bool:
    """apiservice.ExternallyAccessible: LoadBalancer, NodePort, or ClusterIP with externalIPs."""
    kind = service_type(svc)
    if kind in (LOAD_BALANCER, NODE_PORT):
        return True
    return kind == CLUSTER_IP and bool(spec_of(svc).get("externalIPs"))


def default_service(svc: Obj) -> None:
    """SetDefaults_Service (k8s.io/kubernetes/pkg/apis/core/v1/defaults.go), in place."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        spec = svc["spec"] = {}
    _default_affinity(spec)
    for key in ("clusterIP", "clusterIPs", "externalName"):
        if key in spec and not spec[key]:
            del spec[key]  # Go's omitempty: an empty value is no value
    if not spec.get("type"):
        spec["type"] = CLUSTER_IP
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            if not port.get("protocol"):
                port["protocol"] = "TCP"
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port", 0)
    if externally_accessible(svc) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] != EXTERNAL_NAME:
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True


def _default_affinity(spec: Obj) -> None:
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig") or {}
        spec["sessionAffinityConfig"] = config
        client_ip = config.get("clientIP") or {}
        config["clientIP"] = client_ip
        client_ip.setdefault("timeoutSeconds", 10800)  # v1.DefaultClientIPServiceAffinitySeconds


def normalize_cluster_ips(new: Obj, old: Mapping[str, Any] | None) -> None:
    """NormalizeClusterIPs (pkg/registry/core/service/strategy.go): keep ``clusterIP`` and
    ``clusterIPs`` in step for clients that set only one of them."""
    spec = new.setdefault("spec", {})
    ip, ips = spec.get("clusterIP") or "", list(spec.get("clusterIPs") or [])
    if old is None:
        if ip and not ips:
            spec["clusterIPs"] = [ip]
        return
    ospec = spec_of(old)
    old_ip, old_ips = ospec.get("clusterIP") or "", list(ospec.get("clusterIPs") or [])
    if old_ips and not ips and old_ip == ip:
        spec["clusterIPs"] = ips = old_ips
    if old_ip != ip:
        if old_ip and not ip and ips == old_ips:
            spec.pop("clusterIPs", None)
        if ip and ips == old_ips:
            spec["clusterIPs"] = [ip]


def keep_allocated(new: Obj, old: Mapping[str, Any]) -> None:
    """patchAllocatedValues (pkg/registry/core/service/storage): an update that leaves out the
    ClusterIP or a node port (``kubectl apply`` of the original manifest) keeps the old ones."""
    spec, ospec = new.setdefault("spec", {}), spec_of(old)
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        if not spec.get("clusterIP") and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        if not spec.get("clusterIPs") and ospec.get("clusterIPs"):
            spec["clusterIPs"] = list(ospec["clusterIPs"])
    if needs_node_ports(old) and needs_node_ports(new):
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        used = {p.get("nodePort") for p in ports if p.get("nodePort")}
        by_name = {p.get("name") or "": p.get("nodePort") for p in ospec.get("ports") or []}
        for p in ports:
            previous = by_name.get(p.get("name") or "")
            if not p.get("nodePort") and previous and previous not in used:
                p["nodePort"] = previous
    keep_health = _needs_health_check(old) and _needs_health_check(new)
    if keep_health and not spec.get("healthCheckNodePort") and ospec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = ospec["healthCheckNodePort"]


def _needs_health_check(svc: Mapping[str, Any]) -> bool:
    return (
        service_type(svc) == LOAD_BALANCER and spec_of(svc).get("externalTrafficPolicy") == "Local"
    )


def default_ip_families(svc: Obj) -> None:
    """The ipFamilyPolicy and ipFamilies kube-apiserver's allocator fills in on an IPv4
    single-stack cluster: SingleStack/[IPv4], except a headless Service without a selector,
    which gets RequireDualStack/[IPv4, IPv6]. ExternalName Services get neither."""
    if not needs_cluster_ip(svc):
        return
    spec = svc.setdefault("spec", {})
    if is_headless(svc) and not spec.get("selector"):
        spec.setdefault("ipFamilyPolicy", REQUIRE_DUAL_STACK)
        families = list(spec.get("ipFamilies") or [IPV4])
        if spec["ipFamilyPolicy"] != SINGLE_STACK and len(families) == 1:
            families.append(IPV6 if families[0] == IPV4 else IPV4)
        spec["ipFamilies"] = families
        return
    if not spec.get("ipFamilyPolicy"):
        spec["ipFamilyPolicy"] = SINGLE_STACK
    if not spec.get("ipFamilies"):
        spec["ipFamilies"] = [IPV4]


def _node_ports(spec: Mapping[str, Any]) -> list[Any]:
    return [p.get("nodePort") for p in spec.get("ports") or [] if isinstance(p, Mapping)]


def drop_type_dependent_fields(new: Obj, old: Mapping[str, Any]) -> None:
    """dropTypeDependentFields (pkg/registry/core/service/strategy.go): a type change wipes the
    values the old type had filled in, when the client left them as they were."""
    spec, ospec = new.setdefault("spec", {}), spec_of(old)

    def drop(*keys: str) -> None:
        for key in keys:
            if spec.get(key) == ospec.get(key):
                spec.pop(key, None)

    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if spec.get("clusterIPs") == ospec.get("clusterIPs"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        drop("ipFamilies", "ipFamilyPolicy")
    same_ports = _node_ports(spec) == _node_ports(ospec)
    if needs_node_ports(old) and not needs_node_ports(new) and same_ports:
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.pop("nodePort", None)
    if _needs_health_check(old) and not _needs_health_check(new):
        drop("healthCheckNodePort")
    if service_type(old) == LOAD_BALANCER and service_type(new) != LOAD_BALANCER:
        drop("allocateLoadBalancerNodePorts", "loadBalancerClass")
    if externally_accessible(old) and not externally_accessible(new):
        drop("externalTrafficPolicy")
