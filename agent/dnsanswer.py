"""Cluster DNS answers, as CoreDNS's kubernetes plugin gives them (the Kubernetes DNS
specification, schema 1.1.0): Services, their endpoints, SRV for named ports, PTR for cluster and
endpoint IPs, CNAME for ExternalName, NXDOMAIN with the SOA for unknown names in the cluster
domain. ``answer`` returns None for a name that is not the cluster's: the server forwards it.
Pure: a query and a ``ServiceView`` in, a reply out; no sockets, no clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A, DNSRecord

from agent.serviceview import ServiceView, cluster_ips, endpoint_ready
from common import wellknown

# The TTL of answers and of the SOA's negative caching: the kubernetes plugin's own default is 5 s,
# but the Corefile Kubernetes deploys (kubeadm's, since kubernetes#76238) sets `ttl 30`, kube-dns's.
DEFAULT_TTL = 30
SCHEMA_VERSION = "1.1.0"  # dns-version.<zone> TXT, as the specification asks
# CoreDNS's SOA for the zone: refresh, retry and expire; the minimum is the TTL.
SOA_TIMES = (7200, 1800, 86400)
REVERSE_V4 = ("in-addr", "arpa")
REVERSE_V6 = ("ip6", "arpa")

Obj = dict[str, Any]


@dataclass(frozen=True)
class Zone:
    """The cluster domain served, its TTL and the SOA serial."""

    domain: str = "cluster.local"
    ttl: int = DEFAULT_TTL
    serial: int = 1

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(x for x in self.domain.lower().strip(".").split(".") if x)

    def fqdn(self, *labels: str) -> str:
        return ".".join((*labels, *self.labels)) + "."


@dataclass(frozen=True)
class _Endpoint:
    ip: str
    hostname: str
    ports: tuple[Obj, ...]


def answer(query: DNSRecord, view: ServiceView, zone: Zone) -> DNSRecord | None:
    """The reply to ``query``, or None when its name is not the cluster's to answer."""
    if not query.questions:
        return None
    q = query.q
    labels = tuple(bytes(x).decode("ascii", "replace").lower() for x in q.qname.label)
    if labels[-2:] in (REVERSE_V4, REVERSE_V6):
        return _reverse(query, labels, view, zone)
    zl = zone.labels
    if len(labels) < len(zl) or labels[len(labels) - len(zl) :] != zl:
        return None
    reply = query.reply()
    rel = labels[: len(labels) - len(zl)]
    records = _records(rel, q.qtype, view, zone, q.qname)
    if records is None:
        return _negative(reply, zone, RCODE.NXDOMAIN)
    answers, extra = records
    if not answers:
        return _negative(reply, zone, RCODE.NOERROR)
    for rr in answers:
        reply.add_answer(rr)
    for rr in extra:
        reply.add_ar(rr)
    return reply


Records = tuple[list[RR], list[RR]] | None  # (answers, additional); None: no such name


def _records(
    rel: tuple[str, ...], qtype: int, view: ServiceView, zone: Zone, qname: Any
) -> Records:
    if not rel:
        return _apex(qtype, zone, qname), []
    if rel == ("dns-version",):
        txt = RR(qname, QTYPE.TXT, rdata=TXT(SCHEMA_VERSION), ttl=zone.ttl)
        return ([txt] if qtype in (QTYPE.TXT, QTYPE.ANY) else []), []
    if rel[-1] == "pod":
        return _pod(rel, qtype, zone, qname)
    if rel[-1] != "svc":
        return None
    if len(rel) == 1:
        return [], []
    if len(rel) == 2:
        return ([], []) if view.has_namespace(rel[0]) else None
    svc = view.service(rel[-2], rel[-3])
    if svc is None:
        return None
    if len(rel) == 3:
        return _service(svc, qtype, view, zone, qname)
    if len(rel) == 4:
        return _endpoint_host(svc, rel[0], qtype, view, zone, qname)
    if len(rel) == 5 and rel[0].startswith("_") and rel[1].startswith("_"):
        return _srv_port(svc, rel[0][1:], rel[1][1:], qtype, view, zone, qname)
    return None


def _apex(qtype: int, zone: Zone, qname: Any) -> list[RR]:
    if qtype in (QTYPE.SOA, QTYPE.ANY):
        return [_soa(zone)]
    if qtype == QTYPE.NS:
        return [RR(qname, QTYPE.NS, rdata=NS(zone.fqdn("ns", "dns")), ttl=zone.ttl)]
    return []


def _soa(zone: Zone) -> RR:
    refresh, retry, expire = SOA_TIMES
    soa = SOA(
        zone.fqdn("ns", "dns"),
        zone.fqdn("hostmaster"),
        (zone.serial, refresh, retry, expire, zone.ttl),
    )
    return RR(zone.fqdn(), QTYPE.SOA, rdata=soa, ttl=zone.ttl)


