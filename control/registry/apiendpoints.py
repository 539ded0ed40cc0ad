"""The endpoints of the ``kubernetes`` Service: the API server's own address, written at start as
kube-apiserver's endpoint reconciler writes them (pkg/controlplane/reconcilers,
endpointsadapter.go): an Endpoints object labelled ``endpointslice.kubernetes.io/skip-mirror``
and an EndpointSlice named ``kubernetes`` with only the service-name label (no controller manages
it), one ready address on the secure port, named ``https``. The address is the advertised one
(``--advertise-address``; by default the bind address, or the host's own address when the API
listens on loopback or everywhere): endpoints may not be loopback addresses. The manifests are
pure; ``ensure_api_endpoints`` writes through the Registry, and ``host_address`` asks the
kernel's routing table.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from typing import Any

from common import errors
from common.resources import must
from common.wellknown import SKIP_MIRROR_LABEL, SLICE_SERVICE_LABEL
from control.registry.registry import Registry

log = logging.getLogger(__name__)

ENDPOINTS, SLICES = must("endpoints"), must("endpointslices")
NAMESPACE, NAME = "default", "kubernetes"
PORT_NAME = "https"
# A TEST-NET-1 address: connecting a UDP socket to it looks up the route, sending nothing.
ROUTE_PROBE = ("192.0.2.1", 9)

Obj = dict[str, Any]


def _usable(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_unspecified or addr.is_link_local)


def host_address() -> str | None:
    """The address this host reaches the outside from (None without a route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(ROUTE_PROBE)
        except OSError:
            return None
        ip = str(s.getsockname()[0])
    return ip if _usable(ip) else None


def advertise_address(flag: str | None, bind_address: str) -> str | None:
    """``--advertise-address``, else the bind address, else (loopback or every address) the
    host's own one; None when there is no address pods could use."""
    if flag:
        return flag
    if _usable(bind_address):
        return bind_address
    return host_address()


def api_endpoints(ip: str, port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {SKIP_MIRROR_LABEL: "true"}},
        "subsets": [
            {"addresses": [{"ip": ip}],
             "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}]}
        ],
    }  # fmt: skip


def api_endpoint_slice(ip: str, port: int) -> Obj:
    family = "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {SLICE_SERVICE_LABEL: NAME}},
        "addressType": family,
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
        "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
    }


def _differs(current: Obj, want: Obj, fields: tuple[str, ...]) -> bool:
    if current["metadata"].get("labels") != want["metadata"]["labels"]:
        return True
    return any(current.get(f) != want[f] for f in fields)


def _ensure(registry: Registry, rt: Any, want: Obj, fields: tuple[str, ...]) -> None:
    try:
        current = registry.get(rt, NAMESPACE, NAME)
    except errors.NotFoundError:
        with contextlib.suppress(errors.AlreadyExistsError):  # another API server was first
            registry.create(rt, NAMESPACE, want)
        return
    if current.get("addressType", want.get("addressType")) != want.get("addressType"):
        registry.delete(rt, NAMESPACE, NAME, {})  # addressType is immutable
        registry.create(rt, NAMESPACE, want)
    elif _differs(current, want, fields):
        updated = {**current, **{f: want[f] for f in fields}}
        updated["metadata"] = {**current["metadata"], "labels": want["metadata"]["labels"]}
        registry.replace(rt, NAMESPACE, NAME, updated)


def ensure_api_endpoints(registry: Registry, ip: str | None, port: int) -> None:
    """Make the ``kubernetes`` Service's Endpoints and EndpointSlice name this API server."""
    if ip is None:
        log.warning("services: no address to advertise the API at; kubernetes has no endpoints")
        return
    try:
        _ensure(registry, ENDPOINTS, api_endpoints(ip, port), ("subsets",))
        _ensure(registry, SLICES, api_endpoint_slice(ip, port), ("endpoints", "ports"))
    except errors.ApiError as e:  # e.g. an address the validation refuses
        log.warning("services: cannot write the endpoints of kubernetes at %s: %s", ip, e)
        return
    log.info("services: kubernetes endpoints: %s:%d", ip, port)
