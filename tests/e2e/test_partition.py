"""A real network partition: one agent runs in a network namespace of its own, joined over TLS
through a veth pair, and iptables in that namespace drops everything to and from the control
plane (packets vanish, no connection is reset, as when a cable is pulled). The node goes
NotReady, its Deployment pod is evicted and replaced on the other node, and while the partition
lasts the control plane's side of the agent's connections is killed (``ss -K``: as after a
restart of the control plane or a NAT timeout), so the agent's watch is dead without knowing it.
When the partition heals, the agent removes its stale container within two lease intervals and,
having ended its dead watch, starts a new pod at once instead of after its idle timeout."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from common.redis_server import free_port, start_redis
from tests.e2e.conftest import BIN, assert_nothing_mounted, wait_for
from tests.e2e.test_join_tls import Server, spawn, stop
from tests.e2e.test_node_loss import running_apps

pytestmark = pytest.mark.e2e

GRACE, EVICTION, RENEW = 4, 2, 2.0
RESYNC = 300  # the partitioned agent's periodic relist: far away, so only its watch counts


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@dataclass
class Netns:
    name: str
    host_ip: str
    ns_ip: str

    def run(self, *argv: str) -> None:
        sh("ip", "netns", "exec", self.name, *argv)

    def cut(self) -> None:
        for chain, flag in (("INPUT", "-s"), ("OUTPUT", "-d")):
            self.run("iptables", "-A", chain, flag, self.host_ip, "-j", "DROP")

    def heal(self) -> None:
        self.run("iptables", "-F")


@pytest.fixture
def netns() -> Iterator[Netns]:
    if not shutil.which("ip") or not shutil.which("iptables") or not shutil.which("ss"):
        pytest.skip("needs ip, iptables and ss (iproute2, iptables)")
    tag = secrets.token_hex(3)
    octet = int(tag[:2], 16) % 200 + 20
    ns = Netns(f"tkpart{tag}", f"10.231.{octet}.1", f"10.231.{octet}.2")
    host_if, ns_if = f"tkh{tag}", f"tkn{tag}"
    try:
        sh("ip", "netns", "add", ns.name)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create a network namespace here: {e.stderr.decode().strip()}")
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", ns.name)
        sh("ip", "addr", "add", f"{ns.host_ip}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        ns.run("ip", "addr", "add", f"{ns.ns_ip}/30", "dev", ns_if)
        ns.run("ip", "link", "set", ns_if, "up")
        ns.run("ip", "link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)


@pytest.fixture
def server(netns: Netns, tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Server]:
    redis_port, port = free_port(), free_port()
    redis = start_redis(tmp_path / "redis", redis_port)
    data = tmp_path / "server"
    s = Server(f"https://{netns.host_ip}:{port}", data, tmp_path / "admin.yaml",
               tmp_path / "control.log")  # fmt: skip
    control = spawn(
        [sys.executable, "-m", "control", "--redis-url", f"redis://127.0.0.1:{redis_port}/0",
         "--bind-address", netns.host_ip, "--port", str(port), "--data-dir", str(data),
         "--tls-san", netns.host_ip, "--write-kubeconfig", str(s.kubeconfig),
         f"--node-monitor-grace-period={GRACE}s", f"--pod-eviction-timeout={EVICTION}s"],
        s.log,
    )  # fmt: skip
    try:
        wait_for("the join token", lambda: (data / "node-token").exists(), timeout=30)
        wait_for("the API", lambda: s.kubeconfig.exists()
                 and tkctl(s, "get", "nodes", check=False) is not None, timeout=60)  # fmt: skip
        yield s
    finally:
        stop(control)
        redis.terminate()
        redis.wait(10)


def tkctl(s: Server, *args: str, stdin: str | None = None, check: bool = True) -> Any:
    """Run tkctl; its JSON for ``-o json``. A failure raises, naming what tkctl said, unless
    ``check`` is off (a probe polled by ``wait_for``): then it is None."""
    out = subprocess.run(
        [str(BIN / "tkctl"), "--kubeconfig", str(s.kubeconfig), *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        if check:
            raise AssertionError(f"tkctl {' '.join(args)}: {out.returncode}: {out.stderr}")
        return None
    return json.loads(out.stdout) if "-o" in args else out.stdout


def agent_argv(s: Server, name: str, ip: str, data: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "agent", "--server", s.url,
        "--token-file", str(s.data / "node-token"),
        "--node-name", name,
        "--data-dir", str(data), "--node-ip", ip, "--node-api-port", "0", "-v", *extra,
    ]  # fmt: skip


def ready(s: Server) -> dict[str, str]:
    out = {}
    for node in (tkctl(s, "get", "nodes", "-o", "json", check=False) or {"items": []})["items"]:
        status = node.get("status") or {}  # none yet between registration and its first post
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        out[node["metadata"]["name"]] = conditions.get("Ready", "")
    return out


def running(s: Server, selector: str) -> list[dict[str, Any]]:
    listing = tkctl(s, "get", "pods", "-l", selector, "-o", "json", check=False)
    items = (listing or {"items": []})["items"]
    return [p for p in items if p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")]  # fmt: skip


def test_a_partitioned_node_loses_its_pods_and_comes_back_clean(
    netns: Netns, server: Server, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    near = spawn(agent_argv(server, "near-1", netns.host_ip, tmp_path / "near"),
                 tmp_path / "near.log")  # fmt: skip
    far_argv = ["ip", "netns", "exec", netns.name,
                *agent_argv(server, "far-1", netns.ns_ip, tmp_path / "far",
                            "--resync-interval", str(RESYNC))]  # fmt: skip
    far = spawn(far_argv, tmp_path / "far.log")
    cluster_id = ""
    try:
        wait_for("both nodes Ready", lambda: ready(server) == {"near-1": "True", "far-1": "True"},
                 timeout=60)  # fmt: skip
        cluster_id = tkctl(server, "get", "namespace", "kube-system", "-o", "json")["metadata"][
            "uid"
        ]
        tkctl(server, "create", "deployment", "part", "--image", "tinykube/sleeper:1",
              "--replicas", "2")  # fmt: skip
        placed = wait_for("2 replicas Running, one per node",
                          lambda: len(p := running(server, "app=part")) == 2
                          and {x["spec"]["nodeName"] for x in p} == {"near-1", "far-1"} and p,
                          timeout=60)  # fmt: skip
        victim = next(p for p in placed if p["spec"]["nodeName"] == "far-1")["metadata"]["uid"]

        netns.cut()
        try:
            wait_for("far-1 NotReady", lambda: ready(server).get("far-1") == "Unknown",
                     timeout=GRACE + 15)  # fmt: skip
            wait_for("the replacement Running on near-1",
                     lambda: [p["spec"]["nodeName"] for p in running(server, "app=part")]
                     == ["near-1", "near-1"], timeout=GRACE + EVICTION + 30)  # fmt: skip
            # The agent cannot hear that its pod went: its container still runs.
            assert victim in running_apps(docker_client, cluster_id)
            # The control plane's ends of the agent's connections go; the agent is not told.
            sh("ss", "-K", "dst", netns.ns_ip)
            time.sleep(RENEW)  # a lease renewal or two fail on the agent's side
        finally:
            netns.heal()
        healed = time.monotonic()
        wait_for("the stale container removed",
                 lambda: victim not in running_apps(docker_client, cluster_id),
                 timeout=30, every=0.1)  # fmt: skip
        cleaned = time.monotonic() - healed
        assert cleaned < 2 * RENEW + 2.0, f"the stale container took {cleaned:.1f}s to go"
        wait_for("far-1 Ready again", lambda: ready(server).get("far-1") == "True", timeout=30)
        # A new pod for far-1 starts from its watch, which the agent started afresh: the dead
        # one would have waited for its idle timeout (30 s), and the relist is RESYNC away.
        containers = [{"name": "main", "image": "tinykube/sleeper:1"}]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "after", "labels": {"app": "after"}},
               "spec": {"nodeName": "far-1", "terminationGracePeriodSeconds": 2,
                        "containers": containers}}  # fmt: skip
        tkctl(server, "apply", "-f", "-", stdin=json.dumps(pod))
        created = time.monotonic()
        wait_for("the new pod Running on far-1", lambda: running(server, "app=after"), timeout=60)
        started = time.monotonic() - created
        assert started < 15, f"the new pod took {started:.1f}s: the agent's watch was dead"
        assert "watch ended after reconnecting" in (tmp_path / "far.log").read_text()
        print(f"partition: stale container removed {cleaned:.1f}s after healing; "
              f"a new pod Running {started:.1f}s after it was created")  # fmt: skip
    finally:
        stop(far)
        stop(near)
        if cluster_id:
            with contextlib.suppress(subprocess.SubprocessError):
                subprocess.run(
                    [sys.executable, "-m", "agent", "cleanup", "--cluster-id", cluster_id,
                     "--root-dir", str(tmp_path / "near"), "--root-dir", str(tmp_path / "far")],
                    capture_output=True, timeout=60, check=False,
                )  # fmt: skip
        assert_nothing_mounted(tmp_path)
