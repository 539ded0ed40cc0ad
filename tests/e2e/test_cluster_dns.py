"""Cluster DNS from a pod on real Docker: the kubelet's resolv.conf per dnsPolicy, and busybox's
``nslookup`` answered by the node-local server on 10.96.0.10 (a Service's short name and FQDN,
a headless Service's ready addresses and endpoint hostname, SRV, NXDOMAIN, and a name outside
the cluster answered by a fake upstream resolver this test runs). Shares the session's
two-agent ``cluster``, whose agents forward to ``cluster.dns_upstream_port``."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSServer

from agent.resolvconf import is_loopback, parse
from tests.e2e.conftest import Cluster, wait_for

NS = "dns-e2e"
ZONE = f"{NS}.svc.cluster.local"

MANIFEST = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Service
metadata: {{name: backend, namespace: {NS}}}
spec:
  selector: {{app: backend}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: {NS}}}
spec:
  clusterIP: None
  ports: [{{name: pg, port: 5432}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-1
  namespace: {NS}
  labels: {{kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{{name: pg, port: 5432, protocol: TCP}}]
endpoints:
- {{addresses: [10.244.9.10], hostname: db-0, conditions: {{ready: true}}}}
- {{addresses: [10.244.9.11], hostname: db-1, conditions: {{ready: true}}}}
- {{addresses: [10.244.9.12], hostname: db-2, conditions: {{ready: false}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: {NS}}}
spec: {{type: ExternalName, externalName: upstream.example}}
---
apiVersion: v1
kind: Service
metadata: {{name: peers, namespace: {NS}}}
spec:
  clusterIP: None
  selector: {{app: peer}}
  ports: [{{name: web, port: 80}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: peer, namespace: {NS}, labels: {{app: peer}}}}
spec:
  hostname: peer-0
  subdomain: peers
  terminationGracePeriodSeconds: 1
  containers: [{{name: web, image: "tinykube/web:1", ports: [{{name: web, containerPort: 80}}]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{{name: c, image: "tinykube/sleeper:1"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: hostdns, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: Default
  containers: [{{name: c, image: "tinykube/sleeper:1"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: custom, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.1]
    searches: [my.dns.search.suffix]
    options: [{{name: ndots, value: "2"}}, {{name: edns0}}]
  containers: [{{name: c, image: "tinykube/sleeper:1"}}]
"""


class Upstream(BaseResolver):  # type: ignore[misc]
    """The world's resolver, as far as this test goes: one name."""

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        if str(request.q.qname).lower() == "upstream.example." and request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("192.0.2.80"), ttl=30))
        else:
            reply.header.rcode = 3  # NXDOMAIN
        return reply


@pytest.fixture(scope="module")
def objects(cluster: Cluster) -> Iterator[None]:
    cluster.tkctl("apply", "-f", "-", stdin=textwrap.dedent(MANIFEST))
    yield
    cluster.tkctl("delete", "namespace", NS, "--ignore-not-found", check=False, timeout=120)


@pytest.fixture(scope="module")
def upstream(cluster: Cluster) -> Iterator[None]:
    servers = [
        DNSServer(Upstream(), port=cluster.dns_upstream_port, address="127.0.0.1", tcp=tcp)
        for tcp in (False, True)
    ]
    for s in servers:
        s.start_thread()
    yield
    for s in servers:
        s.stop()
        s.server.server_close()


def running(cluster: Cluster, name: str) -> bool:
    pod = cluster.json("get", "pod", name, "-n", NS)
    return bool(pod["status"].get("phase") == "Running")


def sh(cluster: Cluster, pod: str, command: str) -> str:
    out = cluster.tkctl("exec", pod, "-n", NS, "--", "sh", "-c", command, check=False)
    return out.stdout + out.stderr


def lookup(cluster: Cluster, args: str, expect: str) -> str:
    """``nslookup`` from the client pod until its output holds ``expect`` (the server may still
    be syncing its informers, or taking the address over from an earlier cluster)."""

    def answered() -> str:
        out = sh(cluster, "client", f"nslookup {args}")
        assert expect in out, out
        return out

    return str(wait_for(f"nslookup {args} answering {expect!r}", answered, timeout=60, every=1.0))


