"""What a Service's endpoints take from its pods, as Kubernetes' endpoint utilities do
(staging/src/k8s.io/endpointslice/util, pkg/api/v1/pod): which pods belong in them, the port a
ServicePort's targetPort resolves to in a pod (a number, or a container port's name), the
pod's addresses, and which pod changes can change an endpoint. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from common.services import IPV4, IPV6, NONE, is_headless, spec_of
from control.controllers.ranking import is_ready

Obj = Mapping[str, Any]
TERMINAL_PHASES = ("Succeeded", "Failed")
DEFAULT_PROTOCOL = "TCP"


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _status(obj: Obj) -> Obj:
    s = obj.get("status")
    return s if isinstance(s, Mapping) else {}


def pod_ips(pod: Obj) -> list[str]:
    """``status.podIPs`` (``status.podIP`` alone when the list is absent)."""
    status = _status(pod)
    ips = [str(p.get("ip")) for p in status.get("podIPs") or [] if isinstance(p, Mapping)]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return [ip for ip in ips if ip]


def is_ipv6(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def should_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not finished, has an address, and (unless asked) not going."""
    if _status(pod).get("phase") in TERMINAL_PHASES:
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not _meta(pod).get("deletionTimestamp")


def is_terminating(pod: Obj) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def should_set_hostname(pod: Obj, svc: Obj) -> bool:
    """ShouldSetHostname: the pod has a hostname and its subdomain is this Service's name."""
    spec = pod.get("spec") or {}
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == _meta(svc).get("name")
        and _meta(pod).get("namespace") == _meta(svc).get("namespace")
    )


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """FindPort: a numeric targetPort as it is; a named one is the container port of that name
    and the ServicePort's protocol (None when no container has it)."""
    target = service_port.get("targetPort")
    if target is None or target == "" or target == 0:
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or DEFAULT_PROTOCOL
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    # Sidecars (init containers that keep running) serve ports too.
    containers += [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    for container in containers:
        for port in container.get("ports") or []:
            same_protocol = (port.get("protocol") or DEFAULT_PROTOCOL) == protocol
            if port.get("name") == target and same_protocol:
                return int(port.get("containerPort") or 0)
    return None


def service_selector(svc: Obj) -> dict[str, str] | None:
    """The selector whose pods the controllers publish; None for a Service they leave alone
    (ExternalName, or no selector: its endpoints are written by hand)."""
    spec = spec_of(svc)
    if spec.get("type") == "ExternalName":
        return None
    selector = spec.get("selector")
    if not isinstance(selector, Mapping) or not selector:
        return None  # an empty selector is stored as none (protobuf drops empty maps)
    return {str(k): str(v) for k, v in selector.items()}


def selects(selector: Mapping[str, str], pod: Obj) -> bool:
    labels = _meta(pod).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def address_types(svc: Obj) -> list[str]:
    """getAddressTypesForService: the Service's IP families; without them, the family of its
    ClusterIP, or both for a headless one."""
    spec = spec_of(svc)
    families = [f for f in (spec.get("ipFamilies") or []) if f in (IPV4, IPV6)]
    if families:
        return sorted(set(families))
    cluster_ip = str(spec.get("clusterIP") or "")
    if cluster_ip and cluster_ip != NONE and not is_headless(svc):
        return [IPV6 if is_ipv6(cluster_ip) else IPV4]
    return [IPV4, IPV6]


def pod_endpoints_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """podEndpointsChanged: (the pod's endpoint may have changed, its Service membership may
    have changed: labels, hostname or subdomain)."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = (
        _meta(old).get("labels") != _meta(new).get("labels")
        or old_spec.get("hostname") != new_spec.get("hostname")
        or old_spec.get("subdomain") != new_spec.get("subdomain")
    )
    changed = (
        _meta(old).get("deletionTimestamp") != _meta(new).get("deletionTimestamp")
        or is_ready(old) != is_ready(new)
        or pod_ips(old) != pod_ips(new)
        or _status(old).get("phase") != _status(new).get("phase")
    )
    return changed, labels_changed
