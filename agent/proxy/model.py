"""What kube-proxy reads from the API, reduced to what the rules need: one ``ServicePort`` per port
of each proxied Service (v1) and its ``Endpoint``s from the Service's EndpointSlices
(discovery.k8s.io/v1), sorted into the sets each traffic policy uses, as kube-proxy's
``ServicePortMap``/``EndpointsMap`` and ``CategorizeEndpoints`` do. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common.wellknown import SLICE_SERVICE_LABEL

Obj = Mapping[str, Any]

# Kubernetes' default ClientIP affinity timeout (v1.DefaultClientIPServiceAffinitySeconds: 3 h).
DEFAULT_AFFINITY_SECONDS = 10800


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP, UDP or SCTP
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    affinity_seconds: int = 0  # ClientIP session affinity: 0 means none
    internal_local: bool = False  # internalTrafficPolicy: Local
    external_local: bool = False  # externalTrafficPolicy: Local

    @property
    def key(self) -> str:
        """kube-proxy's ServicePortName.String(): ``ns/name:port``, or ``ns/name`` unnamed."""
        return f"{self.namespace}/{self.name}" + (f":{self.port_name}" if self.port_name else "")

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def external_policy_local(self) -> bool:
        return self.external_local and self.externally_accessible

    @property
    def uses_cluster_endpoints(self) -> bool:
        return not self.internal_local or (
            self.externally_accessible and not self.external_policy_local
        )

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_local or self.external_policy_local


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node: str = ""

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Categorized:
    """The endpoints a Service port's traffic may reach from this node (CategorizeEndpoints)."""

    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    reachable: tuple[Endpoint, ...]  # every endpoint a SVC/SVL chain names: they get SEP chains
    has_any: bool


def _ipv4(ip: object) -> bool:
    return isinstance(ip, str) and bool(ip) and ":" not in ip and ip != "None"


def service_ports(service: Obj) -> list[ServicePort]:
    """The ports kube-proxy programs for a Service: none for a headless or ExternalName one."""
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    cluster_ip = spec.get("clusterIP")
    if spec.get("type") == "ExternalName" or not _ipv4(cluster_ip):
        return []
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    lb_ips = tuple(str(i["ip"]) for i in ingress if isinstance(i, dict) and _ipv4(i.get("ip")))
    out = []
    for port in spec.get("ports") or []:
        out.append(
            ServicePort(
                namespace=str(meta.get("namespace") or "default"),
                name=str(meta.get("name") or ""),
                port_name=str(port.get("name") or ""),
                protocol=str(port.get("protocol") or "TCP").upper(),
                cluster_ip=str(cluster_ip),
                port=int(port["port"]),
                node_port=int(port.get("nodePort") or 0),
                external_ips=tuple(str(ip) for ip in spec.get("externalIPs") or [] if _ipv4(ip)),
                load_balancer_ips=lb_ips if spec.get("type") == "LoadBalancer" else (),
                affinity_seconds=affinity,
                internal_local=spec.get("internalTrafficPolicy") == "Local",
                external_local=spec.get("externalTrafficPolicy") == "Local",
            )
        )
    return out


def slice_service(slice_: Obj) -> tuple[str, str] | None:
    """``(namespace, service name)`` of an EndpointSlice, from its service-name label."""
    meta = slice_.get("metadata") or {}
    name = (meta.get("labels") or {}).get(SLICE_SERVICE_LABEL)
    return (str(meta.get("namespace") or "default"), str(name)) if name else None


def _condition(conditions: Mapping[str, Any], name: str, default: bool) -> bool:
    value = conditions.get(name)
    return default if value is None else bool(value)


def endpoints_of(sp: ServicePort, slices: Iterable[Obj]) -> list[Endpoint]:
    """The endpoints of one Service port in its slices: the slice port of the same name and
    protocol, each endpoint's first address (kube-proxy's rule), sorted, no duplicates."""
    found: dict[str, Endpoint] = {}
    for s in slices:
        if slice_service(s) != (sp.namespace, sp.name) or s.get("addressType", "IPv4") != "IPv4":
            continue
        ports = [
            p
            for p in s.get("ports") or []
            if str(p.get("name") or "") == sp.port_name
            and str(p.get("protocol") or "TCP").upper() == sp.protocol
            and p.get("port") is not None
        ]
        for p in ports:
            for ep in s.get("endpoints") or []:
                addresses = [a for a in ep.get("addresses") or [] if _ipv4(a)]
                if not addresses:
                    continue
                cond = ep.get("conditions") or {}
                ready = _condition(cond, "ready", True)  # nil means ready (the API's rule)
                e = Endpoint(
                    ip=addresses[0],
                    port=int(p["port"]),
                    ready=ready,
                    serving=_condition(cond, "serving", ready),
                    terminating=_condition(cond, "terminating", False),
                    node=str(ep.get("nodeName") or ""),
                )
                found.setdefault(e.address, e)
    return sorted(found.values(), key=lambda e: (_ip_key(e.ip), e.port))


def _ip_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in ip.split("."))
    except ValueError:
        return (1 << 16,)


def _usable(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Ready endpoints; if none, the serving terminating ones (ProxyTerminatingEndpoints)."""
    eps = tuple(endpoints)
    ready = tuple(e for e in eps if e.ready)
    return ready or tuple(e for e in eps if e.serving and e.terminating)


def categorize(
    sp: ServicePort, endpoints: Iterable[Endpoint], local_nodes: frozenset[str]
) -> Categorized:
    eps = tuple(endpoints)
    cluster = _usable(eps) if sp.uses_cluster_endpoints else ()
    local = _usable(e for e in eps if e.node in local_nodes) if sp.uses_local_endpoints else ()
    has_any = bool(_usable(eps))
    reachable = tuple(sorted(set(cluster) | set(local), key=lambda e: (_ip_key(e.ip), e.port)))
    return Categorized(cluster, local, reachable, has_any)
