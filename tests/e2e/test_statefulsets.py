"""A StatefulSet on real Docker: three pods made in order, each with its own local-path claim
and a DNS name under its headless Service; ``web-1`` deleted comes back with the same name,
the same data on its volume and the same DNS name (resolved from another pod). Shares the
session's two-agent ``cluster``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, wait_for

NS = "sts-e2e"
ZONE = f"{NS}.svc.cluster.local"

MANIFEST = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec:
  clusterIP: None
  selector: {{app: web}}
  ports: [{{name: web, port: 80}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web, namespace: {NS}}}
spec:
  serviceName: web
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: tinykube-test/busybox:1
        command: [sh, -c, "echo started-$(hostname) >> /data/log; trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done"]
        volumeMounts: [{{name: www, mountPath: /data}}]
  volumeClaimTemplates:
  - metadata: {{name: www}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 10Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{{name: c, image: "tinykube-test/busybox:1"}}]
"""  # noqa: E501


@pytest.fixture(scope="module")
def objects(cluster: Cluster) -> Iterator[None]:
    cluster.tkctl("apply", "-f", "-", stdin=MANIFEST)
    yield
    cluster.tkctl("delete", "namespace", NS, timeout=180, check=False)


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return bool(is_ready and not pod["metadata"].get("deletionTimestamp"))


def pods(cluster: Cluster) -> dict[str, dict[str, Any]]:
    items = cluster.json("get", "pods", "-n", NS, "-l", "app=web")["items"]
    return {p["metadata"]["name"]: p for p in items}


def sh(cluster: Cluster, pod: str, command: str) -> str:
    out = cluster.tkctl("exec", pod, "-n", NS, "--", "sh", "-c", command, check=False)
    return out.stdout + out.stderr


def resolves_to(cluster: Cluster, name: str, ip: str) -> str:
    def answered() -> str:
        out = sh(cluster, "client", f"nslookup {name}")
        assert ip in out, out
        return out

    return str(wait_for(f"{name} resolving to {ip}", answered, timeout=90, every=1.0))


def test_web_1_comes_back_with_its_name_data_and_dns_name(cluster: Cluster, objects: None) -> None:
    up = wait_for(
        "three ready pods",
        lambda: (p := pods(cluster)) and len(p) == 3 and all(ready(x) for x in p.values()) and p,
        timeout=240,
        every=1.0,
    )
    # Ordered: each pod was made after the previous one was ready.
    made = [up[f"web-{i}"]["metadata"]["creationTimestamp"] for i in range(3)]
    assert made == sorted(made)
    claims = cluster.json("get", "pvc", "-n", NS)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["www-web-0", "www-web-1", "www-web-2"]
    assert cluster.tkctl("get", "sts", "-n", NS).stdout.splitlines()[1].split()[:2] == [
        "web",
        "3/3",
    ]
    first = up["web-1"]
    assert sh(cluster, "web-1", "echo kept-123 > /data/marker && cat /data/marker").strip() == (
        "kept-123"
    )
    assert sh(cluster, "web-1", "hostname").strip() == "web-1"
    fqdn = f"web-1.web.{ZONE}"
    wait_for("client running", lambda: cluster.json("get", "pod", "client", "-n", NS)["status"]
             .get("phase") == "Running", timeout=120)  # fmt: skip
    resolves_to(cluster, fqdn, first["status"]["podIP"])

    cluster.tkctl("delete", "pod", "web-1", "-n", NS, timeout=120)

    def back() -> dict[str, Any] | None:
        pod = pods(cluster).get("web-1")
        if pod and pod["metadata"]["uid"] != first["metadata"]["uid"] and ready(pod):
            return pod
        return None

    again = wait_for("web-1 back and ready", back, timeout=180, every=1.0)
    assert again["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "www-web-1"
    assert sh(cluster, "web-1", "cat /data/marker").strip() == "kept-123"
    assert sh(cluster, "web-1", "cat /data/log").split() == ["started-web-1", "started-web-1"]
    resolves_to(cluster, fqdn, again["status"]["podIP"])
    status = cluster.json("get", "sts", "web", "-n", NS)["status"]
    assert status["readyReplicas"] == 3
