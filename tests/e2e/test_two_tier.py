"""examples/two-tier.yaml on the shared cluster: the front end, reached from the host through its
NodePort, fetches from the back end by its ClusterIP, its short name and its FQDN; the back end
scaled 2 -> 0 -> 3 as the front end sees it through the Service (refused at 0, spread over 3);
a back-end pod whose readiness probe fails leaves the Service. The example's fixed NodePort is
left to the allocator here (another cluster on this host may hold 30080)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import DNSRecord

from tests.e2e.conftest import ROOT, Cluster, wait_for

NS = "shop"
FQDN = f"backend.{NS}.svc.cluster.local"


@pytest.fixture(scope="module")
def shop(cluster: Cluster) -> Iterator[None]:
    text = (ROOT / "examples" / "two-tier.yaml").read_text()
    assert ", nodePort: 30080}" in text
    cluster.tkctl("apply", "-f", "-", stdin=text.replace(", nodePort: 30080}", "}"))
    yield
    cluster.tkctl("delete", "namespace", NS, "--ignore-not-found", check=False, timeout=120)


def ready_pods(cluster: Cluster, app: str) -> list[str]:
    out = []
    for p in cluster.json("get", "pods", "-n", NS, "-l", f"app={app}")["items"]:
        conds = {c["type"]: c["status"] for c in p["status"].get("conditions") or []}
        if conds.get("Ready") == "True" and not p["metadata"].get("deletionTimestamp"):
            out.append(p["metadata"]["name"])
    return sorted(out)


def front_end(cluster: Cluster, query: str = "") -> str:
    """What the front end answers, asked from the host through its NodePort."""
    svc = cluster.json("get", "service", "frontend", "-n", NS)
    port = svc["spec"]["ports"][0]["nodePort"]
    url = f"http://127.0.0.1:{port}/cgi-bin/fetch" + (f"?{query}" if query else "")
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode().strip())


def back_ends_seen(cluster: Cluster, query: str, tries: int) -> set[str]:
    """The back-end pods that answered ``tries`` fetches (an unreachable back end: ``-``)."""
    seen = set()
    for _ in range(tries):
        _, _, said = front_end(cluster, query).partition(" -> ")
        seen.add(said.removeprefix("Hello from ") if said.startswith("Hello from ") else "-")
    return seen


def cluster_ip(cluster: Cluster) -> str:
    return str(cluster.json("get", "service", "backend", "-n", NS)["spec"]["clusterIP"])


def scaled(cluster: Cluster, replicas: int) -> list[str]:
    """Scale the back end and wait for exactly ``replicas`` ready pods: their names."""
    cluster.tkctl("scale", "deployment", "backend", "-n", NS, "--replicas", str(replicas))

    def settled() -> bool:
        return len(ready_pods(cluster, "backend")) == replicas

    wait_for(f"{replicas} ready back ends", settled, timeout=120)
    return ready_pods(cluster, "backend")


def test_the_front_end_reaches_the_back_end_through_its_cluster_ip(
    cluster: Cluster, shop: None
) -> None:
    wait_for("two ready back ends", lambda: len(ready_pods(cluster, "backend")) == 2, timeout=120)
    names = ready_pods(cluster, "backend")
    wait_for("the front end ready", lambda: ready_pods(cluster, "frontend"), timeout=120)
    ip = cluster_ip(cluster)

    def spread(expected: set[str]) -> Any:
        try:
            return back_ends_seen(cluster, ip, 24) == expected
        except OSError:  # the NodePort's rules still on their way
            return False

    wait_for("both back ends through the ClusterIP", lambda: spread(set(names)), timeout=60)

    # 2 -> 0: the ClusterIP refuses at once (kube-proxy's REJECT), the front end says so.
    scaled(cluster, 0)

    def refused() -> bool:
        said = front_end(cluster, ip)
        return "unreachable" in said and "Connection refused" in said

    wait_for("the back end refused at 0 replicas", refused, timeout=60)

    # 0 -> 3: spread over the three new pods.
    names = scaled(cluster, 3)
    wait_for("three back ends through the ClusterIP", lambda: spread(set(names)), timeout=60)

    # Readiness: a pod whose page is gone fails its probe and leaves the Service.
    gone = names[0]
    cluster.tkctl("exec", gone, "-n", NS, "--", "rm", "/www/index.html")
    wait_for(f"{gone} not ready", lambda: gone not in ready_pods(cluster, "backend"), timeout=60)
    wait_for(f"{gone} out of the Service", lambda: spread(set(names[1:])), timeout=60)
    endpoints = [
        ep
        for s in cluster.json(
            "get", "endpointslices", "-n", NS, "-l", "kubernetes.io/service-name=backend"
        )["items"]
        for ep in s.get("endpoints") or []
        if (ep.get("targetRef") or {}).get("name") == gone
    ]
    assert [ep["conditions"]["ready"] for ep in endpoints] == [False]


def serves_the_cluster_dns(cluster: Cluster) -> bool:
    """Whether this cluster's DNS server is the one answering on 10.96.0.10 (another cluster on
    this host may hold the address): it knows this cluster's back-end Service."""
    cluster_ip = cluster.json("get", "svc", "backend", "-n", NS)["spec"]["clusterIP"]
    try:
        raw = DNSRecord.question(FQDN).send("10.96.0.10", 53, timeout=3)
    except OSError:
        return False
    return [str(rr.rdata) for rr in DNSRecord.parse(raw).rr] == [cluster_ip]


def test_the_front_end_finds_the_back_end_by_name(cluster: Cluster, shop: None) -> None:
    if not serves_the_cluster_dns(cluster):
        pytest.skip("another cluster on this host answers on 10.96.0.10")
    wait_for("a ready back end", lambda: ready_pods(cluster, "backend"), timeout=120)
    wait_for("the front end ready", lambda: ready_pods(cluster, "frontend"), timeout=120)
    for query in ("", FQDN):  # the short name through the pod's search path, then the FQDN

        def answered(query: str = query) -> bool:
            try:
                return "Hello from backend-" in front_end(cluster, query)
            except OSError:
                return False

        wait_for(f"the back end by {query or 'its short name'}", answered, timeout=60)
