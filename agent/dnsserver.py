"""The node-local cluster DNS server: UDP and TCP on one address, cluster names answered from the
``ServiceView`` (``agent.dnsanswer``), every other name forwarded to the upstream resolvers over
the transport the client used. A thread per query or connection. Effectful shell.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from dnslib import OPCODE, QTYPE, RCODE, DNSError, DNSRecord

from agent.dnsanswer import Zone, answer
from agent.serviceview import ServiceView
from common import metrics

log = logging.getLogger(__name__)

# How long one upstream has to answer before the next is tried (glibc's resolver: 5 s, tried
# twice; a client's whole budget is about that, so each upstream gets less).
UPSTREAM_TIMEOUT = 2.0
UDP_PAYLOAD = 512  # without EDNS0 a UDP answer must fit here, else it is sent truncated
TCP_IDLE = 10.0  # a TCP client may keep its connection open for further queries this long
CNAME_DEPTH = 8  # ExternalName targets followed at most this far
PICK_ATTEMPTS = 10  # port 0: free UDP ports tried until the TCP one is free too

Address = tuple[str, int]


def parse_upstream(text: str, default_port: int = 53) -> Address:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT``."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, default_port


class Resolver:
    """Turns a query packet into a reply packet: answered locally or forwarded."""

    def __init__(
        self,
        view: ServiceView,
        zone: Zone,
        upstreams: Callable[[], list[Address]],
        *,
        timeout: float = UPSTREAM_TIMEOUT,
        synced: Callable[[], bool] = lambda: True,
    ) -> None:
        self.synced = synced  # until the caches are filled, cluster names get SERVFAIL
        self.server = "dns://:53"  # the metrics' server label; DnsServer sets where it listens
        self.view = view
        self.zone = zone
        self.upstreams = upstreams
        self.timeout = timeout

    def handle(self, data: bytes, tcp: bool) -> bytes | None:
        """The reply to send, or None for a packet too broken to answer; counted in CoreDNS's
        metrics (the zone is the cluster domain's or ``.`` for what went upstream)."""
        start = time.perf_counter()
        reply, zone, qtype = self._handle(data, tcp)
        if reply is not None:
            proto = "tcp" if tcp else "udp"
            metrics.DNS_REQUESTS.labels(self.server, zone, proto, qtype).inc()
            rcode = RCODE.get(reply[3] & 0xF) if len(reply) > 3 else "FORMERR"
            metrics.DNS_RESPONSES.labels(self.server, zone, rcode).inc()
            metrics.DNS_REQUEST_DURATION.labels(self.server, zone, qtype).observe(
                metrics.since(start)
            )
        return reply

    def _handle(self, data: bytes, tcp: bool) -> tuple[bytes | None, str, str]:
        try:
            query = DNSRecord.parse(data)
        except (DNSError, ValueError, IndexError, struct.error):
            return _formerr(data), ".", "other"
        if query.header.qr:
            return None, ".", "other"  # a reply sent to us: never answer one
        qtype = str(QTYPE.get(query.q.qtype)) if query.questions else "other"
        zone = self.zone.domain.strip(".") + "."
        if query.header.opcode != OPCODE.QUERY:
            return _refuse(query, RCODE.NOTIMP), ".", qtype  # no NOTIFY or UPDATE, as CoreDNS
        try:
            reply = self._local(query, 0)
        except Exception:  # an object the view holds that this server cannot read
            log.exception("cluster DNS: answering %s failed", query.q.qname)
            return _refuse(query, RCODE.SERVFAIL), zone, qtype
        if reply is None:
            return self.forward(data, tcp) or _refuse(query, RCODE.SERVFAIL), ".", qtype
        if not self.synced():  # an empty cache would deny names that exist: ask again later
            return _refuse(query, RCODE.SERVFAIL), zone, qtype
        packed: bytes = reply.pack()
        if not tcp and len(packed) > _udp_limit(query):
            packed = reply.truncate().pack()
        return packed, zone, qtype

    def _local(self, query: DNSRecord, depth: int) -> DNSRecord | None:
        reply = answer(query, self.view, self.zone)
        if reply is None or depth >= CNAME_DEPTH or query.q.qtype not in (QTYPE.A, QTYPE.AAAA):
            return reply
        if reply.rr and reply.rr[-1].rtype == QTYPE.CNAME:  # an ExternalName: follow it
            target = str(reply.rr[-1].rdata.label)
            sub = DNSRecord.question(target, QTYPE[query.q.qtype])
            found = self._local(sub, depth + 1)
            if found is None:
                raw = self.forward(sub.pack(), False)
                found = _parse(raw) if raw else None
            for rr in found.rr if found is not None else []:
                reply.add_answer(rr)
        return reply

    def forward(self, data: bytes, tcp: bool) -> bytes | None:
        """The first upstream's reply to the raw query, with the client's id, or None."""
        for address in self.upstreams():
            try:
                return _exchange(data, address, tcp, self.timeout)
            except (OSError, struct.error) as e:
                log.debug("cluster DNS: upstream %s:%d: %s", address[0], address[1], e)
        return None


def _parse(raw: bytes) -> DNSRecord | None:
    try:
        return DNSRecord.parse(raw)
    except (DNSError, ValueError, IndexError, struct.error):
        return None


def _udp_limit(query: DNSRecord) -> int:
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:  # EDNS0: the client says what it can take
            return max(UDP_PAYLOAD, int(rr.rclass))
    return UDP_PAYLOAD


def _refuse(query: DNSRecord, rcode: int) -> bytes:
    reply = query.reply()
    reply.header.aa = 0
    reply.header.rcode = rcode
    packed: bytes = reply.pack()
    return packed


def _formerr(data: bytes) -> bytes | None:
    """FORMERR echoing the id, when at least a header came in."""
    if len(data) < 12:
        return None
    ident, flags = struct.unpack("!HH", data[:4])
    if flags & 0x8000:
        return None
    return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x7900) | RCODE.FORMERR, 0, 0, 0, 0)


