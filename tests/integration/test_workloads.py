"""The Deployment, ReplicaSet, garbage collector and namespace controllers over the real registry
and Redis, with a FAKE kubelet (tests/integration/appsfake.py) marking bound pods Ready."""

from __future__ import annotations

from typing import Any

import pytest

from common.wellknown import REVISION, REVISION_HISTORY, TEMPLATE_HASH_LABEL
from control.controllers.templatehash import compute_hash
from control.registry.registry import Registry
from tests.integration.appsfake import DEPLOYS, NAMESPACES, PODS, RSES, Cluster

Obj = dict[str, Any]


def deployment(
    name: str = "web", replicas: int = 3, image: str = "tinykube/web:1", **spec: Any
) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            **spec,
        },
    }


@pytest.fixture
def cluster(app: Any) -> Cluster:
    registry: Registry = app.extensions["tinykube"]["registry"]
    return Cluster(registry)


def available(cluster: Cluster, name: str = "web", namespace: str = "default") -> int:
    d = cluster.get(DEPLOYS, name, namespace)
    return int(((d or {}).get("status") or {}).get("availableReplicas") or 0)


def rollout_done(cluster: Cluster, name: str = "web") -> bool:
    d = cluster.get(DEPLOYS, name)
    assert d is not None
    s, replicas = d.get("status") or {}, d["spec"]["replicas"]
    return (
        s.get("observedGeneration") == d["metadata"]["generation"]
        and s.get("updatedReplicas", 0) == replicas
        and s.get("replicas", 0) == replicas
        and s.get("availableReplicas", 0) == replicas
    )


def live_pods(cluster: Cluster, namespace: str = "default") -> list[Obj]:
    return [p for p in cluster.items(PODS, namespace) if not p["metadata"].get("deletionTimestamp")]


def test_deployment_creates_a_replicaset_and_its_pods(cluster: Cluster) -> None:
    reg = cluster.registry
    created, _ = reg.create(DEPLOYS, "default", deployment())
    cluster.settle(lambda: rollout_done(cluster))
    d = cluster.get(DEPLOYS, "web")
    assert d is not None
    pod_hash = compute_hash(created["spec"]["template"])
    [rs] = cluster.items(RSES)
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", TEMPLATE_HASH_LABEL: pod_hash}
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", TEMPLATE_HASH_LABEL: pod_hash}
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    assert rs["status"]["readyReplicas"] == 3 and rs["status"]["observedGeneration"] == 1
    pods = cluster.items(PODS)
    assert len(pods) == 3
    for pod in pods:
        assert pod["metadata"]["name"].startswith(f"web-{pod_hash}-")
        assert pod["metadata"]["labels"][TEMPLATE_HASH_LABEL] == pod_hash
        [ref] = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["controller"]) == (
            "ReplicaSet",
            rs["metadata"]["name"],
            True,
        )
    status = d["status"]
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"]) == (3, 3, 3)
    assert "unavailableReplicas" not in status
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert cluster.events("web") == [
        ("ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} to 3")
    ]
    rs_events = cluster.events(rs["metadata"]["name"])
    assert sorted(r for r, _ in rs_events) == ["SuccessfulCreate"] * 3
    assert {m for _, m in rs_events} == {f"Created pod: {p['metadata']['name']}" for p in pods}


def test_relabel_releases_replaces_readopts_and_deletes_the_newest(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment())
    cluster.settle(lambda: rollout_done(cluster))
    [rs] = cluster.items(RSES)
    first = sorted(p["metadata"]["name"] for p in cluster.items(PODS))
    target = first[0]
    # Step 1: relabel one pod; the ReplicaSet releases it and starts a replacement.
    cluster.clock.advance(100)
    reg.patch(PODS, "default", target, {"metadata": {"labels": {"app": "debug"}}},
              "application/merge-patch+json")  # fmt: skip
    cluster.settle(
        lambda: len(cluster.items(PODS, selector="app=web")) == 3 and rollout_done(cluster)
    )
    released = cluster.get(PODS, target)
    assert released is not None and "ownerReferences" not in released["metadata"]
    assert (
        released["metadata"]["labels"][TEMPLATE_HASH_LABEL]
        == rs["metadata"]["labels"][TEMPLATE_HASH_LABEL]
    )
    [replacement] = [
        p["metadata"]["name"] for p in cluster.items(PODS) if p["metadata"]["name"] not in first
    ]
    # Step 2: relabel it back; the ReplicaSet adopts it, has 4 and deletes the one Ready most
    # recently (the replacement: Ready 100 s after the others, another power-of-2 age bucket).
    cluster.clock.advance(100)
    reg.patch(PODS, "default", target, {"metadata": {"labels": {"app": "web"}}},
              "application/merge-patch+json")  # fmt: skip
    cluster.control_round()
    adopted = cluster.get(PODS, target)
    assert (
        adopted is not None
        and adopted["metadata"]["ownerReferences"][0]["name"] == rs["metadata"]["name"]
    )
    gone = cluster.get(PODS, replacement)
    assert gone is None or gone["metadata"].get("deletionTimestamp")
    cluster.settle(lambda: len(cluster.items(PODS)) == 3)
    assert sorted(p["metadata"]["name"] for p in cluster.items(PODS)) == first
    assert ("SuccessfulDelete", f"Deleted pod: {replacement}") in cluster.events(
        rs["metadata"]["name"]
    )


