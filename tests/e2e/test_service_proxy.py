"""The agents' kube-proxy on real Docker and the host's real iptables: a ClusterIP spread over two
web pods, reached from the host, from another pod and from an endpoint itself (hairpin); a
NodePort on 127.0.0.1; a Service with no endpoints refused at once; the rules gone with the
Service. The Services carry their own EndpointSlices (a Service without a selector), so what is
tested is the proxy alone."""

from __future__ import annotations

import errno
import os
import random
import signal
import socket
import subprocess
import urllib.request
from typing import Any

import yaml

from agent.proxy import proxier, rules
from agent.proxy.netfilter import RUN_DIR
from tests.e2e.conftest import Cluster, wait_for

APP = "proxy-web"
TAKEOVER = "proxy-takeover"
SCALED = "proxy-scaled"


def manifest(*objs: dict[str, Any]) -> str:
    return str(yaml.safe_dump_all(objs))


def deployment(replicas: int, app: str = APP) -> dict[str, Any]:
    labels = {"app": app}
    pod = {"containers": [{"name": "web", "image": "tinykube/web:1"}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }  # fmt: skip


def service(name: str, ip: str, node_port: int = 0) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}
    if node_port:
        port["nodePort"] = node_port
    spec = {"type": "NodePort" if node_port else "ClusterIP", "clusterIP": ip, "ports": [port]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def endpoint_slice(name: str, pods: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{name}-manual", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": True},
                "nodeName": p["spec"]["nodeName"],
            }
            for p in pods
        ],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    }


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode().strip())


def serves(url: str) -> bool:
    try:
        return fetch(url).startswith("Hello")
    except OSError:  # refused until the endpoints are programmed
        return False


def from_pod(cluster: Cluster, pod: str, url: str) -> str:
    # busybox's wget -T segfaults: timeout bounds it instead.
    out = cluster.tkctl("exec", pod, "--", "timeout", "5", "wget", "-q", "-O-", url, check=False)
    return out.stdout.strip()


def running_pods(cluster: Cluster, n: int, app: str = APP) -> list[dict[str, Any]]:
    items = cluster.json("get", "pods", "-l", f"app={app}")["items"]
    ready = [p for p in items if (p.get("status") or {}).get("podIP")
             and p["status"].get("phase") == "Running"
             and not p["metadata"].get("deletionTimestamp")]  # fmt: skip
    return ready if len(ready) == n else []


def iptables_save() -> str:
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def test_cluster_ip_nodeport_hairpin_and_no_endpoints(cluster: Cluster) -> None:
    rnd = random.Random()
    cluster_ip = f"10.96.{rnd.randint(100, 250)}.{rnd.randint(2, 250)}"
    empty_ip = f"10.96.{rnd.randint(100, 250)}.{rnd.randint(2, 250)}"
    node_port = rnd.randint(31000, 32700)
    cluster.tkctl("apply", "-f", "-", stdin=manifest(deployment(2)))
    try:
        pods = wait_for("two running web pods", lambda: running_pods(cluster, 2), timeout=120)
        names = {p["metadata"]["name"] for p in pods}
        objs = [service(APP, cluster_ip, node_port), endpoint_slice(APP, pods),
                service("proxy-empty", empty_ip)]  # fmt: skip
        cluster.tkctl("apply", "-f", "-", stdin=manifest(*objs))
        url = f"http://{cluster_ip}/"

        # From the host, spread over both pods (each 1/2: missing one in 40 is 2^-39 likely).
        wait_for("the ClusterIP from the host", lambda: serves(url), timeout=30)
        seen = {fetch(url).removeprefix("Hello from ") for _ in range(40)}
        assert seen == names

        # A NodePort on 127.0.0.1 (route_localnet, with its guard rule).
        assert fetch(f"http://127.0.0.1:{node_port}/").removeprefix("Hello from ") in names
        saved = iptables_save()
        assert "block incoming localnet connections" in saved

        # From a pod: an endpoint reaches the others and itself (hairpin) through the ClusterIP.
        me = sorted(names)[0]
        answers = {from_pod(cluster, me, url).removeprefix("Hello from ") for _ in range(20)}
        assert answers == names, answers

        # No endpoints: refused at once (REJECT), not left to time out.
        with socket.socket() as s:
            s.settimeout(5)
            try:
                s.connect((empty_ip, 80))
                raise AssertionError("a Service with no endpoints accepted a connection")
            except ConnectionRefusedError:
                pass

        # The rules carry the cluster's prefix, written once whatever the number of agents.
        prefix = rules.chain_prefix(cluster.cluster_id)
        jumps = [ln for ln in saved.splitlines() if ln.startswith("-A PREROUTING")
                 and f"-j {prefix}-SERVICES" in ln]  # fmt: skip
        assert len(jumps) == 1
        nodes = cluster.json("get", "nodes")["items"]
        for node in nodes:
            conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
            assert conds.get("ServiceProxyUnavailable") == "False", conds
    finally:
        cluster.tkctl("delete", "service", APP, "proxy-empty", "--ignore-not-found", check=False)
        cluster.tkctl("delete", "endpointslice", f"{APP}-manual", "--ignore-not-found",
                      check=False)  # fmt: skip
        cluster.tkctl("delete", "deployment", APP, "--ignore-not-found", check=False)
    # The Services' rules go with them.
    wait_for("the rules removed", lambda: cluster_ip not in iptables_save(), timeout=30)
    assert empty_ip not in iptables_save()