def test_pod_resolv_conf_as_the_kubelet_writes_it(cluster: Cluster, objects: None) -> None:
    wait_for("client running", lambda: running(cluster, "client"))
    conf = sh(cluster, "client", "cat /etc/resolv.conf").splitlines()
    assert "nameserver 10.96.0.10" in conf
    search = next(line for line in conf if line.startswith("search "))
    assert search.split()[1:4] == [ZONE, "svc.cluster.local", "cluster.local"]
    assert "options ndots:5" in conf
    wait_for("custom running", lambda: running(cluster, "custom"))
    custom = sh(cluster, "custom", "cat /etc/resolv.conf").splitlines()
    assert "nameserver 192.0.2.1" in custom
    assert "search my.dns.search.suffix" in custom
    assert "options ndots:2 edns0" in custom
    wait_for("hostdns running", lambda: running(cluster, "hostdns"))
    host = sh(cluster, "hostdns", "cat /etc/resolv.conf")
    assert "10.96.0.10" not in host and "ndots:5" not in host
    for server in parse(Path("/etc/resolv.conf").read_text()).nameservers:
        if not is_loopback(server):
            assert f"nameserver {server}" in host.splitlines()


def test_service_names_from_a_pod(cluster: Cluster, objects: None, upstream: None) -> None:
    wait_for("client running", lambda: running(cluster, "client"))
    cluster_ip = cluster.json("get", "service", "backend", "-n", NS)["spec"]["clusterIP"]
    short = lookup(cluster, "backend", cluster_ip)  # through the search path
    assert f"backend.{ZONE}" in short
    lookup(cluster, f"backend.{ZONE}", cluster_ip)
    headless = lookup(cluster, f"db.{ZONE}", "10.244.9.10")
    assert "10.244.9.11" in headless and "10.244.9.12" not in headless  # ready ones only
    lookup(cluster, f"db-0.db.{ZONE}", "10.244.9.10")
    srv = lookup(cluster, f"-type=srv _pg._tcp.db.{ZONE}", "5432")
    assert f"db-0.db.{ZONE}" in srv and f"db-1.db.{ZONE}" in srv
    assert "db-2" not in srv
    lookup(cluster, f"-type=srv _http._tcp.backend.{ZONE}", f"80 backend.{ZONE}")
    lookup(cluster, f"nope.{ZONE}", "NXDOMAIN")
    lookup(cluster, "upstream.example", "192.0.2.80")
    lookup(cluster, "elsewhere.example", "NXDOMAIN")  # the upstream's own answer, relayed
    # an ExternalName is a CNAME, followed upstream
    lookup(cluster, f"ext.{ZONE}", "192.0.2.80")


def test_the_clusters_own_services(cluster: Cluster, objects: None) -> None:
    """The API server's ``kubernetes`` and ``kube-dns`` Services, and a PTR for a cluster IP."""
    wait_for("client running", lambda: running(cluster, "client"))
    lookup(cluster, "kubernetes.default.svc.cluster.local", "10.96.0.1")
    lookup(cluster, "kube-dns.kube-system.svc.cluster.local", "10.96.0.10")
    lookup(cluster, "10.96.0.10", "kube-dns.kube-system.svc.cluster.local")


def test_pods_with_hostname_and_subdomain(cluster: Cluster, objects: None) -> None:
    """The EndpointSlice controller gives the endpoint the pod's hostname: the pod is
    ``<hostname>.<subdomain>.<ns>.svc.cluster.local``, and the headless name lists it."""
    wait_for("peer running", lambda: running(cluster, "peer"))
    wait_for("client running", lambda: running(cluster, "client"))
    ip = cluster.json("get", "pod", "peer", "-n", NS)["status"]["podIP"]
    lookup(cluster, f"peer-0.peers.{ZONE}", ip)
    lookup(cluster, "peers", ip)
    srv = lookup(cluster, f"-type=srv _web._tcp.peers.{ZONE}", f"peer-0.peers.{ZONE}")
    assert " 80 " in srv
