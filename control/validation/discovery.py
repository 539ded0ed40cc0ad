"""Validation and defaults of discovery.k8s.io/v1 EndpointSlice (pkg/apis/discovery/validation)
and core/v1 Endpoints (ValidateEndpoints in pkg/apis/core/validation), with Kubernetes'
messages; registers their schemas and validators with control.validation. Objects are validated
as defaulted, as the API server defaults first. Pure: no I/O.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import (
    duplicate,
    invalid,
    not_supported,
    required,
    too_many,
    validate_labels,
)
from control.validation.decode import register_schema
from control.validation.dispatch import register_validator
from control.validation.meta import (
    FIELD_IMMUTABLE,
    validate_object_meta,
    validate_object_meta_update,
)
from control.validation.schema_discovery import EndpointSlice
from control.validation.schema_endpoints import Endpoints

Obj = Mapping[str, Any]

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")  # sorted, as sets.List prints them
PROTOCOLS = ("SCTP", "TCP", "UDP")
DEFAULT_PROTOCOL = "TCP"
# Limits of an EndpointSlice (pkg/apis/discovery/validation).
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 20000
MAX_TOPOLOGY_LABELS = 16
MAX_ZONE_HINTS = 8
LEGACY_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- defaults ------------------------------------------------------------------------------------


def default_endpoint_slice(obj: dict[str, Any]) -> None:
    """SetDefaults_EndpointPort: a port's name defaults to "" and its protocol to TCP."""
    for port in _list(obj.get("ports")):
        if isinstance(port, dict):
            port.setdefault("name", "")
            if port.get("protocol") is None:
                port["protocol"] = DEFAULT_PROTOCOL


def default_endpoints(obj: dict[str, Any]) -> None:
    """SetDefaults_Endpoints: each port's protocol defaults to TCP."""
    for subset in _list(obj.get("subsets")):
        for port in _list(_dict(subset).get("ports")):
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = DEFAULT_PROTOCOL


# -- shared checks -------------------------------------------------------------------------------


def _label(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, m) for m in names.is_dns1123_label(value)]


def _qualified(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, m) for m in names.is_qualified_name(value)]


def _node_name(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, m) for m in names.name_is_dns_subdomain(value)]


def _link_local_multicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.version == 4:
        return ip in ipaddress.IPv4Network("224.0.0.0/24")
    return (int(ip) >> 112) & 0xFF0F == 0xFF02


