"""The disruption controller's arithmetic: given a budget, its pods and their controllers'
scale -> the status it should have."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import meta
from common.budgets import covers
from control.controllers import disruption_plan as plan

NOW = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def pdb(generation: int = 1, status: Obj | None = None, **spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": generation},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
        "status": status or {},
    }


def pod(name: str, ready: bool = True, owner: Obj | None = None, deleting: bool = False) -> Obj:
    m: Obj = {"name": name, "namespace": "default", "labels": {"app": "web"}}
    if owner is not None:
        m["ownerReferences"] = [{**owner, "controller": True}]
    if deleting:
        m["deletionTimestamp"] = meta.timestamp(NOW)
    cond = {"type": "Ready", "status": "True" if ready else "False"}
    return {"metadata": m, "status": {"phase": "Running", "conditions": [cond]}}


RS_REF = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "rs-uid"}
DEP_REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "dep-uid"}


def cache(rs_owner: Obj | None = None, rs_replicas: int = 4, dep_replicas: int = 5) -> plan.Lookup:
    rs: Obj = {"metadata": {"name": "web-1", "uid": "rs-uid"}, "spec": {"replicas": rs_replicas}}
    if rs_owner is not None:
        rs["metadata"]["ownerReferences"] = [{**rs_owner, "controller": True}]
    dep = {"metadata": {"name": "web", "uid": "dep-uid"}, "spec": {"replicas": dep_replicas}}
    objects = {("ReplicaSet", "web-1"): rs, ("Deployment", "web"): dep}

    def lookup(api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        return objects.get((kind, name))

    return lookup


def status_of(budget: Obj, pods: list[Obj], lookup: plan.Lookup | None = None) -> Obj:
    lookup = lookup or cache()
    counts = plan.expected_counts(budget, pods, lookup)
    status, _ = plan.budget_status(budget, pods, counts, NOW)
    assert status is not None
    return status


def test_min_available_int_counts_the_selected_pods() -> None:
    pods = [pod("a"), pod("b"), pod("c", ready=False)]
    s = status_of(pdb(minAvailable=1), pods)
    assert (s["currentHealthy"], s["desiredHealthy"], s["expectedPods"]) == (2, 1, 3)
    assert s["disruptionsAllowed"] == 1
    assert s["observedGeneration"] == 1
    (cond,) = s["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True",
                                                              "SufficientPods")  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "desired", "allowed"),
    [
        ({"minAvailable": "50%"}, 3, 1),  # 50% of 5 rounded up
        ({"maxUnavailable": 1}, 4, 0),
        ({"maxUnavailable": "40%"}, 3, 1),  # 40% of 5 = 2
        ({"maxUnavailable": "100%"}, 0, 4),
    ],
)
def test_percentages_and_max_unavailable_count_the_deployment_scale(
    spec: Obj, desired: int, allowed: int
) -> None:
    pods = [pod(n, owner=RS_REF) for n in "abcd"]
    s = status_of(pdb(**spec), pods, cache(rs_owner=DEP_REF, dep_replicas=5))
    got = (s["expectedPods"], s["desiredHealthy"], s["disruptionsAllowed"])
    assert got == (5, desired, allowed)


def test_a_replicaset_without_deployment_counts_its_own_replicas() -> None:
    pods = [pod("a", owner=RS_REF)]
    assert status_of(pdb(maxUnavailable=0), pods, cache(rs_replicas=4))["expectedPods"] == 4


def test_insufficient_pods_and_no_pods_allow_nothing() -> None:
    s = status_of(pdb(minAvailable=2), [pod("a"), pod("b", ready=False)])
    assert s["disruptionsAllowed"] == 0
    assert s["conditions"][0]["reason"] == "InsufficientPods"
    assert s["conditions"][0]["status"] == "False"
    empty = status_of(pdb(maxUnavailable="100%"), [])
    assert (empty["expectedPods"], empty["disruptionsAllowed"]) == (0, 0)


def test_unmanaged_pods_are_named_and_not_counted() -> None:
    counts = plan.expected_counts(pdb(maxUnavailable=1), [pod("a"), pod("b", owner=RS_REF)],
                                  cache(rs_replicas=2))  # fmt: skip
    assert counts == plan.Counts(2, 1, ("a",))


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ({**RS_REF, "uid": "other"}, 'found no controllers for pod "a"'),
        ({"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u"},
         "nodes does not implement the scale subresource"),
        ({"apiVersion": "example.com/v1", "kind": "Thing", "name": "n", "uid": "u"},
         'no matches for kind "Thing" in group "example.com"'),
    ],
)  # fmt: skip
def test_controllers_that_cannot_be_counted_fail_the_sync(owner: Obj, message: str) -> None:
    with pytest.raises(plan.PlanError, match=message):
        plan.expected_counts(pdb(minAvailable="50%"), [pod("a", owner=owner)], cache())


def test_failsafe_allows_nothing_with_sync_failed() -> None:
    s = plan.failsafe_status(pdb(status={"disruptionsAllowed": 3, "observedGeneration": 1}),
                             "boom", NOW)  # fmt: skip
    assert s["disruptionsAllowed"] == 0
    (cond,) = s["conditions"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "SyncFailed", "boom")


def test_disrupted_pods_are_not_healthy_until_the_timeout() -> None:
    recent = meta.timestamp(NOW - dt.timedelta(seconds=30))
    old = meta.timestamp(NOW - dt.timedelta(minutes=3))
    budget = pdb(minAvailable=1, status={"disruptedPods": {"a": recent, "b": old, "gone": recent}})
    pods = [pod("a"), pod("b"), pod("c")]
    counts = plan.expected_counts(budget, pods, cache())
    status, recheck = plan.budget_status(budget, pods, counts, NOW)
    assert status is not None
    # a: still expected to go; b: overdue, counts again; gone: no such pod any more.
    assert status["disruptedPods"] == {"a": recent}
    assert (status["currentHealthy"], status["disruptionsAllowed"]) == (2, 1)
    assert recheck == NOW + dt.timedelta(seconds=90)


def test_deleting_pods_are_not_healthy() -> None:
    s = status_of(pdb(minAvailable=1), [pod("a", deleting=True), pod("b")])
    assert (s["currentHealthy"], s["disruptionsAllowed"]) == (1, 0)


def test_an_up_to_date_status_is_not_written_again() -> None:
    pods = [pod("a"), pod("b")]
    first = status_of(pdb(minAvailable=1), pods)
    again = pdb(minAvailable=1, status=first)
    status, _ = plan.budget_status(again, pods, plan.expected_counts(again, pods, cache()), NOW)
    assert status is None
    # A new generation (the spec changed) is always written.
    newer = pdb(generation=2, minAvailable=1, status=first)
    status, _ = plan.budget_status(newer, pods, plan.expected_counts(newer, pods, cache()), NOW)
    assert status is not None and status["observedGeneration"] == 2
    assert (
        status["conditions"][0]["lastTransitionTime"]
        == first["conditions"][0]["lastTransitionTime"]
    )


def test_which_pods_a_budget_covers() -> None:
    web = pod("a")
    assert covers(pdb(), web)
    assert covers({**pdb(), "spec": {"selector": {}}}, web)  # policy/v1: every pod
    assert not covers({**pdb(), "spec": {}}, web)  # no selector: none
    assert not covers(pdb(selector={"matchLabels": {"app": "db"}}), web)
    other_ns = {**web, "metadata": {**web["metadata"], "namespace": "other"}}
    assert not covers(pdb(), other_ns)


def test_selector_text_is_gos() -> None:
    sel = {"matchLabels": {"b": "2", "a": "1"},
           "matchExpressions": [{"key": "t", "operator": "In", "values": ["x", "y"]}]}  # fmt: skip
    assert plan.selector_text(sel) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:"
        "[]LabelSelectorRequirement{LabelSelectorRequirement{Key:t,Operator:In,Values:[x y],},},}"
    )
    assert plan.selector_text(None) == "nil"
