"""EndpointSlices and Endpoints on a real cluster: a Deployment behind a Service, its pods' IPs
published as they become Ready, scaled to zero and back, and read with tkctl as a user would."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Cluster, wait_for

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ep-web
spec:
  replicas: 2
  selector:
    matchLabels: {app: ep-web}
  template:
    metadata:
      labels: {app: ep-web}
    spec:
      containers:
      - name: web
        image: tinykube/web:1
        ports:
        - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: ep-web
spec:
  selector: {app: ep-web}
  ports:
  - {name: web, port: 80, targetPort: http}
"""


def pod_ips(cluster: Cluster) -> list[str]:
    pods = cluster.json("get", "pods", "-l", "app=ep-web")["items"]
    ready = [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions") or []
        )
    ]
    return sorted(p["status"]["podIP"] for p in ready)


def ready_slice_ips(cluster: Cluster) -> list[str]:
    slices = cluster.json("get", "endpointslices", "-l", "kubernetes.io/service-name=ep-web")
    out: list[str] = []
    for s in slices["items"]:
        for e in s.get("endpoints") or []:
            if e["conditions"].get("ready"):
                out.extend(e["addresses"])
    return sorted(out)


def endpoint_ips(cluster: Cluster) -> list[str]:
    ep: Any = cluster.json("get", "endpoints", "ep-web")
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def test_a_service_publishes_its_ready_pods(cluster: Cluster) -> None:
    cluster.tkctl("apply", "-f", "-", stdin=MANIFEST)
    try:
        ips = wait_for("two ready pods", lambda: len(pod_ips(cluster)) == 2 and pod_ips(cluster))
        wait_for("the slices", lambda: ready_slice_ips(cluster) == ips, timeout=30)
        wait_for("the endpoints", lambda: endpoint_ips(cluster) == ips, timeout=30)
        [s] = cluster.json("get", "endpointslices", "-l", "kubernetes.io/service-name=ep-web")[
            "items"
        ]
        assert s["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
        got = cluster.tkctl("get", "endpoints", "ep-web")
        assert "Warning: v1 Endpoints is deprecated in v1.33+" in got.stderr
        table = got.stdout.splitlines()
        assert table[0].split() == ["NAME", "ENDPOINTS", "AGE"]
        assert table[1].split()[1] == ",".join(f"{ip}:8080" for ip in ips)
        table = cluster.tkctl("get", "endpointslices").stdout.splitlines()
        assert table[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
        row = next(line.split() for line in table if line.startswith("ep-web-"))
        assert row[1:3] == ["IPv4", "8080"]
        assert sorted(row[3].split(",")) == ips  # in the order the pods joined
        described = cluster.tkctl("describe", "endpointslice", row[0]).stdout
        assert "AddressType:  IPv4" in described and described.count("Ready:") == 2

        cluster.tkctl("scale", "deploy/ep-web", "--replicas=0")
        wait_for("no endpoints", lambda: ready_slice_ips(cluster) == [], timeout=60)
        wait_for("empty Endpoints", lambda: endpoint_ips(cluster) == [], timeout=30)
        cluster.tkctl("scale", "deploy/ep-web", "--replicas=3")
        ips = wait_for("three ready pods", lambda: len(pod_ips(cluster)) == 3 and pod_ips(cluster))
        wait_for("three endpoints", lambda: ready_slice_ips(cluster) == ips, timeout=30)
    finally:
        cluster.tkctl("delete", "-f", "-", stdin=MANIFEST, check=False, timeout=120)
    wait_for(
        "the slices gone",
        lambda: (
            not cluster.json("get", "endpointslices", "-l", "kubernetes.io/service-name=ep-web")[
                "items"
            ]
        ),
        timeout=60,
    )


def test_the_kubernetes_service_has_the_api_server_as_endpoint(cluster: Cluster) -> None:
    ep = cluster.json("get", "endpoints", "kubernetes", "-n", "default")
    [subset] = ep["subsets"]
    assert subset["ports"] == [{"name": "https", "port": cluster.port, "protocol": "TCP"}]
    [address] = subset["addresses"]
    assert not address["ip"].startswith("127.")
    s = cluster.json("get", "endpointslice", "kubernetes", "-n", "default")
    assert s["endpoints"][0]["addresses"] == [address["ip"]]
