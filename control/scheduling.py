"""The scheduler, as kube-scheduler: the shared pod and node informers feed a scheduling queue
(pending pods) and a cache (nodes and what their pods take); the scheduling cycle pops one pod,
picks its node with ``select_node`` on the cache and assumes it there; the binding cycle writes
the ``binding`` through the registry on a pool of its own, so the next pod is scheduled
meanwhile. A pod that fits nowhere gets ``PodScheduled=False`` and a ``FailedScheduling`` event
and waits for a cluster event that could make it fit; if preempting lower-priority pods makes
room on a node (PodDisruptionBudgets weighed, best effort), it is nominated there and the
victims are deleted first. Shell."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import errors, metrics
from common.informer import Handler, Informer, by_node_name, key_of
from common.objects import as_node, as_pod
from common.resources import must
from common.storage import claim_names
from common.wellknown import LOCAL_PATH_PROVISIONER, POD_SCHEDULED, READY, SELECTED_NODE
from control import events
from control.informers import SharedInformers
from control.preemption import clear_nomination, evict_victims
from control.registry.binding import set_condition
from control.registry.registry import Registry
from control.schedplugins.interpodaffinity import has_terms
from control.scheduler import TERMINAL, Decision, counts_on_node
from control.scheduler_cache import SchedulerCache
from control.scheduling_queue import QueuedPod, SchedulingQueue
from control.volumebinding import NONE as NO_VOLUMES
from control.volumebinding import VolumeWants, volume_wants

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PODS = must("pods")
PVCS = must("persistentvolumeclaims")
COMPONENT = "default-scheduler"
# The profile named in the scheduler's metrics (kube-scheduler: the profile's schedulerName).
PROFILE = "default-scheduler"
# Attempts past this are counted together in the latency metric's label.
MAX_ATTEMPTS_LABEL = 15
# How long the scheduling cycle waits for a pod before looking at its stop event.
POLL_SECONDS = 0.5
# Binding cycles at once: each is a few store round trips, which overlap on a pool.
BIND_WORKERS = 8
# How long the binding cycle waits for a pod's WaitForFirstConsumer claims to be bound
# (kube-scheduler's VolumeBinding bindTimeoutSeconds), and how often it looks.
VOLUME_BIND_TIMEOUT = 600.0
VOLUME_BIND_POLL = 0.05
# Attempts at writing PodScheduled=False when the cached pod turns out stale.
STATUS_ATTEMPTS = 3


def pending(pod: Obj) -> bool:
    """Whether ``pod`` waits for this scheduler: unbound, not going away, not finished, and not
    held back by scheduling gates (kube's SchedulingGates pre-enqueue check)."""
    spec, m = pod.get("spec") or {}, pod.get("metadata") or {}
    return (
        not spec.get("nodeName")
        and not m.get("deletionTimestamp")
        and spec.get("schedulerName", COMPONENT) == COMPONENT
        and (pod.get("status") or {}).get("phase") not in TERMINAL
        and not spec.get("schedulingGates")
    )


def node_changed(old: Obj, new: Obj) -> bool:
    """Whether a node update could make a pod fit (allocatable, labels, taints, unschedulable or
    readiness changed), not a mere heartbeat."""

    def view(node: Obj) -> tuple[Any, ...]:
        spec, status = node.get("spec") or {}, node.get("status") or {}
        conditions = status.get("conditions") or []
        ready = [c.get("status") for c in conditions if c.get("type") == READY]
        return (status.get("allocatable"), (node.get("metadata") or {}).get("labels"),
                spec.get("taints"), spec.get("unschedulable"), ready)  # fmt: skip

    return view(old) != view(new)


def _by_pods(pod: Obj) -> bool:
    """Whether where ``pod`` fits depends on other pods' places (inter-pod terms, spread)."""
    return has_terms(pod) or bool((pod.get("spec") or {}).get("topologySpreadConstraints"))


class Scheduler:
    name = "scheduler"

    def __init__(
        self,
        registry: Registry,
        informers: SharedInformers,
        *,
        bind_workers: int = BIND_WORKERS,
        volume_bind_timeout: float = VOLUME_BIND_TIMEOUT,
    ) -> None:
        self.registry = registry
        self.volume_bind_timeout = volume_bind_timeout
        self.queue = SchedulingQueue()
        self.cache = SchedulerCache()
        self._binder = ThreadPoolExecutor(bind_workers, thread_name_prefix="scheduler-bind")
        # Events are written off the binding cycle, as kube-scheduler's broadcaster writes them.
        self.recorder = events.Recorder(registry, COMPONENT)
        self._lock = threading.Lock()
        self._inflight = 0  # binding cycles and status writes not finished yet
        self._idle = threading.Condition(self._lock)
        self.attempts = 0  # scheduling cycles run
        self.bound = 0  # pods bound
        # Message of the last FailedScheduling event per pod uid, so a pod stuck for the same
        # reason does not flood the event list.
        self._reported: dict[str, str] = {}
        # Pending pods with inter-pod rules or spread constraints (moved when a pod is bound).
        self._by_pods: set[str] = set()
        self.nodes: Informer = informers.informer("nodes")
        self.pods: Informer = informers.informer("pods", {"node": by_node_name})
        self.nodes.add_handler(Handler(self._node_added, self._node_updated, self._node_deleted))
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.claims: Informer = informers.informer("persistentvolumeclaims")
        self.volumes: Informer = informers.informer("persistentvolumes")
        self.classes: Informer = informers.informer("storageclasses")
        self.namespaces: Informer = informers.informer("namespaces")
        self.cache.namespace_labels = self._namespace_labels
        self.budgets: Informer = informers.informer("poddisruptionbudgets")
        self.cache.disruption_budgets = self.budgets.store.objects
        storage_changed = Handler(lambda _o: self._storage_changed(),
                                  lambda _o, _n: self._storage_changed(),
                                  lambda _o: self._storage_changed())  # fmt: skip
        for informer in (self.claims, self.volumes, self.classes):
            informer.add_handler(storage_changed)

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Schedule one pod after another until ``stop`` (the end of a leadership term)."""
        while not stop.is_set():
            self.schedule_next(POLL_SECONDS)

    def schedule_next(self, timeout: float) -> bool:
        """One scheduling cycle, for the next pod of the queue; False if none came in time."""
        info = self.queue.pop(timeout)
        if info is None:
            return False
        try:
            self._schedule(info)
        except Exception:
            log.exception("scheduler: pod %s: scheduling failed", info.key)
            self.queue.requeue_after_error(info)
        return True

    def wait_for_bindings(self, timeout: float | None = None) -> bool:
        """Wait until every binding cycle and status write started has finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            if not self._idle.wait_for(lambda: self._inflight == 0, timeout):
                return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.recorder.wait(left)

    def _schedule(self, info: QueuedPod) -> None:
        pod = self.pods.store.get(info.key)
        if pod is None or not pending(pod) or self.cache.is_assumed(info.key):
            self.queue.done(info)  # bound, deleted or changed since it was queued
            return
        with self._lock:
            self.attempts += 1
        volumes = self._volume_wants(pod)
        decision = self.cache.schedule(as_pod(pod), volumes)
        if decision.node is None:
            metrics.SCHEDULE_ATTEMPTS.labels("unschedulable", PROFILE).inc()
            self.queue.requeue_unschedulable(info)
            if decision.nominate is not None:
                self._submit(self._preempt, pod, decision)
            else:
                self._submit(self._report_unschedulable, pod, decision.message)
            return
        self.queue.done(info)
        self._submit(self._bind, info, pod, decision.node, volumes.to_select)

    def _volume_wants(self, pod: Obj) -> VolumeWants:
        """The pod's claims read from the informers (the VolumeBinding PreFilter)."""
        if not claim_names(pod):
            return NO_VOLUMES
        ns = pod["metadata"]["namespace"]
        return volume_wants(
            pod,
            lambda name: self.claims.store.get(f"{ns}/{name}"),
            self.volumes.store.get,
            self.classes.store.get,
            (pv for pv in self.volumes.store.objects() if not pv["spec"].get("claimRef")),
            lambda sc: sc.get("provisioner") == LOCAL_PATH_PROVISIONER,
        )

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            self._inflight += 1

        def run() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("scheduler: %s failed", getattr(fn, "__name__", fn))
            finally:
                with self._idle:
                    self._inflight -= 1
                    self._idle.notify_all()

        self._binder.submit(run)

    # -- the binding cycle and the failure report ---------------------------------------------

    def _bind(self, info: QueuedPod, pod: Obj, node: str, claims: tuple[str, ...] = ()) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        try:
            for claim in claims:
                self._select_node(ns, claim, node)
            self._wait_bound(ns, claims)
            self.registry.bind(ns, name, {"target": {"kind": "Node", "name": node}})
        except errors.ApiError as e:
            metrics.SCHEDULE_ATTEMPTS.labels("error", PROFILE).inc()
            log.info("pod %s/%s: not bound to %s: %s", ns, name, node, e)
            if self.cache.forget(as_pod(pod)) is not None:
                self._moved_by(node)  # the room it held is free again
            self.queue.requeue_after_error(info)
            return
        metrics.SCHEDULE_ATTEMPTS.labels("scheduled", PROFILE).inc()
        metrics.POD_SCHEDULING_DURATION.labels(str(min(info.attempts, MAX_ATTEMPTS_LABEL))).observe(
            max(0.0, self.queue.clock() - info.first_queued)
        )
        with self._lock:
            self.bound += 1
            self._reported.pop(pod["metadata"].get("uid", ""), None)
        log.debug("pod %s/%s: bound to %s", ns, name, node)
        self.recorder.record({**pod, "kind": "Pod", "apiVersion": "v1"}, "Normal", "Scheduled",
                             f"Successfully assigned {ns}/{name} to {node}")  # fmt: skip

    def _select_node(self, ns: str, claim: str, node: str) -> None:
        """PreBind: a WaitForFirstConsumer claim learns the node its volume must be made on."""
        for _ in range(STATUS_ATTEMPTS):
            pvc = self.registry.get(PVCS, ns, claim)
            annotations = pvc["metadata"].setdefault("annotations", {})
            if annotations.get(SELECTED_NODE) == node or pvc["spec"].get("volumeName"):
                return
            annotations[SELECTED_NODE] = node
            try:
                self.registry.replace(PVCS, ns, claim, pvc)
                return
            except errors.ConflictError:
                continue
        raise errors.ConflictError(f"claim {ns}/{claim}: selected node not written")

    def _wait_bound(self, ns: str, claims: tuple[str, ...]) -> None:
        """PreBind: the pod is bound only once the volumes of its claims exist and are bound to
        them (made on the selected node by the provisioner), as kube-scheduler waits."""
        deadline = time.monotonic() + self.volume_bind_timeout
        for claim in claims:
            while True:
                pvc = self.claims.store.get(f"{ns}/{claim}")
                if pvc is None:
                    raise errors.NotFoundError(f'persistentvolumeclaim "{claim}" not found')
                if (pvc.get("status") or {}).get("phase") == "Bound":
                    break
                if time.monotonic() > deadline:
                    raise errors.ServerTimeoutError("binding volumes: context deadline exceeded")
                time.sleep(VOLUME_BIND_POLL)

    def _storage_changed(self) -> None:
        """A claim, volume or class changed: pods waiting on claims may fit now."""
        self.queue.move_unschedulable(lambda pod: bool(claim_names(pod)))

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        found = self.namespaces.store.get(namespace) or {}
        return dict((found.get("metadata") or {}).get("labels") or {})

    def _preempt(self, pod: Obj, decision: Decision) -> None:
        """The preemptor is nominated to the chosen node and its victims deleted; it is bound
        once they are gone (their deletion moves it)."""
        node = str(decision.nominate)
        evict_victims(self.registry, pod, node, decision.victims, COMPONENT)  # type: ignore[arg-type]
        self._report_unschedulable(pod, decision.message, node)
        if decision.denominated:
            keys = {key_of(p) for p in decision.denominated}
            for other in decision.denominated:
                clear_nomination(self.registry, other)  # type: ignore[arg-type]
            self.queue.move_unschedulable(lambda p: key_of(p) in keys)

    def _report_unschedulable(self, pod: Obj, message: str, nominate: str | None = None) -> None:
        uid = pod["metadata"].get("uid", "")
        with self._lock:
            if self._reported.get(uid) == message:
                return
            self._reported[uid] = message
        log.info("pod %s: unschedulable: %s", pod["metadata"]["name"], message)
        written = self._write_unschedulable(pod, message, nominate)
        if written is None:
            with self._lock:
                self._reported.pop(uid, None)
            return
        self.recorder.record({**written, "kind": "Pod", "apiVersion": "v1"}, "Warning",
                             "FailedScheduling", message)  # fmt: skip

    def _write_unschedulable(
        self, pod: Obj, message: str, nominate: str | None = None
    ) -> Obj | None:
        """PodScheduled=False with ``message`` on the pod's status (and the node it is
        nominated to, if any); re-read once per conflict."""
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        current = pod
        for _ in range(STATUS_ATTEMPTS):
            obj = copy.deepcopy(current)
            set_condition(obj, POD_SCHEDULED, "False", "Unschedulable", message,
                          self.registry.clock())  # fmt: skip
            if nominate is not None:
                obj["status"]["nominatedNodeName"] = nominate
            try:
                return self.registry.replace(PODS, ns, name, obj, sub="status")
            except errors.ConflictError:
                try:
                    current = self.registry.get(PODS, ns, name)
                except errors.ApiError:
                    return None
                if not pending(current) or current["metadata"].get("uid") != pod["metadata"].get(
                    "uid"
                ):
                    return None
            except errors.ApiError as e:
                log.info("pod %s/%s: condition not written: %s", ns, name, e)
                return None
        return None

    # -- informer events ----------------------------------------------------------------------

    def _moved_by(self, node: str) -> None:
        """A change on ``node`` that may make room: unschedulable pods that now fit there move."""
        self.queue.move_unschedulable(lambda pod: self.cache.fits(as_pod(pod), node))

    def _node_added(self, node: Obj) -> None:
        self.cache.set_node(as_node(node))
        self._moved_by(node["metadata"]["name"])

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.set_node(as_node(new))
        if node_changed(old, new):
            self._moved_by(new["metadata"]["name"])

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(as_node(node))

    def _moved_by_pods(self) -> None:
        """A pod was bound (AssignedPodAdd): the pods whose place depends on other pods' may fit
        now; no other pod is concerned."""
        with self._lock:
            keys = list(self._by_pods)
        if keys:
            self.queue.move_pods(keys)

    def _pending(self, pod: Obj) -> None:
        with self._lock:
            if _by_pods(pod):
                self._by_pods.add(key_of(pod))
            else:
                self._by_pods.discard(key_of(pod))
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated or self.cache.nominated_node(key_of(pod)):
            self.cache.nominate(as_pod(pod), nominated or None)

    def _pod_added(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.set_pod(as_pod(pod))
            self._moved_by_pods()
        elif pending(pod):
            self._pending(pod)
            self.queue.add(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (new.get("spec") or {}).get("nodeName"):
            self.queue.delete(new)  # bound: by this scheduler (confirming it) or by someone
            self._forget_pending(new)
            freed = counts_on_node(as_pod(old)) and not counts_on_node(as_pod(new))
            self.cache.set_pod(as_pod(new))
            if freed:
                self._moved_by(str(new["spec"]["nodeName"]))  # it finished: its room is free
            elif not (old.get("spec") or {}).get("nodeName"):
                self._moved_by_pods()
        elif pending(new):
            self._pending(new)
            self.queue.update(old, new)
        else:
            self.queue.delete(new)
            self._forget_pending(new)

    def _forget_pending(self, pod: Obj) -> None:
        with self._lock:
            self._by_pods.discard(key_of(pod))

    def _pod_deleted(self, pod: Obj) -> None:
        self.queue.delete(pod)
        self._forget_pending(pod)
        with self._lock:
            self._reported.pop((pod.get("metadata") or {}).get("uid", ""), None)
        node = self.cache.remove_pod(as_pod(pod))
        if node is not None:
            self._moved_by(node)  # AssignedPodDelete
