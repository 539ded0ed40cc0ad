"""The ReplicaSet planner, the deletion ranking and the pod-template-hash: given these objects,
this plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import meta
from control.controllers import ranking
from control.controllers.replicaset_plan import (
    BURST_REPLICAS,
    batch_sizes,
    plan_replicas,
    pod_from_template,
    related_pods,
)
from control.controllers.templatehash import compute_hash, fnv32a, safe_encode

Obj = dict[str, Any]
NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
RS_UID = "rs-uid"


def ago(seconds: float) -> str:
    return meta.timestamp(NOW - dt.timedelta(seconds=seconds))


def rs(replicas: int = 3, **extra: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-abc", "namespace": "default", "uid": RS_UID, "generation": 2},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}},
            "template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"},
                             "annotations": {"note": "x"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            },
        },
        "status": {},
    }  # fmt: skip
    obj["spec"].update(extra)
    return obj


def pod(
    name: str,
    *,
    owner: str | None = RS_UID,
    labels: dict[str, str] | None = None,
    node: str = "n1",
    phase: str = "Running",
    ready_for: float | None = 600,
    created: float = 3600,
    restarts: int = 0,
    cost: int | None = None,
    deleting: bool = False,
) -> Obj:
    m: Obj = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "labels": labels if labels is not None else {"app": "web", "pod-template-hash": "abc"},
        "creationTimestamp": ago(created),
    }
    if owner:
        m["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                                 "uid": owner, "controller": True}]  # fmt: skip
    if cost is not None:
        m["annotations"] = {ranking.DELETION_COST: str(cost)}
    if deleting:
        m["deletionTimestamp"] = ago(0)
    status: Obj = {"phase": phase, "containerStatuses": [{"name": "web", "restartCount": restarts}]}
    if ready_for is not None:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": ago(ready_for)}]  # fmt: skip
    return {"metadata": m, "spec": {"nodeName": node} if node else {}, "status": status}


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


# -- the plan -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "pods", "create", "delete"),
    [
        (3, [], 3, []),
        (3, [pod("a"), pod("b"), pod("c")], 0, []),
        (3, [pod("a"), pod("b")], 1, []),
        # A terminating pod does not count: its replacement starts at once.
        (2, [pod("a"), pod("b", deleting=True)], 1, []),
        # Finished pods do not count either.
        (2, [pod("a"), pod("b", phase="Failed")], 1, []),
        # Too many: the not-ready one goes first.
        (2, [pod("a"), pod("b", ready_for=None), pod("c")], 0, ["b"]),
        (0, [pod("a"), pod("b")], 0, ["a", "b"]),
    ],
)
def test_create_and_delete_counts(
    replicas: int, pods: list[Obj], create: int, delete: list[str]
) -> None:
    plan = plan_replicas(rs(replicas), pods, NOW)
    assert plan.create == create
    assert sorted(names(plan.delete)) == delete


def test_claim_adopts_orphans_releases_mismatches_and_ignores_others() -> None:
    pods = [
        pod("mine"),
        pod("orphan", owner=None),
        pod("relabelled", labels={"app": "debug", "pod-template-hash": "abc"}),
        pod("theirs", owner="other-uid"),
        pod("orphan-deleting", owner=None, deleting=True),
        pod("orphan-other", owner=None, labels={"app": "db"}),
    ]
    plan = plan_replicas(rs(2), pods, NOW)
    assert names(plan.claimed) == ["mine", "orphan"]
    [adopted] = plan.adopt
    assert adopted["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": RS_UID,
        "controller": True, "blockOwnerDeletion": True}]  # fmt: skip
    [released] = plan.release
    assert released["metadata"]["name"] == "relabelled"
    assert "ownerReferences" not in released["metadata"]
    assert plan.create == 0 and plan.delete == []


def test_a_replicaset_being_deleted_neither_adopts_releases_nor_manages() -> None:
    doomed = rs(5)
    doomed["metadata"]["deletionTimestamp"] = ago(1)
    pods = [pod("mine"), pod("orphan", owner=None), pod("relabelled", labels={"app": "x"})]
    plan = plan_replicas(doomed, pods, NOW)
    assert names(plan.claimed) == ["mine"]
    assert plan.adopt == [] and plan.release == [] and plan.create == 0


def test_status_counts_ready_available_and_labelled_pods() -> None:
    pods = [pod("a"), pod("b", ready_for=5), pod("c", ready_for=None, phase="Pending")]
    pods[0]["metadata"]["labels"] = {"app": "web", "pod-template-hash": "abc", "extra": "1"}
    plan = plan_replicas(rs(3, minReadySeconds=10), pods, NOW)
    assert plan.status == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 1,  # "b" has been Ready 5 s of the 10 required
        "observedGeneration": 2,
    }
    assert plan.requeue_after == pytest.approx(5.05)


def test_zero_counts_are_omitted_but_replicas_is_not() -> None:
    assert plan_replicas(rs(0), [], NOW).status == {"replicas": 0, "observedGeneration": 2}


def test_bursts_are_capped_and_batches_double() -> None:
    assert plan_replicas(rs(BURST_REPLICAS + 10), [], NOW).create == BURST_REPLICAS
    assert batch_sizes(10) == [1, 2, 4, 3]
    assert batch_sizes(1) == [1]
    assert batch_sizes(0) == []
    assert sum(batch_sizes(30)) == 30 and batch_sizes(30)[:4] == [1, 2, 4, 8]


def test_pod_from_template_carries_labels_annotations_and_controller() -> None:
    p = pod_from_template(rs())
    assert p["metadata"]["generateName"] == "web-abc-"
    assert p["metadata"]["labels"] == {"app": "web", "pod-template-hash": "abc"}
    assert p["metadata"]["annotations"] == {"note": "x"}
    assert p["metadata"]["ownerReferences"][0]["controller"] is True
    assert p["spec"] == {"containers": [{"name": "web", "image": "web:1"}]}


# -- the deletion ranking -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "rule"),
    [
        (pod("x", node=""), pod("y"), "unscheduled before scheduled"),
        (pod("x", phase="Pending"), pod("y"), "Pending before Running"),
        (pod("x", phase="Unknown"), pod("y"), "Unknown before Running"),
        (pod("x", ready_for=None), pod("y"), "not Ready before Ready"),
        (pod("x", cost=-5), pod("y"), "lower deletion cost first"),
        (pod("x", node="crowded"), pod("y", node="quiet"), "more related pods on the node first"),
        (pod("x", ready_for=10), pod("y", ready_for=1000), "Ready more recently first"),
        (pod("x", restarts=3), pod("y"), "more restarts first"),
        (pod("x", ready_for=None, created=10), pod("y", ready_for=None), "newer first"),
        # Same power-of-2 age bucket (40 s and 60 s both in [2^35, 2^36) ns): smaller UID first.
        (pod("a", ready_for=40), pod("b", ready_for=60), "same bucket: by UID"),
        (pod("a", ready_for=60), pod("b", ready_for=40), "same bucket: by UID, whatever the age"),
    ],
)
def test_deletion_rank_rules(first: Obj, second: Obj, rule: str) -> None:
    related = [first, second, pod("z", node="crowded")]
    assert names(ranking.rank_for_deletion([second, first], related, NOW)) == names(
        [first, second]
    ), rule


def test_rules_apply_in_kubernetes_order() -> None:
    # Unscheduled beats everything; then a pending pod beats a not-ready running one.
    pods = [
        pod("ready-old"),
        pod("ready-new", ready_for=5),
        pod("not-ready", ready_for=None),
        pod("pending", phase="Pending", ready_for=None),
        pod("unscheduled", node="", phase="Pending", ready_for=None),
    ]
    ordered = ranking.rank_for_deletion(pods, pods, NOW)
    assert names(ordered) == ["unscheduled", "pending", "not-ready", "ready-new", "ready-old"]
    assert names(ranking.pods_to_delete(pods, pods, 2, NOW)) == ["unscheduled", "pending"]


def test_related_pods_are_those_of_the_sibling_replicasets() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d",
             "controller": True}  # fmt: skip
    mine, sibling, stranger = rs(), rs(), rs()
    sibling["metadata"].update(name="web-def", uid="rs2")
    sibling["spec"]["selector"] = {"matchLabels": {"pod-template-hash": "def"}}
    stranger["metadata"].update(name="other", uid="rs3")
    for r in (mine, sibling):
        r["metadata"]["ownerReferences"] = [owner]
    pods = [pod("a"), pod("b", labels={"pod-template-hash": "def"}), pod("c", labels={"x": "y"})]
    assert names(related_pods(mine, [mine, sibling, stranger], pods)) == ["a", "b"]
    assert related_pods(stranger, [mine, sibling, stranger], pods) == []


# -- the pod-template-hash ----------------------------------------------------------------------


def test_fnv32a_and_safe_encoding() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968
    # Digits map through "bcdfghjklmnpqrstvwxz2456789"[ord(c) % 27].
    assert safe_encode("0123456789") == "456789bcdf"


def test_template_hash_is_stable_and_changes_with_the_template() -> None:
    template = rs()["spec"]["template"]
    h = compute_hash(template)
    assert h == compute_hash({"spec": template["spec"], "metadata": template["metadata"]})
    assert len(h) <= 10 and set(h) <= set("456789bcdf")
    changed = {**template, "spec": {"containers": [{"name": "web", "image": "web:2"}]}}
    assert compute_hash(changed) != h
    assert compute_hash(template, 1) != h and compute_hash(template, 1) != compute_hash(template, 2)
