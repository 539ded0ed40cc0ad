"""The scheduler's cache: what pods take from their nodes follows pod and node events one at a
time, and an assumed pod counts at once, until its bind is confirmed or forgotten."""

from __future__ import annotations

from typing import Any

from control.scheduler_cache import SchedulerCache
from tests.unit.test_scheduler import node, pod


def bound(name: str, node_name: str, **kw: Any) -> dict[str, Any]:
    return pod(name, node_name=node_name, **kw)


def test_usage_follows_pod_events() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a"))
    cache.set_pod(bound("x", "a", cpu="500m", memory="1Gi"))
    cache.set_pod(bound("y", "a", cpu="250m"))
    cache.set_pod(pod("pending", cpu="1"))  # not bound: takes nothing
    u = cache.usage("a")
    assert (u.cpu_millis, u.memory, u.pods) == (750, 1 << 30, 2)
    cache.set_pod(bound("x", "a", cpu="100m"))  # an update replaces what it took
    assert cache.usage("a").cpu_millis == 350
    finished = bound("y", "a", cpu="250m")
    finished["status"]["phase"] = "Succeeded"
    cache.set_pod(finished)  # a finished pod frees its room
    assert (cache.usage("a").cpu_millis, cache.usage("a").pods) == (100, 1)
    assert cache.remove_pod(bound("x", "a")) == "a"
    assert cache.usage("a").pods == 0
    assert cache.remove_pod(bound("x", "a")) is None


def test_an_assumed_pod_counts_before_its_bind() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a", cpu="1"))
    cache.set_node(node("b", cpu="1"))
    first = cache.schedule(pod("p1", cpu="800m"))
    assert first.node == "a" and cache.is_assumed("default/p1")
    second = cache.schedule(pod("p2", cpu="800m"))
    assert second.node == "b"  # p1 already takes most of a
    third = cache.schedule(pod("p3", cpu="800m"))
    assert third.node is None and "2 Insufficient cpu" in third.message


def test_the_informer_confirms_and_a_failed_bind_forgets() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a", cpu="1"))
    assert cache.schedule(pod("p1", cpu="600m")).node == "a"
    cache.set_pod(bound("p1", "a", cpu="600m"))  # the informer sees the bind
    assert not cache.is_assumed("default/p1")
    assert cache.forget(pod("p1")) is None  # confirmed: a late forget changes nothing
    assert cache.usage("a").cpu_millis == 600
    assert cache.schedule(pod("p2", cpu="300m")).node == "a"
    assert cache.forget(pod("p2")) == "a"
    assert (cache.usage("a").cpu_millis, cache.usage("a").pods) == (600, 1)
    assert not cache.is_assumed("default/p2")


def test_fits_answers_for_one_node() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a", pods="1"))
    cache.set_pod(bound("x", "a"))
    assert not cache.fits(pod("p"), "a")
    cache.remove_pod(bound("x", "a"))
    assert cache.fits(pod("p"), "a")
    assert not cache.fits(pod("p"), "missing")


def test_host_ports_free_only_when_no_pod_holds_them() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a"))
    # Two pods bound by hand with one port (nothing stops a user): one leaving keeps it taken.
    cache.set_pod(bound("x", "a", host_port=8080))
    cache.set_pod(bound("y", "a", host_port=8080))
    cache.remove_pod(bound("x", "a", host_port=8080))
    assert not cache.fits(pod("p", host_port=8080), "a")
    cache.remove_pod(bound("y", "a", host_port=8080))
    assert cache.fits(pod("p", host_port=8080), "a")


def test_a_deleted_node_keeps_its_pods_counted_until_they_go() -> None:
    cache = SchedulerCache()
    cache.set_node(node("a"))
    cache.set_pod(bound("x", "a", cpu="1"))
    cache.remove_node(node("a"))
    assert cache.node_names() == [] and cache.usage("a").cpu_millis == 1000
    assert cache.schedule(pod("p")).message.startswith("no nodes available")
    cache.set_node(node("a"))
    assert cache.usage("a").cpu_millis == 1000
    cache.remove_node(node("a"))
    cache.remove_pod(bound("x", "a"))
    assert cache.usage("a").pods == 0


def test_the_sampled_search_goes_round_the_cluster() -> None:
    """With 200 nodes each search stops at 100 that fit, and the next starts after them (the
    round robin of kube-scheduler's nextStartNodeIndex), so every node gets pods."""
    cache = SchedulerCache()
    for i in range(200):
        cache.set_node(node(f"n{i:03}"))
    chosen = {cache.schedule(pod(f"p{i}")).node for i in range(4)}
    assert len(chosen) == 4
    first_half = {n for n in chosen if n is not None and n < "n100"}
    assert len(first_half) == 2  # searches 1 and 3 sampled n000-n099, 2 and 4 n100-n199
