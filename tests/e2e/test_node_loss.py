"""Losing a node for real: ``tinykube up --agents 3`` with short node-lifecycle timings, pods
spread over the nodes, one agent frozen with SIGSTOP (the supervisor restarts dead children, so
the process must stay alive but silent). The node goes NotReady and tainted, its pods are
evicted, and when the agent is thawed it removes its stale containers at once: no pod runs
twice. Also cordon/drain through tkctl on the same cluster."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from common.redis_server import free_port
from tests.e2e.conftest import BIN, Cluster, assert_nothing_mounted, wait_for

GRACE, EVICTION = 4, 2  # seconds: --node-monitor-grace-period and --pod-eviction-timeout
RENEW = 2.0  # the agents' default --lease-renew-interval


@pytest.fixture(scope="module")
def cluster3(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster3")
    port = free_port()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    up = subprocess.run(
        [str(BIN / "tinykube"), "up", "--data-dir", str(data_dir), "--port", str(port),
         "--agents", "3", "--detach", f"--control-arg=--node-monitor-grace-period={GRACE}s",
         f"--control-arg=--pod-eviction-timeout={EVICTION}s"],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    c = Cluster(data_dir, data_dir / "kubeconfig.yaml", port)
    try:
        assert up.returncode == 0, f"tinykube up failed: {up.stdout}{up.stderr}"
        yield c
    finally:
        for pid in (c.state().get("processes") or {}).values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # a stopped agent would not stop on SIGTERM
        down = [str(BIN / "tinykube"), "down", "--data-dir", str(data_dir)]
        subprocess.run(down, capture_output=True, text=True, timeout=120, env=env, check=False)
        assert_nothing_mounted(data_dir)


FOREVER = -1  # ``tolerate=FOREVER``: a toleration without tolerationSeconds


def sleeper(name: str, app: str = "loss", tolerate: int | None = None, node: str = "") -> str:
    """A bare sleeper pod; ``tolerate``: seconds it tolerates an unreachable node (its own
    eviction timeout) instead of the controller's EVICTION, or FOREVER; ``node``: bound there."""
    toleration = ""
    if tolerate is not None:
        toleration = (
            "  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n"
            "    effect: NoExecute\n"
        )
        if tolerate != FOREVER:
            toleration += f"    tolerationSeconds: {tolerate}\n"
    if node:
        toleration += f"  nodeName: {node}\n"
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {app}\nspec:\n"
        f"  terminationGracePeriodSeconds: 2\n{toleration}  containers:\n  - name: main\n"
        "    image: tinykube/sleeper:1\n"
    )


def pods(cluster: Cluster, selector: str = "app=loss") -> list[dict[str, Any]]:
    return list(cluster.json("get", "pods", "-l", selector)["items"])


def all_running(cluster: Cluster, count: int, selector: str = "app=loss") -> list[Any] | None:
    items = pods(cluster, selector)
    ok = len(items) == count and all(p["status"].get("phase") == "Running" for p in items)
    return items if ok else None


def node_row(cluster: Cluster, name: str) -> list[str]:
    table = cluster.tkctl("get", "nodes").stdout.splitlines()
    return next((line.split() for line in table if line.split()[0] == name), [name, "Absent"])


def node_taints(cluster: Cluster, name: str) -> Any:
    return cluster.json("get", "node", name)["spec"].get("taints")


def running_apps(client: docker.DockerClient, cluster_id: str) -> dict[str, int]:
    """Running app containers per pod uid (sandboxes left out), from one list call (the SDK's
    high-level list inspects each container and fails on one removed meanwhile)."""
    out: dict[str, int] = {}
    found = client.api.containers(filters={"label": f"tinykube.io/cluster={cluster_id}",
                                           "status": "running"})  # fmt: skip
    for c in found:
        labels = c.get("Labels") or {}
        if labels.get("io.kubernetes.container.name") not in (None, "POD"):
            uid = labels["io.kubernetes.pod.uid"]
            out[uid] = out.get(uid, 0) + 1
    return out


