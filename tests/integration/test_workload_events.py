"""Which keys an event wakes in the ReplicaSet and Deployment controllers, over the real registry
and Redis: a Lease renewal or a Node status write wakes neither; a pod change wakes its owner's
key only; an orphan wakes the ReplicaSets that select it; a pod turning Ready with
minReadySeconds brings its ReplicaSet back once it is available; the last old pod of a Recreate
Deployment going wakes the Deployment; and a sync that has created pods creates no more until its
cache has seen them (expectations)."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from common import meta
from common.controller import Controller
from common.informer import Handler
from common.resources import must
from common.workqueue import RateLimitedQueue
from control.controllers.deployment import DeploymentController
from control.controllers.replicaset import ReplicaSetController
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.appsfake import Cluster, one_pass, ready_node
from tests.integration.informerpump import pump
from tests.integration.test_workloads import deployment

PODS, NODES, LEASES = must("pods"), must("nodes"), must("leases")
DEPLOYS, RSES = must("deployments"), must("replicasets")
DEADLINE = 20.0
# A state counts as settled once it has held for this many looks in a row (an informer may be
# between storing an object and telling its handlers).
STEADY_LOOKS = 5

Obj = dict[str, Any]


class CountingQueue(RateLimitedQueue):
    """A work queue that remembers every key it was given, at once or delayed."""

    def __init__(self) -> None:
        super().__init__()
        self.added: list[str] = []
        self.delayed: list[tuple[str, float]] = []

    def add(self, key: str) -> None:
        self.added.append(key)
        super().add(key)

    def add_after(self, key: str, delay: float) -> None:
        self.delayed.append((key, delay))
        super().add_after(key, delay)


def counted(controller: Controller) -> tuple[CountingQueue, list[str]]:
    """Give the controller a counting queue and record the keys it syncs."""
    queue, synced = CountingQueue(), []
    sync = controller.sync

    def recording(key: str) -> None:
        synced.append(key)
        sync(key)

    controller.queue, controller.sync = queue, recording
    return queue, synced


def wait_for(check: Callable[[], bool], what: str, steady: int = 1) -> None:
    deadline, held = time.monotonic() + DEADLINE, 0
    while time.monotonic() < deadline:
        held = held + 1 if check() else 0
        if held >= steady:
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rs_of(reg: Registry, deployment_name: str) -> Obj:
    [rs] = [r for r in reg.list(RSES, "default")["items"]
            if r["metadata"]["ownerReferences"][0]["name"] == deployment_name]  # fmt: skip
    return rs


def ready(pod: Obj) -> Obj:
    out = copy.deepcopy(pod)
    stamp = meta.timestamp()
    out["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": stamp}]
    return out


class Running:
    """Both controllers with their workers and the shared informers in threads, as the control
    plane runs them, plus informers on Leases and Nodes (as the node lifecycle controller has)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.informers = SharedInformers(registry)
        self.replicasets = ReplicaSetController(registry, self.informers)
        self.deployments = DeploymentController(registry, self.informers)
        self.rs_queue, self.rs_synced = counted(self.replicasets)
        self.d_queue, self.d_synced = counted(self.deployments)
        self.seen: dict[str, str] = {}  # resource -> resourceVersion of its last event
        for resource in ("leases", "nodes"):
            self.informers.informer(resource).add_handler(self._recorder(resource))
        self.stop = threading.Event()

    def _recorder(self, resource: str) -> Handler:
        def record(obj: Obj) -> None:
            self.seen[resource] = obj["metadata"]["resourceVersion"]

        return Handler(record, lambda _old, new: record(new), record)

    def start(self) -> None:
        self.informers.start(self.stop)
        assert self.informers.wait_for_sync(self.stop, DEADLINE)
        self.replicasets.start(self.stop)
        self.deployments.start(self.stop)

    def caught_up(self) -> bool:
        """Every workload cache holds what the store holds, and no key is waiting or syncing."""
        for resource in ("pods", "replicasets", "deployments"):
            stored = {(o["metadata"]["name"], o["metadata"]["resourceVersion"])
                      for o in self.registry.list(must(resource), "")["items"]}  # fmt: skip
            cached = {(o["metadata"]["name"], o["metadata"]["resourceVersion"])
                      for o in self.informers.informer(resource).store.objects()}  # fmt: skip
            if stored != cached:
                return False
        return self.rs_queue.idle() and self.d_queue.idle()


@pytest.fixture
def running(app: Any) -> Iterator[Running]:
    r = Running(app.extensions["tinykube"]["registry"])
    r.start()
    try:
        yield r
    finally:
        r.stop.set()


