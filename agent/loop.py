"""The agent process: register the node, keep its lease, watch its pods and Docker, sync pods.

Threads: a lease renewer (at the interval the API server hands out), a node-status loop (posts
only a changed status, and an unchanged one every few minutes), a pod informer (list + watch with
``fieldSelector=spec.nodeName=<node>``, relist on 410 or a cut stream, full resync every
minute), a Docker event reader (die/destroy/start/oom → resync that pod at once) and a few
workers fed by a uid-keyed work queue, plus the probe workers (``probes``), whose changed results
queue their pod. It keeps no state of its own: on start it re-adopts the containers it finds by
label. ``stop`` leaves containers running. Effectful shell.

``start`` is ``prepare`` plus those threads; a process simulating many nodes (bench/scale.py)
calls ``prepare`` and shares threads between nodes: ``periodic``, ``process``, ``queue``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from agent import localpath, podconfig, sysctls
from agent import runtime as rt
from agent.apis import NAMESPACES, NODES, PODS
from agent.clusterdns import ClusterDns
from agent.config import AgentConfig
from agent.events import EventRecorder, EventSender
from agent.node import HostFacts, LeaseKeeper, NodeRegistrar, host_facts
from agent.nodeapi import NodeApiServer
from agent.periodic import Backoff, Periodic
from agent.probes import Prober
from agent.proxy.proxier import ServiceProxy
from agent.reconnect import ReconnectDetector
from agent.resourcemetrics import Sampler
from agent.runtime import Runtime, RuntimeEvent
from agent.serviceview import ServiceInformers
from agent.sync import PodSyncer
from common import errors, metrics, onstop
from common.client import ApiClient, WatchCancel
from common.informer import ApiListerWatcher, Informer, watch_timeout
from common.workqueue import WorkQueue

log = logging.getLogger(__name__)

# How long one watch request may stay open at the least before the server ends it and we
# re-watch: the kubelet's pod source is a reflector, whose watches last 5 to 10 min at random.
WATCH_TIMEOUT_SECONDS = 300
# A watch that sends nothing for this long is dead (the API server sends a bookmark every minute
# on a quiet one, as kube-apiserver does): a partition drops packets without a reset, so the
# socket would not know. A renewal that succeeds after a gap ends the watch sooner.
WATCH_IDLE_SECONDS = 90.0


class Agent:
    """One node's kubelet. ``start`` returns once the node is registered and threads run."""

    def __init__(
        self,
        config: AgentConfig,
        client: ApiClient,
        runtime: Runtime,
        *,
        queue: WorkQueue | None = None,
        event_sender: EventSender | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.runtime = runtime
        self.stopping = onstop.StopEvent()  # its watches are cut by set(), no waiter thread
        self.queue = WorkQueue() if queue is None else queue
        self.event_sender = event_sender
        self.periodic: list[Periodic] = []  # lease, node status, resync: made by ``prepare``
        self.cluster = ""
        self.pods: dict[str, dict[str, Any]] = {}
        self.pods_lock = threading.Lock()
        self.synced = threading.Event()  # the pod cache holds a complete list
        self.list_rv = 0  # revision of the last list: older watch events are already in it
        self.watch_cancel = WatchCancel()  # ends the pod watch after a reconnect
        self.threads: list[threading.Thread] = []
        self.node_api: NodeApiServer | None = None
        self.registrar: NodeRegistrar | None = None
        self.node_informer: Informer | None = None  # its own Node: ``watch_own_node``
        self._node_stop: onstop.StopEvent | None = None
        self.syncer: PodSyncer | None = None
        self.prober: Prober | None = None
        self.facts: HostFacts | None = None
        self.proxy: ServiceProxy | None = None
        self.sync_count = 0  # pod syncs done, for tests and debugging
        # When each pod not yet running was first synced here (kubelet_pod_start_duration).
        self.first_seen: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.prepare()
        self.watch_own_node()
        self.cluster_dns.start(self.stopping)
        for loop in self.periodic:
            self._spawn(loop.name, functools.partial(self._every, loop))
        if self.proxy is not None:
            self.proxy.start(self.stopping)
        self._spawn("pod-informer", self.watch_pods)
        self._spawn("docker-events", self.watch_runtime)
        for i in range(self.config.workers):
            self._spawn(f"pod-worker-{i}", self._worker)
        log.info("node %s: agent running (cluster %s)", self.config.node_name, self.cluster)

    def prepare(self, *, serve_node_api: bool = True) -> None:
        """Register the node and build what its loops use; start no loop. Without
        ``serve_node_api`` the Node names a port where nothing answers (a simulated node)."""
        cfg = self.config
        self.cluster = self._retry("cluster id", self._cluster_id)
        engine = self._retry("Docker engine", self.runtime.engine_info)
        self.facts = host_facts(engine, cfg.node_ip)
        self._retry("sandbox image", self.runtime.ensure_sandbox_image)
        address, port = cfg.node_api_address or self.facts.ip, cfg.node_api_port
        sampler = Sampler(self.runtime, self.cluster, cfg.node_name)
        if serve_node_api:
            self.node_api = NodeApiServer(
                self.runtime,
                cluster=self.cluster,
                node=cfg.node_name,
                token=cfg.token,
                address=address,
                port=port,
                resource_metrics=sampler.summary,
            )
            self.node_api.start()
            address, port = self.node_api.address, self.node_api.port
        self.registrar = NodeRegistrar(self.client, cfg.node_name, self.facts, port,
                                       f"{address}:{port}",
                                       report_interval=cfg.node_status_report_interval,
                                       storage_dir=podconfig.local_path_dir(cfg))  # fmt: skip
        registrar = self.registrar
        registrar.cached = self._own_node  # read by the status loop once ``watch_own_node`` ran
        # One watch of Services and one of EndpointSlices per agent, for its proxy and its DNS.
        self.service_informers = ServiceInformers(self.client)
        if cfg.service_proxy:
            self.proxy = ServiceProxy(
                self.client,
                self.cluster,
                cfg.node_name,
                node_ip=self.facts.ip,
                pod_bridge=cfg.pod_bridge,
                informers=self.service_informers,
            )
            self.proxy.check()
            proxy = self.proxy
            registrar.extra_conditions = lambda: [proxy.condition()]
        self._retry("node registration", registrar.register)
        sender = self.event_sender or EventSender()
        recorder = EventRecorder(self.client, cfg.node_name, sender=sender)
        self.prober = Prober(self.runtime, recorder, self.queue.add)
        self.prober.start()
        self.cluster_dns = ClusterDns(
            self.client,
            cfg.dns,
            self.cluster,
            informers=self.service_informers,
            on_hold=self.proxy.dirty.set if self.proxy is not None else None,
        )
        self.syncer = PodSyncer(
            self.client,
            self.runtime,
            recorder,
            node=cfg.node_name,
            cluster=self.cluster,
            host_ip=self.facts.ip,
            policy=cfg.backoff,
            prober=self.prober,
            seccomp_root=cfg.seccomp_profile_root,
            sysctl_allowlist=sysctls.Allowlist.of(cfg.allowed_unsafe_sysctls),
            config=podconfig.for_node(
                self.client, self.queue.add, cfg, self.facts, self.cluster, self.service_informers
            ),
            dns=self.cluster_dns.pod_dns,
        )
        lease_loop = self.lease_loop(lambda: registrar.uid)
        lease = self.lease

        def status_every() -> float:  # as often as the lease is renewed, or less often
            return max(cfg.node_status_interval, lease.interval)

        self.periodic = [
            lease_loop,
            Periodic("node-status", status_every, registrar.heartbeat),
            Periodic("resync", cfg.resync_interval, self.queue_all, cfg.resync_interval),
            localpath.periodic(podconfig.local_path_dir(cfg), self.client),
        ]
        if cfg.resource_metrics_interval > 0 and serve_node_api:
            self.periodic.append(
                Periodic("resource-metrics", cfg.resource_metrics_interval, sampler.sample)
            )

    def watch_own_node(self) -> None:
        """(Re)start the watch of the agent's own Node (``fieldSelector=metadata.name=<node>``),
        which the status loop reads as the kubelet reads its node lister; a watch running
        already is cut. Until the new one has listed, the status loop reads the Node with a
        GET. It ends when the agent stops."""
        cfg = self.config
        old, stop = self._node_stop, onstop.StopEvent()
        self._node_stop = stop
        if old is not None:
            old.set()
        own = f"metadata.name={cfg.node_name}"
        informer = Informer(
            ApiListerWatcher(self.client, NODES, field_selector=own), name=f"node {cfg.node_name}"
        )
        self.node_informer = informer
        taken_back = onstop.on_stop(self.stopping, stop.set)
        onstop.on_stop(stop, taken_back)  # a replaced watch leaves nothing behind on the agent's
        informer.start(stop)

    def _own_node(self) -> dict[str, Any] | None:
        """The Node as the agent's watch of it has it; None before that watch has listed."""
        informer = self.node_informer
        if informer is None or not informer.has_synced():
            return None
        return informer.store.get(self.config.node_name)

    def lease_loop(
        self,
        node_uid: Callable[[], str | None],
        reconnected: Callable[[], None] | None = None,
    ) -> Periodic:
        """The node's Lease renewals (``self.lease``), as a loop; ``node_uid`` is the uid of the
        registered Node, its Lease's owner. A renewal after a gap says the agent was out of
        touch: ``reconnected`` runs then (by default ``_reconnected``: relist the pods)."""
        cfg = self.config
        # As the kubelet's heartbeat client: a renewal the network swallows fails within an
        # interval instead of holding the lease loop for the default timeout.
        self.heartbeat_client = self.client.with_timeout(max(1.0, cfg.lease_renew_interval))
        self.lease = lease = LeaseKeeper(
            self.heartbeat_client, cfg.node_name, node_uid, default=cfg.lease_renew_interval
        )
        self.reconnect = ReconnectDetector(
            cfg.lease_renew_interval, reconnected or self._reconnected
        )
        wrapped = self.reconnect.wrap(lease.renew)

        def renew() -> None:
            wrapped()
            # The server may have handed out another interval: the next wait is that long.
            self.reconnect.set_interval(lease.interval)
            self.heartbeat_client.timeout = max(1.0, lease.interval)

        return Periodic("lease", lambda: lease.interval, renew)

    def stop(self) -> None:
        """Stop the threads; containers keep running, as with a kubelet restart."""
        self.stopping.set()
        if self.syncer is not None:
            self.syncer.config.stop()
        self.queue.shutdown()
        if self.prober is not None:
            self.prober.stop()
        if self.node_api is not None:
            self.node_api.stop()
        # Let pod workers finish the step they are in; the other threads only wait on I/O (a
        # long-poll watch, Docker's event stream) and die with the process.
        deadline = time.monotonic() + 3.0
        for t in self.threads:
            if t.name.startswith("pod-worker-"):
                t.join(timeout=max(0.0, deadline - time.monotonic()))
        log.info("node %s: agent stopped, containers left running", self.config.node_name)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def _cluster_id(self) -> str:
        return str(self.client.get(NAMESPACES, "kube-system")["metadata"]["uid"])

    def _retry(self, what: str, fn: Callable[[], Any]) -> Any:
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                return fn()
            except (errors.ApiError, rt.ContainerRuntimeError) as e:
                delay = backoff.failed()
                log.warning("%s failed, retrying in %.1fs: %s", what, delay, e)
                self.stopping.wait(delay)
        raise errors.ServiceUnavailableError(f"{what}: the agent is stopping")

    def _every(self, loop: Periodic) -> None:
        wait = loop.first_delay
        while not self.stopping.wait(wait):
            wait = loop.tick()

    # -- pods from the API -------------------------------------------------------------------

    def watch_pods(self) -> None:
        """The pod informer: list, then watch this node's pods, until the agent stops."""
        backoff = Backoff()
        selector = f"spec.nodeName={self.config.node_name}"
        while not self.stopping.is_set():
            try:
                rv = self.relist()
                backoff.reset()
                # A watch the server ends at its timeout is resumed from the last revision seen
                # (bookmarks keep it recent), as client-go's reflector resumes: no list. One
                # ended by a reconnect (``watch_cancel``: ``fired`` until the next watch starts)
                # lists again.
                while not self.stopping.is_set():
                    for event in self.client.watch(
                        PODS,
                        resource_version=rv,
                        field_selector=selector,
                        timeout_seconds=watch_timeout(WATCH_TIMEOUT_SECONDS),
                        idle_timeout=WATCH_IDLE_SECONDS,
                        cancel=self.watch_cancel,
                    ):
                        if self.stopping.is_set():
                            return
                        self._on_pod_event(event)
                        meta = (event.get("object") or {}).get("metadata", {})
                        rv = meta.get("resourceVersion", rv)
                    if self.watch_cancel.fired:
                        break
            except errors.GoneError:
                log.info("pods: watch expired, listing again")
            except Exception as e:  # relist after any failure; the loop must not die
                delay = backoff.failed()
                log.warning("pods: list/watch failed, retrying in %.1fs: %s", delay, e)
                self.stopping.wait(delay)

    def relist(self) -> str:
        """List this node's pods, replace the cache, queue every pod; return the list's RV."""
        listed = self.client.list(PODS, field_selector=f"spec.nodeName={self.config.node_name}")
        pods = {p["metadata"]["uid"]: p for p in listed.get("items") or []}
        rv = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        with self.pods_lock:
            gone = set(self.pods) - set(pods)
            self.pods = pods
            self.list_rv = max(self.list_rv, int(rv or 0))
        first = not self.synced.is_set()
        self.synced.set()
        for uid in [*pods, *gone]:
            self.queue.add(uid)
        if first:  # pods deleted while the agent was down: their containers and volumes go now,
            self.queue_all()  # as the kubelet's first housekeeping does, not a resync later
        return rv

    def _reconnected(self) -> None:
        """Back in touch after a gap: pods may have been deleted meanwhile and the watch may be
        dead without knowing it (a partition sends no reset), so list now, look at every
        container, and end the watch: the informer lists and watches afresh."""
        log.info("node %s: in touch with the control plane again; relisting", self.config.node_name)
        if self.node_informer is not None:
            # Its watch of its Node may be as dead: the status loop would compare against a
            # Node from before the gap and miss the Ready the node controller turned Unknown.
            self.watch_own_node()
        for attempt in (1, 2):  # the first may go out on a pooled connection the partition killed
            try:
                self.relist()
                break
            except errors.ApiError as e:
                if attempt == 2:
                    log.warning("pods: relist after reconnecting failed: %s", e)
        self.queue_all()
        if self.watch_cancel.fire():
            log.info("pods: watch ended after reconnecting; watching again")

    def _on_pod_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        pod = event.get("object") or {}
        uid = (pod.get("metadata") or {}).get("uid")
        if kind == "BOOKMARK" or not uid:
            return
        with self.pods_lock:
            if int(pod["metadata"].get("resourceVersion") or 0) <= self.list_rv:
                return  # a relist since (after a reconnect) already holds this or newer
            if (
                kind == "DELETED"
                or (pod.get("spec") or {}).get("nodeName") != self.config.node_name
            ):
                self.pods.pop(uid, None)
            else:
                cached = self.pods.get(uid)
                if kind == "MODIFIED" and cached is not None and _rv(cached) == _rv(pod):
                    return  # the echo of our own status write: nothing new to act on
                self.pods[uid] = pod
        self.queue.add(uid)

    def queue_all(self) -> None:
        """Queue every known pod and every pod uid that has containers here (orphans too)."""
        with self.pods_lock:
            uids = set(self.pods)
        try:
            containers = self.runtime.list_containers(self.cluster, self.config.node_name)
            uids |= {c.pod_uid for c in containers if c.pod_uid}
        except rt.ContainerRuntimeError as e:
            log.warning("resync: cannot list containers: %s", e)
        if self.syncer is not None:
            uids |= set(self.syncer.config.pod_uids())  # volumes left by a pod gone meanwhile
        for uid in uids:
            self.queue.add(uid)

    # -- Docker events -----------------------------------------------------------------------

    def watch_runtime(self) -> None:
        """Follow the container runtime's events until the agent stops."""
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                for event in self.runtime.events(self.stopping):
                    backoff.reset()
                    self.on_runtime_event(event)
            except rt.ContainerRuntimeError as e:
                delay = backoff.failed()
                log.warning("docker events: %s; reconnecting in %.1fs", e, delay)
                self.stopping.wait(delay)
                self.queue_all()  # events may have been missed meanwhile

    def on_runtime_event(self, event: RuntimeEvent) -> None:
        """A container of one of this node's pods died, started or went: sync that pod now."""
        labels = event.labels
        if labels.get(rt.CLUSTER_LABEL) != self.cluster:
            return
        if labels.get(rt.NODE_LABEL) != self.config.node_name:
            return
        uid = labels.get(rt.POD_UID)
        if uid:
            log.debug("docker: %s of %s, syncing pod %s", event.action,
                      event.container_id[:12], uid)  # fmt: skip
            self.queue.add(uid)

    # -- workers -----------------------------------------------------------------------------

    def _worker(self) -> None:
        failures: dict[str, Backoff] = {}
        while not self.stopping.is_set():
            uid = self.queue.get()
            if uid is None:
                return
            self.process(uid, failures)

    def process(self, uid: str, failures: dict[str, Backoff]) -> None:
        """One turn of a pod worker on a key from ``queue``: sync the pod, queue it again when
        the sync asks to or failed (``failures`` keeps the worker's back-off per pod)."""
        try:
            delay = self.sync_uid(uid)
            self.sync_count += 1
            failures.pop(uid, None)
            if delay is not None:
                self.queue.add_after(uid, delay)
        except Exception as e:  # one pod's failure must not stop the worker
            delay = failures.setdefault(uid, Backoff()).failed()
            log.warning("pod uid %s: sync failed, retrying in %.1fs: %s", uid, delay, e)
            self.queue.add_after(uid, delay)
        finally:
            self.queue.done(uid)

    def sync_uid(self, uid: str) -> float | None:
        """Sync one pod by uid; a uid no longer bound here has its containers removed."""
        assert self.syncer is not None
        with self.pods_lock:
            pod = self.pods.get(uid)
        if pod is None:
            self.first_seen.pop(uid, None)
            if not self.synced.is_set():
                return 1.0  # do not judge containers orphans before the first full list
            containers = self.runtime.list_containers(
                self.cluster, self.config.node_name, pod_uid=uid
            )
            if containers:
                log.info("pod uid %s: not bound here any more, removing its containers", uid)
                self.syncer.remove_pod_containers(uid, containers)
            else:
                self.syncer.forget(uid)
            return None
        self.first_seen.setdefault(uid, time.perf_counter())
        result = self.syncer.sync(pod)
        if result.pod is not None and result.pod is not pod:
            self._remember(uid, pod, result.pod)
        self._observe_start(uid, result.pod or pod)
        return result.requeue_after

    def _observe_start(self, uid: str, pod: dict[str, Any]) -> None:
        """Once a pod runs, how long it took from its first sync here (the kubelet's metric)."""
        if (pod.get("status") or {}).get("phase") in ("Pending", None):
            return
        seen = self.first_seen.pop(uid, None)
        if seen is not None and pod["status"]["phase"] == "Running":
            metrics.POD_START_DURATION.observe(time.perf_counter() - seen)

    def _remember(self, uid: str, read: dict[str, Any], written: dict[str, Any]) -> None:
        """Keep the pod we just wrote unless the watch brought a newer one meanwhile, so the
        next sync starts from our own status instead of losing a CAS race with itself."""
        with self.pods_lock:
            cached = self.pods.get(uid)
            rv = (cached or {}).get("metadata", {}).get("resourceVersion")
            if cached is not None and rv == read["metadata"].get("resourceVersion"):
                self.pods[uid] = written


def _rv(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("resourceVersion") or "")
