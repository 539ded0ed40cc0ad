"""Cluster DNS answers from fed Services and EndpointSlices, as dnslib packets: the records of the
Kubernetes DNS specification, negative answers with the SOA, and what is left to forward."""

from __future__ import annotations

from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from agent.dnsanswer import DEFAULT_TTL, Zone, answer, reverse_ip
from agent.serviceview import ServiceView

ZONE = Zone("cluster.local", serial=42)


def service(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
        "spec": {"type": "ClusterIP", **spec},
    }


def endpoint(ip: str, ready: bool | None = True, hostname: str | None = None) -> dict[str, Any]:
    ep: dict[str, Any] = {"addresses": [ip]}
    if ready is not None:
        ep["conditions"] = {"ready": ready}
    if hostname:
        ep["hostname"] = hostname
    return ep


def slice_(svc: str, eps: list[dict[str, Any]], ports: list[dict[str, Any]], ns: str = "default",
           name: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "metadata": {
            "name": name or f"{svc}-abc",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc},
            "resourceVersion": "1",
        },
        "addressType": "IPv4",
        "endpoints": eps,
        "ports": ports,
    }


@pytest.fixture
def view() -> ServiceView:
    v = ServiceView()
    web_ports = [{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 8443}]
    v.services.upsert(service("web", clusterIP="10.96.3.4", ports=web_ports))
    v.services.upsert(
        service("db", clusterIP="None", ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}])
    )
    v.services.upsert(service("ext", "other", type="ExternalName", externalName="example.com"))
    v.services.upsert(service("lonely", clusterIP="None"))
    v.services.upsert(service("early", clusterIP="None", publishNotReadyAddresses=True))
    pg = [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    v.slices.upsert(
        slice_(
            "db",
            [
                endpoint("10.244.1.5", hostname="db-0"),
                endpoint("10.244.2.6", ready=None),
                endpoint("10.244.2.7", ready=False, hostname="db-2"),
            ],
            pg,
        )
    )
    v.slices.upsert(slice_("web", [endpoint("10.244.1.9")], [{"name": "http", "port": 8080}]))
    v.slices.upsert(slice_("lonely", [endpoint("10.244.3.3", ready=False)], []))
    v.slices.upsert(slice_("early", [endpoint("10.244.3.4", ready=False)], []))
    return v


def ask(view: ServiceView, name: str, qtype: str = "A") -> DNSRecord | None:
    query = DNSRecord.question(name, qtype)
    reply = answer(query, view, ZONE)
    if reply is not None:  # what goes on the wire reads back the same
        assert reply.header.id == query.header.id
        reply = DNSRecord.parse(reply.pack())
    return reply


def rdata(reply: DNSRecord | None, qtype: str | None = None) -> list[str]:
    assert reply is not None
    return sorted(str(rr.rdata) for rr in reply.rr if qtype is None or QTYPE[rr.rtype] == qtype)


def test_cluster_ip_service_a_record_with_the_deployed_corefiles_ttl(view: ServiceView) -> None:
    reply = ask(view, "web.default.svc.cluster.local")
    assert reply is not None and reply.header.rcode == RCODE.NOERROR
    assert rdata(reply) == ["10.96.3.4"]
    assert reply.rr[0].ttl == DEFAULT_TTL == 30
    assert reply.header.aa == 1


def test_names_match_whatever_their_case(view: ServiceView) -> None:
    reply = ask(view, "WEB.Default.SVC.Cluster.Local.")
    assert rdata(reply) == ["10.96.3.4"]
    assert str(reply.rr[0].rname) == "WEB.Default.SVC.Cluster.Local."  # type: ignore[union-attr]


def test_headless_service_has_every_ready_address(view: ServiceView) -> None:
    assert rdata(ask(view, "db.default.svc.cluster.local")) == ["10.244.1.5", "10.244.2.6"]


def test_headless_service_with_no_ready_endpoint_is_nxdomain(view: ServiceView) -> None:
    reply = ask(view, "lonely.default.svc.cluster.local")
    assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN


def test_publish_not_ready_addresses_includes_not_ready_endpoints(view: ServiceView) -> None:
    assert rdata(ask(view, "early.default.svc.cluster.local")) == ["10.244.3.4"]


def test_endpoint_hostname_record(view: ServiceView) -> None:
    assert rdata(ask(view, "db-0.db.default.svc.cluster.local")) == ["10.244.1.5"]
    # an endpoint without a hostname is named by its address with dashes
    assert rdata(ask(view, "10-244-2-6.db.default.svc.cluster.local")) == ["10.244.2.6"]
    # a not-ready endpoint is not served
    reply = ask(view, "db-2.db.default.svc.cluster.local")
    assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN


def test_srv_for_a_named_port_of_a_cluster_ip_service(view: ServiceView) -> None:
    reply = ask(view, "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert rdata(reply, "SRV") == ["0 100 80 web.default.svc.cluster.local."]
    assert rdata(reply, "A") == []  # glue is additional, not an answer
    assert [str(r.rdata) for r in reply.ar] == ["10.96.3.4"]  # type: ignore[union-attr]


def test_srv_of_a_headless_service_names_each_endpoint(view: ServiceView) -> None:
    reply = ask(view, "_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert rdata(reply, "SRV") == [
        "0 50 5432 10-244-2-6.db.default.svc.cluster.local.",
        "0 50 5432 db-0.db.default.svc.cluster.local.",
    ]


def test_srv_for_an_unknown_port_name_or_protocol_is_nxdomain(view: ServiceView) -> None:
    for name in ("_nope._tcp.web", "_http._udp.web", "_pg._udp.db"):
        reply = ask(view, f"{name}.default.svc.cluster.local", "SRV")
        assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN, name


def test_other_types_on_a_port_name_answer_as_the_service_does(view: ServiceView) -> None:
    assert rdata(ask(view, "_http._tcp.web.default.svc.cluster.local")) == ["10.96.3.4"]
    assert rdata(ask(view, "_pg._tcp.db.default.svc.cluster.local")) == [
        "10.244.1.5",
        "10.244.2.6",
    ]


def test_srv_on_the_service_name_lists_its_ports(view: ServiceView) -> None:
    reply = ask(view, "web.default.svc.cluster.local", "SRV")
    assert rdata(reply, "SRV") == [
        "0 100 80 web.default.svc.cluster.local.",
        "0 100 8443 web.default.svc.cluster.local.",
    ]


def test_external_name_is_a_cname(view: ServiceView) -> None:
    reply = ask(view, "ext.other.svc.cluster.local")
    assert reply is not None and QTYPE[reply.rr[0].rtype] == "CNAME"
    assert rdata(reply) == ["example.com."]


def test_unknown_names_in_the_zone_are_nxdomain_with_the_soa(view: ServiceView) -> None:
    for name in (
        "nope.default.svc.cluster.local",
        "web.nope.svc.cluster.local",
        "x.web.default.svc.cluster.local",
        "a.b.c.d.e.f.svc.cluster.local",
        "nope.cluster.local",
    ):
        reply = ask(view, name)
        assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN, name
        assert reply.rr == []
        (soa,) = reply.auth
        assert QTYPE[soa.rtype] == "SOA"
        assert str(soa.rdata) == (
            "ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 30"
        )


def test_a_name_that_exists_without_that_type_is_nodata(view: ServiceView) -> None:
    for name, qtype in (
        ("web.default.svc.cluster.local", "AAAA"),
        ("web.default.svc.cluster.local", "TXT"),
        ("default.svc.cluster.local", "A"),
        ("svc.cluster.local", "A"),
        ("cluster.local", "A"),
        ("_http._tcp.web.default.svc.cluster.local", "AAAA"),
    ):
        reply = ask(view, name, qtype)
        assert reply is not None and reply.header.rcode == RCODE.NOERROR, name
        assert reply.rr == [] and len(reply.auth) == 1, name


def test_zone_apex_soa_ns_and_schema_version(view: ServiceView) -> None:
    assert rdata(ask(view, "cluster.local", "SOA"))[0].startswith("ns.dns.cluster.local.")
    assert rdata(ask(view, "cluster.local", "NS")) == ["ns.dns.cluster.local."]
    assert rdata(ask(view, "dns-version.cluster.local", "TXT")) == ['"1.1.0"']


def test_pod_names_resolve_to_their_address(view: ServiceView) -> None:
    assert rdata(ask(view, "10-244-1-5.default.pod.cluster.local")) == ["10.244.1.5"]
    reply = ask(view, "not-an-ip.default.pod.cluster.local")
    assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN


def test_ptr_for_cluster_ips_and_endpoint_addresses(view: ServiceView) -> None:
    assert rdata(ask(view, "4.3.96.10.in-addr.arpa", "PTR")) == ["web.default.svc.cluster.local."]
    assert rdata(ask(view, "5.1.244.10.in-addr.arpa", "PTR")) == [
        "db-0.db.default.svc.cluster.local."
    ]
    assert rdata(ask(view, "9.1.244.10.in-addr.arpa", "PTR")) == [
        "10-244-1-9.web.default.svc.cluster.local."
    ]


def test_names_outside_the_cluster_are_left_to_forward(view: ServiceView) -> None:
    assert ask(view, "example.com") is None
    assert ask(view, "cluster.local.example.com") is None
    assert ask(view, "local") is None
    assert ask(view, "1.1.168.192.in-addr.arpa", "PTR") is None  # not a cluster address


def test_another_cluster_domain() -> None:
    v = ServiceView()
    v.services.upsert(service("web", clusterIP="10.96.3.4"))
    reply = answer(DNSRecord.question("web.default.svc.tiny.test"), v, Zone("tiny.test"))
    assert rdata(reply) == ["10.96.3.4"]
    assert answer(DNSRecord.question("web.default.svc.cluster.local"), v, Zone("tiny.test")) is None


def test_ipv6_cluster_ip_is_an_aaaa_record_and_has_a_ptr() -> None:
    v = ServiceView()
    v.services.upsert(service("six", clusterIPs=["fd00::a"], clusterIP="fd00::a"))
    assert rdata(answer(DNSRecord.question("six.default.svc.cluster.local", "AAAA"), v, ZONE)) == [
        "fd00::a"
    ]
    name = "a." + "0." * 29 + "d.f.ip6.arpa"
    assert reverse_ip(tuple(name.split("."))) == "fd00::a"
    assert rdata(answer(DNSRecord.question(name, "PTR"), v, ZONE)) == [
        "six.default.svc.cluster.local."
    ]


def test_reverse_ip_refuses_malformed_names() -> None:
    assert reverse_ip(("1", "2", "3", "in-addr", "arpa")) is None
    assert reverse_ip(("300", "2", "3", "4", "in-addr", "arpa")) is None
    assert reverse_ip(("4", "3", "2", "1", "in-addr", "arpa")) == "1.2.3.4"
