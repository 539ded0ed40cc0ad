"""Services on one node of a throwaway cluster (one agent, this host's iptables; root needed):

- network programming latency (Kubernetes' SLI): from a pod seen Ready on a watch, or from its
  delete being sent, to its endpoint's DNAT rule present (or gone) in ``iptables-save``, polled;
  p50/p99 over ``--changes`` changes (half adds, half removals). Target p99 <= 1 s (the SLO is
  30 s). The poll's own cost is printed: it bounds the resolution.
- request latency from a client pod's network namespace: an HTTP GET through the ClusterIP and,
  as the baseline, the same GET straight to the pod IP, interleaved in one run; target: the
  ClusterIP adds <= 0.2 ms at p50.
- DNS: an A query for the Service's FQDN to the cluster DNS address from the client pod's
  namespace, p50/p99 (the same from the host for comparison).

Usage: python bench/service_latency.py [--changes 50] [--requests 200] [--lookups 200]
Everything it creates goes with it: the pods and their containers, the cluster's iptables
chains (``tinykube down``), and the cluster DNS address if the host did not hold it before.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.clusterdns import address_present
from agent.proxy import rules
from agent.runtime import CONTAINER_NAME, POD_NAME
from bench._cluster import cluster
from common import errors
from common.client import ApiClient
from common.resources import must

PODS, SERVICES = must("pods"), must("services")
NS = "default"
DNS_ADDRESS = "10.96.0.10"
POLL_TIMEOUT = 60.0

# Run in a pod's network namespace (nsenter -n) by this Python: timed GETs and DNS queries.
PROBE = r"""
import json, socket, sys, time
from dnslib import DNSRecord
args = json.loads(sys.argv[1])

def get(ip):
    t = time.perf_counter()
    with socket.create_connection((ip, 80), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        while s.recv(4096):
            pass
    return time.perf_counter() - t

def lookup(server, name):
    q = DNSRecord.question(name, "A").pack()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        t = time.perf_counter()
        s.sendto(q, (server, 53))
        reply = s.recv(4096)
        took = time.perf_counter() - t
    if not DNSRecord.parse(reply).rr:
        out["unanswered"] += 1
    return took

out = {"cluster_ip": [], "pod_ip": [], "dns": [], "unanswered": 0}
for _ in range(args["requests"]):
    out["cluster_ip"].append(get(args["cluster_ip"]))
    out["pod_ip"].append(get(args["pod_ip"]))
for _ in range(args["lookups"]):
    out["dns"].append(lookup(args["dns"], args["name"]))
print(json.dumps(out))
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1000:8.3f} ms  p99 {pct(values, 99) * 1000:8.3f} ms"


def pod(name: str, app: str, image: str = "tinykube/web:1") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "containers": [{"name": "c", "image": image}],
            "terminationGracePeriodSeconds": 1,
        },
    }


def service(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80}]},
    }


def is_ready(obj: dict[str, Any]) -> bool:
    conds = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


class ReadyWatcher:
    """When each pod was first seen Ready on a watch, and its IP."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.ready: dict[str, tuple[float, str]] = {}
        self.cond = threading.Condition()
        rv = client.list(PODS, NS)["metadata"]["resourceVersion"]
        threading.Thread(target=self._run, args=(rv,), daemon=True).start()

    def _run(self, rv: str) -> None:
        try:
            for event in self.client.watch(PODS, NS, resource_version=rv, timeout_seconds=3600):
                obj = event["object"]
                if event["type"] != "BOOKMARK" and is_ready(obj):
                    with self.cond:
                        self.ready.setdefault(
                            obj["metadata"]["name"], (time.monotonic(), obj["status"]["podIP"])
                        )
                        self.cond.notify_all()
        except errors.ApiError:
            return  # the cluster is going down

    def wait(self, name: str, timeout: float = 180) -> tuple[float, str]:
        with self.cond:
            if not self.cond.wait_for(lambda: name in self.ready, timeout):
                raise TimeoutError(f"pod {name} never Ready")
            return self.ready[name]


class RuleWatcher:
    """Polls ``iptables-save -t nat`` for the cluster's DNAT rule to an address."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.costs: list[float] = []

    def live(self, ip: str) -> bool:
        t = time.perf_counter()
        out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        self.costs.append(time.perf_counter() - t)
        return any(
            line.startswith(f"-A {self.prefix}-SEP-") and f"--to-destination {ip}:80" in line
            for line in out.splitlines()
        )

    def until(self, ip: str, present: bool) -> float:
        deadline = time.monotonic() + POLL_TIMEOUT
        while time.monotonic() < deadline:
            if self.live(ip) == present:
                return time.monotonic()
        raise TimeoutError(f"the rule to {ip} still {'absent' if present else 'present'}")


