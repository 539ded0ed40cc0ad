"""How kubectl prints Endpoints and EndpointSlices (pkg/printers/internalversion: printEndpoints,
formatEndpoints, printEndpointSlice, formatDiscoveryPorts, formatDiscoveryEndpoints): the cells of
``get endpoints`` and ``get endpointslices``, and the address list ``describe svc`` reuses.
Pure: ``now`` is passed in.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Container, Mapping
from typing import Any

from common.humanize import age

NONE = "<none>"
UNSET = "<unset>"
# kubectl shows the first three, then "+ N more...".
SHOWN = 3

Obj = Mapping[str, Any]


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def join_host_port(host: str, port: object) -> str:
    """net.JoinHostPort: an IPv6 address in brackets."""
    try:
        v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        v6 = ":" in host
    return f"[{host}]:{port}" if v6 else f"{host}:{port}"


def _with_more(shown: list[str], count: int, empty: str) -> str:
    text = ",".join(shown)
    if count > len(shown):
        return f"{text} + {count - len(shown)} more..."
    return text or empty


def format_endpoints(endpoints: Obj, port_names: Container[str] | None = None) -> str:
    """formatEndpoints: the ready ``ip:port`` pairs (bare IPs for a subset without ports), of
    the ports named in ``port_names`` when given; ``<none>`` without subsets."""
    subsets = _list(endpoints.get("subsets"))
    if not subsets:
        return NONE
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [str(a.get("ip") or "") for a in _list(subset.get("addresses"))]
        ports = _list(subset.get("ports"))
        if not ports:
            count += len(addresses)
            shown.extend(addresses[: SHOWN - len(shown)])
            continue
        for port in ports:
            if port_names is not None and str(port.get("name") or "") not in port_names:
                continue
            count += len(addresses)
            pairs = [join_host_port(ip, port.get("port")) for ip in addresses]
            shown.extend(pairs[: SHOWN - len(shown)])
    return _with_more(shown, count, "")


def endpoints_cells(endpoints: Obj, now: dt.datetime) -> list[str]:
    m = _meta(endpoints)
    return [
        str(m.get("name", "")),
        format_endpoints(endpoints),
        age(m.get("creationTimestamp"), now),
    ]


def format_slice_ports(ports: list[Any]) -> str:
    """formatDiscoveryPorts: each port's number (its name when it has none, ``*`` for all)."""
    shown = []
    for port in ports[:SHOWN]:
        if port.get("port") is not None:
            shown.append(str(port["port"]))
        elif port.get("name") is not None:
            shown.append(str(port["name"]))
        else:
            shown.append("*")
    return _with_more(shown, len(ports), UNSET)


def format_slice_endpoints(endpoints: list[Any]) -> str:
    """formatDiscoveryEndpoints: every endpoint's addresses."""
    addresses = [str(a) for ep in endpoints for a in _list(ep.get("addresses"))]
    return _with_more(addresses[:SHOWN], len(addresses), UNSET)


def endpointslice_cells(slice_: Obj, now: dt.datetime) -> list[str]:
    m = _meta(slice_)
    return [
        str(m.get("name", "")),
        str(slice_.get("addressType") or ""),
        format_slice_ports(_list(slice_.get("ports"))),
        format_slice_endpoints(_list(slice_.get("endpoints"))),
        age(m.get("creationTimestamp"), now),
    ]


# Column descriptions as kube-apiserver's printers give them (the API reference's field docs).
SUBSETS_DOC = (
    "The set of all endpoints is the union of all subsets. Addresses are placed into subsets "
    "according to the IPs they share. A single address with multiple ports, some of which are "
    "ready and some of which are not (because they come from different containers) will result "
    "in the address being displayed in different subsets for the different ports. No address "
    "will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses "
    "and ports that comprise a service."
)
ADDRESS_TYPE_DOC = (
    "addressType specifies the type of address carried by this EndpointSlice. All addresses in "
    "this slice must be the same type. This field is immutable after creation. The following "
    "address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: "
    "Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name."
)
PORTS_DOC = (
    "ports specifies the list of network ports exposed by each endpoint in this slice. Each "
    "port must have a unique name. When ports is empty, it indicates that there are no defined "
    'ports. When a port is defined with a nil port value, it indicates "all ports". Each slice '
    "may include a maximum of 100 ports."
)
ENDPOINTS_DOC = (
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum "
    "of 1000 endpoints."
)
