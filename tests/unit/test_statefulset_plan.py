"""The StatefulSet controller's plan: given a set, its pods and claims → these writes."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from common.statefulsets import default_statefulset
from control.controllers.statefulset_history import (
    apply_revision,
    current_revision,
    new_revision,
    revision_data,
    update_revision,
)
from control.controllers.statefulset_plan import (
    CLAIM,
    CREATE,
    DELETE,
    UPDATE,
    Revisions,
    max_unavailable,
    plan_statefulset,
    revisions_to_delete,
)
from control.controllers.statefulset_pods import (
    claim_owner_refs,
    claims_for,
    new_pod,
    parent_and_ordinal,
)

Obj = dict[str, Any]
NOW = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.UTC)
OLD, NEW = "web-old", "web-new"


def sts(replicas: int = 3, **spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid", "generation": 2},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "web:1"}]},
            },
            "volumeClaimTemplates": [
                {"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            ],
        },
    }
    obj["spec"].update(spec)
    default_statefulset(obj)
    return obj


def revs(obj: Obj, current: str = NEW, update: str = NEW) -> Revisions:
    return Revisions(current, update, obj, obj)


def pod(obj: Obj, ordinal: int, *, ready: bool = True, revision: str = NEW, **extra: Any) -> Obj:
    p = new_pod(obj, ordinal, revision)
    p["metadata"]["uid"] = f"pod-{ordinal}"
    status: Obj = {"phase": "Running" if ready else "Pending"}
    if ready:
        status["conditions"] = [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-05T07:00:00Z"}
        ]
    p["status"] = status
    p["metadata"].update(extra)
    return p


def claims(obj: Obj, *ordinals: int) -> dict[str, Obj]:
    out = {}
    for i in ordinals:
        for c in claims_for(obj, i):
            c["metadata"]["uid"] = f"claim-{i}"
            out[f"ns/{c['metadata']['name']}"] = c
    return out


def verbs(plan: Any) -> list[tuple[str, str]]:
    return [(a.verb, a.obj["metadata"]["name"]) for a in plan.actions]


def test_the_first_pod_has_its_identity_and_claim() -> None:
    s = sts()
    plan = plan_statefulset(s, [], {}, revs(s), NOW)
    assert verbs(plan) == [(CREATE, "web-0")]
    action = plan.actions[0]
    p = action.obj
    assert p["spec"]["hostname"] == "web-0"
    assert p["spec"]["subdomain"] == "web"
    assert p["metadata"]["labels"] == {
        "app": "web",
        "statefulset.kubernetes.io/pod-name": "web-0",
        "apps.kubernetes.io/pod-index": "0",
        "controller-revision-hash": NEW,
    }
    assert p["spec"]["volumes"] == [
        {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}
    ]
    assert p["metadata"]["ownerReferences"][0]["uid"] == "set-uid"
    assert [c["metadata"]["name"] for c in action.claims] == ["www-web-0"]
    assert action.claims[0]["metadata"]["labels"] == {"app": "web"}


def test_ordered_ready_waits_for_each_pod_to_be_running_and_ready() -> None:
    s = sts()
    waiting = plan_statefulset(s, [pod(s, 0, ready=False)], claims(s, 0), revs(s), NOW)
    assert waiting.actions == []
    ready = plan_statefulset(s, [pod(s, 0)], claims(s, 0), revs(s), NOW)
    assert verbs(ready) == [(CREATE, "web-1")]


def test_a_claim_that_exists_is_not_created_again() -> None:
    s = sts()
    plan = plan_statefulset(s, [pod(s, 0)], claims(s, 0, 1), revs(s), NOW)
    assert verbs(plan) == [(CREATE, "web-1")]
    assert plan.actions[0].claims == ()


def test_a_claim_being_deleted_holds_the_pod_back() -> None:
    s = sts()
    stale = claims(s, 0)
    stale["ns/www-web-0"]["metadata"]["deletionTimestamp"] = "2026-12-05T07:59:00Z"
    assert plan_statefulset(s, [], stale, revs(s), NOW).actions == []


def test_parallel_creates_every_missing_pod_at_once() -> None:
    s = sts(podManagementPolicy="Parallel")
    plan = plan_statefulset(s, [pod(s, 1, ready=False)], claims(s, 1), revs(s), NOW)
    assert verbs(plan) == [(CREATE, "web-0"), (CREATE, "web-2")]


def test_a_pending_pod_without_its_claim_gets_it() -> None:
    s = sts(replicas=1)
    plan = plan_statefulset(s, [pod(s, 0, ready=False)], {}, revs(s), NOW)
    assert verbs(plan) == [(CLAIM, "web-0")]
    assert [c["metadata"]["name"] for c in plan.actions[0].claims] == ["www-web-0"]


def test_start_ordinal_names_the_pods_from_it() -> None:
    s = sts(replicas=2, ordinals={"start": 5}, podManagementPolicy="Parallel")
    plan = plan_statefulset(s, [], {}, revs(s), NOW)
    assert verbs(plan) == [(CREATE, "web-5"), (CREATE, "web-6")]
    assert plan.actions[0].claims[0]["metadata"]["name"] == "www-web-5"


def test_scale_down_deletes_the_highest_ordinal_first_one_at_a_time() -> None:
    s = sts(replicas=1)
    pods = [pod(s, 0), pod(s, 1), pod(s, 2)]
    plan = plan_statefulset(s, pods, claims(s, 0, 1, 2), revs(s), NOW)
    assert verbs(plan) == [(DELETE, "web-2")]
    terminating = [pod(s, 0), pod(s, 1), pod(s, 2, deletionTimestamp="2026-12-05T08:00:00Z")]
    assert plan_statefulset(s, terminating, {}, revs(s), NOW).actions == []


def test_scale_down_waits_while_a_lower_pod_is_unhealthy() -> None:
    s = sts(replicas=1)
    pods = [pod(s, 0, ready=False), pod(s, 1), pod(s, 2)]
    assert plan_statefulset(s, pods, claims(s, 0), revs(s), NOW).actions == []


def test_parallel_scale_down_deletes_all_at_once() -> None:
    s = sts(replicas=1, podManagementPolicy="Parallel")
    pods = [pod(s, 0), pod(s, 1), pod(s, 2)]
    assert verbs(plan_statefulset(s, pods, {}, revs(s), NOW)) == [
        (DELETE, "web-2"),
        (DELETE, "web-1"),
    ]


def test_claims_are_kept_on_scale_down_by_default() -> None:
    s = sts(replicas=2)
    pods = [pod(s, 0), pod(s, 1), pod(s, 2)]
    plan = plan_statefulset(s, pods, claims(s, 0, 1, 2), revs(s), NOW)
    assert verbs(plan) == [(DELETE, "web-2")]


def test_when_scaled_delete_gives_the_claim_to_its_pod_before_the_pod_goes() -> None:
    s = sts(replicas=2, persistentVolumeClaimRetentionPolicy={"whenScaled": "Delete"})
    pods = [pod(s, 0), pod(s, 1), pod(s, 2)]
    plan = plan_statefulset(s, pods, claims(s, 0, 1, 2), revs(s), NOW)
    assert verbs(plan) == [(CLAIM, "www-web-2"), (DELETE, "web-2")]
    refs = plan.actions[0].obj["metadata"]["ownerReferences"]
    assert refs == [{"apiVersion": "v1", "kind": "Pod", "name": "web-2", "uid": "pod-2"}]


def test_when_deleted_delete_gives_the_claims_to_the_set() -> None:
    s = sts(replicas=1, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete"})
    plan = plan_statefulset(s, [pod(s, 0)], claims(s, 0), revs(s), NOW)
    assert verbs(plan) == [(CLAIM, "www-web-0")]
    refs = plan.actions[0].obj["metadata"]["ownerReferences"]
    assert refs == [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "set-uid"}
    ]


@pytest.mark.parametrize(
    ("deleted", "scaled", "in_range", "owners"),
    [
        ("Retain", "Retain", True, []),
        ("Retain", "Retain", False, []),
        ("Delete", "Retain", False, ["set-uid"]),
        ("Retain", "Delete", True, []),
        ("Retain", "Delete", False, ["pod-2"]),
        ("Delete", "Delete", True, ["set-uid"]),
        ("Delete", "Delete", False, ["pod-2"]),
    ],
)
def test_claim_owner_references_follow_the_policy(
    deleted: str, scaled: str, in_range: bool, owners: list[str]
) -> None:
    policy = {"whenDeleted": deleted, "whenScaled": scaled}
    s = sts(replicas=3 if in_range else 2, persistentVolumeClaimRetentionPolicy=policy)
    claim = claims(s, 2)["ns/www-web-2"]
    claim["metadata"]["ownerReferences"] = [{"uid": "set-uid"}, {"uid": "pod-2"}, {"uid": "x"}]
    refs = claim_owner_refs(claim, s, pod(s, 2))
    assert sorted(r["uid"] for r in refs) == sorted([*owners, "x"])


def test_a_finished_pod_is_deleted_to_be_made_again() -> None:
    s = sts(replicas=1)
    failed = pod(s, 0)
    failed["status"] = {"phase": "Failed"}
    assert verbs(plan_statefulset(s, [failed], {}, revs(s), NOW)) == [(DELETE, "web-0")]


def test_a_pod_that_lost_its_identity_label_gets_it_back() -> None:
    s = sts(replicas=1)
    p = pod(s, 0)
    del p["metadata"]["labels"]["apps.kubernetes.io/pod-index"]
    plan = plan_statefulset(s, [p], claims(s, 0), revs(s), NOW)
    assert verbs(plan) == [(UPDATE, "web-0")]
    assert plan.actions[0].obj["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"


def test_rolling_update_replaces_the_highest_ordinal_first() -> None:
    s = sts()
    pods = [pod(s, i, revision=OLD) for i in range(3)]
    plan = plan_statefulset(s, pods, claims(s, 0, 1, 2), revs(s, OLD, NEW), NOW)
    assert verbs(plan) == [(DELETE, "web-2")]
    assert plan.status["currentReplicas"] == 2
    assert plan.status["updatedReplicas"] == 0


def test_rolling_update_waits_for_the_updated_pod_to_be_ready() -> None:
    s = sts()
    pods = [pod(s, 0, revision=OLD), pod(s, 1, revision=OLD), pod(s, 2, ready=False)]
    assert plan_statefulset(s, pods, claims(s, 2), revs(s, OLD, NEW), NOW).actions == []
    pods[2] = pod(s, 2)
    assert verbs(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == [(DELETE, "web-1")]


def test_rolling_update_stops_at_the_partition() -> None:
    s = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    pods = [pod(s, 0, revision=OLD), pod(s, 1, revision=OLD), pod(s, 2)]
    plan = plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)
    assert plan.actions == []
    assert plan.status["currentRevision"] == OLD  # not complete below the partition


def test_a_pod_below_the_partition_comes_back_at_the_current_revision() -> None:
    s = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    old_set = copy.deepcopy(s)
    old_set["spec"]["template"]["spec"]["containers"][0]["image"] = "web:0"
    r = Revisions(OLD, NEW, old_set, s)
    plan = plan_statefulset(s, [pod(s, 1, revision=OLD), pod(s, 2)], {}, r, NOW)
    assert verbs(plan) == [(CREATE, "web-0")]
    created = plan.actions[0].obj
    assert created["metadata"]["labels"]["controller-revision-hash"] == OLD
    assert created["spec"]["containers"][0]["image"] == "web:0"


def rolling(max_unavailable: Any, partition: int = 0) -> Obj:
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": partition, "maxUnavailable": max_unavailable},
    }


def deleted(plan: Any) -> list[str]:
    return [name for verb, name in verbs(plan) if verb == DELETE]


def test_max_unavailable_is_a_count_or_a_percentage_rounded_down_never_0() -> None:
    assert max_unavailable(sts(5, updateStrategy=rolling(2))) == 2
    assert max_unavailable(sts(5, updateStrategy=rolling("50%"))) == 2  # 2.5 rounded down
    assert max_unavailable(sts(5, updateStrategy=rolling("10%"))) == 1  # 0.5: at least one
    assert max_unavailable(sts(5, updateStrategy={"type": "OnDelete"})) == 1


@pytest.mark.parametrize("policy", ["OrderedReady", "Parallel"])
def test_max_unavailable_pods_are_updated_at_once(policy: str) -> None:
    s = sts(5, updateStrategy=rolling(2), podManagementPolicy=policy)
    pods = [pod(s, i, revision=OLD) for i in range(5)]
    plan = plan_statefulset(s, pods, claims(s, *range(5)), revs(s, OLD, NEW), NOW)
    assert deleted(plan) == ["web-4", "web-3"]
    assert plan.status["currentReplicas"] == 3
    # One replaced pod is back and ready, the other not yet: one more may go.
    pods[4], pods[3] = pod(s, 4), pod(s, 3, ready=False)
    if policy == "OrderedReady":
        # OrderedReady waits for every replica to be Running and Ready first.
        assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == []
        pods[3] = pod(s, 3)
        assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == ["web-2", "web-1"]
    else:
        assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == ["web-2"]


def test_max_unavailable_stops_at_the_partition() -> None:
    s = sts(5, updateStrategy=rolling("100%", partition=3))
    pods = [pod(s, i, revision=OLD) for i in range(5)]
    assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == ["web-4", "web-3"]


def test_unavailable_pods_use_up_the_budget() -> None:
    s = sts(4, updateStrategy=rolling(2), podManagementPolicy="Parallel")
    pods = [pod(s, i, revision=OLD) for i in range(3)] + [pod(s, 3, ready=False)]
    # web-3 (updated) is not ready yet: one more old pod may go, not two.
    assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == ["web-2"]
    pods[2] = pod(s, 2, ready=False)
    assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == []
    # A terminating pod counts as unavailable too.
    pods[2] = pod(s, 2, revision=OLD, deletionTimestamp="2026-12-05T07:59:00Z")
    assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == []


def test_parallel_replaces_broken_old_pods_whatever_the_budget() -> None:
    # Old pods that never become ready would block the rollout forever if they counted against
    # the budget: Parallel deletes them first, then only healthy ones within the budget.
    s = sts(4, updateStrategy=rolling(1), podManagementPolicy="Parallel")
    pods = [pod(s, 0, revision=OLD), pod(s, 1, revision=OLD),
            pod(s, 2, revision=OLD, ready=False), pod(s, 3, revision=OLD, ready=False)]  # fmt: skip
    plan = plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)
    assert deleted(plan) == ["web-3", "web-2"]
    assert plan.status["currentReplicas"] == 2
    pods[3], pods[2] = pod(s, 3), pod(s, 2)
    assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == ["web-1"]


def test_min_ready_seconds_makes_a_ready_pod_unavailable_for_a_while() -> None:
    s = sts(3, updateStrategy=rolling(2), podManagementPolicy="Parallel", minReadySeconds=600)
    fresh = pod(s, 2)
    fresh["status"]["conditions"][0]["lastTransitionTime"] = "2026-12-05T07:59:00Z"
    pods = [pod(s, 0, revision=OLD), pod(s, 1, revision=OLD), fresh]
    # web-2 has been ready one minute of the ten asked: it still takes one of the two.
    assert deleted(plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW)) == ["web-1"]


def test_on_delete_never_deletes_for_an_update() -> None:
    s = sts(updateStrategy={"type": "OnDelete"})
    pods = [pod(s, i, revision=OLD) for i in range(3)]
    assert plan_statefulset(s, pods, {}, revs(s, OLD, NEW), NOW).actions == []


def test_status_counts_and_a_finished_rollout_becomes_current() -> None:
    s = sts()
    pods = [pod(s, 0), pod(s, 1), pod(s, 2)]
    plan = plan_statefulset(s, pods, claims(s, 0, 1, 2), revs(s, OLD, NEW), NOW)
    assert plan.actions == []
    assert plan.status == {
        "observedGeneration": 2,
        "replicas": 3,
        "readyReplicas": 3,
        "currentReplicas": 3,
        "updatedReplicas": 3,
        "availableReplicas": 3,
        "currentRevision": NEW,
        "updateRevision": NEW,
        "collisionCount": 0,
    }


def test_min_ready_seconds_holds_the_next_pod_until_available() -> None:
    s = sts(minReadySeconds=7200)
    plan = plan_statefulset(s, [pod(s, 0)], claims(s, 0), revs(s), NOW)
    assert plan.actions == []
    assert plan.status["availableReplicas"] == 0


def test_a_set_being_deleted_only_reports_status() -> None:
    s = sts()
    s["metadata"]["deletionTimestamp"] = "2026-12-05T08:00:00Z"
    plan = plan_statefulset(s, [pod(s, 0)], {}, revs(s), NOW)
    assert plan.actions == []
    assert plan.status["replicas"] == 1


def test_pod_names_parse_back_to_parent_and_ordinal() -> None:
    assert parent_and_ordinal({"metadata": {"name": "my-db-12"}}) == ("my-db", 12)
    assert parent_and_ordinal({"metadata": {"name": "web"}}) == ("", -1)


# -- revisions --------------------------------------------------------------------------------


def test_a_revision_restores_the_template() -> None:
    s = sts()
    data = revision_data(s)
    assert data["spec"]["template"]["$patch"] == "replace"
    cr = new_revision(s, 1, 0)
    assert cr["metadata"]["name"].startswith("web-")
    assert cr["metadata"]["labels"]["app"] == "web"
    changed = copy.deepcopy(s)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    assert apply_revision(changed, cr)["spec"]["template"] == s["spec"]["template"]


def test_update_revision_is_the_latest_an_older_one_renumbered_or_a_new_one() -> None:
    s = sts()
    first = new_revision(s, 1, 0)
    assert update_revision(s, [], 0).write == "create"
    same = update_revision(s, [first], 0)
    assert (same.write, same.revision["metadata"]["name"]) == ("", first["metadata"]["name"])
    changed = copy.deepcopy(s)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "web:2"
    second = new_revision(changed, 2, 0)
    back = update_revision(s, [first, second], 0)
    assert back.write == "renumber"
    assert back.revision["revision"] == 3
    assert back.revision["metadata"]["name"] == first["metadata"]["name"]
    s["status"] = {"currentRevision": second["metadata"]["name"]}
    assert current_revision(s, [first, second], first) is second


def test_history_keeps_live_revisions_and_the_limit() -> None:
    s = sts()
    crs = [{"metadata": {"name": f"web-{i}"}, "revision": i} for i in range(1, 6)]
    pods = [pod(s, 0, revision="web-1")]
    out = revisions_to_delete(crs, pods, Revisions("web-5", "web-5", s, s), 2)
    assert [c["metadata"]["name"] for c in out] == ["web-2"]