def programming(client: ApiClient, prefix: str, changes: int) -> tuple[list[float], list[float]]:
    """Adds and removals of one endpoint of the Service ``np``, one change at a time."""
    client.create(SERVICES, service("np", "np"), NS)
    watcher, rules_ = ReadyWatcher(client), RuleWatcher(prefix)
    added: list[float] = []
    removed: list[float] = []
    for i in range(max(1, changes // 2)):
        name = f"np-{i}"
        client.create(PODS, pod(name, "np"), NS)
        ready_at, ip = watcher.wait(name)
        added.append(max(0.0, rules_.until(ip, True) - ready_at))
        sent = time.monotonic()
        client.delete(PODS, name, NS)
        removed.append(rules_.until(ip, False) - sent)
    print(f"  iptables-save -t nat itself:  {ms(rules_.costs)}  (the poll's resolution)")
    return added, removed


def pod_pid(cluster_id: str, name: str) -> int:
    """The PID of a pod's app container: a way into the pod's network namespace."""
    engine = docker.from_env()
    try:
        labels = [f"tinykube.io/cluster={cluster_id}", f"{POD_NAME}={name}", f"{CONTAINER_NAME}=c"]
        (container,) = engine.containers.list(filters={"label": labels})
        return int(container.attrs["State"]["Pid"])
    finally:
        engine.close()


def probe(pid: int | None, args: dict[str, Any]) -> dict[str, Any]:
    enter = ["nsenter", "-t", str(pid), "-n"] if pid else []
    out = subprocess.run([*enter, sys.executable, "-c", PROBE, json.dumps(args)],
                         capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"probe failed: {out.stderr.strip()[-500:]}")
    return dict(json.loads(out.stdout))


def data_path(client: ApiClient, cluster_id: str, requests: int, lookups: int) -> None:
    client.create(SERVICES, service("web", "web"), NS)
    client.create(PODS, pod("web", "web"), NS)
    client.create(PODS, pod("client", "client", "tinykube/sleeper:1"), NS)
    watcher = ReadyWatcher(client)
    _, pod_ip = watcher.wait("web")
    watcher.wait("client")
    cluster_ip = client.get(SERVICES, "web", NS)["spec"]["clusterIP"]
    args = {"cluster_ip": cluster_ip, "pod_ip": pod_ip, "dns": DNS_ADDRESS,
            "name": f"web.{NS}.svc.cluster.local", "requests": requests,
            "lookups": lookups}  # fmt: skip
    RuleWatcher(rules.chain_prefix(cluster_id)).until(pod_ip, True)
    probe(pod_pid(cluster_id, "client"), {**args, "requests": 5, "lookups": 5})  # warm up
    got = probe(pod_pid(cluster_id, "client"), args)
    added = pct(got["cluster_ip"], 50) - pct(got["pod_ip"], 50)
    print(f"request from a pod, n={requests} each (HTTP GET to busybox httpd):")
    print(f"  through the ClusterIP        {ms(got['cluster_ip'])}")
    print(f"  baseline: straight to pod IP {ms(got['pod_ip'])}")
    print(f"  added by the ClusterIP, p50  {added * 1000:8.3f} ms   (target <= 0.2 ms)")
    host = probe(None, {**args, "requests": 0})
    print(f"DNS A lookups of {args['name']}, n={lookups}:")
    print(f"  from the pod                 {ms(got['dns'])}")
    print(f"  from the host                {ms(host['dns'])}")
    if got["unanswered"] or host["unanswered"]:
        print(f"  ({got['unanswered'] + host['unanswered']} lookups had no answer: another "
              f"cluster's server may hold {DNS_ADDRESS} on this host)")  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--changes", type=int, default=50)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--lookups", type=int, default=200)
    args = p.parse_args()
    had_dns_address = address_present(DNS_ADDRESS)
    had_link = link_present()
    try:
        with cluster(1) as (client, data):
            cluster_id = json.loads((data / "state.json").read_text())["cluster"]
            print(f"network programming latency, {args.changes} changes (one endpoint each):")
            added, removed = programming(client, rules.chain_prefix(cluster_id), args.changes)
            print(f"  pod Ready -> rule live       {ms(added)}")
            print(f"  pod deleted -> rule gone     {ms(removed)}")
            both = added + removed
            print(f"  all changes                  {ms(both)}   (target p99 <= 1000 ms)")
            data_path(client, cluster_id, args.requests, args.lookups)
            print(f"(mean of all changes: {statistics.mean(both) * 1000:.1f} ms)")
    finally:
        if not had_dns_address:
            release_dns_address(drop_link=not had_link)
    return 0


def link_present() -> bool:
    return subprocess.run(["ip", "link", "show", "tinykube-dns"], capture_output=True,
                          check=False).returncode == 0  # fmt: skip


def release_dns_address(*, drop_link: bool) -> None:
    """The agent leaves the cluster DNS address in place for other clusters; none used it here
    before this run, so it goes with the run (and the interface, if the run made it)."""
    for device in ("tinykube-dns", "lo"):
        subprocess.run(["ip", "addr", "del", f"{DNS_ADDRESS}/32", "dev", device],
                       capture_output=True, check=False)  # fmt: skip
    if drop_link:
        subprocess.run(["ip", "link", "del", "tinykube-dns"], capture_output=True, check=False)


if __name__ == "__main__":
    sys.exit(main())