def _exchange(data: bytes, address: Address, tcp: bool, timeout: float) -> bytes:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        sock.connect(address)
        if tcp:
            sock.sendall(struct.pack("!H", len(data)) + data)
            return _read_message(sock)
        sock.send(data)
        while True:  # a stray datagram with another id is not our answer
            reply = sock.recv(65535)
            if reply[:2] == data[:2]:
                return reply


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed mid-message")
        buf += chunk
    return buf


def _read_message(sock: socket.socket) -> bytes:
    (length,) = struct.unpack("!H", _read_exact(sock, 2))
    return _read_exact(sock, length)


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.resolver.handle(data, tcp=False)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(TCP_IDLE)
        try:
            while True:
                data = _read_message(sock)
                reply = self.server.resolver.handle(data, tcp=True)
                if reply is None:
                    return
                sock.sendall(struct.pack("!H", len(reply)) + reply)
        except (OSError, struct.error):
            return  # the client went away or idled out


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    resolver: Resolver


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart must not wait for TIME_WAIT to clear
    resolver: Resolver


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _bind_pair(address: str, port: int) -> tuple[_UdpServer, _TcpServer]:
    """A UDP and a TCP server on one port; with port 0, a UDP port whose TCP twin is free too
    (tried a few times: another process may hold the TCP one)."""
    family = _family(address)
    udp_cls: Any = type("_Udp", (_UdpServer,), {"address_family": family})
    tcp_cls: Any = type("_Tcp", (_TcpServer,), {"address_family": family})
    for attempt in range(PICK_ATTEMPTS):
        udp = udp_cls((address, port), _UdpHandler)
        try:
            return udp, tcp_cls((address, udp.server_address[1]), _TcpHandler)
        except OSError:
            udp.server_close()
            if port != 0 or attempt == PICK_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class DnsServer:
    """UDP and TCP listeners on ``address:port`` (port 0: a free one, the same for both)."""

    def __init__(self, resolver: Resolver, address: str, port: int = 53) -> None:
        self.resolver = resolver
        self.udp, self.tcp = _bind_pair(address, port)
        self.udp.resolver = self.tcp.resolver = resolver
        self.address = address
        self.port = int(self.udp.server_address[1])
        resolver.server = f"dns://{address}:{self.port}"
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for server, name in ((self.udp, "dns-udp"), (self.tcp, "dns-tcp")):
            t = threading.Thread(target=server.serve_forever, args=(0.5,), name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        for server in (self.udp, self.tcp):
            server.shutdown()
            server.server_close()
