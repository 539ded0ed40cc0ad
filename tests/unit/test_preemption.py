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
    # Deleted by someone else: no preemption is under way.
    assert dp.ineligible(prio(pod(), 10), [going]) is None
    going["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                      "reason": "PreemptionByScheduler"}]  # fmt: skip
    assert dp.ineligible(prio(pod(), 10), [going]) == dp.TERMINATING
    assert dp.ineligible(prio(pod(), 10), [going], "Insufficient cpu") == dp.TERMINATING
    assert dp.ineligible(prio(pod(), 1), [going]) is None  # not lower: not its victim
    # The nominated node no longer takes the pod whatever goes from it: preempt elsewhere.
    assert dp.ineligible(prio(pod(), 10), [going], "node(s) were unschedulable") is None
    going["status"]["conditions"][0]["reason"] = "EvictionByEvictionAPI"
    assert dp.ineligible(prio(pod(), 10), [going]) is None


def test_victims_are_the_fewest_least_important() -> None:
    pods = [prio(pod("hi", cpu="1"), 5), prio(pod("lo", cpu="1"), 1),
            prio(pod("lo2", cpu="1"), 2), prio(pod("same", cpu="1"), 10)]  # fmt: skip
    victims, broken, why = dp.select_victims(prio(pod(), 10), pods, cpu_fits(4))
    # 4 cpu, preemptor needs 1: one of the three lower goes, the least important one.
    assert [v["metadata"]["name"] for v in victims] == ["lo"] and why == "" and broken == 0
    victims, _, why = dp.select_victims(prio(pod(), 10), pods, cpu_fits(1))
    assert victims == () and why == "Insufficient cpu"  # "same" alone leaves no room
    victims, _, why = dp.select_victims(prio(pod(), 1), pods, cpu_fits(9))
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


# -- PodDisruptionBudgets -----------------------------------------------------------------------


def labelled(p: dict[str, Any], **labels: str) -> dict[str, Any]:
    p["metadata"]["labels"] = labels
    return p


def pdb(
    name: str, allowed: int, selector: dict[str, Any] | None, *, namespace: str = "default",
    disrupted: tuple[str, ...] = (),
) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {"disruptionsAllowed": allowed}
    if disrupted:
        status["disruptedPods"] = {n: "2026-12-05T10:00:00Z" for n in disrupted}
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector}, "status": status}  # fmt: skip


def names(pods: Any) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_budgets_split_the_pods_whose_eviction_they_do_not_allow() -> None:
    pods = [labelled(prio(pod(f"db{i}"), 1), app="db") for i in range(3)]
    pods.append(labelled(prio(pod("web"), 1), app="web"))
    pods.append(prio(pod("bare"), 1))  # no labels: no budget matches it
    one = pdb("db", 1, {"matchLabels": {"app": "db"}})
    violating, other = dp.split_by_budgets(pods, [one])
    # The budget allows one: the first db pod takes it, the next ones break it (order kept).
    assert names(violating) == ["db1", "db2"]
    assert names(other) == ["db0", "web", "bare"]
    # Two budgets over one pod: it breaks the one that has no room left.
    both = [one, pdb("all", 0, {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["db", "web"]}]})]  # fmt: skip
    violating, _ = dp.split_by_budgets(pods, both)
    assert names(violating) == ["db0", "db1", "db2", "web"]


def test_budgets_that_match_nothing_or_already_count_the_pod_are_skipped() -> None:
    pods = [labelled(prio(pod("db0"), 1), app="db"), labelled(prio(pod("db1"), 1), app="db")]
    empty = pdb("empty", 0, {})  # an empty selector matches nothing in preemption
    missing = pdb("missing", 0, None)
    elsewhere = pdb("other-ns", 0, {"matchLabels": {"app": "db"}}, namespace="other")
    for budget in (empty, missing, elsewhere):
        assert dp.split_by_budgets(pods, [budget]) == ([], pods)
    # db0's eviction was already approved: it takes nothing from the budget, db1 takes the one.
    counted = pdb("db", 1, {"matchLabels": {"app": "db"}}, disrupted=("db0",))
    assert dp.split_by_budgets(pods, [counted]) == ([], pods)
    assert names(dp.split_by_budgets(pods, [pdb("db", 0, {"matchLabels": {"app": "db"}},
                                                 disrupted=("db0",))])[0]) == ["db1"]  # fmt: skip


def test_protected_pods_are_reprieved_first() -> None:
    # Priority 1 "free" would go first by importance, but "guarded" breaks a budget: it is
    # reprieved first, so "free" (of higher priority) goes instead.
    guarded = labelled(prio(pod("guarded", cpu="1"), 1), app="db")
    free = prio(pod("free", cpu="1"), 2)
    budget = pdb("db", 0, {"matchLabels": {"app": "db"}})
    victims, broken, _ = dp.select_victims(prio(pod(), 10), [guarded, free], cpu_fits(2), [budget])
    assert names(victims) == ["free"] and broken == 0
    victims, broken, _ = dp.select_victims(prio(pod(), 10), [guarded, free], cpu_fits(2))
    assert names(victims) == ["guarded"] and broken == 0
    # No room unless both go: both are victims, the protected one counted, most important first.
    victims, broken, _ = dp.select_victims(prio(pod(), 10), [guarded, free], cpu_fits(1), [budget])
    assert names(victims) == ["free", "guarded"] and broken == 1


def test_the_node_breaking_fewest_budgets_is_picked_first() -> None:
    cheap = dp.Candidate("a", (prio(pod("a0"), 1),), violations=1)
    costly = dp.Candidate("b", (prio(pod("b0"), 5), prio(pod("b1"), 5)))
    assert dp.pick_one([cheap, costly]).node == "b"
    assert dp.pick_one([dp.Candidate("a", cheap.victims), costly]).node == "a"


def test_the_dry_run_avoids_the_node_whose_victim_is_protected() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a", cpu="1"))
    cache.set_node(node("b", cpu="1"))
    # a's victim is of lower priority, but a budget protects it: b's victim goes instead.
    cache.set_pod(labelled(prio(pod("db", node_name="a", cpu="1"), 1), app="db"))
    cache.set_pod(prio(pod("batch", node_name="b", cpu="1"), 5))
    cache.disruption_budgets = lambda: [pdb("db", 0, {"matchLabels": {"app": "db"}})]
    d = cache.schedule(prio(pod("urgent", cpu="1"), 10))
    assert d.nominate == "b" and names(d.victims) == ["batch"]


def test_a_protected_victim_is_still_preempted_when_no_other_node_will_do() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a", cpu="1"))
    cache.set_pod(labelled(prio(pod("db", node_name="a", cpu="1"), 1), app="db"))
    cache.disruption_budgets = lambda: [pdb("db", 0, {"matchLabels": {"app": "db"}})]
    d = cache.schedule(prio(pod("urgent", cpu="1"), 10))
    assert d.nominate == "a" and names(d.victims) == ["db"]


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