def endpoint_ip_causes(value: str, path: str) -> list[Cause]:
    """ValidateEndpointIP: no unspecified, loopback or link-local address (assumed parsed)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return []
    causes: list[Cause] = []
    if ip.is_unspecified:
        causes.append(invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        causes.append(
            invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
        )
    if ip.is_link_local:
        causes.append(
            invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    if _link_local_multicast(ip):
        causes.append(
            invalid(
                path,
                value,
                "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
            )
        )
    return causes


def _ip_of_version(value: str, version: int, path: str) -> list[Cause]:
    try:
        ok = ipaddress.ip_address(value).version == version
    except ValueError:
        ok = False
    if not ok:
        return [invalid(path, value, f"must be a valid IPv{version} address")]
    return endpoint_ip_causes(value, path)


def _fqdn(value: str, path: str) -> list[Cause]:
    """IsFullyQualifiedDomainName."""
    if not value:
        return [required(path)]
    name = value[:-1] if value.endswith(".") else value
    msgs = names.is_dns1123_subdomain(name)
    if msgs:
        return [invalid(path, name, ",".join(msgs))]
    if len(name.split(".")) < 2:
        return [
            invalid(path, name, "should be a domain with at least two segments separated by dots")
        ]
    for part in name.split("."):
        msgs = names.is_dns1123_label(part)
        if msgs:
            return [invalid(path, part, ",".join(msgs))]
    return []


_ADDRESS_CHECKS: dict[str, Callable[[str, str], list[Cause]]] = {
    "IPv4": lambda v, p: _ip_of_version(v, 4, p),
    "IPv6": lambda v, p: _ip_of_version(v, 6, p),
    "FQDN": _fqdn,
}


def _meta(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_object_meta(obj.get("metadata"), True, names.name_is_dns_subdomain)
    if old is None:
        return causes
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata")) + causes


# -- EndpointSlice -------------------------------------------------------------------------------


def _validate_hints(hints: Obj, path: str) -> list[Cause]:
    zones = _list(hints.get("forZones"))
    if len(zones) > MAX_ZONE_HINTS:
        return [too_many(f"{path}.forZones", len(zones), MAX_ZONE_HINTS)]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, zone in enumerate(zones):
        name, zpath = str(_dict(zone).get("name") or ""), f"{path}.forZones[{i}].name"
        if name in seen:
            causes.append(duplicate(zpath, name))
        seen.add(name)
        causes.extend(invalid(zpath, name, m) for m in names.is_label_value(name))
    return causes


def _validate_endpoint(ep: Obj, address_type: str, path: str) -> list[Cause]:
    causes: list[Cause] = []
    addresses, apath = _list(ep.get("addresses")), f"{path}.addresses"
    if not addresses:
        causes.append(required(apath, "must contain at least 1 address"))
    elif len(addresses) > MAX_ADDRESSES:
        causes.append(too_many(apath, len(addresses), MAX_ADDRESSES))
    check = _ADDRESS_CHECKS.get(address_type)
    for i, address in enumerate(addresses):
        if check is not None:
            causes.extend(check(str(address), f"{apath}[{i}]"))
    if ep.get("nodeName") is not None:
        causes.extend(_node_name(str(ep["nodeName"]), f"{path}.nodeName"))
    topology, tpath = _dict(ep.get("deprecatedTopology")), f"{path}.deprecatedTopology"
    if len(topology) > MAX_TOPOLOGY_LABELS:
        causes.append(too_many(tpath, len(topology), MAX_TOPOLOGY_LABELS))
    causes.extend(validate_labels(topology, tpath))
    if ep.get("hostname") is not None:
        causes.extend(_label(str(ep["hostname"]), f"{path}.hostname"))
    if ep.get("hints") is not None:
        causes.extend(_validate_hints(_dict(ep["hints"]), f"{path}.hints"))
    return causes


def _validate_slice_ports(ports: list[Any]) -> list[Cause]:
    if len(ports) > MAX_PORTS:
        return [too_many("ports", len(ports), MAX_PORTS)]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port, path = _dict(port), f"ports[{i}]"
        name = str(port.get("name") or "")
        if name:
            causes.extend(_label(name, f"{path}.name"))
        if name in seen:
            causes.append(duplicate(f"{path}.name", name))
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            causes.append(required(f"{path}.protocol"))
        elif protocol not in PROTOCOLS:
            causes.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
        if port.get("appProtocol") is not None:
            causes.extend(_qualified(str(port["appProtocol"]), f"{path}.appProtocol"))
    return causes


def validate_endpoint_slice(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """ValidateEndpointSlice (and, on update, an immutable ``addressType``)."""
    defaulted = copy.deepcopy(dict(obj))
    default_endpoint_slice(defaulted)
    causes = _meta(defaulted, old)
    address_type = str(defaulted.get("addressType") or "")
    if not address_type:
        causes.append(required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        causes.append(not_supported("addressType", address_type, ADDRESS_TYPES))
    endpoints = _list(defaulted.get("endpoints"))
    if len(endpoints) > MAX_ENDPOINTS:
        causes.append(too_many("endpoints", len(endpoints), MAX_ENDPOINTS))
    else:
        for i, ep in enumerate(endpoints):
            causes.extend(_validate_endpoint(_dict(ep), address_type, f"endpoints[{i}]"))
    causes.extend(_validate_slice_ports(_list(defaulted.get("ports"))))
    if old is not None and address_type != (old.get("addressType") or ""):
        causes.append(invalid("addressType", address_type, FIELD_IMMUTABLE))
    return causes


# -- Endpoints -----------------------------------------------------------------------------------


def _validate_address(address: Obj, path: str) -> list[Cause]:
    ip = str(address.get("ip") or "")
    try:
        ipaddress.ip_address(ip)
        causes = []
    except ValueError:
        causes = [invalid(f"{path}.ip", ip, LEGACY_IP)]
    if address.get("hostname"):
        causes.extend(_label(str(address["hostname"]), f"{path}.hostname"))
    if address.get("nodeName") is not None:
        causes.extend(_node_name(str(address["nodeName"]), f"{path}.nodeName"))
    return causes + endpoint_ip_causes(ip, f"{path}.ip")


def _validate_port(port: Obj, require_name: bool, path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = str(port.get("name") or "")
    if require_name and not name:
        causes.append(required(f"{path}.name"))
    elif name:
        causes.extend(_label(name, f"{path}.name"))
    number = port.get("port")
    number = number if isinstance(number, int) else 0
    causes.extend(invalid(f"{path}.port", number, m) for m in names.is_valid_port_num(number))
    protocol = port.get("protocol") or ""
    if not protocol:
        causes.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        causes.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    if port.get("appProtocol") is not None:
        causes.extend(_qualified(str(port["appProtocol"]), f"{path}.appProtocol"))
    return causes


def _validate_subset(subset: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    ready, not_ready = _list(subset.get("addresses")), _list(subset.get("notReadyAddresses"))
    if not ready and not not_ready:
        causes.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
    for i, address in enumerate(ready):
        causes.extend(_validate_address(_dict(address), f"{path}.addresses[{i}]"))
    for i, address in enumerate(not_ready):
        causes.extend(_validate_address(_dict(address), f"{path}.notReadyAddresses[{i}]"))
    ports = _list(subset.get("ports"))
    for i, port in enumerate(ports):
        causes.extend(_validate_port(_dict(port), len(ports) > 1, f"{path}.ports[{i}]"))
    return causes


def validate_endpoints(obj: Obj, old: Obj | None = None) -> list[Cause]:
    """ValidateEndpoints (create) and ValidateEndpointsUpdate."""
    defaulted = copy.deepcopy(dict(obj))
    default_endpoints(defaulted)
    causes = _meta(defaulted, old)
    for i, subset in enumerate(_list(defaulted.get("subsets"))):
        causes.extend(_validate_subset(_dict(subset), f"subsets[{i}]"))
    return causes


register_schema("EndpointSlice", EndpointSlice)
register_schema("Endpoints", Endpoints)
register_validator("EndpointSlice", validate_endpoint_slice)
register_validator("Endpoints", validate_endpoints)