def test_a_lease_renewal_does_not_wake_the_pod_loops(running: Running) -> None:
    reg = running.registry
    node = reg.create(NODES, "", ready_node())[0]
    lease = reg.create(LEASES, "kube-node-lease", {
        "metadata": {"name": "node-1"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                 "renewTime": meta.micro_timestamp()},
    })[0]  # fmt: skip
    reg.create(DEPLOYS, "default", deployment("web", replicas=2))
    reg.create(DEPLOYS, "default", deployment("api", replicas=1))
    wait_for(lambda: len(reg.list(PODS, "default")["items"]) == 3, "3 pods")
    wait_for(running.caught_up, "the controllers to settle", STEADY_LOOKS)
    rs_added, d_added = len(running.rs_queue.added), len(running.d_queue.added)
    rs_synced, d_synced = len(running.rs_synced), len(running.d_synced)
    rs_delayed, d_delayed = len(running.rs_queue.delayed), len(running.d_queue.delayed)

    for _ in range(50):
        lease["spec"]["renewTime"] = meta.micro_timestamp()
        lease = reg.replace(LEASES, "kube-node-lease", "node-1", lease)
    for i in range(20):
        node["status"]["nodeInfo"] = {"bootID": f"boot-{i}"}
        node = reg.replace(NODES, "", "node-1", node, sub="status")
    wait_for(
        lambda: (
            running.seen.get("leases") == lease["metadata"]["resourceVersion"]
            and running.seen.get("nodes") == node["metadata"]["resourceVersion"]
        ),
        "the Lease and Node informers to see the last writes",
    )
    wait_for(running.caught_up, "the controllers to settle", STEADY_LOOKS)
    assert len(running.rs_queue.added) == rs_added and len(running.d_queue.added) == d_added
    assert len(running.rs_queue.delayed) == rs_delayed
    assert len(running.d_queue.delayed) == d_delayed
    assert len(running.rs_synced) == rs_synced and len(running.d_synced) == d_synced

    # A pod of "web" turns Ready: its ReplicaSet's key, then (its status changed) its
    # Deployment's, and nothing of "api".
    web_rs = rs_of(reg, "web")
    uid = web_rs["metadata"]["uid"]
    pods = reg.list(PODS, "default")["items"]
    pod = next(p for p in pods if p["metadata"]["ownerReferences"][0]["uid"] == uid)
    reg.replace(PODS, "default", pod["metadata"]["name"], ready(pod), sub="status")
    wait_for(lambda: rs_of(reg, "web")["status"].get("readyReplicas") == 1, "web's status")
    wait_for(running.caught_up, "the controllers to settle", STEADY_LOOKS)
    web_key = f"default/{web_rs['metadata']['name']}"
    assert set(running.rs_queue.added[rs_added:]) == {web_key}
    assert set(running.rs_synced[rs_synced:]) == {web_key}
    assert set(running.d_queue.added[d_added:]) == {"default/web"}
    assert set(running.d_synced[d_synced:]) == {"default/web"}


# -- the handlers and expectations, pass by pass (no threads) ---------------------------------


class Passes:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.informers = SharedInformers(registry)
        self.replicasets = ReplicaSetController(registry, self.informers)
        self.deployments = DeploymentController(registry, self.informers)
        self.rs_queue, self.rs_synced = counted(self.replicasets)
        self.d_queue, self.d_synced = counted(self.deployments)

    def settle(self) -> None:
        for _ in range(10):
            pump(self.informers)
            one_pass(self.deployments)
            pump(self.informers)
            one_pass(self.replicasets)


@pytest.fixture
def passes(app: Any) -> Passes:
    return Passes(app.extensions["tinykube"]["registry"])


def replicaset(name: str, replicas: int, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
            },
            **spec,
        },
    }


def test_an_orphan_wakes_only_the_replicasets_that_select_it(passes: Passes) -> None:
    reg = passes.registry
    reg.create(RSES, "default", replicaset("web", 0))
    reg.create(RSES, "default", replicaset("api", 0))
    passes.settle()
    before = len(passes.rs_queue.added)
    reg.create(PODS, "default", {
        "metadata": {"name": "stray", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "tinykube/web:1"}]},
    })  # fmt: skip
    pump(passes.informers)
    assert passes.rs_queue.added[before:] == ["default/web"]
    one_pass(passes.replicasets)
    # web has 0 replicas: it adopts the orphan, then deletes it.
    stray = reg.list(PODS, "default")["items"]
    assert not stray or stray[0]["metadata"]["ownerReferences"][0]["name"] == "web"