def test_a_stopped_node_is_declared_lost_its_pods_evicted_and_its_containers_cleaned(
    cluster3: Cluster, docker_client: docker.DockerClient
) -> None:
    cluster = cluster3
    manifest = "---\n".join(sleeper(f"loss-{i}") for i in range(6))
    cluster.tkctl("apply", "-f", "-", stdin=manifest)
    placed = wait_for("6 pods Running", lambda: all_running(cluster, 6), timeout=90)
    nodes = {p["spec"]["nodeName"] for p in placed}
    assert nodes == {"node-1", "node-2", "node-3"}
    victims = {p["metadata"]["uid"]: p["metadata"]["name"] for p in placed
               if p["spec"]["nodeName"] == "node-3"}  # fmt: skip
    agent_pid = cluster.state()["processes"]["node-3"]
    os.kill(agent_pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        wait_for("node-3 NotReady", lambda: node_row(cluster, "node-3")[1] == "NotReady",
                 timeout=GRACE + 10)  # fmt: skip
        detected = time.monotonic() - stopped
        node = cluster.json("get", "node", "node-3")
        assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        }
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
        assert node_row(cluster, "node-1")[1] == "Ready"

        def evicted() -> bool:
            left = {p["metadata"]["name"] for p in pods(cluster)}
            return not (left & set(victims.values()))

        wait_for("node-3's pods evicted", evicted, timeout=GRACE + EVICTION + 15)
        gone = time.monotonic() - stopped
        # Never before the grace period from the last renewal (up to one interval before the
        # stop) and the eviction timeout (timeAdded is in whole seconds).
        assert detected >= GRACE - RENEW - 0.5
        assert gone - detected >= EVICTION - 1.0
        # The frozen agent could not stop them: its containers still run.
        assert set(victims) <= set(running_apps(docker_client, cluster.cluster_id))
        # New pods go to the healthy nodes only.
        cluster.tkctl("apply", "-f", "-", stdin=sleeper("loss-after"))
        after = wait_for("loss-after Running", lambda: all_running(cluster, 5), timeout=60)
        assert {p["spec"]["nodeName"] for p in after} <= {"node-1", "node-2"}
    finally:
        os.kill(agent_pid, signal.SIGCONT)
    thawed = time.monotonic()

    def stale_removed() -> bool:
        return not set(victims) & set(running_apps(docker_client, cluster.cluster_id))

    wait_for("node-3's stale containers removed", stale_removed, timeout=30, every=0.1)
    cleaned = time.monotonic() - thawed
    assert cleaned < 2 * RENEW + 2.0, f"stale containers took {cleaned:.1f}s to go"
    wait_for("node-3 Ready again", lambda: node_row(cluster, "node-3")[1] == "Ready", timeout=30)
    assert not cluster.json("get", "node", "node-3")["spec"].get("taints")
    # No pod runs twice, and nothing runs that the API does not know.
    api_uids = {p["metadata"]["uid"] for p in pods(cluster)}
    apps = running_apps(docker_client, cluster.cluster_id)
    assert apps == dict.fromkeys(api_uids, 1)
    print(f"node loss: NotReady after {detected:.1f}s, pods evicted after {gone:.1f}s, "
          f"stale containers removed {cleaned:.1f}s after the agent resumed")  # fmt: skip
    cluster.tkctl("delete", "pods", "-l", "app=loss", "--wait=false")


