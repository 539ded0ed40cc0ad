"""The node lifecycle controller over the real registry and Redis, fed by the shared informers,
with an injected clock: a node whose Lease stops being renewed becomes Unknown and tainted, its
pods are marked not Ready and then force-deleted; nothing is evicted while most nodes are down or
before a restarted controller has waited a full grace period; a node that renews again loses its
taints; a Lease renewal queues nothing for a healthy node (it restarts the node's grace period)
and only its own node for one judged down; a node told to renew less often
gets a longer grace period. Each step waits for the caches to catch up with the store, then runs
the queued syncs and the periodic monitor by hand."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from common import errors
from common.heartbeat import HeartbeatPolicy
from common.resources import must
from control.controllers import nodehealth as nh
from control.controllers.nodelifecycle import LEASE_NAMESPACE, NodeLifecycleController, PassResult
from control.informers import SharedInformers
from control.manager import default_loops
from control.registry.registry import Registry
from tests.integration.schedpass import schedule_pending

PODS, NODES, LEASES, EVENTS = must("pods"), must("nodes"), must("leases"), must("events")
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
CFG = nh.Config(grace_period=10, eviction_timeout=5, eviction_rate=0.1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def to(self, seconds: float) -> None:
        self.now = T0 + dt.timedelta(seconds=seconds)


def micro(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_node(reg: Registry, name: str) -> None:
    reg.create(NODES, "", {"metadata": {"name": name}})
    node = reg.get(NODES, "", name)
    node["status"] = {
        "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "lastHeartbeatTime": "2030-01-01T00:00:00Z"}],
    }  # fmt: skip
    reg.replace(NODES, "", name, node, sub="status")
    reg.create(LEASES, LEASE_NAMESPACE, {"metadata": {"name": name},
                                         "spec": {"holderIdentity": name,
                                                  "renewTime": micro(T0)}})  # fmt: skip


def renew(reg: Registry, name: str, clock: Clock) -> None:
    lease = reg.get(LEASES, LEASE_NAMESPACE, name)
    lease["spec"]["renewTime"] = micro(clock.now)
    reg.replace(LEASES, LEASE_NAMESPACE, name, lease)


def new_pod(reg: Registry, name: str) -> None:
    spec = {"containers": [{"name": "c", "image": "i:1"}]}
    reg.create(PODS, "default", {"metadata": {"name": name}, "spec": spec})


def add_pod(reg: Registry, name: str, node: str) -> None:
    new_pod(reg, name)
    reg.bind("default", name, {"target": {"name": node}})
    pod = reg.get(PODS, "default", name)
    pod["status"]["phase"] = "Running"
    pod["status"]["conditions"].append({"type": "Ready", "status": "True"})
    reg.replace(PODS, "default", name, pod, sub="status")


class Driver:
    """The controller with its informers running and its queue worked by hand."""

    def __init__(self, reg: Registry, clock: Clock, stop: threading.Event) -> None:
        self.reg = reg
        self.informers = SharedInformers(reg)
        self.ctl = NodeLifecycleController(reg, CFG, informers=self.informers, clock=clock)
        self.informers.start(stop)
        assert self.informers.wait_for_sync(stop, timeout=10)

    def settle(self) -> None:
        """Wait until every cache holds what the store holds."""
        deadline = time.monotonic() + 10
        for inf, resource in ((self.ctl.nodes, "nodes"), (self.ctl.leases, "leases"),
                              (self.ctl.pods, "pods")):  # fmt: skip
            while {k: rv(o) for k, o in ((key(o), o) for o in store_items(self.reg, resource))} != {
                key(o): rv(o) for o in inf.store.objects()
            }:
                assert time.monotonic() < deadline, f"the {resource} cache never caught up"
                time.sleep(0.01)

    def queued(self) -> list[str]:
        """Take every queued key off the queue (without syncing it)."""
        keys = []
        while (k := self.ctl.controller.queue.get(0)) is not None:
            self.ctl.controller.queue.done(k)
            keys.append(k)
        return keys

    def drain(self, total: PassResult) -> None:
        queue = self.ctl.controller.queue
        while (k := queue.get(0)) is not None:
            try:
                r = self.ctl.sync(k)
            finally:
                queue.done(k)
            total.nodes_written += r.nodes_written
            total.pods_marked += r.pods_marked
            total.evicted += r.evicted

    def monitor(self) -> PassResult:
        """What the controller does by the next monitor period: the syncs events queued, then
        the monitor's."""
        total = PassResult()
        self.settle()
        self.drain(total)
        self.ctl.monitor()
        self.drain(total)
        self.settle()
        self.drain(total)  # the syncs its own writes queued change nothing more
        total.suspended = self.ctl.suspended
        return total

    def reset(self) -> None:
        self.ctl.reset()