def _sizes(cluster: Cluster, new_hash: str) -> tuple[int, int]:
    new = old = 0
    for rs in cluster.items(RSES):
        if rs["metadata"]["labels"][TEMPLATE_HASH_LABEL] == new_hash:
            new += rs["spec"]["replicas"]
        else:
            old += rs["spec"]["replicas"]
    return new, old


def test_rolling_update_keeps_its_bounds_at_every_step(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment(replicas=3))
    cluster.settle(lambda: rollout_done(cluster))
    d = cluster.get(DEPLOYS, "web")
    assert d is not None
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "tinykube/web:2"
    updated = reg.replace(DEPLOYS, "default", "web", d)
    new_hash = compute_hash(updated["spec"]["template"])
    seen: list[tuple[int, int]] = []
    for _ in range(40):
        if rollout_done(cluster) and _sizes(cluster, new_hash)[1] == 0:
            break
        cluster.control_round()
        sizes = _sizes(cluster, new_hash)
        if not seen or seen[-1] != sizes:
            seen.append(sizes)
        pods = live_pods(cluster)
        ready = [p for p in pods if p["status"].get("phase") == "Running"]
        # maxSurge 25% of 3 = 1 (rounded up), maxUnavailable 25% of 3 = 0 (rounded down).
        assert len(pods) <= 3 + 1, pods
        assert len(ready) >= 3 - 0
        cluster.kubelet.sync()
    # Kubernetes' sequence for 3 replicas: new 1, old 2, new 2, old 1, new 3, old 0.
    assert seen == [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]
    assert rollout_done(cluster)
    assert {p["spec"]["containers"][0]["image"] for p in cluster.items(PODS)} == {"tinykube/web:2"}
    messages = [m for r, m in cluster.events("web") if r == "ScalingReplicaSet"]
    assert messages[1].startswith(f"Scaled up replica set web-{new_hash} to 1")
    assert messages[-1].endswith("to 0 from 1")


def test_rollback_by_applying_the_old_template_reuses_its_replicaset(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment(replicas=2))
    cluster.settle(lambda: rollout_done(cluster))
    [first] = cluster.items(RSES)
    for image in ("tinykube/web:2", "tinykube/web:1"):
        d = cluster.get(DEPLOYS, "web")
        assert d is not None
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        reg.replace(DEPLOYS, "default", "web", d)
        cluster.settle(lambda: rollout_done(cluster) and len(live_pods(cluster)) == 2)
    rss = {rs["metadata"]["name"]: rs for rs in cluster.items(RSES)}
    assert len(rss) == 2
    reused = rss[first["metadata"]["name"]]
    assert reused["spec"]["replicas"] == 2
    assert reused["metadata"]["annotations"][REVISION] == "3"
    assert reused["metadata"]["annotations"][REVISION_HISTORY] == "1"
    d = cluster.get(DEPLOYS, "web")
    assert d is not None and d["metadata"]["annotations"][REVISION] == "3"


def test_revision_history_limit_deletes_old_empty_replicasets(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment(replicas=1, revisionHistoryLimit=1))
    cluster.settle(lambda: rollout_done(cluster))
    for image in ("tinykube/web:2", "tinykube/web:3"):
        d = cluster.get(DEPLOYS, "web")
        assert d is not None
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        reg.replace(DEPLOYS, "default", "web", d)
        cluster.settle(lambda: rollout_done(cluster) and len(live_pods(cluster)) == 1)
    cluster.settle(lambda: len(cluster.items(RSES)) == 2)
    revisions = sorted(rs["metadata"]["annotations"][REVISION] for rs in cluster.items(RSES))
    assert revisions == ["2", "3"]


