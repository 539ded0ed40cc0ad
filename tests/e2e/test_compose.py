"""docker-compose.yml end to end, from images built with no registry. Mode A: three agents on the
host's engine become Ready nodes and run a pod. Mode B: node containers
with their own engines; a pod on each node, one fetches the other by pod IP across nodes and
through a ClusterIP, a NodePort answers on every node, and stopping a node container gets its
Deployment's pod replaced on the other node. With TINYKUBE_IMAGE (and TINYKUBE_NODE_IMAGE) set,
those images are used as they are instead of building tinykube/tinykube:dev."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from common.redis_server import free_port
from tests.e2e.conftest import BIN, ROOT, wait_for

# Each test may first debootstrap a base image from the Debian mirror (about a minute each).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def build_images(node: bool) -> None:
    if os.environ.get("TINYKUBE_IMAGE") and (os.environ.get("TINYKUBE_NODE_IMAGE") or not node):
        return  # images built elsewhere, named by docker-compose.yml's variables
    subprocess.run([str(ROOT / "scripts" / "ensure-compose.sh")], check=True, capture_output=True)
    argv = [str(ROOT / "scripts" / "build-compose-image.sh"), *(["--node"] if node else [])]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if out.returncode != 0:
        if "debootstrap failed" in out.stderr:
            pytest.skip(f"the Debian mirror cannot be reached: {out.stderr.strip()[-300:]}")
        raise AssertionError(f"build-compose-image.sh failed: {out.stderr}")


@dataclass
class Compose:
    project: str
    port: int
    tmp: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "TINYKUBE_PORT": str(self.port)}

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        out = subprocess.run(
            ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "-p", self.project, *args],
            capture_output=True, text=True, timeout=timeout, env=self.env, check=False,
        )  # fmt: skip
        if check and out.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)}: {out.stderr[-2000:]}")
        return out.stdout

    @property
    def kubeconfig(self) -> Path:
        path = self.tmp / "kubeconfig.yaml"
        if not path.exists():
            text = wait_for(
                "the admin kubeconfig",
                lambda: self.run("exec", "-T", "control", "cat",
                                 "/var/lib/tinykube/server/kubeconfig.yaml", check=False),
            )  # fmt: skip
            path.write_text(text.replace("127.0.0.1:6443", f"127.0.0.1:{self.port}"))
        return path

    def tkctl(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [str(BIN / "tkctl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 0, f"tkctl {' '.join(args)}: {out.stderr}"
        return out.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.tkctl(*args, "-o", "json"))

    def ready_nodes(self) -> set[str]:
        out = set()
        for node in self.json("get", "nodes")["items"]:
            conditions = {
                c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []
            }
            if conditions.get("Ready") == "True":
                out.add(node["metadata"]["name"])
        return out

    def pod(self, name: str) -> dict[str, Any]:
        return dict(self.json("get", "pod", name))


@pytest.fixture
def compose(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Compose]:
    c = Compose(f"tktest{uuid.uuid4().hex[:6]}", free_port(), tmp_path)
    cluster = ""
    try:
        yield c
        cluster = c.json("get", "namespace", "kube-system")["metadata"]["uid"]
    finally:
        # Shown by pytest only when the test failed: the containers, their networks, the logs.
        print(c.run("--profile", "nodes", "ps", check=False))
        print(subprocess.run(
            ["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={c.project}",
             "--format", "{{.Names}} {{.Status}} {{.Networks}} {{.Ports}}"],
            capture_output=True, text=True, check=False,
        ).stdout)  # fmt: skip
        print(c.run("--profile", "nodes", "logs", "--tail", "30", check=False))
        c.run("--profile", "nodes", "down", "-v", "--timeout", "5", check=False)
        if cluster:  # Mode A's pods run on the host's engine
            for container in docker_client.containers.list(
                all=True, filters={"label": f"tinykube.io/cluster={cluster}"}
            ):
                container.remove(force=True)


def pod_manifest(name: str, node: str | None = None, app: str = "") -> str:
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "tinykube/web:1"}]}
    if node:
        spec["nodeName"] = node
    meta: dict[str, Any] = {"name": name, **({"labels": {"app": app}} if app else {})}
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})


SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: across}
spec:
  type: NodePort
  selector: {app: across}
  ports: [{port: 80, targetPort: 80}]
"""


def running(c: Compose, name: str) -> dict[str, Any] | None:
    pod = c.pod(name)
    return pod if pod["status"].get("phase") == "Running" and pod["status"].get("podIP") else None


