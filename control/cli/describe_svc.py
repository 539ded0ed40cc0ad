"""``describe service`` in kubectl's layout (``describeService``): addresses, each port with its
target, node port and endpoints (from the Service's EndpointSlices, else its Endpoints object,
as ``formatEndpointSlices``/``formatEndpoints`` print them), then the policies and events. The
describer is pure; ``bind_service`` reads the endpoints and binds them to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from common import errors
from common.serviceprinting import selector_string
from control.cli.describers import Describer, Obj, Text, _annotations, _labels, events_section
from control.cli.session import Client

# formatEndpoints shows this many addresses, then "+ N more...".
MAX_SHOWN = 3
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _m(obj: object, key: str) -> Obj:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _list(obj: object, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, list) else []


def _host_port(ip: str, port: object) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _joined(found: list[str], count: int) -> str:
    text = ",".join(found)
    return f"{text} + {count - MAX_SHOWN} more..." if count > MAX_SHOWN else text


def format_slices(slices: Sequence[Obj], port_name: str) -> str:
    """formatEndpointSlices for one Service port."""
    if not slices:
        return "<none>"
    found: list[str] = []
    count = 0
    for s in slices:
        endpoints = [e for e in _list(s, "endpoints") if _list(e, "addresses")]
        ports = _list(s, "ports")
        targets = [None] if not ports else [p.get("port") for p in ports
                                            if (p.get("name") or "") == port_name]  # fmt: skip
        for port in targets:
            for e in endpoints:
                count += 1
                if len(found) < MAX_SHOWN:
                    ip = str(e["addresses"][0])
                    found.append(ip if port is None else _host_port(ip, port))
    return _joined(found, count)


def format_endpoints(endpoints: Obj | None, port_name: str) -> str:
    """formatEndpoints for one Service port, from a v1 Endpoints object."""
    subsets = _list(endpoints, "subsets")
    if not subsets:
        return "<none>"
    found: list[str] = []
    count = 0
    for ss in subsets:
        addresses = [str(a.get("ip", "")) for a in _list(ss, "addresses")]
        ports = _list(ss, "ports")
        targets = [None] if not ports else [p.get("port") for p in ports
                                            if (p.get("name") or "") == port_name]  # fmt: skip
        for port in targets:
            count += len(addresses)
            for ip in addresses[: max(0, MAX_SHOWN - len(found))]:
                found.append(ip if port is None else _host_port(ip, port))
    return _joined(found, count)


def _addresses(w: Text, spec: Obj, status: Obj) -> None:
    if spec.get("ipFamilyPolicy"):
        w.write(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    families = ",".join(str(f) for f in _list(spec, "ipFamilies")) or "<none>"
    w.write(0, f"IP Families:\t{families}\n")
    w.write(0, f"IP:\t{spec.get('clusterIP') or ''}\n")
    w.write(0, f"IPs:\t{','.join(str(ip) for ip in _list(spec, 'clusterIPs')) or '<none>'}\n")
    if spec.get("externalIPs"):
        w.write(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
    if spec.get("loadBalancerIP"):
        w.write(0, f"Desired LoadBalancer IP:\t{spec['loadBalancerIP']}\n")
    if spec.get("externalName"):
        w.write(0, f"External Name:\t{spec['externalName']}\n")
    ingress = _list(_m(status, "loadBalancer"), "ingress")
    if ingress:
        shown = ", ".join(str(i.get("ip") or i.get("hostname") or "") for i in ingress)
        w.write(0, f"LoadBalancer Ingress:\t{shown}\n")


def _policies(w: Text, spec: Obj) -> None:
    w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', '')}\n")
    if spec.get("externalTrafficPolicy"):
        w.write(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy"):
        w.write(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    if spec.get("healthCheckNodePort"):
        w.write(0, f"HealthCheck NodePort:\t{spec['healthCheckNodePort']}\n")
    if spec.get("loadBalancerSourceRanges"):
        ranges = ",".join(spec["loadBalancerSourceRanges"])
        w.write(0, f"LoadBalancer Source Ranges:\t{ranges}\n")


def describe_service(
    svc: Obj,
    events: Sequence[Obj] | None,
    now: dt.datetime,
    slices: Sequence[Obj] | None = None,
    endpoints: Obj | None = None,
) -> str:
    meta, spec, status = _m(svc, "metadata"), _m(svc, "spec"), _m(svc, "status")
    w = Text()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, meta.get("annotations"))
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    w.write(0, f"Type:\t{spec.get('type', '')}\n")
    _addresses(w, spec, status)
    for port in _list(spec, "ports"):
        name = str(port.get("name") or "")
        protocol = port.get("protocol") or "TCP"
        w.write(0, f"Port:\t{name or '<unset>'}\t{port.get('port', 0)}/{protocol}\n")
        w.write(0, f"TargetPort:\t{port.get('targetPort', '')}/{protocol}\n")
        if port.get("nodePort"):
            w.write(0, f"NodePort:\t{name or '<unset>'}\t{port['nodePort']}/{protocol}\n")
        shown = format_slices(slices, name) if slices else format_endpoints(endpoints, name)
        w.write(0, f"Endpoints:\t{shown}\n")
    _policies(w, spec)
    events_section(w, events, now)
    return w.text()


def bind_service(client: Client, svc: Obj) -> Describer:
    """Read the Service's EndpointSlices (by their service-name label) or its Endpoints."""
    meta = _m(svc, "metadata")
    ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    slices: list[Obj] = []
    endpoints: Obj | None = None
    try:
        listing = client.request_json(
            "GET", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
            params={"labelSelector": f"{SERVICE_NAME_LABEL}={name}"},
        )  # fmt: skip
        slices = [s for s in _list(listing, "items") if isinstance(s, Mapping)]
    except errors.ApiError:
        slices = []
    if not slices:
        try:
            endpoints = client.request_json("GET", f"/api/v1/namespaces/{ns}/endpoints/{name}")
        except errors.ApiError:
            endpoints = None

    def describe(obj: Obj, events: Sequence[Obj] | None, now: dt.datetime) -> str:
        return describe_service(obj, events, now, slices, endpoints)

    return describe
