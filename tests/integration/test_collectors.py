"""The garbage collector, namespace controller, pod GC and event TTL collector fed by shared
informers over the real registry and Redis, pumped by hand: each event enqueues only the keys it
concerns (a Node status write or a Lease renewal enqueues nothing in any of them), an owner that
has not reached its cache yet is read before anything is collected for it, a Node's Lease goes
with its Node, a namespace is not finalized while the store still holds content its caches have
not seen, and an event is looked at when its TTL passes; run by the manager's threads, a
namespace deletion and a foreground cascade complete."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest

from common import meta
from common.controller import Controller
from common.resources import must
from control.controllers.eventttl import EventCollector
from control.controllers.gc import GarbageCollector
from control.controllers.namespace import NamespaceController
from control.controllers.podgc import PodGarbageCollector
from control.informers import SharedInformers
from control.manager import Manager
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump
from tests.integration.test_node_lifecycle import Clock, add_node, add_pod, renew

PODS, NODES, LEASES, EVENTS = must("pods"), must("nodes"), must("leases"), must("events")
RSES, NAMESPACES = must("replicasets"), must("namespaces")
Obj = dict[str, Any]


class Collectors:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.clock = Clock()
        self.informers = SharedInformers(registry)
        self.gc = GarbageCollector(registry, self.informers)
        self.namespaces = NamespaceController(registry, self.informers, clock=self.clock)
        self.podgc = PodGarbageCollector(registry, self.informers, clock=self.clock)
        self.events = EventCollector(registry, self.informers, clock=self.clock)
        self.added: list[tuple[str, str]] = []  # (controller, key), also the delayed adds
        for ctl in self.all():
            self._record(ctl)

    def all(self) -> list[Controller]:
        return [self.gc, self.namespaces, self.podgc, self.events]

    def _record(self, ctl: Controller) -> None:
        add, add_after = ctl.queue.add, ctl.queue.add_after

        def record(key: str) -> None:
            self.added.append((ctl.name, key))
            add(key)

        def record_after(key: str, delay: float) -> None:
            self.added.append((ctl.name, key))
            add_after(key, delay)

        ctl.queue.add = record  # type: ignore[method-assign]
        ctl.queue.add_after = record_after  # type: ignore[method-assign]

    def settle(self) -> list[str]:
        """Pump the caches and drain every queue; the keys synced."""
        pump(self.informers)
        return [key for ctl in self.all() for key in drain(ctl)]


@pytest.fixture
def reg(app: Any) -> Registry:
    registry: Registry = app.extensions["tinykube"]["registry"]
    return registry


@pytest.fixture
def world(reg: Registry) -> Iterator[Collectors]:
    world = Collectors(reg)
    world.settle()
    world.added.clear()
    yield world


def replicaset(name: str = "web-abc") -> Obj:
    labels = {"app": "web"}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "c", "image": "i:1"}]}},
        },
    }  # fmt: skip


def owned_pod(reg: Registry, name: str, owner: Obj) -> Obj:
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "controller": True,
           "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
           "blockOwnerDeletion": True}  # fmt: skip
    body = {"metadata": {"name": name, "ownerReferences": [ref]},
            "spec": {"containers": [{"name": "c", "image": "i:1"}]}}  # fmt: skip
    return reg.create(PODS, "default", body)[0]


def own_lease(reg: Registry, node: str) -> None:
    """As the agent does: its Node owns its Lease."""
    n = reg.get(NODES, "", node)
    lease = reg.get(LEASES, "kube-node-lease", node)
    lease["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Node", "name": node, "uid": n["metadata"]["uid"]}
    ]
    reg.replace(LEASES, "kube-node-lease", node, lease)


def test_node_status_writes_and_lease_renewals_enqueue_nothing(reg: Registry) -> None:
    add_node(reg, "n1")
    own_lease(reg, "n1")
    add_pod(reg, "a", "n1")
    rs = reg.create(RSES, "default", replicaset())[0]
    owned_pod(reg, "web-abc-1", rs)
    world = Collectors(reg)
    world.settle()
    world.added.clear()
    for beat in range(1, 4):
        world.clock.to(beat)
        node = reg.get(NODES, "", "n1")
        node["status"]["conditions"][0]["lastHeartbeatTime"] = meta.timestamp(world.clock.now)
        reg.replace(NODES, "", "n1", node, sub="status")
        renew(reg, "n1", world.clock)
        pod = reg.get(PODS, "default", "web-abc-1")
        pod["status"]["phase"] = "Running"  # a dependent's status with its owner there
        reg.replace(PODS, "default", "web-abc-1", pod, sub="status")
        assert world.settle() == []
    assert world.added == []


def test_a_node_takes_its_lease_along_and_only_that_is_enqueued(world: Collectors) -> None:
    reg = world.registry
    add_node(reg, "n1")
    add_node(reg, "n2")
    own_lease(reg, "n1")
    own_lease(reg, "n2")
    world.settle()
    world.added.clear()
    reg.delete(NODES, "", "n1", {})
    pump(world.informers)
    gc_keys = [key for name, key in world.added if name == "garbage-collector"]
    assert gc_keys == ["attemptToDelete:leases:kube-node-lease/n1"]
    drain(world.gc)
    assert [x["metadata"]["name"] for x in reg.list(LEASES, "kube-node-lease")["items"]] == ["n2"]


def test_an_owner_not_yet_in_its_cache_is_read_before_collecting(world: Collectors) -> None:
    reg = world.registry
    rs = reg.create(RSES, "default", replicaset())[0]
    owned_pod(reg, "web-abc-1", rs)
    world.informers.informer("pods")._relist()  # the pod's cache is ahead of the owner's
    assert drain(world.gc) == ["attemptToDelete:pods:default/web-abc-1"]
    assert reg.get(PODS, "default", "web-abc-1")["metadata"]["ownerReferences"][0]["name"] == (
        "web-abc"
    )
    world.added.clear()
    assert world.settle() == [] and world.added == []  # the owner reached its cache
    reg.delete(RSES, "default", "web-abc", {})  # now gone: the pod follows
    world.settle()
    assert [p["metadata"]["name"] for p in reg.list(PODS, "default")["items"]
            if not p["metadata"].get("deletionTimestamp")] == []  # fmt: skip


def test_orphaning_releases_dependents_and_then_the_owner(world: Collectors) -> None:
    reg = world.registry
    rs = reg.create(RSES, "default", replicaset())[0]
    owned_pod(reg, "web-abc-1", rs)
    world.settle()
    reg.delete(RSES, "default", "web-abc", {"propagationPolicy": "Orphan"})
    pump(world.informers)
    assert ("garbage-collector", "attemptToOrphan:replicasets:default/web-abc") in world.added
    assert drain(world.gc) == ["attemptToOrphan:replicasets:default/web-abc"]
    assert "ownerReferences" not in reg.get(PODS, "default", "web-abc-1")["metadata"]
    assert reg.list(RSES, "default")["items"] == []  # the finalizer removed, the owner gone
    # The owner's deletion reaches its cache before the pod's release reaches the pods' cache:
    # the pod, still showing the reference there, is read afresh and kept.
    world.informers.informer("replicasets")._relist()
    assert drain(world.gc) == ["attemptToDelete:pods:default/web-abc-1"]
    world.settle()
    pod = reg.get(PODS, "default", "web-abc-1")
    assert not pod["metadata"].get("deletionTimestamp") and "ownerReferences" not in pod["metadata"]


def test_a_namespace_waits_for_content_its_caches_have_not_seen(world: Collectors) -> None:
    reg = world.registry
    reg.create(NAMESPACES, "", {"metadata": {"name": "team"}})
    pump(world.informers)
    reg.create(PODS, "team", {"metadata": {"name": "late"},
                              "spec": {"containers": [{"name": "c", "image": "i:1"}]}})  # fmt: skip
    reg.delete(NAMESPACES, "", "team", {})
    world.informers.informer("namespaces")._relist()  # the pods' cache lags
    loaded = set(reg.cache._cachers)
    assert drain(world.namespaces) == ["team"]
    # The store is asked for counts: no watch cache of the namespace's content is loaded.
    assert set(reg.cache._cachers) - loaded <= {"namespaces"}
    ns = reg.get(NAMESPACES, "", "team")
    assert ns["status"]["phase"] == "Terminating"  # not finalized: the store holds a pod
    assert [p["metadata"]["name"] for p in reg.list(PODS, "team")["items"]] == ["late"]
    pump(world.informers)  # the pod reaches its cache: its namespace is enqueued
    assert ("namespace", "team") in world.added
    for _ in range(3):
        world.settle()
    assert reg.list(PODS, "team")["items"] == []
    assert [n["metadata"]["name"] for n in reg.list(NAMESPACES, "")["items"]
            if n["metadata"]["name"] == "team"] == []  # fmt: skip


def test_an_event_is_looked_at_when_its_ttl_passes(world: Collectors) -> None:
    reg = world.registry
    stamp = meta.timestamp(world.clock.now)
    reg.create(EVENTS, "default", {
        "metadata": {"name": "e1"}, "reason": "R", "message": "m", "type": "Normal",
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "lastTimestamp": stamp,
    })  # fmt: skip
    delays: list[float] = []
    add_after = world.events.queue.add_after

    def note(key: str, delay: float) -> None:
        delays.append(delay)
        add_after(key, delay)

    world.events.queue.add_after = note  # type: ignore[method-assign]
    pump(world.informers)
    assert delays == [pytest.approx(3601.0)]  # an hour, and a second to be past it
    held = world.events.events.get("default/e1")
    assert held is not None and set(held) == {"metadata", "lastTimestamp"}  # the sighting only
    assert set(held["metadata"]) == {"name", "namespace", "uid", "resourceVersion",
                                     "creationTimestamp"}  # fmt: skip
    world.events.sync_event("default/e1")  # early: looks again when the rest has passed
    assert delays[-1] == pytest.approx(3601.0)
    world.clock.now += dt.timedelta(hours=1, seconds=1)
    world.events.sync_event("default/e1")
    assert reg.list(EVENTS, "default")["items"] == []


def test_in_the_manager_threads_a_namespace_and_a_foreground_cascade_complete(
    reg: Registry,
) -> None:
    """The same controllers as the control plane runs them: informer threads, workers."""
    informers = SharedInformers(reg)
    loops = [GarbageCollector(reg, informers), NamespaceController(reg, informers)]
    manager = Manager(reg, loops=loops, informers=informers)  # type: ignore[arg-type]
    reg.create(NAMESPACES, "", {"metadata": {"name": "team"}})
    reg.create(RSES, "team", replicaset())
    body = {"metadata": {"name": "loose"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    reg.create(PODS, "team", body)
    owner = reg.create(RSES, "default", replicaset())[0]
    for i in range(3):
        owned_pod(reg, f"web-abc-{i}", owner)
    manager.start()
    try:
        reg.delete(RSES, "default", "web-abc", {"propagationPolicy": "Foreground"})
        reg.delete(NAMESPACES, "", "team", {})

        def done() -> bool:
            left = [n["metadata"]["name"] for n in reg.list(NAMESPACES, "")["items"]]
            return "team" not in left and not reg.list(RSES, "default")["items"]

        deadline = time.monotonic() + 20
        while not done():
            assert time.monotonic() < deadline, "the namespace or the ReplicaSet is still there"
            time.sleep(0.05)
        assert reg.list(PODS, "default")["items"] == [] and reg.list(PODS, "team")["items"] == []
    finally:
        manager.shutdown()


def test_a_namespace_deletion_loads_no_watch_cache_of_its_content(world: Collectors) -> None:
    """The controller process deletes a namespace's content from its informers' caches: no
    watch cache of that content is loaded into it on the way (its informers hold it already)."""
    reg = world.registry
    reg.create(NAMESPACES, "", {"metadata": {"name": "team"}})
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    reg.create(PODS, "team", pod)
    reg.bind("team", "p", {"target": {"kind": "Node", "name": "n1"}})
    reg.create(RSES, "team", replicaset())
    pump(world.informers)
    reg.cache.stop()
    reg.cache._cachers.clear()
    reg.delete(NAMESPACES, "", "team", {})
    world.settle()
    assert reg.get(PODS, "team", "p")["metadata"].get("deletionTimestamp")
    assert reg.count(RSES, "team") == 0
    assert set(reg.cache._cachers) <= {"namespaces"}, sorted(reg.cache._cachers)