def _negative(reply: DNSRecord, zone: Zone, rcode: int) -> DNSRecord:
    """NXDOMAIN, or NODATA (NOERROR with no answer): the zone's SOA in the authority section."""
    reply.header.rcode = rcode
    reply.add_auth(_soa(zone))
    return reply


def _address_rr(name: Any, ip: str, qtype: int, ttl: int) -> RR | None:
    """An A or AAAA record for ``ip`` when the query asks for that family."""
    version = ipaddress.ip_address(ip).version
    if version == 4 and qtype in (QTYPE.A, QTYPE.ANY):
        return RR(name, QTYPE.A, rdata=A(ip), ttl=ttl)
    if version == 6 and qtype in (QTYPE.AAAA, QTYPE.ANY):
        return RR(name, QTYPE.AAAA, rdata=AAAA(ip), ttl=ttl)
    return None


def _addresses(name: Any, ips: list[str], qtype: int, ttl: int) -> list[RR]:
    return [rr for ip in ips if (rr := _address_rr(name, ip, qtype, ttl)) is not None]


def _glue(name: str, ips: list[str], ttl: int) -> list[RR]:
    return [rr for ip in ips if (rr := _address_rr(name, ip, QTYPE.ANY, ttl)) is not None]


def _meta(svc: Obj) -> tuple[str, str]:
    m = svc.get("metadata") or {}
    return str(m.get("name") or ""), str(m.get("namespace") or "")


def _spec(svc: Obj) -> Obj:
    return dict(svc.get("spec") or {})


def _service(svc: Obj, qtype: int, view: ServiceView, zone: Zone, qname: Any) -> Records:
    name, ns = _meta(svc)
    spec = _spec(svc)
    if spec.get("type") == "ExternalName":
        target = str(spec.get("externalName") or "").rstrip(".") + "."
        return [RR(qname, QTYPE.CNAME, rdata=CNAME(target), ttl=zone.ttl)], []
    ips = cluster_ips(svc)
    if ips:  # a ClusterIP Service: its own addresses, SRV per port to its own name
        if qtype == QTYPE.SRV:
            target = zone.fqdn(name, ns, "svc")
            srv = [_srv(qname, target, int(p.get("port") or 0), 1, zone.ttl)
                   for p in spec.get("ports") or []]  # fmt: skip
            return srv, _glue(target, ips, zone.ttl)
        return _addresses(qname, ips, qtype, zone.ttl), []
    endpoints = _endpoints(svc, view)
    if not endpoints:
        return None  # a headless Service with no ready endpoint has no name
    if qtype == QTYPE.SRV:
        return _endpoint_srv(name, ns, endpoints, None, zone, qname)
    return _addresses(qname, [e.ip for e in endpoints], qtype, zone.ttl), []


def _endpoint_host(
    svc: Obj, host: str, qtype: int, view: ServiceView, zone: Zone, qname: Any
) -> Records:
    if _spec(svc).get("type") == "ExternalName":
        return None
    ips = [e.ip for e in _endpoints(svc, view) if e.hostname == host]
    if not ips:
        return None
    return _addresses(qname, ips, qtype, zone.ttl), []


def _srv_port(
    svc: Obj, port: str, proto: str, qtype: int, view: ServiceView, zone: Zone, qname: Any
) -> Records:
    name, ns = _meta(svc)
    spec = _spec(svc)
    if spec.get("type") == "ExternalName":
        return None
    wanted = (port, proto)
    ips = cluster_ips(svc)
    if ips:
        ports = [p for p in spec.get("ports") or [] if _port_id(p) == wanted]
        if not ports:
            return None
        if qtype != QTYPE.SRV:  # CoreDNS answers the other types as for the Service's name
            return _addresses(qname, ips, qtype, zone.ttl), []
        target = zone.fqdn(name, ns, "svc")
        srv = [_srv(qname, target, int(p.get("port") or 0), 1, zone.ttl) for p in ports]
        return srv, _glue(target, ips, zone.ttl)
    endpoints = [e for e in _endpoints(svc, view) if any(_port_id(p) == wanted for p in e.ports)]
    if not endpoints:
        return None
    if qtype != QTYPE.SRV:
        return _addresses(qname, [e.ip for e in endpoints], qtype, zone.ttl), []
    return _endpoint_srv(name, ns, endpoints, wanted, zone, qname)


