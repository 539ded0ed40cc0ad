"""Test scaffolding for the workload controllers over the real registry and Redis: a FAKE kubelet
(no containers: it only marks bound pods Running and Ready, and finishes their deletions as the
agent does), a settable clock, and ``Cluster`` which runs the scheduler, the controllers and the
fake kubelet pass by pass, deterministically, until a condition holds. The informer-based
controllers get no threads here: before each of their passes the informers list again (their
handlers hear what changed since), then each key queued by then is synced once."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from common import errors, meta
from common.controller import Controller
from common.resources import must
from common.workqueue import RateLimitedQueue
from control.controllers import writes
from control.controllers.deployment import DeploymentController
from control.controllers.gc import GarbageCollector
from control.controllers.namespace import NamespaceController
from control.controllers.replicaset import ReplicaSetController
from control.informers import SharedInformers
from control.registry.registry import Registry
from tests.integration.informerpump import drain, pump
from tests.integration.schedpass import schedule_pending

PODS, NODES, EVENTS = must("pods"), must("nodes"), must("events")
DEPLOYS, RSES, NAMESPACES = must("deployments"), must("replicasets"), must("namespaces")
Obj = dict[str, Any]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=dt.UTC)
        self.skipped = 0.0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        self.skipped += seconds

    def monotonic(self) -> float:
        """The work queues' clock: real time plus the time skipped, so a delayed key comes
        back when either has passed."""
        return time.monotonic() + self.skipped


def one_pass(controller: Controller) -> None:
    """Sync each key queued now once, as the workers would (a key whose write lost or failed
    comes back after its back-off; any other error fails the test); keys queued meanwhile wait
    for the next pass."""
    queue, keys = controller.queue, []
    while (key := queue.get(0)) is not None:
        keys.append(key)
    for key in keys:
        try:
            controller.sync(key)
        except (errors.ApiError, writes.SyncError):
            queue.add_rate_limited(key)
        else:
            queue.forget(key)
        finally:
            queue.done(key)


class FakeKubelet:
    """Not a kubelet: no containers run. Bound pods become Running/Ready at once (or only those
    ``ready_filter`` accepts); pods being deleted are removed, as the agent does when their
    containers have stopped."""

    def __init__(self, registry: Registry, clock: Clock) -> None:
        self.registry = registry
        self.clock = clock
        self.ready_filter: Callable[[Obj], bool] = lambda pod: True

    def sync(self) -> int:
        changed = 0
        for pod in self.registry.list(PODS, "")["items"]:
            m = pod["metadata"]
            if not pod["spec"].get("nodeName"):
                continue
            if m.get("deletionTimestamp"):
                try:
                    self.registry.delete(PODS, m["namespace"], m["name"],
                                         {"gracePeriodSeconds": 0,
                                          "preconditions": {"uid": m["uid"]}})  # fmt: skip
                    changed += 1
                except errors.ApiError:
                    pass
            elif pod["status"].get("phase") == "Pending" and self.ready_filter(pod):
                self.registry.replace(PODS, m["namespace"], m["name"], self._running(pod),
                                      sub="status")  # fmt: skip
                changed += 1
        return changed

    def _running(self, pod: Obj) -> Obj:
        stamp = meta.timestamp(self.clock())
        kinds = ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        conditions = [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp}
            for t in kinds
        ]
        statuses = [
            {"name": c["name"], "ready": True, "started": True, "restartCount": 0,
             "image": c["image"], "imageID": "", "state": {"running": {"startedAt": stamp}}}
            for c in pod["spec"]["containers"]
        ]  # fmt: skip
        status = {
            **pod["status"],
            "phase": "Running",
            "conditions": conditions,
            "containerStatuses": statuses,
            "podIP": "10.0.0.1",
            "startTime": stamp,
        }
        return {**pod, "status": status}


def ready_node(name: str = "node-1") -> Obj:
    return {
        "metadata": {"name": name},
        "status": {
            "allocatable": {"cpu": "32", "memory": "64Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


class Cluster:
    """The control loops and the fake kubelet, one pass each per round."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.clock = Clock()
        self.informers = SharedInformers(registry)
        self.replicasets = ReplicaSetController(registry, self.informers, clock=self.clock)
        self.deployments = DeploymentController(registry, self.informers, clock=self.clock)
        for c in (self.replicasets, self.deployments):
            c.queue = RateLimitedQueue(self.clock.monotonic)
        self.gc = GarbageCollector(registry, self.informers)
        self.namespaces = NamespaceController(registry, self.informers, clock=self.clock)
        self.kubelet = FakeKubelet(registry, self.clock)
        registry.create(NODES, "", ready_node())

    def control_round(self) -> None:
        """Every controller once, without the kubelet."""
        pump(self.informers)
        one_pass(self.deployments)
        pump(self.informers)
        one_pass(self.replicasets)
        schedule_pending(self.registry)
        pump(self.informers)
        drain(self.gc)
        drain(self.namespaces)

    def round(self) -> None:
        self.control_round()
        self.kubelet.sync()

    def settle(self, until: Callable[[], bool], rounds: int = 40) -> None:
        for _ in range(rounds):
            if until():
                return
            self.round()
        assert until(), "the cluster did not reach the expected state"

    # -- reads -------------------------------------------------------------------------------

    def get(self, rt: Any, name: str, namespace: str = "default") -> Obj | None:
        try:
            return self.registry.get(rt, namespace, name)
        except errors.NotFoundError:
            return None

    def items(self, rt: Any, namespace: str = "default", selector: str = "") -> list[Obj]:
        return list(self.registry.list(rt, namespace, label_selector=selector)["items"])

    def events(self, name: str, namespace: str = "default") -> list[tuple[str, str]]:
        found = self.registry.list(EVENTS, namespace, field_selector=f"involvedObject.name={name}")
        ordered = sorted(found["items"], key=lambda e: e["metadata"]["name"])
        return [(e["reason"], e["message"]) for e in ordered]