def test_scale_subresource_scales_the_deployment(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment(replicas=2))
    cluster.settle(lambda: rollout_done(cluster))
    reg.patch(DEPLOYS, "default", "web", {"spec": {"replicas": 5}},
              "application/merge-patch+json", sub="scale")  # fmt: skip
    cluster.settle(lambda: rollout_done(cluster) and len(live_pods(cluster)) == 5)
    reg.patch(DEPLOYS, "default", "web", {"spec": {"replicas": 0}},
              "application/merge-patch+json", sub="scale")  # fmt: skip
    cluster.settle(lambda: not cluster.items(PODS))
    [rs] = cluster.items(RSES)
    assert rs["spec"]["replicas"] == 0
    messages = [m for r, m in cluster.events("web") if r == "ScalingReplicaSet"]
    name = rs["metadata"]["name"]
    assert messages[-2:] == [
        f"Scaled up replica set {name} to 5 from 2",
        f"Scaled down replica set {name} to 0 from 5",
    ]


def test_background_deletion_removes_replicasets_and_pods(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment())
    cluster.settle(lambda: rollout_done(cluster))
    reg.delete(DEPLOYS, "default", "web", {})
    assert cluster.get(DEPLOYS, "web") is None
    cluster.settle(lambda: not cluster.items(RSES) and not cluster.items(PODS))


def test_foreground_deletion_keeps_the_owner_until_dependents_are_gone(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment())
    cluster.settle(lambda: rollout_done(cluster))
    reg.delete(DEPLOYS, "default", "web", {"propagationPolicy": "Foreground"})
    d = cluster.get(DEPLOYS, "web")
    assert d is not None and d["metadata"]["finalizers"] == ["foregroundDeletion"]
    cluster.control_round()  # the ReplicaSet is deleted in the foreground too
    [rs] = cluster.items(RSES)
    assert rs["metadata"].get("deletionTimestamp") and rs["metadata"]["finalizers"] == [
        "foregroundDeletion"
    ]
    for _ in range(40):
        if cluster.get(DEPLOYS, "web") is None:
            break
        # The owner is visible for as long as any dependent is.
        assert cluster.items(PODS) or cluster.items(RSES) or cluster.get(DEPLOYS, "web")
        if cluster.items(PODS):
            assert cluster.get(DEPLOYS, "web") is not None and cluster.items(RSES)
        cluster.round()
    assert cluster.get(DEPLOYS, "web") is None
    assert not cluster.items(RSES) and not cluster.items(PODS)


def test_orphan_deletion_leaves_replicasets_and_pods_without_owner(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment(replicas=2))
    cluster.settle(lambda: rollout_done(cluster))
    reg.delete(DEPLOYS, "default", "web", {"propagationPolicy": "Orphan"})
    cluster.settle(lambda: cluster.get(DEPLOYS, "web") is None)
    for _ in range(3):
        cluster.round()
    [rs] = cluster.items(RSES)
    assert "ownerReferences" not in rs["metadata"]
    assert len(live_pods(cluster)) == 2
    assert all(
        p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        for p in cluster.items(PODS)
    )


def test_namespace_deletion_removes_everything_then_the_namespace(cluster: Cluster) -> None:
    reg = cluster.registry
    reg.create(NAMESPACES, "", {"metadata": {"name": "team"}})
    reg.create(DEPLOYS, "team", deployment(replicas=2))
    cluster.settle(lambda: available(cluster, "web", "team") == 2)
    reg.delete(NAMESPACES, "", "team", {})
    cluster.control_round()
    ns = cluster.get(NAMESPACES, "team", "")
    assert ns is not None and ns["status"]["phase"] == "Terminating"
    cond = {c["type"]: c for c in ns["status"]["conditions"]}
    assert cond["NamespaceContentRemaining"]["status"] == "True"
    assert "pods. has 2 resource instances" in cond["NamespaceContentRemaining"]["message"]
    cluster.settle(lambda: cluster.get(NAMESPACES, "team", "") is None)
    assert not cluster.items(PODS, "team") and not cluster.items(RSES, "team")
    assert not cluster.items(DEPLOYS, "team")
