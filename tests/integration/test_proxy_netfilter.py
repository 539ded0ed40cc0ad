"""kube-proxy's rules in a real netfilter: a network namespace the test creates (``ip netns``),
where the restore, the jumps, a rebuild, the removal and real connections are checked. Needs
root and the iptables tools; the host's own namespace is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from agent.proxy import model, rules
from agent.proxy.netfilter import Netfilter, NetfilterError

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("iptables-restore") or not shutil.which("ip"),
    reason="needs root, ip and iptables",
)

OPTS = rules.Options(prefix="TKTESTAA", cluster_id="test-cluster", local_nodes=frozenset({"n1"}))
OTHER = rules.Options(prefix="TKTESTBB", cluster_id="other-cluster")
SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16); print("up", flush=True)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[3].encode()); c.close()
"""
CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(c.recv(100).decode())
except OSError as e:
    print(type(e).__name__)
"""


class Netns:
    def __init__(self) -> None:
        self.name = f"tk-proxy-{uuid.uuid4().hex[:8]}"
        self.procs: list[subprocess.Popen[str]] = []

    def cmd(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(self.cmd(*args), input=stdin, capture_output=True, text=True,
                             check=True, timeout=30)  # fmt: skip
        return out.stdout

    def runner(self, args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(*args), **kw)

    def serve(self, ip: str, port: int, reply: str) -> None:
        p = subprocess.Popen(self.cmd(sys.executable, "-c", SERVER, ip, str(port), reply),
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "up"

    def connect(self, ip: str, port: int) -> tuple[str, float]:
        start = time.monotonic()
        out = self.run(sys.executable, "-c", CLIENT, ip, str(port)).strip()
        return out, time.monotonic() - start


@pytest.fixture
def ns() -> Iterator[Netns]:
    n = Netns()
    subprocess.run(["ip", "netns", "add", n.name], check=True)
    try:
        n.run("ip", "link", "set", "lo", "up")
        n.run("ip", "link", "add", "pods0", "type", "veth", "peer", "name", "pods1")
        n.run("ip", "addr", "add", "10.0.0.1/24", "dev", "pods0")
        n.run("ip", "link", "set", "pods0", "up")
        n.run("ip", "link", "set", "pods1", "up")
        n.run("ip", "route", "add", "default", "dev", "pods0")
        yield n
    finally:
        for p in n.procs:
            p.kill()
            p.wait()
            if p.stdout is not None:
                p.stdout.close()
        subprocess.run(["ip", "netns", "del", n.name], check=False)


def svc(name: str, ip: str, port: int, node_port: int = 0) -> dict[str, Any]:
    p: dict[str, Any] = {"name": "http", "port": port, "protocol": "TCP"}
    spec: dict[str, Any] = {"clusterIP": ip, "ports": [p], "type": "ClusterIP"}
    if node_port:
        p["nodePort"], spec["type"] = node_port, "NodePort"
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def eps(name: str, *addresses: tuple[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "metadata": {"namespace": "default", "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": "n1"}],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        }
        for ip, port in addresses
    ]


def program(nf: Netfilter, opts: rules.Options, services: list[dict[str, Any]],
            slices: list[dict[str, Any]]) -> None:  # fmt: skip
    ports = []
    for s in services:
        for sp in model.service_ports(s):
            found = model.endpoints_of(sp, slices)
            ports.append((sp, model.categorize(sp, found, opts.local_nodes)))
    existing = rules.parse_chains(nf.save()).get("nat", [])
    nf.restore(rules.build_ruleset(ports, opts, existing))
    nf.ensure_jumps(rules.jumps(opts))


def test_cluster_ip_and_nodeport_reach_the_endpoints_and_no_endpoints_is_refused(
    ns: Netns,
) -> None:
    nf = Netfilter(ns.runner)
    ns.serve("10.0.0.1", 8081, "one")
    ns.serve("10.0.0.1", 8082, "two")
    web = svc("web", "10.96.0.20", 80, node_port=30080)
    slices = eps("web", ("10.0.0.1", 8081), ("10.0.0.1", 8082))
    program(nf, OPTS, [web, svc("empty", "10.96.0.21", 80)], slices)
    seen = {ns.connect("10.96.0.20", 80)[0] for _ in range(30)}
    assert seen == {"one", "two"}  # spread over both (each 1/2: 30 misses are 2^-29 likely)
    assert ns.connect("127.0.0.1", 30080)[0] in ("one", "two")
    assert ns.connect("10.0.0.1", 30080)[0] in ("one", "two")
    answer, took = ns.connect("10.96.0.21", 80)
    assert answer == "ConnectionRefusedError"  # REJECT: at once, not after the 3 s timeout
    assert took < 3


def test_a_rebuild_rewrites_whole_chains_without_touching_others(ns: Netns) -> None:
    nf = Netfilter(ns.runner)
    # Chains that are not ours: Docker's, and another cluster's (with its own jump).
    ns.run("iptables", "-t", "nat", "-N", "DOCKER")
    ns.run("iptables", "-t", "nat", "-A", "DOCKER", "-i", "pods0", "-j", "RETURN")
    program(nf, OTHER, [svc("x", "10.96.0.99", 80)], eps("x", ("10.0.0.9", 80)))
    web = svc("web", "10.96.0.20", 80)
    program(nf, OPTS, [web], eps("web", ("10.0.0.1", 8081), ("10.0.0.2", 8081)))
    before = nf.save()
    program(nf, OPTS, [web], eps("web", ("10.0.0.2", 8081)))
    after = nf.save()
    ours = [c for c in rules.parse_chains(after)["nat"] if c.startswith("TKTESTAA-SEP-")]
    assert len(ours) == 1  # the stale endpoint chain was deleted
    assert "10.0.0.1:8081" in before and "10.0.0.1:8081" not in after
    for line in before.splitlines():  # everything not ours is as it was
        if line.startswith("-A") and "TKTESTAA" not in line:
            assert line in after.splitlines()
    # The jumps are not added twice.
    assert nf.ensure_jumps(rules.jumps(OPTS)) == 0
    assert after.count("-j TKTESTAA-SERVICES") == after.count(
        "tinykube test-cluster service portals"
    )


def test_removal_takes_only_this_clusters_chains_and_jumps(ns: Netns) -> None:
    nf = Netfilter(ns.runner)
    ns.run("iptables", "-t", "nat", "-N", "DOCKER")
    program(nf, OTHER, [svc("x", "10.96.0.99", 80)], eps("x", ("10.0.0.9", 80)))
    program(nf, OPTS, [svc("web", "10.96.0.20", 80)], eps("web", ("10.0.0.1", 8081)))
    assert nf.remove("TKTESTAA") > 0
    saved = nf.save()
    assert "TKTESTAA" not in saved
    assert "TKTESTBB-SERVICES" in saved and ":DOCKER" in saved
    assert nf.remove(None) > 0  # every tinykube cluster's, as an uninstall does
    saved = nf.save()
    assert "TKTESTBB" not in saved and ":DOCKER" in saved


def test_a_refused_restore_is_an_error_and_changes_nothing(ns: Netns) -> None:
    nf = Netfilter(ns.runner)
    program(nf, OPTS, [svc("web", "10.96.0.20", 80)], eps("web", ("10.0.0.1", 8081)))
    before = nf.save()
    with pytest.raises(NetfilterError):
        nf.restore("*nat\n:TKTESTAA-SERVICES - [0:0]\n-A TKTESTAA-SERVICES -j NOWHERE\nCOMMIT\n")
    assert nf.save().split("\n", 1)[1] == before.split("\n", 1)[1]
