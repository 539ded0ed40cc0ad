"""The node lifecycle controller, as Kubernetes' node lifecycle and taint-eviction controllers:
``sync(node)`` reads the node, its Lease and its pods from the shared informers' caches, asks
``nodehealth`` what the node's health is, writes the Unknown conditions and the taints, marks
the pods of an unreachable node not Ready and force-deletes the pods of a down node once their
eviction time has come (rate-limited), so that their controllers replace them elsewhere. An
event queues only the node it concerns (a Lease renewal: its own node, unless that node is
judged healthy: the renewal then only restarts its grace period); a silence has no event,
so a monitor looks at the cache every period (``--node-monitor-period``) and queues the nodes
whose grace period ran out and those being evicted. Shell; time comes from an injected clock."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from common import meta
from common.controller import Controller
from common.duration import parse_duration
from common.heartbeat import MAX_PER_SECOND, MIN_INTERVAL, HeartbeatPolicy
from common.informer import Handler, by_node_name
from common.resources import must
from common.wellknown import NODE_LEASE_NAMESPACE
from control import events
from control.controllers import nodehealth as nh
from control.controllers import writes
from control.informers import SharedInformers
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS, NODES = must("pods"), must("nodes")
LEASE_NAMESPACE = NODE_LEASE_NAMESPACE
NODE_COMPONENT = "node-controller"
EVICTION_COMPONENT = "taint-eviction-controller"
# How often the cache is looked at for silent nodes (Kubernetes: --node-monitor-period, 5 s); a
# grace period is detected within this much of its end.
MONITOR_PERIOD = 1.0

Obj = dict[str, Any]


@dataclass
class PassResult:
    """What a sync did (for tests and logs)."""

    verdicts: list[nh.Verdict] = field(default_factory=list)
    nodes_written: list[str] = field(default_factory=list)
    pods_marked: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    suspended: bool = False


def _ref(pod: Obj) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"


def _lease_node(lease: Obj) -> str:
    """The node whose Lease this is ("" for a Lease of another namespace)."""
    m = lease.get("metadata") or {}
    return str(m.get("name") or "") if m.get("namespace") == LEASE_NAMESPACE else ""


class NodeLifecycleController:
    name = "node-lifecycle"

    def __init__(
        self,
        registry: Registry,
        config: nh.Config | None = None,
        *,
        informers: SharedInformers,
        clock: Callable[[], dt.datetime] = meta.now,
        period: float = MONITOR_PERIOD,
    ) -> None:
        self.registry = registry
        self.config = config or nh.Config()
        self.clock = clock
        self.period = period
        self.lock = threading.Lock()
        self.nodes = informers.informer("nodes")
        self.leases = informers.informer("leases")
        self.pods = informers.informer("pods", {"node": by_node_name})
        self.controller = Controller(self.name, self._sync, initial=self.nodes.store.keys)
        self.reset()
        self.nodes.add_handler(self.controller.handler())
        self.leases.add_handler(
            Handler(self._on_lease, lambda _old, new: self._on_lease(new), self._on_lease_gone)
        )
        self.pods.add_handler(
            Handler(self._on_pod, lambda _old, new: self._on_pod(new), self._on_pod_gone)
        )

    def reset(self) -> None:
        """Forget what was seen: every node gets a full grace period from its next sync."""
        with self.lock:
            self.verdicts: dict[str, nh.Verdict] = {}
            self.bucket = nh.Bucket()
            self.evicting: frozenset[str] = frozenset()
            self.suspended = False
            self.calm_since: dt.datetime | None = None  # when the last disruption ended
            self.evicted: set[str] = set()  # uids deleted, until the cache sees them go

    # -- event handlers: each queues the one node an event concerns ------------------------------

    def _on_lease(self, lease: Obj) -> None:
        """A renewal of a node judged healthy, with nothing to write, only moves its probe: the
        time the renewal was seen, from which its grace period runs (Kubernetes' health monitor
        notes it as it looks at each node's Lease every period). Judging the node again would
        change nothing: at 1,000 nodes, 66 syncs a second for nothing. Any other node is
        judged again at once (a node judged down that renews comes back)."""
        name = _lease_node(lease)
        if not name:
            return
        with self.lock:
            verdict = self.verdicts.get(name)
            if verdict is not None and not verdict.down and verdict.update is None:
                probe = nh.observe(verdict.probe, lease, self.clock())
                self.verdicts[name] = replace(verdict, probe=probe)
                return
        self.controller.queue.add(name)

    def _on_lease_gone(self, lease: Obj) -> None:
        name = _lease_node(lease)
        if name:
            self.controller.queue.add(name)

    def _on_pod(self, pod: Obj) -> None:
        """A pod on a node judged down may need marking or evicting; elsewhere, nothing to do."""
        node = (pod.get("spec") or {}).get("nodeName")
        verdict = self.verdicts.get(str(node)) if node else None
        if verdict is not None and verdict.down:
            self.controller.queue.add(str(node))

    def _on_pod_gone(self, pod: Obj) -> None:
        with self.lock:
            self.evicted.discard(str((pod.get("metadata") or {}).get("uid")))

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Serve one leadership term: the workers, and the monitor every period."""
        self.reset()  # a new term starts with no judgement carried over

        def monitor() -> None:
            while not stop.wait(self.period):
                self.monitor()

        threading.Thread(target=monitor, name=f"{self.name}-monitor", daemon=True).start()
        self.controller.run(stop)

    def monitor(self) -> list[str]:
        """Queue, from the cache, the nodes a silence concerns: never judged yet, past their
        grace period and not yet marked, or down while evictions may go on (their pods fall due
        as time passes). In a disruption, nodes already marked wait for its end."""
        now = self.clock()
        with self.lock:
            self._note_disruption(now)
            verdicts, evicting = dict(self.verdicts), not self.suspended
        names = self.nodes.store.keys()
        due = [n for n in names if self._due(verdicts.get(n), n, evicting, now)]
        for name in due:
            self.controller.queue.add(name)
        return due

    def _due(self, verdict: nh.Verdict | None, name: str, evicting: bool, now: dt.datetime) -> bool:
        if verdict is None or (verdict.down and evicting):
            return True
        if verdict.health == nh.UNREACHABLE:
            return False  # marked already
        lease = self.leases.store.get(f"{LEASE_NAMESPACE}/{name}")
        return nh.expired(verdict.probe, lease, now, self.config)

    def _sync(self, key: str) -> None:
        self.sync(key)

    def sync(self, key: str) -> PassResult:
        """Judge one node from the caches and act on the verdict."""
        now = self.clock()
        result = PassResult()
        node = self.nodes.store.get(key)
        if node is None:
            with self.lock:
                self.verdicts.pop(key, None)
            return result
        lease = self.leases.store.get(f"{LEASE_NAMESPACE}/{key}")
        with self.lock:
            previous = self.verdicts.get(key)
        verdict = nh.judge_node(node, lease, previous.probe if previous else None, now,
                                self.config)  # fmt: skip
        with self.lock:
            noted = self.verdicts.get(key) is not previous  # a renewal noted meanwhile
            self.verdicts[key] = verdict
        if noted:
            self.controller.queue.add(key)  # judged again with it, not lost to this verdict
        result.verdicts.append(verdict)
        if verdict.update is not None and self._write_node(node, verdict):
            result.nodes_written.append(key)
        if not verdict.down and key not in self.evicting:
            return result
        pods = self.pods.store.by_index("node", key)
        if verdict.health == nh.UNREACHABLE:
            result.pods_marked += self._mark_not_ready(pods, now)
        plan = self._plan_evictions(key, pods, now)
        for pod in plan.evict:
            if self._evict(pod):
                result.evicted.append(_ref(pod))
            with self.lock:  # deleted, or gone already: not again while the cache lags
                self.evicted.add(str(pod["metadata"].get("uid")))
        result.suspended = plan.suspended
        return result

    def _plan_evictions(self, key: str, pods: list[Obj], now: dt.datetime) -> nh.EvictionPlan:
        """This node's share of the eviction plan, judged against every node's last verdict
        (the disruption rule) and the one rate limiter."""
        with self.lock:
            self._note_disruption(now)
            live = [p for p in pods if str(p["metadata"].get("uid")) not in self.evicted]
            plan = nh.plan_evictions(
                list(self.verdicts.values()), {key: live}, self.bucket, self.evicting, now,
                self.config, self.calm_since,
            )  # fmt: skip
            self.bucket, self.evicting = plan.bucket, plan.evicting
        if key in plan.waiting:
            log.debug("node %s: eviction held back by the rate limit", key)
        return plan

    # -- effects -------------------------------------------------------------------------------

    def _write_node(self, cached: Obj, verdict: nh.Verdict) -> bool:
        """The conditions through ``/status``, then the taints, each at the version read (as
        Kubernetes' health monitor and tainting passes write them apart)."""
        node = verdict.update
        assert node is not None
        written: Obj | None = cached
        if node.get("status") != cached.get("status"):
            written = writes.replace(self.registry, NODES, node, sub="status")
        if written is not None and node.get("spec") != cached.get("spec"):
            written = writes.replace(self.registry, NODES, {**written, "spec": node["spec"]})
        if written is None:
            log.info("node %s: not updated this time: it changed meanwhile", verdict.name)
            return False
        taints = ", ".join(
            f"{t['key']}:{t['effect']}" for t in (node.get("spec") or {}).get("taints") or []
        )
        log.info("node %s: %s (taints: %s)", verdict.name, verdict.health, taints or "none")
        if verdict.went_down:
            ref = {"kind": "Node", "apiVersion": "v1",
                   "metadata": {"name": verdict.name, "uid": verdict.name}}  # fmt: skip
            message = f"Node {verdict.name} status is now: NodeNotReady"
            events.record(self.registry, ref, "Normal", "NodeNotReady", message, NODE_COMPONENT)
        return True

    def _mark_not_ready(self, pods: list[Obj], now: dt.datetime) -> list[str]:
        marked = []
        for pod in nh.pods_to_mark_not_ready(pods, now):
            if writes.replace(self.registry, PODS, pod, sub="status") is None:
                log.info("pod %s: not marked not ready this time: it changed", _ref(pod))
                continue
            pod["kind"], pod["apiVersion"] = "Pod", "v1"
            events.record(self.registry, pod, "Warning", "NodeNotReady", "Node is not ready",
                          NODE_COMPONENT)  # fmt: skip
            marked.append(_ref(pod))
        return marked

    def _evict(self, pod: Obj) -> bool:
        """Force-delete: the node cannot confirm a graceful stop, and its agent removes the
        containers of pods no longer bound to it when it comes back."""
        pod = {**pod, "kind": "Pod", "apiVersion": "v1"}
        events.record(self.registry, pod, "Normal", "TaintManagerEviction",
                      f"Marking for deletion Pod {_ref(pod)}", EVICTION_COMPONENT)  # fmt: skip
        if not writes.force_delete(self.registry, PODS, pod):
            return False
        log.info("pod %s: evicted from node %s", _ref(pod), pod["spec"].get("nodeName"))
        return True

    def _note_disruption(self, now: dt.datetime) -> None:
        """Log when evictions stop and resume; on resuming, every eviction clock restarts.
        Called with the lock held."""
        verdicts = list(self.verdicts.values())
        suspended = nh.disrupted(verdicts, self.config.unhealthy_threshold)
        if suspended and not self.suspended:
            down = sum(1 for v in verdicts if v.down)
            log.warning(
                "node lifecycle: %d of %d nodes look down (more than %.0f%%): evictions stop "
                "until fewer do (more likely the control plane's connectivity than the nodes)",
                down, len(verdicts), self.config.unhealthy_threshold * 100,
            )  # fmt: skip
        elif self.suspended and not suspended:
            log.warning("node lifecycle: fewer nodes look down; evictions resume, every eviction "
                        "timeout counted from now")  # fmt: skip
            self.calm_since = now
        self.suspended = suspended


# -- flags of `tinykube control` ----------------------------------------------------------------


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return seconds


def _positive_duration(text: str) -> float:
    seconds = _duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return seconds


def add_flags(p: argparse.ArgumentParser) -> None:
    """kube-controller-manager's flags of this controller, with tinykube's defaults."""
    d = nh.Config()
    p.add_argument("--node-monitor-grace-period", type=_duration, default=d.grace_period,
                   metavar="DURATION", help="no lease renewal for this long: the node is "
                   f"NotReady (default {d.grace_period:g}s)")  # fmt: skip
    p.add_argument("--pod-eviction-timeout", type=_duration, default=d.eviction_timeout,
                   metavar="DURATION", help="then, after this long, its pods are deleted "
                   f"(default {d.eviction_timeout:g}s)")  # fmt: skip
    p.add_argument("--node-eviction-rate", type=float, default=d.eviction_rate, metavar="N",
                   help="nodes per second whose pods may start being evicted "
                   f"(default {d.eviction_rate:g})")  # fmt: skip
    p.add_argument("--unhealthy-zone-threshold", type=float, default=d.unhealthy_threshold,
                   metavar="F", help="evict nothing while more than this share of the nodes "
                   f"is down (default {d.unhealthy_threshold:g})")  # fmt: skip
    p.add_argument("--min-node-heartbeat-interval", type=_positive_duration, default=MIN_INTERVAL,
                   metavar="DURATION", help="shortest Lease renew interval handed to the nodes; "
                   "the grace period holds at it and scales with a longer one "
                   f"(default {MIN_INTERVAL:g}s)")  # fmt: skip
    p.add_argument("--max-node-heartbeats-per-second", type=float, default=MAX_PER_SECOND,
                   metavar="N", help="renew intervals grow so that all nodes together renew "
                   f"no more often (0: no cap; default {MAX_PER_SECOND:g})")  # fmt: skip


def config_from(args: argparse.Namespace) -> nh.Config:
    return nh.Config(
        grace_period=args.node_monitor_grace_period,
        eviction_timeout=args.pod_eviction_timeout,
        eviction_rate=args.node_eviction_rate,
        unhealthy_threshold=args.unhealthy_zone_threshold,
        min_heartbeat_interval=args.min_node_heartbeat_interval,
    )


def heartbeat_policy_from(args: argparse.Namespace) -> HeartbeatPolicy:
    """The renew intervals the API server hands to the nodes (``common.heartbeat``)."""
    return HeartbeatPolicy(args.min_node_heartbeat_interval, args.max_node_heartbeats_per_second)