def _endpoint_srv(
    name: str,
    ns: str,
    endpoints: list[_Endpoint],
    wanted: tuple[str, str] | None,
    zone: Zone,
    qname: Any,
) -> tuple[list[RR], list[RR]]:
    """SRV per endpoint and port (named ones only when ``wanted`` names one), targets
    ``<hostname>.<svc>.<ns>.svc.<zone>``, with their addresses as additional records."""
    pairs = [
        (e, p)
        for e in endpoints
        for p in e.ports
        if (wanted is None or _port_id(p) == wanted) and p.get("port") is not None
    ]
    answers, extra = [], []
    for e, p in pairs:
        target = zone.fqdn(e.hostname, name, ns, "svc")
        answers.append(_srv(qname, target, int(p["port"]), len(pairs), zone.ttl))
        extra.extend(_glue(target, [e.ip], zone.ttl))
    return answers, extra


def _srv(qname: Any, target: str, port: int, count: int, ttl: int) -> RR:
    """Priority 0 and the weight spread evenly over the group, as CoreDNS does."""
    weight = max(1, 100 // max(1, count))
    return RR(qname, QTYPE.SRV, rdata=SRV(0, weight, port, target), ttl=ttl)


def _port_id(port: Obj) -> tuple[str, str]:
    return str(port.get("name") or "").lower(), str(port.get("protocol") or "TCP").lower()


def _endpoints(svc: Obj, view: ServiceView) -> list[_Endpoint]:
    """The Service's served endpoints: the ready ones, or all with publishNotReadyAddresses."""
    name, ns = _meta(svc)
    everyone = bool(_spec(svc).get("publishNotReadyAddresses"))
    seen: set[str] = set()
    out = []
    for slice_ in sorted(view.slices_of(ns, name), key=lambda s: s["metadata"].get("name", "")):
        ports = tuple(p for p in slice_.get("ports") or [] if isinstance(p, dict))
        for ep in slice_.get("endpoints") or []:
            if not (everyone or endpoint_ready(ep)):
                continue
            for ip in ep.get("addresses") or []:
                if ip not in seen:
                    seen.add(ip)
                    out.append(_Endpoint(str(ip), _hostname(ep, str(ip)), ports))
    return out


def _hostname(endpoint: Obj, ip: str) -> str:
    """The endpoint's hostname, else its address with dashes (CoreDNS's endpointHostname)."""
    host = endpoint.get("hostname")
    return str(host).lower() if host else ip.replace(".", "-").replace(":", "-")


def _pod(rel: tuple[str, ...], qtype: int, zone: Zone, qname: Any) -> Records:
    """``a-b-c-d.<ns>.pod.<zone>`` is that address (CoreDNS's ``pods insecure``, kubeadm's)."""
    if len(rel) != 3:
        return None if len(rel) > 2 else ([], [])
    text = rel[0]
    candidates = [text.replace("-", "."), text.replace("-", ":")]
    for ip in candidates:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            continue
        return _addresses(qname, [ip], qtype, zone.ttl), []
    return None


def _reverse(
    query: DNSRecord, labels: tuple[str, ...], view: ServiceView, zone: Zone
) -> DNSRecord | None:
    """PTR for a cluster IP or an endpoint address; any other reverse name is forwarded."""
    ip = reverse_ip(labels)
    if ip is None:
        return None
    names = list(_ptr_names(ip, view, zone))
    if not names:
        return None
    reply = query.reply()
    if query.q.qtype not in (QTYPE.PTR, QTYPE.ANY):
        return _negative(reply, zone, RCODE.NOERROR)
    for target in dict.fromkeys(names):
        reply.add_answer(RR(query.q.qname, QTYPE.PTR, rdata=PTR(target), ttl=zone.ttl))
    return reply


def _ptr_names(ip: str, view: ServiceView, zone: Zone) -> Iterator[str]:
    for svc in view.services_by_ip(ip):
        name, ns = _meta(svc)
        yield zone.fqdn(name, ns, "svc")
    for slice_ in view.slices_by_address(ip):
        meta = slice_.get("metadata") or {}
        svc_name = (meta.get("labels") or {}).get(wellknown.SLICE_SERVICE_LABEL)
        if not svc_name:
            continue
        for ep in slice_.get("endpoints") or []:
            if ip in (ep.get("addresses") or []):
                yield zone.fqdn(_hostname(ep, ip), str(svc_name), str(meta.get("namespace")), "svc")


def reverse_ip(labels: tuple[str, ...]) -> str | None:
    """The address a reverse name (``4.3.2.1.in-addr.arpa``, nibbles ``.ip6.arpa``) stands for."""
    try:
        if labels[-2:] == REVERSE_V4 and len(labels) == 6:
            return str(ipaddress.IPv4Address(".".join(reversed(labels[:4]))))
        if labels[-2:] == REVERSE_V6 and len(labels) == 34:
            nibbles = "".join(reversed(labels[:32]))
            return str(ipaddress.IPv6Address(int(nibbles, 16)))
    except ValueError:
        return None
    return None