def test_a_pod_turning_ready_brings_its_replicaset_back_after_min_ready_seconds(
    passes: Passes,
) -> None:
    reg = passes.registry
    reg.create(RSES, "default", replicaset("web", 1, minReadySeconds=30))
    passes.settle()
    [pod] = reg.list(PODS, "default")["items"]
    reg.replace(PODS, "default", pod["metadata"]["name"], ready(pod), sub="status")
    pump(passes.informers)
    assert ("default/web", 31.0) in passes.rs_queue.delayed
    one_pass(passes.replicasets)
    status = reg.get(RSES, "default", "web")["status"]
    assert status.get("readyReplicas") == 1 and not status.get("availableReplicas")


def test_a_replicaset_event_wakes_its_deployment(passes: Passes) -> None:
    reg = passes.registry
    reg.create(DEPLOYS, "default", deployment("web", replicas=1))
    reg.create(DEPLOYS, "default", deployment("api", replicas=1))
    passes.settle()
    before = len(passes.d_queue.added)
    rs = rs_of(reg, "web")
    rs["metadata"].setdefault("annotations", {})["note"] = "touched"
    reg.replace(RSES, "default", rs["metadata"]["name"], rs)
    pump(passes.informers)
    assert passes.d_queue.added[before:] == ["default/web"]


def test_an_orphan_replicaset_wakes_only_the_deployments_that_select_it(passes: Passes) -> None:
    reg = passes.registry
    reg.create(DEPLOYS, "default", deployment("web", replicas=1))
    reg.create(DEPLOYS, "default", deployment("api", replicas=1))
    passes.settle()
    before = len(passes.d_queue.added)
    stray = replicaset("web-stray", 0)
    stray["metadata"]["labels"] = {"app": "web"}
    reg.create(RSES, "default", stray)
    pump(passes.informers)
    assert passes.d_queue.added[before:] == ["default/web"]
    one_pass(passes.deployments)
    adopted = reg.get(RSES, "default", "web-stray")
    assert adopted["metadata"]["ownerReferences"][0]["name"] == "web"


def test_no_second_create_before_the_cache_has_seen_the_first(passes: Passes) -> None:
    reg = passes.registry
    reg.create(RSES, "default", replicaset("web", 2))
    pump(passes.informers)
    one_pass(passes.replicasets)
    assert len(reg.list(PODS, "default")["items"]) == 2
    assert passes.replicasets.expectations.get("default/web") == (2, 0)
    # The cache has not seen the two pods yet: another sync must not create them again.
    passes.rs_queue.add("default/web")
    one_pass(passes.replicasets)
    assert len(reg.list(PODS, "default")["items"]) == 2
    pump(passes.informers)
    assert passes.replicasets.expectations.satisfied("default/web")
    one_pass(passes.replicasets)
    assert len(reg.list(PODS, "default")["items"]) == 2
    assert reg.get(RSES, "default", "web")["status"]["replicas"] == 2


def test_recreate_waits_for_the_last_old_pod_to_go(app: Any) -> None:
    cluster = Cluster(app.extensions["tinykube"]["registry"])
    reg = cluster.registry
    reg.create(DEPLOYS, "default", deployment("web", replicas=2, strategy={"type": "Recreate"}))
    cluster.settle(lambda: len(reg.list(PODS, "default")["items"]) == 2)
    d = reg.get(DEPLOYS, "default", "web")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "tinykube/web:2"
    reg.replace(DEPLOYS, "default", "web", d)

    def pods() -> list[Obj]:
        return list(reg.list(PODS, "default")["items"])

    # The kubelet is slow: the old pods are terminating, the old ReplicaSet reports 0, and the
    # Deployment has nothing left to do but wait.
    for _ in range(10):
        cluster.control_round()
    assert len(pods()) == 2 and all(p["metadata"].get("deletionTimestamp") for p in pods())
    assert [rs["status"].get("replicas", 0) for rs in reg.list(RSES, "default")["items"]] == [0]
    assert cluster.deployments.queue.idle() and not len(cluster.deployments.queue)
    # The kubelet removes them: the last deletion wakes the Deployment, which scales up anew.
    cluster.kubelet.sync()
    assert not pods()
    cluster.settle(lambda: len(pods()) == 2, rounds=10)
    assert {p["spec"]["containers"][0]["image"] for p in pods()} == {"tinykube/web:2"}
