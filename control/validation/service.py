"""Validation of core/v1 Service as pkg/apis/core/validation does it (ValidateService,
ValidateServiceUpdate, ValidateServiceClusterIPsRelatedFields); registers its schema and
validator with control.validation. Objects are validated as defaulted, as the API server
defaults first. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import (
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    validate_labels,
)
from common.services import (
    CLUSTER_IP,
    EXTERNAL_NAME,
    LOAD_BALANCER,
    NODE_PORT,
    TYPES,
    externally_accessible,
    is_headless,
)
from control.validation.container import PROTOCOLS, _validate_port_num_or_name
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import validate_object_meta, validate_object_meta_update
from control.validation.schema_service import Service

Obj = Mapping[str, Any]

AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
TRAFFIC_DISTRIBUTIONS = ("PreferClose",)
MAX_AFFINITY_SECONDS = 86400  # core.MaxClientIPServiceAffinitySeconds
KUBELET_PORT = 10250  # ports.KubeletPort: never exposed by a LoadBalancer
IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ip_version(value: str) -> int | None:
    """4 or 6 for an IP in canonical form, None for anything else (leading zeros included)."""
    try:
        return ipaddress.ip_address(value).version
    except ValueError:
        return None


def _validate_port(port: Obj, require_name: bool, seen: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = port.get("name") or ""
    if require_name and not name:
        causes.append(required(f"{path}.name"))
    elif name:
        causes.extend(invalid(f"{path}.name", name, m) for m in names.is_dns1123_label(name))
        if name in seen:
            causes.append(duplicate(f"{path}.name", name))
        seen.add(name)
    number = port.get("port") or 0
    causes.extend(invalid(f"{path}.port", number, m) for m in names.is_valid_port_num(number))
    protocol = port.get("protocol")
    if not protocol:
        causes.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        causes.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    causes.extend(_validate_port_num_or_name(port.get("targetPort"), f"{path}.targetPort"))
    app_protocol = port.get("appProtocol")
    if app_protocol is not None:
        causes.extend(
            invalid(f"{path}.appProtocol", app_protocol, m)
            for m in names.is_qualified_name(app_protocol)
        )
    return causes


def _validate_type(svc: Obj, spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    kind = spec.get("type")
    headless = is_headless(svc)
    ips = _list(spec.get("clusterIPs"))
    if kind in (LOAD_BALANCER, NODE_PORT) and headless:
        causes.append(
            invalid("spec.clusterIPs[0]", ips[0], f"may not be set to 'None' for {kind} services")
        )
    if kind == LOAD_BALANCER:
        for i, port in enumerate(_list(spec.get("ports"))):
            if _dict(port).get("port") == KUBELET_PORT:
                causes.append(
                    invalid(f"spec.ports[{i}]", KUBELET_PORT,
                            f"may not expose port {KUBELET_PORT} externally since it is used "
                            "by kubelet")
                )  # fmt: skip
    if kind == EXTERNAL_NAME:
        causes.extend(_validate_external_name(spec))
    return causes


def _validate_external_name(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    reason = "may not be set for ExternalName services"
    if spec.get("clusterIPs"):
        causes.append(forbidden("spec.clusterIPs", reason))
    if spec.get("ipFamilies"):
        causes.append(forbidden("spec.ipFamilies", reason))
    if spec.get("ipFamilyPolicy") is not None:
        causes.append(forbidden("spec.ipFamilyPolicy", reason))
    cname = str(spec.get("externalName") or "").removesuffix(".")
    if cname:
        causes.extend(
            invalid("spec.externalName", cname, m) for m in names.is_dns1123_subdomain(cname)
        )
    else:
        causes.append(required("spec.externalName"))
    return causes


def _validate_affinity(spec: Obj) -> list[Cause]:
    affinity = spec.get("sessionAffinity")
    path = "spec.sessionAffinityConfig"
    if not affinity:
        return [required("spec.sessionAffinity")]
    if affinity not in AFFINITIES:
        return [not_supported("spec.sessionAffinity", affinity, AFFINITIES)]
    config = spec.get("sessionAffinityConfig")
    if affinity == "None":
        return [forbidden(path, "must not be set when session affinity is None")] if config else []
    when = "when session affinity type is ClientIP"
    if config is None:
        return [required(path, when)]
    client_ip = _dict(config).get("clientIP")
    if client_ip is None:
        return [required(f"{path}.clientIP", when)]
    timeout = _dict(client_ip).get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", when)]
    if timeout <= 0 or timeout > MAX_AFFINITY_SECONDS:
        message = f"must be greater than 0 and less than {MAX_AFFINITY_SECONDS}"
        return [invalid(f"{path}.clientIP.timeoutSeconds", timeout, message)]
    return []


def _validate_families(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, family in enumerate(_list(spec.get("ipFamilies"))):
        if family not in IP_FAMILIES:
            causes.append(not_supported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES))
        if family in seen:
            causes.append(duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        causes.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    return causes


def _validate_ip_list(ips: list[str]) -> tuple[list[Cause], bool]:
    """The clusterIPs one by one; whether one of them is not an IP (or a misplaced None)."""
    causes: list[Cause] = []
    bad = False
    for i, value in enumerate(ips):
        if i == 0 and value == "None":
            if len(ips) > 1:
                bad = True
                causes.append(
                    invalid("spec.clusterIPs", ips, "'None' must be the first and only value")
                )
        elif _ip_version(value) is None:
            bad = True
            causes.append(invalid(f"spec.clusterIPs[{i}]", value, IP_MESSAGE))
    if len(ips) > 2:
        causes.append(invalid("spec.clusterIPs", ips, "may only hold up to 2 values"))
    return causes, bad


def validate_cluster_ips(svc: Obj) -> list[Cause]:
    """ValidateServiceClusterIPsRelatedFields: clusterIP, clusterIPs, ipFamilies, policy."""
    spec = _dict(svc.get("spec"))
    if spec.get("type") == EXTERNAL_NAME:
        return []
    causes: list[Cause] = []
    ip, ips = spec.get("clusterIP") or "", [str(x) for x in _list(spec.get("clusterIPs"))]
    if ip and not ips:
        causes.append(required("spec.clusterIPs"))
    elif ip and ips[0] != ip:
        causes.append(invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    elif not ip and ips:
        causes.append(
            invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified")
        )
    causes.extend(_validate_families(spec))
    listed, bad = _validate_ip_list(ips)
    causes.extend(listed)
    if bad:
        return causes
    if len(ips) > 1 and len({_ip_version(x) for x in ips}) != len(ips):
        causes.append(
            invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family")
        )
    families = _list(spec.get("ipFamilies"))
    if not is_headless(svc):
        for i, value in enumerate(ips[: len(families)]):
            want = {"IPv4": 4, "IPv6": 6}.get(families[i])
            if want and _ip_version(value) != want:
                message = f"expected an {families[i]} value as indicated by `ipFamilies[{i}]`"
                causes.append(invalid(f"spec.clusterIPs[{i}]", value, message))
    return causes


def _validate_duplicates(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    node_ports: set[tuple[str, int]] = set()
    ports: set[tuple[str, int]] = set()
    for i, port in enumerate(_list(spec.get("ports"))):
        port = _dict(port)
        protocol = str(port.get("protocol") or "")
        node_port = port.get("nodePort") or 0
        if node_port:
            if (protocol, node_port) in node_ports:
                causes.append(duplicate(f"spec.ports[{i}].nodePort", node_port))
            node_ports.add((protocol, node_port))
        key = (protocol, port.get("port") or 0)
        if key in ports:
            # Go prints the ServicePort key struct with %v.
            shown = {"name": "", "protocol": protocol, "port": key[1], "targetPort": 0,
                     "nodePort": 0}  # fmt: skip
            causes.append(duplicate(f"spec.ports[{i}]", shown))
        ports.add(key)
    return causes


def _validate_external(svc: Obj, spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    for i, ip in enumerate(_list(spec.get("externalIPs"))):
        if _ip_version(str(ip)) is None:
            causes.append(invalid(f"spec.externalIPs[{i}]", ip, IP_MESSAGE))
    kind = spec.get("type")
    ranges = _list(spec.get("loadBalancerSourceRanges"))
    if ranges:
        if kind != LOAD_BALANCER:
            causes.append(
                forbidden("spec.LoadBalancerSourceRanges",
                          "may only be used when `type` is 'LoadBalancer'")
            )  # fmt: skip
        for i, value in enumerate(ranges):
            try:
                ipaddress.ip_network(str(value).strip(), strict=False)
            except ValueError:
                causes.append(
                    invalid(f"spec.LoadBalancerSourceRanges[{i}]", str(value).strip(),
                            CIDR_MESSAGE)
                )  # fmt: skip
    lb_only = "may only be used when `type` is 'LoadBalancer'"
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != LOAD_BALANCER:
        causes.append(forbidden("spec.allocateLoadBalancerNodePorts", lb_only))
    if kind == LOAD_BALANCER and spec.get("allocateLoadBalancerNodePorts") is None:
        causes.append(required("allocateLoadBalancerNodePorts"))
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if kind != LOAD_BALANCER:
            causes.append(forbidden("spec.loadBalancerClass", lb_only))
        else:
            causes.extend(
                invalid("spec.loadBalancerClass", lb_class, m)
                for m in names.is_qualified_name(lb_class)
            )
    return causes + _validate_traffic(svc, spec)


def _validate_traffic(svc: Obj, spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    policy = spec.get("externalTrafficPolicy") or ""
    if not externally_accessible(svc):
        if policy:
            causes.append(
                invalid("spec.externalTrafficPolicy", policy,
                        "may only be set for externally-accessible services")
            )  # fmt: skip
    elif not policy:
        causes.append(required("spec.externalTrafficPolicy"))
    elif policy not in TRAFFIC_POLICIES:
        causes.append(not_supported("spec.externalTrafficPolicy", policy, TRAFFIC_POLICIES))
    health = spec.get("healthCheckNodePort") or 0
    if not (spec.get("type") == LOAD_BALANCER and policy == "Local"):
        if health:
            causes.append(
                invalid("spec.healthCheckNodePort", health,
                        "may only be set when `type` is 'LoadBalancer' and "
                        "`externalTrafficPolicy` is 'Local'")
            )  # fmt: skip
    elif not health:
        causes.append(required("spec.healthCheckNodePort"))
    else:
        causes.extend(
            invalid("spec.healthCheckNodePort", health, m) for m in names.is_valid_port_num(health)
        )
    internal = spec.get("internalTrafficPolicy")
    if internal is None and spec.get("type") in (NODE_PORT, LOAD_BALANCER, CLUSTER_IP):
        causes.append(required("spec.internalTrafficPolicy"))
    if internal is not None and internal not in TRAFFIC_POLICIES:
        causes.append(not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution not in TRAFFIC_DISTRIBUTIONS:
        causes.append(
            not_supported("spec.trafficDistribution", distribution, TRAFFIC_DISTRIBUTIONS)
        )
    return causes


def validate_service_spec(svc: Obj) -> list[Cause]:
    """ValidateService without its metadata part."""
    spec = _dict(svc.get("spec"))
    causes: list[Cause] = []
    ports = [_dict(p) for p in _list(spec.get("ports"))]
    kind = spec.get("type")
    if not ports and not is_headless(svc) and kind != EXTERNAL_NAME:
        causes.append(required("spec.ports"))
    causes.extend(_validate_type(svc, spec))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        causes.extend(_validate_port(port, len(ports) > 1, seen, f"spec.ports[{i}]"))
    if spec.get("selector") is not None:
        causes.extend(validate_labels(_dict(spec.get("selector")), "spec.selector"))
    causes.extend(_validate_affinity(spec))
    causes.extend(validate_cluster_ips(svc))
    if not kind:
        causes.append(required("spec.type"))
    elif kind not in TYPES:
        causes.append(not_supported("spec.type", kind, TYPES))
    if kind == CLUSTER_IP:
        causes.extend(
            forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
            for i, port in enumerate(ports)
            if port.get("nodePort")
        )
    causes.extend(_validate_duplicates(spec))
    return causes + _validate_external(svc, spec)


def _validate_update(svc: Obj, old: Obj) -> list[Cause]:
    """validateUpgradeDowngradeClusterIPs/IPFamilies and the immutable fields of an update."""
    spec, ospec = _dict(svc.get("spec")), _dict(old.get("spec"))
    if EXTERNAL_NAME in (spec.get("type"), ospec.get("type")):
        return []
    causes: list[Cause] = []
    if not (is_headless(svc) and is_headless(old)):
        ips, old_ips = _list(spec.get("clusterIPs")), _list(ospec.get("clusterIPs"))
        if len(ips) == len(old_ips):
            causes.extend(
                invalid(f"spec.clusterIPs[{i}]", ips, "may not change once set")
                for i, ip in enumerate(old_ips)
                if ip != ips[i]
            )
        elif len(old_ips) > len(ips) and not ips:
            causes.append(invalid("spec.clusterIPs[0]", ips, "primary clusterIP can not be unset"))
        elif old_ips and ips and ips[0] != old_ips[0]:
            causes.append(invalid("spec.clusterIPs[0]", ips, "may not change once set"))
    if is_headless(svc) == is_headless(old) and not is_headless(svc):
        families, old_families = _list(spec.get("ipFamilies")), _list(ospec.get("ipFamilies"))
        if len(families) == len(old_families) and families != old_families:
            causes.append(invalid("spec.ipFamilies[0]", families, "may not change once set"))
    both_lb = spec.get("type") == LOAD_BALANCER == ospec.get("type")
    if both_lb and spec.get("loadBalancerClass") != ospec.get("loadBalancerClass"):
        causes.append(
            invalid("spec.loadBalancerClass", spec.get("loadBalancerClass"),
                    "may not change once set")
        )  # fmt: skip
    return causes


def validate_service(svc: Obj, old: Obj | None = None) -> list[Cause]:
    if old is None:
        causes = validate_object_meta(svc.get("metadata"), True, names.name_is_dns1035_label)
    else:
        causes = validate_object_meta_update(svc.get("metadata"), old.get("metadata"))
        causes.extend(_validate_update(svc, old))
    return causes + validate_service_spec(svc)


register_schema("Service", Service)
register_validator("Service", validate_service)
