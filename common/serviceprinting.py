"""How kubectl prints a Service (pkg/printers/internalversion: printService, makePortString,
getServiceExternalIP): the cells of ``get svc`` and the port and address strings ``describe``
reuses. Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from common.humanize import age
from common.services import CLUSTER_IP, EXTERNAL_NAME, LOAD_BALANCER, NODE_PORT

NONE = "<none>"
PENDING = "<pending>"

Obj = Mapping[str, Any]


def _section(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def port_string(ports: object) -> str:
    """``80/TCP``, ``80:30080/TCP`` for a port with a node port, comma-separated."""
    pieces = []
    for port in ports if isinstance(ports, list) else []:
        if not isinstance(port, Mapping):
            continue
        number, protocol = port.get("port", 0), port.get("protocol") or "TCP"
        node_port = port.get("nodePort") or 0
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port else f"{number}/{protocol}")
    return ",".join(pieces)


def load_balancer_addresses(status: Obj) -> str:
    """The ingress IPs (or hostnames) of a load balancer, sorted and deduplicated."""
    found = set()
    for ingress in _section(status, "loadBalancer").get("ingress") or []:
        if isinstance(ingress, Mapping):
            value = ingress.get("ip") or ingress.get("hostname")
            if value:
                found.add(str(value))
    return ",".join(sorted(found))


def external_ip(svc: Obj) -> str:
    """The EXTERNAL-IP cell: external IPs, the load balancer's addresses or ``<pending>``, the
    external name."""
    spec = _section(svc, "spec")
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    kind = spec.get("type")
    if kind in (CLUSTER_IP, NODE_PORT):
        return ",".join(external) or NONE
    if kind == LOAD_BALANCER:
        lb = load_balancer_addresses(_section(svc, "status"))
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or PENDING
    if kind == EXTERNAL_NAME:
        return str(spec.get("externalName") or "")
    return "<unknown>"


def selector_string(selector: object) -> str:
    """``labels.FormatLabels`` of a Service's map selector: ``a=b,c=d`` or ``<none>``."""
    if not isinstance(selector, Mapping) or not selector:
        return NONE
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector))


def service_cells(svc: Obj, now: dt.datetime) -> list[str]:
    """NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, and SELECTOR (wide)."""
    meta, spec = _section(svc, "metadata"), _section(svc, "spec")
    ips = spec.get("clusterIPs") or []
    return [
        str(meta.get("name", "")),
        str(spec.get("type") or ""),
        str(ips[0]) if ips else NONE,
        external_ip(svc),
        port_string(spec.get("ports")) or NONE,
        age(meta.get("creationTimestamp"), now),
        selector_string(spec.get("selector")),
    ]