def test_mode_a_three_agents_on_the_host_engine(
    compose: Compose, docker_client: docker.DockerClient
) -> None:
    build_images(node=False)
    started = time.monotonic()
    compose.run("up", "-d")
    wanted = {"node-1", "node-2", "node-3"}
    wait_for("3 nodes Ready", lambda: compose.ready_nodes() == wanted, timeout=120)
    compose.timings["ready"] = time.monotonic() - started
    compose.tkctl("apply", "-f", "-", stdin=pod_manifest("compose-web"))
    pod = wait_for("the pod Running", lambda: running(compose, "compose-web"), timeout=90)
    assert pod["spec"]["nodeName"] in wanted
    print(f"mode A: 3 nodes Ready {compose.timings['ready']:.1f}s after docker-compose up")
    # Each agent joined with the token and holds its own node credential.
    creds = compose.run("exec", "-T", "agent-1", "cat", "/var/lib/tinykube/agent/credentials.json")
    assert json.loads(creds)["node_name"] == "node-1"
    # Redis wants the password the init service made, which no container has in its command line.
    password = compose.run(
        "exec", "-T", "control", "cat", "/var/lib/tinykube/redis-secret/password"
    ).strip()
    assert len(password) >= 32
    probe = (
        "import socket; s = socket.create_connection(('redis', 6379), timeout=5); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(64).decode())"
    )
    assert compose.run("exec", "-T", "control", "python3", "-c", probe).startswith("-NOAUTH")
    project = {"label": f"com.docker.compose.project={compose.project}"}
    started = docker_client.containers.list(all=True, filters=project)
    assert {c.labels["com.docker.compose.service"] for c in started} >= {"redis-secret", "redis"}
    for container in started:
        config = container.attrs["Config"]
        argv = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        assert password not in " ".join(argv), container.name


def test_mode_b_node_containers_route_pod_ips_and_fail_over(
    compose: Compose, docker_client: docker.DockerClient
) -> None:
    build_images(node=True)
    started = time.monotonic()
    compose.run("--profile", "nodes", "up", "-d", "control", "node-1", "node-2")
    wait_for("2 nodes Ready", lambda: compose.ready_nodes() == {"node-1", "node-2"}, timeout=180)
    compose.timings["ready"] = time.monotonic() - started
    nodes = [f"{compose.project}_node-{i}_1" for i in (1, 2)]
    subprocess.run(
        [str(ROOT / "scripts" / "load-image.sh"), "tinykube/web:1", "--", *nodes],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    cidrs = {
        n["metadata"]["name"]: n["spec"]["podCIDR"] for n in compose.json("get", "nodes")["items"]
    }
    assert len(set(cidrs.values())) == 2
    for i in (1, 2):
        app = "across" if i == 2 else ""
        compose.tkctl("apply", "-f", "-", stdin=pod_manifest(f"web-{i}", f"node-{i}", app))
    pods = {
        i: wait_for(f"web-{i} Running", lambda i=i: running(compose, f"web-{i}")) for i in (1, 2)
    }
    assert pods[2]["status"]["podIP"].startswith(cidrs["node-2"].rsplit(".", 2)[0])
    # From the pod on node-1, fetch the pod on node-2 by its pod IP.
    node1 = docker_client.containers.get(nodes[0])
    inner = node1.exec_run(["docker", "ps", "-q", "--filter", "label=io.kubernetes.pod.name=web-1",
                            "--filter", "label=io.kubernetes.container.name=web"])  # fmt: skip
    cid = inner.output.decode().split()[0]
    url = f"http://{pods[2]['status']['podIP']}:80/index.html"
    page = wait_for(
        "web-2 by pod IP from web-1",
        lambda: node1.exec_run(
            ["docker", "exec", cid, "wget", "-q", "-O", "-", url]
        ).output.decode(),
        timeout=30,
    )
    assert "Hello from web-2" in page
    # A Service whose one endpoint is on node-2: its ClusterIP from the pod on node-1, its
    # NodePort from the host on every node's address (each node's kube-proxy programs its own).
    compose.tkctl("apply", "-f", "-", stdin=SERVICE)
    svc = compose.json("get", "service", "across")
    cluster_ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    page = wait_for(
        "web-2 through the ClusterIP from web-1",
        lambda: node1.exec_run(
            ["docker", "exec", cid, "timeout", "5", "wget", "-q", "-O", "-",
             f"http://{cluster_ip}/"]
        ).output.decode(),
        timeout=60,
    )  # fmt: skip
    assert "Hello from web-2" in page
    for name in nodes:
        container = docker_client.containers.get(name)
        address = next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]

        def through(address: str = address) -> str:
            url = f"http://{address}:{node_port}/"
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    return str(answer.read().decode())
            except OSError:
                return ""

        assert "Hello from web-2" in wait_for(f"the NodePort on {name}", through, timeout=60)
    # A Deployment's pod on node-2 is replaced on node-1 when the node-2 container stops.
    compose.tkctl("cordon", "node-1")
    compose.tkctl("create", "deployment", "failover", "--image", "tinykube/web:1")

    def live(node: str) -> list[dict[str, Any]]:
        items = compose.json("get", "pods", "-l", "app=failover")["items"]
        return [
            p for p in items
            if not p["metadata"].get("deletionTimestamp") and p["spec"].get("nodeName") == node
            and p["status"].get("phase") == "Running"
        ]  # fmt: skip

    wait_for("the Deployment's pod Running on node-2", lambda: live("node-2"), timeout=60)
    compose.tkctl("uncordon", "node-1")
    started = time.monotonic()
    compose.run("stop", "--timeout", "1", "node-2")
    wait_for("the replacement Running on node-1", lambda: live("node-1"), timeout=120)
    compose.timings["failover"] = time.monotonic() - started
    print("mode B: " + ", ".join(f"{k} {v:.1f}s" for k, v in compose.timings.items()))
