"""``describe endpoints`` and ``describe endpointslices`` in kubectl's layout
(``describeEndpoints``, ``describeEndpointSliceV1``): the subsets with their ready and not-ready
addresses and ports; the slice's ports and each endpoint's conditions, hostname, target, node
and zone. Registers both with ``control.cli.describers``. Pure: objects, events and ``now`` in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from control.cli.describers import Obj, Text, _annotations, _labels, events_section, register

UNSET = "<unset>"
NONE = "<none>"


def _list(obj: object, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, list) else []


def _header(w: Text, obj: Obj) -> None:
    meta = obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))


def _ips(addresses: list[Any]) -> str:
    return ",".join(str(a.get("ip") or "") for a in addresses) or NONE


def describe_endpoints(ep: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    w = Text()
    _header(w, ep)
    w.write(0, "Subsets:\n")
    for subset in _list(ep, "subsets"):
        w.write(1, f"Addresses:\t{_ips(_list(subset, 'addresses'))}\n")
        w.write(1, f"NotReadyAddresses:\t{_ips(_list(subset, 'notReadyAddresses'))}\n")
        ports = _list(subset, "ports")
        if ports:
            w.write(1, "Ports:\n")
            w.write(2, "Name\tPort\tProtocol\n")
            w.write(2, "----\t----\t--------\n")
            for p in ports:
                w.write(
                    2, f"{p.get('name') or UNSET}\t{p.get('port', 0)}\t{p.get('protocol', '')}\n"
                )
        w.write(0, "\n")
    events_section(w, events, now)
    return w.text()


def _slice_ports(w: Text, ports: list[Any]) -> None:
    if not ports:
        w.write(0, f"Ports: {UNSET}\n")
        return
    w.write(0, "Ports:\n")
    w.write(1, "Name\tPort\tProtocol\n")
    w.write(1, "----\t----\t--------\n")
    for p in ports:
        number = UNSET if p.get("port") is None else str(p["port"])
        w.write(1, f"{p.get('name') or UNSET}\t{number}\t{p.get('protocol', '')}\n")


def _endpoint(w: Text, ep: Mapping[str, Any]) -> None:
    w.write(1, f"- Addresses:\t{', '.join(str(a) for a in _list(ep, 'addresses')) or NONE}\n")
    w.write(2, "Conditions:\n")
    ready = (ep.get("conditions") or {}).get("ready")
    w.write(3, f"Ready:\t{UNSET if ready is None else str(bool(ready)).lower()}\n")
    w.write(2, f"Hostname:\t{ep.get('hostname', UNSET)}\n")
    ref = ep.get("targetRef")
    if isinstance(ref, Mapping):
        w.write(2, f"TargetRef:\t{ref.get('kind', '')}/{ref.get('name', '')}\n")
    w.write(2, f"NodeName:\t{ep.get('nodeName', UNSET)}\n")
    w.write(2, f"Zone:\t{ep.get('zone', UNSET)}\n")


def describe_endpoint_slice(s: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
    w = Text()
    _header(w, s)
    w.write(0, f"AddressType:\t{s.get('addressType', '')}\n")
    _slice_ports(w, _list(s, "ports"))
    endpoints = _list(s, "endpoints")
    if not endpoints:
        w.write(0, f"Endpoints: {NONE}\n")
    else:
        w.write(0, "Endpoints:\n")
        for ep in endpoints:
            _endpoint(w, ep)
    events_section(w, events, now)
    return w.text()


register("endpoints", describe_endpoints)
register("endpointslices", describe_endpoint_slice)