def key(obj: Any) -> str:
    m = obj["metadata"]
    return f"{m['namespace']}/{m['name']}" if m.get("namespace") else m["name"]


def rv(obj: Any) -> str:
    return str(obj["metadata"]["resourceVersion"])


def store_items(reg: Registry, resource: str) -> list[Any]:
    return reg.store.list(resource)[0]


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def cluster(app: Any, stop: threading.Event, nodes: int = 3) -> tuple[Registry, Clock, Driver]:
    reg: Registry = app.extensions["tinykube"]["registry"]
    for i in range(1, nodes + 1):
        add_node(reg, f"n{i}")
    clock = Clock()
    return reg, clock, Driver(reg, clock, stop)


def ready(reg: Registry, kind: Any, name: str, ns: str = "") -> str:
    obj = reg.get(kind, ns, name)
    return next(c["status"] for c in obj["status"]["conditions"] if c["type"] == "Ready")


def taints(reg: Registry, name: str) -> list[tuple[str, str]]:
    return [(t["key"], t["effect"]) for t in reg.get(NODES, "", name)["spec"].get("taints") or []]


def reasons(reg: Registry, name: str) -> list[str]:
    listing = reg.list(EVENTS, "default", field_selector=f"involvedObject.name={name}")
    return [e["reason"] for e in listing["items"]]


def test_a_silent_node_is_marked_tainted_and_its_pods_are_evicted(
    app: Any, stop: threading.Event
) -> None:
    reg, clock, ctl = cluster(app, stop)
    add_pod(reg, "a", "n3")
    add_pod(reg, "b", "n3")
    add_pod(reg, "c", "n1")
    assert ctl.monitor().nodes_written == []
    for t in (4, 8):  # n1 and n2 keep renewing; n3 went silent at 0
        clock.to(t)
        renew(reg, "n1", clock)
        renew(reg, "n2", clock)
        assert ctl.monitor().nodes_written == []
    clock.to(10.5)
    result = ctl.monitor()
    assert result.nodes_written == ["n3"]
    assert sorted(result.pods_marked) == ["default/a", "default/b"]
    assert ready(reg, NODES, "n3") == "Unknown" and ready(reg, NODES, "n1") == "True"
    assert taints(reg, "n3") == [(nh.UNREACHABLE_TAINT, "NoSchedule"),
                                 (nh.UNREACHABLE_TAINT, "NoExecute")]  # fmt: skip
    assert ready(reg, PODS, "a", "default") == "False"
    assert ready(reg, PODS, "c", "default") == "True"
    assert reasons(reg, "n3") == ["NodeNotReady"]
    assert reasons(reg, "a") == ["NodeNotReady"]
    # The scheduler keeps new pods off the tainted node.
    new_pod(reg, "new")
    assert schedule_pending(reg) == 1
    assert reg.get(PODS, "default", "new")["spec"]["nodeName"] != "n3"
    clock.to(14.9)  # timeAdded is in whole seconds, as Kubernetes writes it: 10 s
    assert ctl.monitor().evicted == []
    clock.to(15)
    assert sorted(ctl.monitor().evicted) == ["default/a", "default/b"]
    for name in ("a", "b"):
        with pytest.raises(errors.NotFoundError):
            reg.get(PODS, "default", name)
        assert reasons(reg, name) == ["NodeNotReady", "TaintManagerEviction"]
    assert reg.get(PODS, "default", "c")["spec"]["nodeName"] == "n1"
    # n3 comes back: its taints go; its agent posts Ready=True itself.
    clock.to(17)
    for name in ("n1", "n2", "n3"):
        renew(reg, name, clock)
    assert ctl.monitor().nodes_written == ["n3"]
    assert taints(reg, "n3") == []


