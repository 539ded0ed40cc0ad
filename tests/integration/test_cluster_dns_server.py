"""The cluster DNS server over real sockets on 127.0.0.1: cluster names answered from fed objects
over UDP and TCP, other names forwarded to a fake upstream (a dnslib server the test runs),
SERVFAIL when no upstream answers, truncation over UDP, and broken packets."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import OPCODE, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from agent.dnsanswer import Zone
from agent.dnsserver import DnsServer, Resolver, parse_upstream
from agent.serviceview import ServiceView
from common import metrics


class FakeUpstream(BaseResolver):  # type: ignore[misc]
    """Answers every A question with 192.0.2.80 and counts the questions."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        self.asked.append(str(request.q.qname))
        reply = request.reply()
        if request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("192.0.2.80"), ttl=60))
        return reply


@pytest.fixture
def upstream() -> Iterator[tuple[FakeUpstream, int]]:
    fake = FakeUpstream()
    for _ in range(10):  # a free UDP port whose TCP twin is free too
        udp = DNSServer(fake, port=0, address="127.0.0.1")
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(fake, port=port, address="127.0.0.1", tcp=True)
            break
        except OSError:
            udp.server.server_close()
    udp.start_thread()
    tcp.start_thread()
    yield fake, port
    for srv in (udp, tcp):
        srv.stop()
        srv.server.server_close()


def make_view() -> ServiceView:
    view = ServiceView()
    view.services.upsert(
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.3.4", "ports": [{"name": "http", "port": 80}]},
        }
    )
    view.services.upsert(
        {
            "metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "www.example.com"},
        }
    )
    view.services.upsert({"metadata": {"name": "big", "namespace": "default"},
                          "spec": {"clusterIP": "None"}})  # fmt: skip
    view.slices.upsert(
        {
            "metadata": {
                "name": "big-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "big"},
            },
            "endpoints": [{"addresses": [f"10.244.0.{i}"]} for i in range(1, 60)],
        }
    )
    return view


@pytest.fixture
def server(upstream: tuple[FakeUpstream, int]) -> Iterator[DnsServer]:
    _, port = upstream
    resolver = Resolver(make_view(), Zone(), lambda: [("127.0.0.1", port)], timeout=2.0)
    srv = DnsServer(resolver, "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.stop()


def ask(srv: DnsServer, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    raw = DNSRecord.question(name, qtype).send("127.0.0.1", srv.port, tcp=tcp, timeout=5)
    return DNSRecord.parse(raw)


@pytest.mark.parametrize("tcp", [False, True])
def test_cluster_names_over_udp_and_tcp(server: DnsServer, tcp: bool) -> None:
    reply = ask(server, "web.default.svc.cluster.local", tcp=tcp)
    assert [str(r.rdata) for r in reply.rr] == ["10.96.3.4"]
    reply = ask(server, "nope.default.svc.cluster.local", tcp=tcp)
    assert reply.header.rcode == RCODE.NXDOMAIN


@pytest.mark.parametrize("tcp", [False, True])
def test_other_names_go_upstream(
    server: DnsServer, upstream: tuple[FakeUpstream, int], tcp: bool
) -> None:
    fake, _ = upstream
    query = DNSRecord.question("www.example.com")
    reply = DNSRecord.parse(query.send("127.0.0.1", server.port, tcp=tcp, timeout=5))
    assert reply.header.id == query.header.id
    assert [str(r.rdata) for r in reply.rr] == ["192.0.2.80"]
    assert fake.asked == ["www.example.com."]


def test_external_name_is_followed_upstream(server: DnsServer) -> None:
    reply = ask(server, "ext.default.svc.cluster.local")
    assert [(QTYPE[r.rtype], str(r.rdata)) for r in reply.rr] == [
        ("CNAME", "www.example.com."),
        ("A", "192.0.2.80"),
    ]


def test_queries_are_counted_as_coredns_counts_them(server: DnsServer) -> None:
    def sample(name: str, **labels: str) -> float:
        labels = {"server": f"dns://127.0.0.1:{server.port}", **labels}
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    local = {"zone": "cluster.local.", "proto": "udp", "type": "A"}
    before = sample("coredns_dns_requests_total", **local)
    nx = sample("coredns_dns_responses_total", zone="cluster.local.", rcode="NXDOMAIN")
    up = sample("coredns_dns_requests_total", zone=".", proto="tcp", type="A")
    ask(server, "web.default.svc.cluster.local")
    ask(server, "nope.default.svc.cluster.local")
    ask(server, "www.example.com", tcp=True)
    assert sample("coredns_dns_requests_total", **local) == before + 2
    assert sample("coredns_dns_responses_total", zone="cluster.local.", rcode="NXDOMAIN") == nx + 1
    assert sample("coredns_dns_requests_total", zone=".", proto="tcp", type="A") == up + 1
    count = sample("coredns_dns_request_duration_seconds_count", zone=".", type="A")
    assert count >= 1


def test_a_large_answer_is_truncated_over_udp_and_whole_over_tcp(server: DnsServer) -> None:
    udp = ask(server, "big.default.svc.cluster.local")
    assert udp.header.tc == 1 and udp.rr == []
    tcp = ask(server, "big.default.svc.cluster.local", tcp=True)
    assert len(tcp.rr) == 59


def test_no_upstream_answering_is_servfail() -> None:
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))  # bound, never answers
    port = dead.getsockname()[1]
    resolver = Resolver(ServiceView(), Zone(), lambda: [("127.0.0.1", port)], timeout=0.2)
    srv = DnsServer(resolver, "127.0.0.1", 0)
    srv.start()
    try:
        reply = ask(srv, "www.example.com")
        assert reply.header.rcode == RCODE.SERVFAIL
        resolver.upstreams = list  # none configured at all
        assert ask(srv, "www.example.com").header.rcode == RCODE.SERVFAIL
    finally:
        srv.stop()
        dead.close()