def lock_holder(cluster: Cluster) -> int:
    path = proxier.lock_path(RUN_DIR, rules.chain_prefix(cluster.cluster_id))
    return int(path.read_text().strip() or 0)


def test_another_agent_takes_over_when_the_programming_one_dies(cluster: Cluster) -> None:
    rnd = random.Random()
    cluster_ip = f"10.96.{rnd.randint(100, 250)}.{rnd.randint(2, 250)}"
    url = f"http://{cluster_ip}/"
    cluster.tkctl("apply", "-f", "-", stdin=manifest(deployment(1, TAKEOVER)))
    try:
        pods = wait_for(
            "a running web pod", lambda: running_pods(cluster, 1, TAKEOVER), timeout=120
        )
        objs = [service(TAKEOVER, cluster_ip), endpoint_slice(TAKEOVER, pods)]
        cluster.tkctl("apply", "-f", "-", stdin=manifest(*objs))
        wait_for("the ClusterIP from the host", lambda: serves(url), timeout=30)
        agents = {v for k, v in cluster.state()["processes"].items() if k.startswith("node-")}
        holder = lock_holder(cluster)
        assert holder in agents  # one of this cluster's agents programs the host

        os.kill(holder, signal.SIGKILL)
        # The rules outlive their writer: traffic keeps flowing meanwhile.
        assert all(serves(url) for _ in range(10))

        def new_holder() -> int:
            pid = lock_holder(cluster)
            return pid if pid != holder and pid in cluster.state()["processes"].values() else 0

        wait_for("another agent holding the lock", new_holder, timeout=30)
        # ...and the new holder programs changes: without endpoints the Service refuses.
        cluster.tkctl("delete", "endpointslice", f"{TAKEOVER}-manual")
        wait_for("the Service refused", lambda: not serves(url), timeout=30)
        with socket.socket() as s:
            s.settimeout(5)
            assert s.connect_ex((cluster_ip, 80)) == errno.ECONNREFUSED
    finally:
        cluster.tkctl("delete", "service", TAKEOVER, "--ignore-not-found", check=False)
        cluster.tkctl("delete", "endpointslice", f"{TAKEOVER}-manual", "--ignore-not-found",
                      check=False)  # fmt: skip
        cluster.tkctl("delete", "deployment", TAKEOVER, "--ignore-not-found", check=False)


def test_a_selector_service_follows_its_pods_through_scaling(cluster: Cluster) -> None:
    """The EndpointSlice controller's slices drive the rules: refused at 0 replicas, spread
    over the pods again once they are back."""
    rnd = random.Random()
    cluster_ip = f"10.96.{rnd.randint(100, 250)}.{rnd.randint(2, 250)}"
    url = f"http://{cluster_ip}/"
    svc = service(SCALED, cluster_ip)
    svc["spec"]["selector"] = {"app": SCALED}
    cluster.tkctl("apply", "-f", "-", stdin=manifest(deployment(2, SCALED), svc))
    try:
        pods = wait_for("two running pods", lambda: running_pods(cluster, 2, SCALED), timeout=120)
        names = {p["metadata"]["name"] for p in pods}

        def spread() -> bool:
            try:
                return {fetch(url).removeprefix("Hello from ") for _ in range(30)} == names
            except OSError:  # the rules still on their way
                return False

        wait_for("the ClusterIP spread over both pods", spread, timeout=60)

        # ClientIP affinity: once its rules are in, every request from the host goes to one pod.
        svc["spec"]["sessionAffinity"] = "ClientIP"
        cluster.tkctl("apply", "-f", "-", stdin=manifest(svc))
        comment = f'--comment "default/{SCALED}:http -> '
        wait_for("the affinity rules", lambda: any(
            comment in ln and "--rcheck" in ln for ln in iptables_save().splitlines()
        ), timeout=30)  # fmt: skip
        assert len({fetch(url) for _ in range(20)}) == 1
        cluster.tkctl("scale", "deployment", SCALED, "--replicas", "0")
        wait_for("the Service refused at 0 replicas", lambda: not serves(url), timeout=60)
        with socket.socket() as s:
            s.settimeout(5)
            assert s.connect_ex((cluster_ip, 80)) == errno.ECONNREFUSED
        cluster.tkctl("scale", "deployment", SCALED, "--replicas", "1")
        wait_for("the Service back", lambda: serves(url), timeout=120)
    finally:
        cluster.tkctl("delete", "service", SCALED, "--ignore-not-found", check=False)
        cluster.tkctl("delete", "deployment", SCALED, "--ignore-not-found", check=False)