def test_nothing_is_evicted_while_most_nodes_are_silent(app: Any, stop: threading.Event) -> None:
    reg, clock, ctl = cluster(app, stop)
    add_pod(reg, "a", "n2")
    add_pod(reg, "b", "n3")
    ctl.monitor()
    for t in (5, 10, 30, 60):
        clock.to(t)
        renew(reg, "n1", clock)
        result = ctl.monitor()
    assert result.suspended and result.evicted == []
    assert ready(reg, NODES, "n2") == "Unknown" and ready(reg, NODES, "n3") == "Unknown"
    assert ctl.ctl.monitor() == []  # marked already, nothing to evict: not looked at again
    assert {p["metadata"]["name"] for p in reg.list(PODS, "default")["items"]} == {"a", "b"}
    # One of them returns: one of three down is no longer a majority; the other's pods go once
    # a full eviction timeout has passed since then (the disruption does not count).
    clock.to(61)
    renew(reg, "n1", clock)
    renew(reg, "n2", clock)
    result = ctl.monitor()
    assert not result.suspended and result.evicted == []
    for t in (63, 65.9):
        clock.to(t)
        renew(reg, "n1", clock)
        renew(reg, "n2", clock)
        assert ctl.monitor().evicted == []
    clock.to(66)
    renew(reg, "n1", clock)
    renew(reg, "n2", clock)
    assert ctl.monitor().evicted == ["default/b"]


def test_a_restarted_controller_gives_every_node_a_full_grace_period(
    app: Any, stop: threading.Event
) -> None:
    reg, clock, ctl = cluster(app, stop)
    add_pod(reg, "a", "n1")
    clock.to(600)  # the control plane was down for ten minutes: no lease was renewed
    ctl.reset()
    assert ctl.monitor().nodes_written == []
    clock.to(605)
    for name in ("n1", "n2"):
        renew(reg, name, clock)
    assert ctl.monitor().nodes_written == []
    clock.to(610.5)
    assert ctl.monitor().nodes_written == ["n3"]  # only the node that stayed silent
    assert ready(reg, NODES, "n1") == "True"


def test_the_control_plane_runs_the_node_lifecycle_loop(app: Any) -> None:
    reg: Registry = app.extensions["tinykube"]["registry"]
    informers = SharedInformers(reg)
    loops = default_loops(reg, CFG, informers=informers)
    lifecycle = [loop for loop in loops if isinstance(loop, NodeLifecycleController)]
    assert len(lifecycle) == 1 and lifecycle[0].config == CFG
    assert lifecycle[0].leases is informers.informer("leases")  # the process's shared caches


def test_a_lease_renewal_queues_only_its_own_node(app: Any, stop: threading.Event) -> None:
    reg, clock, ctl = cluster(app, stop)
    add_pod(reg, "a", "n1")
    ctl.monitor()  # every node judged once: healthy
    assert ctl.queued() == []
    clock.to(2)
    renew(reg, "n2", clock)
    ctl.settle()
    # A healthy node's renewal is noted, not judged: its grace period runs from now.
    noted(ctl, "n2", clock)
    assert ctl.queued() == []
    assert ctl.ctl.verdicts["n2"].probe.seen == clock.now
    # A pod changing on a healthy node concerns the node lifecycle not at all.
    pod = reg.get(PODS, "default", "a")
    pod["metadata"]["labels"] = {"touched": "yes"}
    reg.replace(PODS, "default", "a", pod)
    ctl.settle()
    assert ctl.queued() == []
    # Nor does the periodic monitor look again at nodes that renew in time.
    assert ctl.ctl.monitor() == []