def test_cluster_names_are_servfail_until_the_caches_are_filled(server: DnsServer) -> None:
    server.resolver.synced = lambda: False
    assert ask(server, "web.default.svc.cluster.local").header.rcode == RCODE.SERVFAIL
    assert [str(r.rdata) for r in ask(server, "www.example.com").rr] == ["192.0.2.80"]
    server.resolver.synced = lambda: True
    assert ask(server, "web.default.svc.cluster.local").header.rcode == RCODE.NOERROR


def test_a_broken_packet_gets_formerr_and_a_runt_nothing(server: DnsServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x05abc",
                    ("127.0.0.1", server.port))  # fmt: skip
        data = sock.recv(512)
        ident, flags = struct.unpack("!HH", data[:4])
        assert ident == 0x1234 and flags & 0x8000 and flags & 0xF == RCODE.FORMERR
        sock.sendto(b"\x00\x01", ("127.0.0.1", server.port))
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(512)
    # the server still answers after them
    assert ask(server, "web.default.svc.cluster.local").header.rcode == RCODE.NOERROR


def test_other_opcodes_are_not_implemented_and_bad_objects_servfail(server: DnsServer) -> None:
    notify = DNSRecord.question("cluster.local", "SOA")
    notify.header.opcode = OPCODE.NOTIFY
    reply = DNSRecord.parse(notify.send("127.0.0.1", server.port, timeout=5))
    assert reply.header.rcode == RCODE.NOTIMP
    server.resolver.view.services.upsert(
        {"metadata": {"name": "bad", "namespace": "default"}, "spec": {"clusterIP": "10.96.1"}}
    )
    assert ask(server, "bad.default.svc.cluster.local").header.rcode == RCODE.SERVFAIL
    assert ask(server, "web.default.svc.cluster.local").header.rcode == RCODE.NOERROR


def test_a_second_server_on_a_taken_address_fails_to_bind(server: DnsServer) -> None:
    with pytest.raises(OSError):
        DnsServer(server.resolver, "127.0.0.1", server.port)


def test_parse_upstream() -> None:
    assert parse_upstream("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_upstream("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_upstream("[fd00::1]:54") == ("fd00::1", 54)
    assert parse_upstream("fd00::1") == ("fd00::1", 53)
