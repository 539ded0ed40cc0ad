"""The container spec on real Docker: command and args, env, workingDir, memory and cpu limits
enforced by the engine, hostPort published on the host (in a namespace whose Pod Security level
allows host ports)."""

from __future__ import annotations

import json
import urllib.request

import docker

from common.redis_server import free_port
from tests.e2e.conftest import Cluster, containers, wait_for

NAMESPACE = "host-ports"
MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: spec-check
  namespace: host-ports
spec:
  containers:
  - name: app
    image: tinykube/web:1
    command: ["sh", "-c"]
    args: ["echo greeting=$GREETING dir=$(pwd); exec sh /web.sh"]
    workingDir: /www
    env:
    - name: GREETING
      value: hello there
    ports:
    - containerPort: 80
      hostPort: {host_port}
    resources:
      limits:
        memory: 64Mi
        cpu: 250m
"""


def test_container_spec_reaches_docker(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    host_port = free_port()
    cluster.tkctl("create", "namespace", NAMESPACE)
    cluster.tkctl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=privileged")
    cluster.tkctl("apply", "-f", "-", stdin=MANIFEST.format(host_port=host_port))
    ns = ("-n", NAMESPACE)
    wait_for(
        "spec-check Running",
        lambda: cluster.json("get", "pod", "spec-check", *ns)["status"].get("phase") == "Running",
    )
    found = containers(
        docker_client,
        cluster.cluster_id,
        **{"io.kubernetes.pod.name": "spec-check", "io.kubernetes.container.name": "app"},
    )
    (app,) = found
    config, host = app.attrs["Config"], app.attrs["HostConfig"]
    assert config["Entrypoint"] == ["sh", "-c"]
    assert config["Cmd"][0].startswith("echo greeting=")
    assert "GREETING=hello there" in config["Env"]
    assert config["WorkingDir"] == "/www"
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["NanoCpus"] == 250_000_000
    logs = wait_for("the first log line", lambda: cluster.tkctl("logs", "spec-check", *ns).stdout)
    assert "greeting=hello there dir=/www" in logs
    page = wait_for(
        "the page on the host port",
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=2).read().decode(),
    )
    assert "spec-check" in page
    pod = cluster.json("get", "pod", "spec-check", *ns)
    assert pod["status"]["qosClass"] == "Guaranteed"
    assert json.dumps(pod["spec"]["containers"][0]["ports"][0]["hostPort"]) == str(host_port)
    cluster.tkctl("delete", "namespace", NAMESPACE, timeout=180)


SIDECAR = """\
apiVersion: v1
kind: Pod
metadata:
  name: with-sidecar
  namespace: sidecar-ports
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: setup
    image: tinykube/sleeper:1
    command: ["true"]
    resources:
      requests:
        memory: 8Mi
  - name: proxy
    image: tinykube/web:1
    restartPolicy: Always
    env: [{{name: PORT, value: "8080"}}]
    ports:
    - containerPort: 8080
      hostPort: {host_port}
  containers:
  - name: app
    image: tinykube/sleeper:1
"""


def page_on(port: int) -> str | None:
    """The page served on the host's ``port``; None while nothing answers there yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def test_a_sidecars_host_port_is_published(cluster: Cluster) -> None:
    """A native sidecar's hostPort answers on the host like an app container's; the init
    container's memory request makes the pod Burstable."""
    host_port = free_port()
    ns = ("-n", "sidecar-ports")
    cluster.tkctl("create", "namespace", "sidecar-ports")
    cluster.tkctl("label", "namespace", "sidecar-ports",
                  "pod-security.kubernetes.io/enforce=privileged")  # fmt: skip
    try:
        cluster.tkctl("apply", "-f", "-", stdin=SIDECAR.format(host_port=host_port))
        page = wait_for("the sidecar's page on the host port", lambda: page_on(host_port), 120)
        assert page == "Hello from with-sidecar\n"
        assert cluster.json("get", "pod", "with-sidecar", *ns)["status"]["qosClass"] == "Burstable"
    finally:
        cluster.tkctl("delete", "namespace", "sidecar-ports", "--wait=false", check=False)
