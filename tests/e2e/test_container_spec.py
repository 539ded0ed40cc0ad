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
