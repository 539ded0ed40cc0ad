"""Runs the control loops in threads of the controller process. Only the holder of the leader
Lease runs them, so several control processes can share one store. A loop is anything with a
``name`` and ``run(stop)``: the controllers (``common.controller.Controller`` and the scheduler),
fed by the shared informers the manager starts. ``default_loops`` lists them. Shell."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from common import errors, meta
from common.resources import must
from control.controllers import nodehealth, podgc
from control.controllers.cronjob import CronJobController
from control.controllers.daemonset import DaemonSetsController
from control.controllers.deployment import DeploymentController
from control.controllers.disruption import DisruptionController
from control.controllers.endpoints import EndpointsController
from control.controllers.endpointslice import EndpointSliceController
from control.controllers.endpointslice_plan import MAX_ENDPOINTS_PER_SLICE
from control.controllers.eventttl import EventCollector
from control.controllers.gc import GarbageCollector
from control.controllers.job import JobController, TTLAfterFinishedController
from control.controllers.mirroring import MirroringController
from control.controllers.namespace import NamespaceController
from control.controllers.nodelifecycle import NodeLifecycleController
from control.controllers.podgc import PodGarbageCollector
from control.controllers.pvbinder import PersistentVolumeController
from control.controllers.replicaset import ReplicaSetController
from control.controllers.serviceaccounts import ServiceAccountsController
from control.controllers.servicelb import ServiceLBController
from control.controllers.statefulset import StatefulSetController
from control.informers import SharedInformers
from control.registry.registry import Registry
from control.scheduling import Scheduler
from control.store import Store

log = logging.getLogger(__name__)

LEADER_LEASE = ("kube-system", "tinykube-controller-manager")
LEASES = must("leases")
# Kubernetes' leader election defaults: 15 s lease, renewed every 2 s.
LEASE_SECONDS = 15
RENEW_INTERVAL = 2.0
# Without a successful renewal for this long, a leader steps down (client-go: 10 s).
RENEW_DEADLINE = 10.0


class Loop(Protocol):
    """A control loop: ``run`` serves one leadership term, returning once ``stop`` is set."""

    name: str

    def run(self, stop: threading.Event) -> None: ...


def default_loops(
    registry: Registry,
    node_lifecycle: nodehealth.Config | None = None,
    terminated_pod_gc_threshold: int = podgc.TERMINATED_THRESHOLD,
    *,
    informers: SharedInformers | None = None,
    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> list[Loop]:
    """Every control loop of the control plane, in start order; those built on informers take
    them from ``informers``."""
    informers = informers if informers is not None else SharedInformers(registry)
    return [
        Scheduler(registry, informers),
        NodeLifecycleController(registry, node_lifecycle, informers=informers),
        ReplicaSetController(registry, informers),  # replicasets, pods
        DeploymentController(registry, informers),  # deployments, replicasets, pods
        GarbageCollector(registry, informers),
        NamespaceController(registry, informers),
        EventCollector(registry, informers),
        PodGarbageCollector(registry, informers, threshold=terminated_pod_gc_threshold),
        ServiceLBController(registry, informers),  # services, nodes
        # services, pods, endpointslices, nodes
        EndpointSliceController(registry, informers, max_endpoints=max_endpoints_per_slice),
        EndpointsController(registry, informers),  # services, pods, endpoints
        MirroringController(registry, informers),  # services, endpoints, endpointslices
        PersistentVolumeController(registry, informers),  # pvcs, pvs, storageclasses, nodes, pods
        ServiceAccountsController(registry, informers),  # namespaces, serviceaccounts
        DisruptionController(registry, informers),  # pdbs, pods, kinds with a scale
        # statefulsets, pods, controllerrevisions, pvcs, services
        StatefulSetController(registry, informers),
        JobController(registry, informers),  # jobs, pods
        TTLAfterFinishedController(registry, informers),  # jobs
        CronJobController(registry, informers),  # cronjobs, jobs
        DaemonSetsController(registry, informers),  # daemonsets, pods, nodes, revisions
    ]


class Manager:
    def __init__(
        self,
        registry: Registry,
        *,
        identity: str | None = None,
        loops: list[Loop] | None = None,
        informers: SharedInformers | None = None,
    ) -> None:
        self.registry = registry
        self.store: Store = registry.store
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        self.stop = threading.Event()
        self.leading = threading.Event()
        # Set when the current leadership term ends; the loops run until it is set.
        self.term = threading.Event()
        self.informers = informers if informers is not None else SharedInformers(registry)
        self.loops = default_loops(registry, informers=self.informers) if loops is None else loops
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        # The caches fill while the election runs, so a new leader acts on them at once.
        self.informers.start(self.stop)
        self._spawn("leader-election", self._elect)
        for loop in self.loops:
            self._spawn(loop.name, self._lead(loop.run))

    def shutdown(self) -> None:
        self.stop.set()
        self._end_term()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _lead(self, loop: Callable[[threading.Event], None]) -> Callable[[], None]:
        """Run ``loop`` during each leadership term; it must return when the term ends."""

        def run() -> None:
            while not self.stop.is_set():
                if not self.leading.wait(1.0):
                    continue
                term = self.term
                if not self.informers.wait_for_sync(term):
                    continue
                try:
                    loop(term)
                except Exception:
                    log.exception("control loop crashed; restarting")
                    term.wait(1.0)

        return run

    def _elect(self) -> None:
        renewed = 0.0  # monotonic time of the last successful renewal
        while not self.stop.is_set():
            try:
                held = self._try_acquire()
            except errors.ApiError as e:
                log.info("leader election: %s", e)
                # The store is unreachable: keep leading until the renew deadline, as
                # client-go does, so a blip does not restart every loop.
                held = self.leading.is_set() and time.monotonic() - renewed < RENEW_DEADLINE
            else:
                if held:
                    renewed = time.monotonic()
            if held and not self.leading.is_set():
                log.info("leader election: %s is now the leader", self.identity)
                self.term = threading.Event()
                self.leading.set()
            elif not held and self.leading.is_set():
                log.warning("leader election: lost the lease; stopping the control loops")
                self.leading.clear()
                self._end_term()
            self.stop.wait(RENEW_INTERVAL)

    def _end_term(self) -> None:
        self.term.set()

    def _try_acquire(self) -> bool:
        ns, name = LEADER_LEASE
        now = meta.now()
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": meta.micro_timestamp(now)}  # fmt: skip
        try:
            lease = self.registry.get(LEASES, ns, name)
        except errors.NotFoundError:
            obj = {"metadata": {"name": name, "namespace": ns},
                   "spec": {**spec, "acquireTime": spec["renewTime"]}}  # fmt: skip
            try:
                self.registry.create(LEASES, ns, obj)
                return True
            except errors.AlreadyExistsError:
                return False
        current = lease.get("spec") or {}
        renewed = meta.parse_time(current.get("renewTime")) or now
        expired = now > renewed + dt.timedelta(seconds=int(current.get("leaseDurationSeconds", 15)))
        if current.get("holderIdentity") != self.identity and not expired:
            return False
        if current.get("holderIdentity") != self.identity:
            spec["acquireTime"] = spec["renewTime"]
            spec["leaseTransitions"] = int(current.get("leaseTransitions", 0)) + 1
        lease["spec"] = {**current, **spec}
        try:
            self.registry.replace(LEASES, ns, name, lease)  # compare-and-set on its version
        except errors.ConflictError:
            return False
        return True
