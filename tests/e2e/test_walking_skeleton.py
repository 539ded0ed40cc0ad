"""The walking skeleton end to end: apply a pod manifest, see it Running on real Docker, reach it,
read its logs, survive an agent restart without duplicates, spread pods over two nodes, delete."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import urllib.request
from typing import Any

import docker

from tests.e2e.conftest import ROOT, Cluster, containers, wait_for


def pod_phase(cluster: Cluster, name: str) -> str:
    return str(cluster.json("get", "pod", name)["status"].get("phase"))


def running(cluster: Cluster, name: str) -> dict[str, Any] | None:
    pod = cluster.json("get", "pod", name)
    statuses = pod["status"].get("containerStatuses") or []
    ok = pod["status"].get("phase") == "Running" and statuses and all(s["ready"] for s in statuses)
    return pod if ok else None


def test_apply_example_pod_runs_on_docker(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    out = cluster.tkctl("apply", "-f", str(ROOT / "examples" / "pod.yaml"))
    assert out.stdout.strip() == "pod/hello-kiamol-3 created"
    pod = wait_for("hello-kiamol-3 Running", lambda: running(cluster, "hello-kiamol-3"))
    assert pod["spec"]["nodeName"] in ("node-1", "node-2")
    assert pod["status"]["podIP"]
    # The containers carry the kubelet's labels: a sandbox and the app container.
    found = containers(
        docker_client, cluster.cluster_id, **{"io.kubernetes.pod.name": "hello-kiamol-3"}
    )
    names = sorted(c.labels["io.kubernetes.container.name"] for c in found)
    assert names == ["POD", "web"]
    web = next(c for c in found if c.labels["io.kubernetes.container.name"] == "web")
    assert pod["status"]["containerStatuses"][0]["containerID"] == f"docker://{web.id}"
    # The page answers on the pod IP and names the pod.
    page = wait_for(
        "the page",
        lambda: (
            urllib.request.urlopen(f"http://{pod['status']['podIP']}:80/", timeout=2)
            .read()
            .decode()
        ),
    )
    assert "hello-kiamol-3" in page
    logs = cluster.tkctl("logs", "--tail=2", "hello-kiamol-3").stdout
    assert 0 < len(logs.strip().splitlines()) <= 2
    # Re-applying the same file changes nothing.
    again = cluster.tkctl("apply", "-f", str(ROOT / "examples" / "pod.yaml"))
    assert again.stdout.strip() == "pod/hello-kiamol-3 unchanged"
    table = cluster.tkctl("get", "pods", "-o", "wide").stdout
    assert "hello-kiamol-3" in table and "Running" in table and pod["status"]["podIP"] in table


def test_agent_restart_adopts_running_containers(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    cluster.tkctl("run", "survivor", "--image=tinykube/sleeper:1")
    pod = wait_for("survivor Running", lambda: running(cluster, "survivor"))
    node = pod["spec"]["nodeName"]
    before = {
        c.id: c.attrs["State"]["StartedAt"]
        for c in containers(
            docker_client, cluster.cluster_id, **{"io.kubernetes.pod.name": "survivor"}
        )
    }
    assert len(before) == 2
    old_pid = cluster.state()["processes"][node]
    os.kill(old_pid, signal.SIGKILL)
    wait_for("the agent to be restarted", lambda: cluster.state()["processes"][node] != old_pid)
    wait_for("node Ready again", lambda: "Ready" in cluster.tkctl("get", "node", node).stdout)
    after = {
        c.id: c.attrs["State"]["StartedAt"]
        for c in containers(
            docker_client, cluster.cluster_id, **{"io.kubernetes.pod.name": "survivor"}
        )
    }
    assert after == before  # same containers, never restarted, no duplicate
    assert running(cluster, "survivor")
    assert (
        cluster.json("get", "pod", "survivor")["status"]["containerStatuses"][0]["restartCount"]
        == 0
    )


def test_pods_spread_over_both_nodes_and_delete_removes_containers(
    cluster: Cluster, docker_client: docker.DockerClient
) -> None:
    manifest = "".join(
        textwrap.dedent(f"""\
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: spread-{i}
          labels: {{app: spread}}
        spec:
          containers:
          - name: app
            image: tinykube/sleeper:1
        """)
        for i in range(6)
    )
    out = cluster.tkctl("apply", "-f", "-", stdin=manifest)
    assert out.stdout.count("created") == 6

    def all_running() -> list[dict[str, Any]] | None:
        items = cluster.json("get", "pods", "-l", "app=spread")["items"]
        ok = len(items) == 6 and all(p["status"].get("phase") == "Running" for p in items)
        return items if ok else None

    pods = wait_for("6 pods Running", all_running)
    per_node = {n: sum(p["spec"]["nodeName"] == n for p in pods) for n in ("node-1", "node-2")}
    assert per_node == {"node-1": 3, "node-2": 3}
    out = cluster.tkctl("delete", "pods", "-l", "app=spread", timeout=120)
    assert out.stdout.count("deleted") == 6
    assert cluster.tkctl("get", "pods", "-l", "app=spread").stdout.strip() == ""

    def spread_containers() -> list[Any]:
        return [
            c
            for c in containers(docker_client, cluster.cluster_id)
            if c.labels.get("io.kubernetes.pod.name", "").startswith("spread-")
        ]

    wait_for("containers gone", lambda: not spread_containers())


def test_errors_have_kubectl_messages_and_exit_codes(cluster: Cluster) -> None:
    out = cluster.tkctl("get", "pod", "nope", check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    bad = cluster.tkctl("apply", "-f", "-", check=False, stdin="appVersion: v1\nkind: Pod\n")
    assert bad.returncode == 1 and "apiVersion not set" in bad.stderr
    data = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c"}]},
        }
    )
    invalid = cluster.tkctl("apply", "-f", "-", check=False, stdin=data)
    assert invalid.returncode == 1
    assert 'The Pod "x" is invalid: spec.containers[0].image: Required value' in invalid.stderr
