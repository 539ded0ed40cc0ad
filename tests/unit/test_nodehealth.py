"""Node health decisions: grace period, conditions, taints, eviction delay, rate limit, the
majority-down guard and the start-up grace, over plain objects and an explicit clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common.duration import parse_duration
from control.controllers import nodehealth as nh

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
CFG = nh.Config(grace_period=10, eviction_timeout=5, eviction_rate=0.1, unhealthy_threshold=0.55)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(
    name: str = "n1", ready: str | None = "True", reason: str = "KubeletReady", **spec: Any
) -> dict[str, Any]:
    conditions = []
    if ready is not None:
        conditions = [
            {"type": t, "status": "False", "reason": "Fine", "lastHeartbeatTime": stamp(-1),
             "lastTransitionTime": stamp(-100)}
            for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
        ] + [{"type": "Ready", "status": ready, "reason": reason, "message": "m",
              "lastHeartbeatTime": stamp(-1), "lastTransitionTime": stamp(-100)}]  # fmt: skip
    return {
        "metadata": {"name": name, "generation": 1, "creationTimestamp": stamp(-200),
                     "resourceVersion": "7"},
        "spec": spec,
        "status": {"conditions": conditions},
    }  # fmt: skip


def lease(renew: float) -> dict[str, Any]:
    return {"spec": {"renewTime": at(renew).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}


def cond(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    found = nh.condition(obj, ctype)
    assert found is not None
    return found


def keys(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["key"], t["effect"]) for t in obj["spec"].get("taints") or []]


def judged(n: dict[str, Any], renew: float, first_seen: float, now: float) -> nh.Verdict:
    """Judge ``n`` at ``now``, the controller having first read the lease at ``first_seen``."""
    probe = nh.observe(None, lease(renew), at(first_seen))
    return nh.judge_node(n, lease(renew), probe, at(now), CFG)


# -- observing leases ----------------------------------------------------------------------------


def test_observe_starts_the_grace_at_first_sight_and_restarts_it_on_each_renewal() -> None:
    first = nh.observe(None, lease(-500), at(0))
    assert (first.seen, first.renewed) == (at(0), False)
    assert nh.observe(first, lease(-500), at(3)) is first
    again = nh.observe(first, lease(4), at(5))
    assert (again.seen, again.renewed) == (at(5), True)


# -- conditions and taints -----------------------------------------------------------------------


def test_a_node_renewing_within_the_grace_period_is_left_alone() -> None:
    v = judged(node(), renew=0, first_seen=0, now=10)
    assert (v.health, v.update, v.since, v.down) == (nh.HEALTHY, None, None, False)


def test_past_the_grace_period_every_condition_turns_unknown_and_the_node_is_tainted() -> None:
    v = judged(node(), renew=0, first_seen=0, now=10.5)
    assert v.health == nh.UNREACHABLE and v.went_down and v.update is not None
    for ctype in nh.NODE_CONDITIONS:
        c = cond(v.update, ctype)
        assert (c["status"], c["reason"], c["message"]) == (
            "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
        )  # fmt: skip
        assert c["lastTransitionTime"] == stamp(10)
        assert c["lastHeartbeatTime"] == stamp(-1)  # the agent's, not ours
    assert keys(v.update) == [(nh.UNREACHABLE_TAINT, "NoSchedule"), (nh.UNREACHABLE_TAINT,
                                                                     "NoExecute")]  # fmt: skip
    assert v.update["spec"]["taints"][1]["timeAdded"] == stamp(10)
    assert "timeAdded" not in v.update["spec"]["taints"][0]
    assert v.update["metadata"]["generation"] == 2
    assert v.since == at(10)


def test_judging_an_already_marked_node_again_changes_nothing() -> None:
    first = judged(node(), renew=0, first_seen=0, now=11)
    assert first.update is not None
    again = nh.judge_node(first.update, lease(0), first.probe, at(14), CFG)
    assert (again.health, again.update, again.went_down) == (nh.UNREACHABLE, None, False)
    assert again.since == at(11)  # the eviction clock is the taint's timeAdded


def test_a_node_that_renews_again_loses_the_taints_and_the_agent_restores_its_conditions() -> None:
    down = judged(node(), renew=0, first_seen=0, now=11).update
    assert down is not None
    probe = nh.observe(None, lease(0), at(0))
    probe = nh.observe(probe, lease(12), at(12))
    v = nh.judge_node(down, lease(12), probe, at(12), CFG)
    assert v.health == nh.HEALTHY and v.update is not None
    assert keys(v.update) == []
    assert "taints" not in v.update["spec"]
    assert cond(v.update, "Ready")["status"] == "Unknown"  # the agent's next post sets it


def test_a_node_reporting_ready_false_gets_the_not_ready_taints() -> None:
    v = judged(node(ready="False", reason="KubeletNotReady"), renew=0, first_seen=0, now=1)
    assert v.health == nh.NOT_READY and v.update is not None
    assert keys(v.update) == [(nh.NOT_READY_TAINT, "NoSchedule"), (nh.NOT_READY_TAINT,
                                                                   "NoExecute")]  # fmt: skip
    assert cond(v.update, "Ready")["status"] == "False"  # the agent's condition is kept
    assert v.since == at(1)


def test_cordoning_adds_the_unschedulable_taint_and_keeps_other_taints() -> None:
    users = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    v = judged(node(unschedulable=True, taints=[users]), renew=0, first_seen=0, now=1)
    assert v.update is not None and v.health == nh.HEALTHY
    assert v.update["spec"]["taints"] == [
        users, {"key": nh.UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
    ]  # fmt: skip
    uncordoned = dict(v.update, spec={"taints": v.update["spec"]["taints"]})
    again = judged(uncordoned, renew=0, first_seen=0, now=2)
    assert again.update is not None and again.update["spec"]["taints"] == [users]


def test_a_node_that_never_posted_status_gets_never_updated_conditions() -> None:
    v = judged(node(ready=None), renew=0, first_seen=0, now=11)
    assert v.update is not None
    ready = cond(v.update, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusNeverUpdated", "Kubelet never posted node status."
    )  # fmt: skip
    assert ready["lastHeartbeatTime"] == stamp(-200)  # its creation
    assert not v.went_down


def test_after_a_restart_the_controller_waits_a_full_grace_before_judging() -> None:
    # Leases last renewed long ago (the control plane was down): no node is judged at once.
    fresh = nh.judge_node(node(), lease(-600), None, at(0), CFG)
    assert (fresh.health, fresh.update) == (nh.HEALTHY, None)
    # A node marked before the restart stays marked, but nothing is evicted before this
    # controller has waited a full grace period itself.
    marked = judged(node(), renew=-600, first_seen=-600, now=-580).update
    assert marked is not None
    after = nh.judge_node(marked, lease(-600), None, at(0), CFG)
    assert (after.health, after.update, after.since) == (nh.UNREACHABLE, None, None)
    later = nh.judge_node(marked, lease(-600), after.probe, at(10.5), CFG)
    assert later.since == at(-580)


# -- pods ----------------------------------------------------------------------------------------


def pod(name: str, node_name: str = "n1", ready: str = "True", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"},
        "spec": {"nodeName": node_name, **spec},
        "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": ready, "lastTransitionTime": stamp(-50)}]},
    }  # fmt: skip


def test_pods_of_an_unreachable_node_are_marked_not_ready_once() -> None:
    changed = nh.pods_to_mark_not_ready([pod("a"), pod("b", ready="False")], at(3))
    assert [p["metadata"]["name"] for p in changed] == ["a"]
    assert cond(changed[0], "Ready") == {"type": "Ready", "status": "False",
                                         "lastTransitionTime": stamp(3)}  # fmt: skip
    assert nh.pods_to_mark_not_ready(changed, at(4)) == []


def down_verdict(name: str, since: float, health: str = nh.UNREACHABLE) -> nh.Verdict:
    return nh.Verdict(name, health, nh.Probe("", at(0)), None, at(since), False)


def up_verdict(name: str) -> nh.Verdict:
    return nh.Verdict(name, nh.HEALTHY, nh.Probe("", at(0)), None, None, False)


def names(plan: nh.EvictionPlan) -> list[str]:
    return [p["metadata"]["name"] for p in plan.evict]


def test_pods_are_evicted_only_after_the_eviction_timeout() -> None:
    verdicts = [down_verdict("n1", since=10), up_verdict("n2"), up_verdict("n3")]
    pods = {"n1": [pod("a"), pod("b")]}
    early = nh.plan_evictions(verdicts, pods, nh.Bucket(), frozenset(), at(14.9), CFG)
    assert names(early) == [] and not early.suspended
    due = nh.plan_evictions(verdicts, pods, nh.Bucket(), frozenset(), at(15), CFG)
    assert names(due) == ["a", "b"] and due.evicting == {"n1"}


@pytest.mark.parametrize(
    ("toleration", "evicted_at_16", "evicted_at_100"),
    [
        ({"key": nh.UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute",
          "tolerationSeconds": 30}, False, True),
        ({"key": nh.UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute"}, False, False),
        ({"operator": "Exists"}, False, False),
        ({"key": nh.UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoExecute",
          "tolerationSeconds": 0}, True, True),
        ({"key": nh.NOT_READY_TAINT, "operator": "Exists", "effect": "NoExecute"}, True, True),
        ({"key": nh.UNREACHABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}, True, True),
    ],
)  # fmt: skip
def test_a_pod_tolerating_the_taint_stays_as_long_as_it_tolerates_it(
    toleration: dict[str, Any], evicted_at_16: bool, evicted_at_100: bool
) -> None:
    verdicts = [down_verdict("n1", since=10), up_verdict("n2"), up_verdict("n3")]
    pods = {"n1": [pod("a", tolerations=[toleration])]}
    plan16 = nh.plan_evictions(verdicts, pods, nh.Bucket(), frozenset(), at(16), CFG)
    plan100 = nh.plan_evictions(verdicts, pods, nh.Bucket(), frozenset(), at(100), CFG)
    assert (names(plan16) == ["a"], names(plan100) == ["a"]) == (evicted_at_16, evicted_at_100)


def test_the_rate_limit_lets_one_node_through_then_one_every_ten_seconds() -> None:
    verdicts = [down_verdict("n1", since=0), down_verdict("n2", since=1), *map(up_verdict, "345")]
    pods = {"n1": [pod("a")], "n2": [pod("b", "n2")]}
    first = nh.plan_evictions(verdicts, pods, nh.Bucket(), frozenset(), at(6), CFG)
    assert names(first) == ["a"] and first.waiting == ["n2"]
    # n1's later pods need no new token; n2 waits for the bucket to refill.
    pods["n1"] = [pod("c")]
    second = nh.plan_evictions(verdicts, pods, first.bucket, first.evicting, at(10), CFG)
    assert names(second) == ["c"] and second.waiting == ["n2"]
    third = nh.plan_evictions(verdicts, pods, second.bucket, second.evicting, at(16), CFG)
    assert names(third) == ["c", "b"] and third.evicting == {"n1", "n2"}


def test_no_eviction_while_more_than_55_percent_of_the_nodes_look_down() -> None:
    pods = {"n1": [pod("a")], "n2": [pod("b", "n2")]}
    majority = [down_verdict("n1", 0), down_verdict("n2", 0), up_verdict("n3")]
    plan = nh.plan_evictions(majority, pods, nh.Bucket(), frozenset(), at(60), CFG)
    assert plan.suspended and plan.evict == []
    half = [down_verdict("n1", 0), up_verdict("n2")]
    plan = nh.plan_evictions(half, pods, nh.Bucket(), frozenset(), at(60), CFG)
    assert not plan.suspended and names(plan) == ["a"]
    alone = [down_verdict("n1", 0)]
    assert nh.plan_evictions(alone, pods, nh.Bucket(), frozenset(), at(60), CFG).suspended


def test_the_eviction_clock_restarts_when_a_disruption_ends() -> None:
    # n1 and n2 went down at 0; n2 is back at 60 while n1 is still silent: n1's pods get a full
    # timeout from 60, not from 0 (they would go at once otherwise).
    pods = {"n1": [pod("a")]}
    verdicts = [down_verdict("n1", 0), up_verdict("n2"), up_verdict("n3")]
    early = nh.plan_evictions(verdicts, pods, nh.Bucket(), frozenset(), at(61), CFG, at(60))
    assert names(early) == [] and not early.suspended
    due = at(60 + CFG.eviction_timeout)
    later = nh.plan_evictions(verdicts, pods, nh.Bucket(), frozenset(), due, CFG, at(60))
    assert names(later) == ["a"]
    # A taint added after the disruption ended counts from the taint.
    fresh = [down_verdict("n1", 70), up_verdict("n2"), up_verdict("n3")]
    plan = nh.plan_evictions(fresh, pods, nh.Bucket(), frozenset(), due, CFG, at(60))
    assert names(plan) == []


def test_a_node_that_recovers_leaves_the_evicting_set() -> None:
    plan = nh.plan_evictions([up_verdict("n1"), up_verdict("n2")], {}, nh.Bucket(),
                             frozenset({"n1"}), at(1), CFG)  # fmt: skip
    assert plan.evicting == frozenset() and plan.evict == []


# -- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10", 10.0), ("2.5", 2.5), ("10s", 10.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0),
     ("0", 0.0), ("-1s", -1.0)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10x", "1m30", "abc", "nan"])
def test_parse_duration_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("duration", "grace"),
    [
        (None, 10.0),  # no duration handed out: the configured grace
        (8, 10.0),  # the shortest renew interval (2 s): the configured grace
        (4, 10.0),  # a shorter one never shrinks it
        (80, 100.0),  # told to renew every 20 s: as many missed renewals, 100 s
        (123, 10.0 * 123 / 8),
        ("40", 10.0),  # not a number: the configured grace
        (0, 10.0),
    ],
)
def test_the_grace_period_scales_with_the_lease_duration_handed_out(
    duration: Any, grace: float
) -> None:
    held = {"spec": {"leaseDurationSeconds": duration}} if duration is not None else {"spec": {}}
    assert nh.grace_for(held, CFG) == pytest.approx(grace)


def test_a_node_renewing_less_often_is_judged_silent_only_after_its_own_grace() -> None:
    slow = {"spec": {**lease(0)["spec"], "leaseDurationSeconds": 40}}  # every 10 s: 50 s grace
    probe = nh.observe(None, slow, at(0))
    assert nh.judge_node(node(), slow, probe, at(49), CFG).health == nh.HEALTHY
    assert nh.judge_node(node(), slow, probe, at(50.5), CFG).health == nh.UNREACHABLE
    # The flag's grace is for the shortest interval of the server it runs with.
    cfg = nh.Config(grace_period=4, min_heartbeat_interval=10)
    assert nh.grace_for(slow, cfg) == 4


def test_a_new_node_keeps_its_not_ready_taint_until_it_reports_ready() -> None:
    """TaintNodesByCondition: a Node is created with the not-ready NoSchedule taint; it stays
    while no Ready condition is posted, goes when Ready is True, comes back when it is False."""
    created = {"key": nh.NOT_READY_TAINT, "effect": "NoSchedule"}
    fresh = judged(node(ready=None, taints=[created]), renew=0, first_seen=0, now=1)
    assert (fresh.health, fresh.update) == (nh.HEALTHY, None)
    assert nh.desired_taints(node(ready=None), nh.HEALTHY, at(1)) == []
    ready = judged(node(taints=[created]), renew=0, first_seen=0, now=1)
    assert ready.update is not None and keys(ready.update) == []
    failing = judged(node(ready="False", taints=[created]), renew=0, first_seen=0, now=1)
    assert failing.update is not None
    assert keys(failing.update) == [(nh.NOT_READY_TAINT, "NoSchedule"),
                                    (nh.NOT_READY_TAINT, "NoExecute")]  # fmt: skip


def test_a_condition_in_its_bad_state_taints_the_node_no_schedule() -> None:
    """doNoScheduleTaintingPass: MemoryPressure, DiskPressure, PIDPressure and
    NetworkUnavailable True each give their NoSchedule taint, taken off when they clear."""
    pressed = node()
    for c in pressed["status"]["conditions"]:
        if c["type"] in ("MemoryPressure", "PIDPressure"):
            c["status"] = "True"
    pressed["status"]["conditions"].append({"type": "NetworkUnavailable", "status": "True"})
    v = judged(pressed, renew=0, first_seen=0, now=1)
    assert v.update is not None and v.health == nh.HEALTHY
    assert keys(v.update) == [("node.kubernetes.io/memory-pressure", "NoSchedule"),
                              ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                              ("node.kubernetes.io/network-unavailable", "NoSchedule")]  # fmt: skip
    relieved = dict(node(), spec={"taints": v.update["spec"]["taints"]})
    again = judged(relieved, renew=0, first_seen=0, now=2)
    assert again.update is not None and keys(again.update) == []
    # Silent, every condition is Unknown: only the unreachable taints.
    lost = judged(v.update, renew=0, first_seen=0, now=11)
    assert lost.update is not None
    assert keys(lost.update) == [(nh.UNREACHABLE_TAINT, "NoSchedule"),
                                 (nh.UNREACHABLE_TAINT, "NoExecute")]  # fmt: skip