def noted(ctl: Driver, name: str, clock: Clock) -> None:
    """Wait until the lease handler has noted the renewal made at ``clock``'s time (it runs
    just after the cache took the Lease in)."""
    deadline = time.monotonic() + 10
    while ctl.ctl.verdicts[name].probe.renew != micro(clock.now):
        assert time.monotonic() < deadline, f"the renewal of {name} was never noted"
        time.sleep(0.01)


def test_a_renewal_noted_while_a_sync_judges_the_node_is_not_lost(
    app: Any, stop: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease handler notes a renewal while a sync judges the same node from the Lease
    before it: the sync's verdict replaces the noted one, so the node is queued again, to be
    judged with the renewal."""
    reg, clock, ctl = cluster(app, stop, nodes=1)
    ctl.monitor()  # judged healthy at T0
    clock.to(3)
    lease = reg.get(LEASES, LEASE_NAMESPACE, "n1")
    renewed = {**lease, "spec": {**lease["spec"], "renewTime": micro(clock.now)}}
    judge = nh.judge_node

    def crossing(*args: Any, **kwargs: Any) -> nh.Verdict:
        ctl.ctl._on_lease(renewed)  # the informer's thread, between the sync's read and write
        return judge(*args, **kwargs)

    monkeypatch.setattr(nh, "judge_node", crossing)
    ctl.ctl.sync("n1")
    assert ctl.queued() == ["n1"]


def test_a_renewal_restarts_a_healthy_nodes_grace_and_brings_a_down_node_back(
    app: Any, stop: threading.Event
) -> None:
    reg, clock, ctl = cluster(app, stop)
    ctl.monitor()  # every node judged once at T0: healthy
    clock.to(5)
    renew(reg, "n2", clock)
    ctl.settle()
    noted(ctl, "n2", clock)
    assert ctl.queued() == []
    clock.to(11)  # past the grace of n1 and n3 (no renewal since T0), not of n2
    assert sorted(ctl.ctl.monitor()) == ["n1", "n3"]
    ctl.drain(PassResult())
    assert ctl.ctl.verdicts["n1"].down and not ctl.ctl.verdicts["n2"].down
    assert ready(reg, NODES, "n1") == "Unknown"
    ctl.settle()
    ctl.queued()  # the syncs the controller's own writes queued
    renew(reg, "n1", clock)
    ctl.settle()
    assert ctl.queued() == ["n1"]  # down, renewing: judged again at once
    clock.to(16)  # n2 silent since 5 s: its grace ran out from its renewal, not from T0
    assert ctl.ctl.monitor() == ["n2"]  # n3: marked already, and evictions are suspended


def test_a_node_told_to_renew_less_often_gets_a_longer_grace(
    app: Any, stop: threading.Event
) -> None:
    reg, clock, ctl = cluster(app, stop)
    # The API server handed n3 a Lease of 10 x the shortest duration: it renews every 20 s.
    lease = reg.store.get("leases", LEASE_NAMESPACE, "n3")
    lease["spec"]["leaseDurationSeconds"] = 10 * 8
    reg.store.update("leases", lease)
    ctl.monitor()
    for t in (4, 8, 12, 50, 99):
        clock.to(t)
        renew(reg, "n1", clock)
        renew(reg, "n2", clock)
        assert ctl.monitor().nodes_written == []
    clock.to(100.5)  # 10 x the 10 s grace
    renew(reg, "n1", clock)
    renew(reg, "n2", clock)
    assert ctl.monitor().nodes_written == ["n3"]


def test_the_grace_follows_the_interval_the_server_hands_out(
    app: Any, stop: threading.Event
) -> None:
    """A large cluster's nodes renew less often; were the grace not derived from the interval
    handed out, they would all go NotReady between two renewals."""
    reg: Registry = app.extensions["tinykube"]["registry"]
    # Three nodes at most 0.3 renewal a second: a base interval of 10 s, staggered in [10, 20).
    reg.node_leases.policy = HeartbeatPolicy(min_interval=2.0, max_per_second=0.3)
    for i in (1, 2, 3):
        add_node(reg, f"n{i}")
        reg.node_leases._counted_at = None  # count again at once
    clock = Clock()
    for name in ("n1", "n2", "n3"):  # the first were created in a smaller cluster
        renew(reg, name, clock)
    ctl = Driver(reg, clock, stop)
    ctl.monitor()
    # Renewals 19 s apart (each node was told 10-20 s): past the configured 10 s grace, but
    # within each node's own (5 x its interval), so no node is ever marked.
    for t in (19, 38, 49):
        clock.to(t - 0.5)  # just before the next renewals
        assert ctl.monitor().nodes_written == []
        clock.to(t)
        for name in ("n1", "n2", "n3"):
            renew(reg, name, clock)
        assert ctl.monitor().nodes_written == []
    durations = {reg.get(LEASES, LEASE_NAMESPACE, n)["spec"]["leaseDurationSeconds"]
                 for n in ("n1", "n2", "n3")}  # fmt: skip
    assert all(40 <= d <= 80 for d in durations)  # 4 x [10, 20) s, rounded up
    clock.to(49 + 10 * max(durations) / 8 + 0.5)  # n3 fell silent after 49 s
    for name in ("n1", "n2"):
        renew(reg, name, clock)
    assert ctl.monitor().nodes_written == ["n3"]


def silence_n3(reg: Registry, clock: Clock, ctl: Driver, until: float) -> None:
    """n1 and n2 renew every 4 s up to ``until``; n3 stays silent from 0."""
    ctl.monitor()
    t = 0.0
    while t < until:
        t = min(t + 4, until)
        clock.to(t)
        renew(reg, "n1", clock)
        renew(reg, "n2", clock)
        ctl.monitor()


def test_an_eviction_the_store_refused_is_tried_again(app: Any, stop: threading.Event) -> None:
    reg, clock, ctl = cluster(app, stop)
    add_pod(reg, "a", "n3")
    silence_n3(reg, clock, ctl, 10.5)
    assert taints(reg, "n3")  # marked
    original, refused = reg.delete, []

    def delete(rt: Any, namespace: str, name: str, options: Any) -> Any:
        if rt.plural == "pods" and not refused:
            refused.append(name)
            raise errors.ServiceUnavailableError("the store cannot be reached")
        return original(rt, namespace, name, options)

    reg.delete = delete  # type: ignore[method-assign]
    clock.to(15.5)
    with pytest.raises(errors.ServiceUnavailableError):
        ctl.monitor()  # the sync fails: the runner retries it with back-off
    assert refused == ["a"]
    clock.to(16)
    assert ctl.monitor().evicted == ["default/a"]
    with pytest.raises(errors.NotFoundError):
        reg.get(PODS, "default", "a")


def test_a_node_changed_since_the_cache_read_is_written_at_the_next_sync(
    app: Any, stop: threading.Event
) -> None:
    reg, clock, ctl = cluster(app, stop)
    silence_n3(reg, clock, ctl, 8)
    stale = ctl.ctl.nodes.store.get("n3")
    node = reg.get(NODES, "", "n3")
    node["metadata"]["labels"] = {"zone": "b"}  # an administrator labels it meanwhile
    reg.replace(NODES, "", "n3", node)
    ctl.settle()
    ctl.queued()
    cache = ctl.ctl.nodes.store
    real_get = cache.get
    cache.get = lambda key: stale if key == "n3" else real_get(key)  # type: ignore[method-assign]
    clock.to(10.5)
    assert ctl.ctl.sync("n3").nodes_written == []  # lost to the label: nothing written
    assert ready(reg, NODES, "n3") == "True" and reasons(reg, "n3") == []
    cache.get = real_get  # type: ignore[method-assign]
    renew(reg, "n1", clock)
    renew(reg, "n2", clock)
    assert ctl.monitor().nodes_written == ["n3"]
    assert reg.get(NODES, "", "n3")["metadata"]["labels"] == {"zone": "b"}
    assert reasons(reg, "n3") == ["NodeNotReady"]