def test_cordon_keeps_new_pods_away_and_drain_empties_the_node(cluster3: Cluster) -> None:
    cluster = cluster3
    assert cluster.tkctl("cordon", "node-1").stdout == "node/node-1 cordoned\n"
    assert node_row(cluster, "node-1")[1] == "Ready,SchedulingDisabled"
    taints = wait_for("the unschedulable taint", lambda: node_taints(cluster, "node-1"))
    assert taints == [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    manifest = "---\n".join(sleeper(f"drain-{i}", "drain") for i in range(4))
    cluster.tkctl("apply", "-f", "-", stdin=manifest)
    placed = wait_for("4 pods Running", lambda: all_running(cluster, 4, "app=drain"), timeout=60)
    assert "node-1" not in {p["spec"]["nodeName"] for p in placed}
    assert cluster.tkctl("uncordon", "node-1").stdout == "node/node-1 uncordoned\n"
    wait_for("no taint", lambda: not node_taints(cluster, "node-1"))
    on_node2 = sorted(p["metadata"]["name"] for p in placed if p["spec"]["nodeName"] == "node-2")
    assert on_node2
    refused = cluster.tkctl("drain", "node-2", check=False)
    assert refused.returncode == 1
    assert "cannot delete Pods that declare no controller (use --force to override)" in (
        refused.stderr
    )
    out = cluster.tkctl("drain", "node-2", "--force", "--ignore-daemonsets",
                        "--delete-emptydir-data", "--grace-period=1", "--timeout=60s")  # fmt: skip
    lines = out.stdout.splitlines()
    assert lines[0] == "node/node-2 already cordoned"
    assert sorted(line for line in lines if line.startswith("evicting pod")) == [
        f"evicting pod default/{name}" for name in on_node2
    ]
    assert sorted(line for line in lines if line.endswith(" evicted")) == [
        f"pod/{name} evicted" for name in on_node2
    ]
    assert lines[-1] == "node/node-2 drained"
    left = {p["metadata"]["name"] for p in pods(cluster, "app=drain")}
    assert not left & set(on_node2)
    described = cluster.tkctl("describe", "node", "node-2").stdout
    assert "Unschedulable:      true" in described
    assert "Non-terminated Pods:" in described and "HolderIdentity:  node-2" in described
    cluster.tkctl("uncordon", "node-2")
    cluster.tkctl("delete", "pods", "-l", "app=drain", "--wait=false")


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: heal
spec:
  replicas: 6
  selector:
    matchLabels:
      app: heal
  template:
    metadata:
      labels:
        app: heal
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: tinykube/sleeper:1
"""


def live_by_node(cluster: Cluster) -> dict[str, list[str]]:
    """Running, not deleting pods of the Deployment per node: uids."""
    out: dict[str, list[str]] = {}
    for p in pods(cluster, "app=heal"):
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"):
            out.setdefault(p["spec"]["nodeName"], []).append(p["metadata"]["uid"])
    return out


def spread_over(cluster: Cluster, nodes: int) -> dict[str, list[str]] | None:
    live = live_by_node(cluster)
    return live if sum(map(len, live.values())) == 6 and len(live) == nodes else None


def test_a_deployment_gets_its_replicas_back_on_other_nodes(
    cluster3: Cluster, docker_client: docker.DockerClient
) -> None:
    cluster = cluster3
    cluster.tkctl("apply", "-f", "-", stdin=DEPLOYMENT)
    spread = wait_for("6 replicas on 3 nodes", lambda: spread_over(cluster, 3), timeout=90)
    lost = max(spread, key=lambda n: len(spread[n]))
    stale = set(spread[lost])
    pid = cluster.state()["processes"][lost]
    os.kill(pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:

        def healed() -> bool:
            live = live_by_node(cluster)
            return lost not in live and sum(map(len, live.values())) == 6

        wait_for("6 replicas Running on the other nodes", healed, timeout=GRACE + EVICTION + 30)
        took = time.monotonic() - stopped
        assert stale <= set(running_apps(docker_client, cluster.cluster_id))  # still running
    finally:
        os.kill(pid, signal.SIGCONT)
    thawed = time.monotonic()
    wait_for("the lost node's containers removed",
             lambda: not stale & set(running_apps(docker_client, cluster.cluster_id)),
             timeout=30, every=0.1)  # fmt: skip
    cleaned = time.monotonic() - thawed
    assert cleaned < 2 * RENEW + 2.0, f"stale containers took {cleaned:.1f}s to go"
    wait_for(f"{lost} Ready again", lambda: node_row(cluster, lost)[1] == "Ready", timeout=30)
    # Exactly one running container per replica; the Deployment reports 6 available.
    uids = {uid for group in live_by_node(cluster).values() for uid in group}
    apps = running_apps(docker_client, cluster.cluster_id)
    assert len(uids) == 6 and {u: n for u, n in apps.items() if u in uids} == dict.fromkeys(uids, 1)
    assert not stale & set(apps)
    wait_for("the Deployment available", lambda: cluster.json("get", "deployment", "heal")
             ["status"].get("availableReplicas") == 6, timeout=30)  # fmt: skip
    print(f"deployment healed {took:.1f}s after its node stopped; stale containers gone "
          f"{cleaned:.1f}s after the agent resumed")  # fmt: skip
    # Drain moves controlled pods without --force: their ReplicaSet recreates them elsewhere.
    busiest = max(live_by_node(cluster).items(), key=lambda kv: len(kv[1]))[0]
    out = cluster.tkctl("drain", busiest, "--timeout=60s")
    assert out.stdout.splitlines()[-1] == f"node/{busiest} drained"
    wait_for("6 replicas off the drained node", lambda: busiest not in live_by_node(cluster)
             and sum(map(len, live_by_node(cluster).values())) == 6, timeout=60)  # fmt: skip
    cluster.tkctl("uncordon", busiest)
    cluster.tkctl("delete", "deployment", "heal")


def test_nothing_is_evicted_while_most_nodes_are_silent(cluster3: Cluster) -> None:
    cluster = cluster3
    # The pods tolerate an unreachable node for 6 s: the silent nodes' last lease renewals may
    # be RENEW apart, and the first of them must not be judged alone for that long.
    tolerate = 6
    manifest = "---\n".join(sleeper(f"quiet-{i}", "quiet", tolerate) for i in range(3))
    cluster.tkctl("apply", "-f", "-", stdin=manifest)
    placed = wait_for("3 pods Running", lambda: all_running(cluster, 3, "app=quiet"), timeout=60)
    names = {p["metadata"]["name"] for p in placed}
    pids = [cluster.state()["processes"][n] for n in ("node-2", "node-3")]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for("node-2 and node-3 NotReady", lambda: all(
            node_row(cluster, n)[1] == "NotReady" for n in ("node-2", "node-3")),
            timeout=GRACE + 10)  # fmt: skip
        # Two of three nodes silent: more likely the control plane's network than the nodes,
        # so their pods stay (they would have gone after `tolerate` seconds otherwise).
        hold_until = time.monotonic() + tolerate + 3
        while time.monotonic() < hold_until:
            assert {p["metadata"]["name"] for p in pods(cluster, "app=quiet")} == names
            time.sleep(0.5)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    wait_for("all nodes Ready", lambda: all(
        node_row(cluster, f"node-{i}")[1] == "Ready" for i in (1, 2, 3)), timeout=30)  # fmt: skip
    # The node that answers last gets a full toleration from the end of the disruption, not
    # from its taint: nothing goes.
    assert {p["metadata"]["name"] for p in pods(cluster, "app=quiet")} == names
    wait_for("3 pods Running", lambda: all_running(cluster, 3, "app=quiet"), timeout=30)
    log = (cluster.data_dir / "logs" / "control.log").read_text()
    assert "evictions stop" in log
    cluster.tkctl("delete", "pods", "-l", "app=quiet", "--wait=false")


def test_the_pods_of_a_deleted_node_are_garbage_collected(
    cluster3: Cluster, docker_client: docker.DockerClient
) -> None:
    """`tkctl delete node` for a machine that is gone: its pods are force-deleted after the
    pod GC's quarantine, even pods that tolerate an unreachable node for ever (so the node
    lifecycle controller would never evict them)."""
    cluster = cluster3
    manifest = "---\n".join(
        sleeper(f"orphan-{i}", "orphan", FOREVER, node="node-3") for i in range(2)
    )
    cluster.tkctl("apply", "-f", "-", stdin=manifest)
    placed = wait_for("2 pods Running", lambda: all_running(cluster, 2, "app=orphan"), timeout=60)
    uids = {p["metadata"]["uid"] for p in placed}
    agent_pid = cluster.state()["processes"]["node-3"]
    os.kill(agent_pid, signal.SIGSTOP)
    try:
        out = cluster.tkctl("delete", "node", "node-3")
        assert out.stdout.strip() == 'node "node-3" deleted'
        deleted = time.monotonic()
        wait_for("node-3's pods garbage-collected",
                 lambda: not pods(cluster, "app=orphan"), timeout=50)  # fmt: skip
        collected = time.monotonic() - deleted
        assert collected >= 19.0, f"collected after {collected:.1f}s, before the quarantine"
    finally:
        os.kill(agent_pid, signal.SIGCONT)
    # The agent registers its Node again and removes the containers of the deleted pods.
    wait_for("node-3 Ready again", lambda: node_row(cluster, "node-3")[1] == "Ready", timeout=30)
    wait_for("node-3's stale containers removed",
             lambda: not uids & set(running_apps(docker_client, cluster.cluster_id)),
             timeout=30)  # fmt: skip
    print(f"pod gc: pods of the deleted node gone after {collected:.1f}s")
