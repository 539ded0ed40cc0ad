"""PersistentVolumeClaims on real Docker with the default local-path class: a Deployment's pod
writes to its claim, is deleted, and its replacement (on the same node, where the volume lives)
reads what it wrote; a WaitForFirstConsumer claim gets its volume on the node the scheduler
picked among two; a claim in use waits for its pod before it goes, and its volume goes with it
(reclaim Delete); ``tkctl get pv,pvc,sc`` prints kubectl's columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from common.wellknown import LOCAL_PATH_DIR_ANNOTATION, SELECTED_NODE
from tests.e2e.conftest import ROOT, Cluster, containers, wait_for

NAMESPACE = "pv-e2e"
NS = ("-n", NAMESPACE)

APP = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: pv-e2e}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: notes, namespace: pv-e2e}
spec:
  replicas: 1
  selector: {matchLabels: {app: notes}}
  template:
    metadata: {labels: {app: notes}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: app
        image: tinykube/sleeper:1
        command: [sh, -c, "echo written-by-$(hostname) >> /data/notes; exec sh /sleeper.sh"]
        volumeMounts: [{name: data, mountPath: /data}]
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: data}
"""


@pytest.fixture(scope="module")
def ns(cluster: Cluster) -> Any:
    cluster.tkctl("create", "namespace", NAMESPACE)
    yield cluster
    cluster.tkctl("delete", "namespace", NAMESPACE, timeout=180, check=False)


def running_pods(cluster: Cluster) -> list[dict[str, Any]]:
    pods = cluster.json("get", "pods", *NS, "-l", "app=notes")["items"]
    return [
        p
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


def app_container(client: docker.DockerClient, cluster: Cluster, pod: str) -> Any:
    labels = {"io.kubernetes.pod.name": pod, "io.kubernetes.container.name": "app"}
    found = [c for c in containers(client, cluster.cluster_id, **labels) if c.status == "running"]
    return found[0] if found else None


def notes(client: docker.DockerClient, cluster: Cluster, pod: str) -> str:
    c = app_container(client, cluster, pod)
    if c is None:
        return ""
    code, out = c.exec_run(["cat", "/data/notes"])
    return str(out.decode()) if code == 0 else ""


def test_data_on_a_claim_outlives_its_pod(ns: Cluster, docker_client: docker.DockerClient) -> None:
    ns.tkctl("apply", "-f", "-", stdin=APP)
    (first,) = wait_for("the first pod Running", lambda: running_pods(ns), timeout=120)
    name, node = first["metadata"]["name"], first["spec"]["nodeName"]
    wait_for("the first note", lambda: f"written-by-{name}" in notes(docker_client, ns, name))
    pvc = ns.json("get", "pvc", "data", *NS)
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["storageClassName"] == "local-path"
    assert pvc["metadata"]["annotations"][SELECTED_NODE] == node
    pv = ns.json("get", "pv", pvc["spec"]["volumeName"])
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == [node]
    # The directory is on that node, under the agent's root dir, as the Node says.
    node_obj = ns.json("get", "node", node)
    root = node_obj["metadata"]["annotations"][LOCAL_PATH_DIR_ANNOTATION]
    path = Path(pv["spec"]["hostPath"]["path"])
    assert path.parent == Path(root)
    assert path.name == f"{pv['metadata']['name']}_{NAMESPACE}_data"
    assert (path / "notes").read_text() == f"written-by-{name}\n"

    ns.tkctl("delete", "pod", name, *NS)

    def replacement() -> list[dict[str, Any]]:
        return [p for p in running_pods(ns) if p["metadata"]["name"] != name]

    (second,) = wait_for("the replacement Running", replacement, timeout=120)
    other = second["metadata"]["name"]
    assert second["spec"]["nodeName"] == node  # where its volume lives

    def both_notes() -> str:
        text = notes(docker_client, ns, other)
        return text if f"written-by-{other}" in text else ""

    assert wait_for("the second note", both_notes) == f"written-by-{name}\nwritten-by-{other}\n"

    table = ns.tkctl("get", "pv,pvc,sc", *NS).stdout
    assert "NAME" in table and "CAPACITY" in table and "ACCESS MODES" in table
    assert "storageclass.storage.k8s.io/local-path (default)" in table
    assert f"persistentvolumeclaim/data   Bound    {pv['metadata']['name']}" in table

    # Deleting the claim waits for its pod (pvc-protection); then the volume goes (Delete).
    ns.tkctl("delete", "pvc", "data", *NS, "--wait=false")
    assert ns.json("get", "pvc", "data", *NS)["metadata"].get("deletionTimestamp")
    ns.tkctl("delete", "deployment", "notes", *NS)
    wait_for(
        "the claim and its volume gone",
        lambda: (
            not ns.json("get", "pvc", *NS)["items"]
            and pv["metadata"]["name"] not in ns.tkctl("get", "pv").stdout
        ),
        timeout=120,
    )
    # The agent of the volume's node removes the directory the deleted volume left.
    wait_for("the directory removed", lambda: not path.exists(), timeout=60)


CLAIM_POD = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}, namespace: pv-e2e}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 10Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: pv-e2e}}
spec:
  terminationGracePeriodSeconds: 0
  nodeSelector: {{kubernetes.io/hostname: {node}}}
  containers:
  - name: app
    image: tinykube/sleeper:1
    volumeMounts: [{{name: v, mountPath: /v}}]
  volumes:
  - name: v
    persistentVolumeClaim: {{claimName: {name}}}
"""


def test_a_wait_for_first_consumer_claim_lands_on_the_scheduled_node(ns: Cluster) -> None:
    nodes = sorted(n["metadata"]["name"] for n in ns.json("get", "nodes")["items"])
    assert len(nodes) == 2
    target = nodes[1]
    ns.tkctl("apply", "-f", "-", stdin=CLAIM_POD.format(name="second", node=target))
    wait_for(
        "the pod Running",
        lambda: ns.json("get", "pod", "second", *NS)["status"].get("phase") == "Running",
        timeout=120,
    )
    pvc = ns.json("get", "pvc", "second", *NS)
    assert pvc["metadata"]["annotations"][SELECTED_NODE] == target
    pv = ns.json("get", "pv", pvc["spec"]["volumeName"])
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == [target]
    root = ns.json("get", "node", target)["metadata"]["annotations"][LOCAL_PATH_DIR_ANNOTATION]
    assert Path(pv["spec"]["hostPath"]["path"]).parent == Path(root)
    assert Path(pv["spec"]["hostPath"]["path"]).is_dir()


def test_the_data_app_example(ns: Cluster, docker_client: docker.DockerClient) -> None:
    example = (ROOT / "examples" / "data-app.yaml").read_text()
    ns.tkctl("apply", "-f", "-", *NS, stdin=example)

    def running() -> list[str]:
        pods = ns.json("get", "pods", *NS, "-l", "app=data-app")["items"]
        return [p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running"]

    (pod,) = wait_for("data-app Running", running, timeout=120)

    def visits() -> str:
        c = app_container(docker_client, ns, pod)
        code, out = c.exec_run(["cat", "/data/visits"]) if c else (1, b"")
        return str(out.decode()) if code == 0 else ""

    assert wait_for("the first visit", visits).startswith(f"started {pod} at ")
    assert ns.json("get", "pvc", "data-app", *NS)["status"]["phase"] == "Bound"
    ns.tkctl("delete", "-f", "-", *NS, stdin=example, timeout=120)
