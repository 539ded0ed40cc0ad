"""DefaultPreemption: who may preempt, the fewest lowest-priority victims on a node, the node
whose victims cost least, never a pod of equal or higher priority, and the message when
preemption cannot help; then the cache's dry run as the scheduler runs it."""

from __future__ import annotations

from typing import Any

from control.schedplugins import defaultpreemption as dp
from control.scheduler_cache import SchedulerCache
from tests.unit.test_scheduler import node, pod


def prio(p: dict[str, Any], value: int, started: str = "") -> dict[str, Any]:
    p["spec"]["priority"] = value
    if started:
        p["status"]["startTime"] = started
    return p


def cpu_fits(capacity: int) -> dp.Fits:
    """Fits while the pods left take at most ``capacity`` - 1 cpu (the preemptor takes 1)."""

    def fits(left: Any) -> str | None:
        used = sum(int(p["spec"]["containers"][0]["resources"]["requests"]["cpu"]) for p in left)
        return None if used + 1 <= capacity else "Insufficient cpu"

    return fits


def test_policy_never_and_terminating_victims_make_a_pod_ineligible() -> None:
    never = prio(pod(), 10)
    never["spec"]["preemptionPolicy"] = "Never"
    assert dp.ineligible(never, []) == dp.NEVER
    going = prio(pod("v", node_name="a"), 1)
    going["metadata"]["deletionTimestamp"] = "2026-12-05T07:00:00Z"
    assert dp.ineligible(prio(pod(), 10), [going]) == dp.TERMINATING
    assert dp.ineligible(prio(pod(), 1), [going]) is None  # not lower: not its victim


def test_victims_are_the_fewest_least_important() -> None:
    pods = [prio(pod("hi", cpu="1"), 5), prio(pod("lo", cpu="1"), 1),
            prio(pod("lo2", cpu="1"), 2), prio(pod("same", cpu="1"), 10)]  # fmt: skip
    victims, why = dp.select_victims(prio(pod(), 10), pods, cpu_fits(4))
    # 4 cpu, preemptor needs 1: one of the three lower goes, the least important one.
    assert [v["metadata"]["name"] for v in victims] == ["lo"] and why == ""
    victims, why = dp.select_victims(prio(pod(), 10), pods, cpu_fits(1))
    assert victims == () and why == "Insufficient cpu"  # "same" alone leaves no room
    victims, why = dp.select_victims(prio(pod(), 1), pods, cpu_fits(9))
    assert victims == () and why == dp.NO_VICTIMS


def test_the_node_with_the_cheapest_victims_is_picked() -> None:
    def c(node: str, *prios: int, started: str = "2026-01-01T00:00:00Z") -> dp.Candidate:
        return dp.Candidate(node, tuple(prio(pod(f"{node}{i}"), v, started)
                                        for i, v in enumerate(prios)))  # fmt: skip

    assert dp.pick_one([c("a", 5), c("b", 3, 3)]).node == "b"  # lower highest priority
    assert dp.pick_one([c("a", 3, 3), c("b", 3, 1)]).node == "b"  # smaller sum
    # Every priority is offset before summing: fewer victims weigh less even when lower.
    assert dp.pick_one([c("a", 3, 1, 1), c("b", 3, 2)]).node == "b"
    late = c("b", 3, started="2026-02-01T00:00:00Z")
    assert dp.pick_one([c("a", 3), late]).node == "b"  # the top victim started later


def test_preemption_message_lists_each_nodes_reason() -> None:
    assert dp.preemption_message(3, {dp.NO_VICTIMS: 1, dp.NOT_HELPFUL: 2}) == (
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )


def full_cluster() -> SchedulerCache:
    cache = SchedulerCache()
    cache.set_node(node("a", cpu="2"))
    cache.set_node(node("b", cpu="2"))
    cache.set_node(node("tainted", cpu="8", taints=[{"key": "k", "effect": "NoSchedule"}]))
    cache.set_pod(prio(pod("a-low", node_name="a", cpu="1"), 1))
    cache.set_pod(prio(pod("a-mid", node_name="a", cpu="1"), 5))
    cache.set_pod(prio(pod("b-mid", node_name="b", cpu="1"), 5))
    cache.set_pod(prio(pod("b-mid2", node_name="b", cpu="1"), 5))
    return cache


def test_the_cache_nominates_a_node_and_names_its_victims() -> None:
    cache = full_cluster()
    d = cache.schedule(prio(pod("urgent", cpu="1"), 10))
    assert d.node is None and d.nominate == "a"
    assert [v["metadata"]["name"] for v in d.victims] == ["a-low"]
    assert d.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {k: }, 2 Insufficient cpu."
    )
    assert cache.nominated_node("default/urgent") == "a"
    # The room is held: a pod of lower priority may not take it once the victim is gone.
    cache.remove_pod(prio(pod("a-low", node_name="a", cpu="1"), 1))
    d = cache.schedule(prio(pod("sneaky", cpu="1"), 2))
    assert d.node is None and d.nominate is None
    assert cache.schedule(prio(pod("urgent", cpu="1"), 10)).node == "a"
    assert cache.nominated_node("default/urgent") is None


def test_equal_or_higher_priority_pods_are_never_victims() -> None:
    cache = full_cluster()
    d = cache.schedule(prio(pod("peer", cpu="1"), 5))  # a-low (1) can go, b's pods are peers
    assert d.nominate == "a"
    d = cache.schedule(prio(pod("peer2", cpu="2"), 5))
    assert d.nominate is None
    assert d.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {k: }, 2 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 1 Insufficient cpu, 1 No preemption victims found "
        "for incoming pod, 1 Preemption is not helpful for scheduling.."
    )


def test_a_pod_that_may_not_preempt_says_why() -> None:
    cache = full_cluster()
    never = prio(pod("never", cpu="1"), 10)
    never["spec"]["preemptionPolicy"] = "Never"
    d = cache.schedule(never)
    assert d.nominate is None
    assert d.message.endswith("preemption: not eligible due to preemptionPolicy=Never..")


def test_lower_priority_nominations_on_the_chosen_node_are_withdrawn() -> None:
    cache = full_cluster()
    waiting = prio(pod("waiting", cpu="1"), 3)
    cache.nominate(waiting, "a")
    d = cache.schedule(prio(pod("urgent", cpu="1"), 10))
    assert d.nominate == "a"
    assert [p["metadata"]["name"] for p in d.denominated] == ["waiting"]
    assert cache.nominated_node("default/waiting") is None
