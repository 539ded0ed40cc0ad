"""The node lifecycle controller: every monitor period it reads the Nodes and their Leases, asks
``nodehealth`` what each node's health is, writes the Unknown conditions and the taints, marks the
pods of unreachable nodes not Ready and force-deletes the pods of down nodes once their eviction
time has come, so that their controllers replace them on other nodes. Shell (store + registry);
time comes from an injected clock."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common import errors, meta
from common.duration import parse_duration
from common.resources import must
from control import events
from control.controllers import nodehealth as nh
from control.controllers import writes
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PODS = must("pods")
LEASE_NAMESPACE = "kube-node-lease"
NODE_COMPONENT = "node-controller"
EVICTION_COMPONENT = "taint-eviction-controller"
# How often the nodes are judged (Kubernetes: --node-monitor-period, 5 s); a grace period is
# detected within this much of its end.
MONITOR_PERIOD = 1.0

Obj = dict[str, Any]


@dataclass
class PassResult:
    """What one monitor pass did (for tests and logs)."""

    verdicts: list[nh.Verdict] = field(default_factory=list)
    nodes_written: list[str] = field(default_factory=list)
    pods_marked: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    suspended: bool = False


def _ref(pod: Obj) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"


class NodeLifecycleController:
    name = "node-lifecycle"
    watches: tuple[str, ...] = ("nodes",)

    def __init__(
        self,
        registry: Registry,
        config: nh.Config | None = None,
        *,
        clock: Callable[[], dt.datetime] = meta.now,
        period: float = MONITOR_PERIOD,
    ) -> None:
        self.registry = registry
        self.store = registry.store
        self.config = config or nh.Config()
        self.clock = clock
        self.period = period
        self.wake = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Forget what was seen: every node gets a full grace period from the next pass."""
        self.probes: dict[str, nh.Probe] = {}
        self.bucket = nh.Bucket()
        self.evicting: frozenset[str] = frozenset()
        self.suspended = False
        self.calm_since: dt.datetime | None = None  # when the last disruption ended

    def run(self, stop: threading.Event) -> None:
        """Judge the nodes every period (and when a Node changes) until ``stop``."""
        self.reset()  # a new leader term starts with no judgement carried over
        while not stop.is_set():
            self.wake.clear()
            try:
                self.monitor()
            except errors.ApiError as e:
                log.warning("node lifecycle: pass failed: %s", e)
            self.wake.wait(self.period)

    def monitor(self) -> PassResult:
        """One pass over every node."""
        now = self.clock()
        result = PassResult()
        nodes, _ = self.store.list("nodes")
        leases, _ = self.store.list("leases", LEASE_NAMESPACE)
        by_name = {str(lease["metadata"]["name"]): lease for lease in leases}
        for node in nodes:
            name = str(node["metadata"]["name"])
            lease, probe = by_name.get(name), self.probes.get(name)
            verdict = nh.judge_node(node, lease, probe, now, self.config)
            self.probes[name] = verdict.probe
            result.verdicts.append(verdict)
            if verdict.update is not None and self._write_node(verdict):
                result.nodes_written.append(name)
        for gone in set(self.probes) - {v.name for v in result.verdicts}:
            del self.probes[gone]
        down = [v for v in result.verdicts if v.down]
        pods_by_node = {v.name: self.store.list("pods", node=v.name)[0] for v in down}
        for v in down:
            if v.health == nh.UNREACHABLE:
                result.pods_marked += self._mark_not_ready(pods_by_node[v.name], now)
        self._note_disruption(result.verdicts, now)
        plan = nh.plan_evictions(
            result.verdicts, pods_by_node, self.bucket, self.evicting, now, self.config,
            self.calm_since,
        )  # fmt: skip
        self.bucket, self.evicting = plan.bucket, plan.evicting
        for node_name in plan.waiting:
            log.debug("node %s: eviction held back by the rate limit", node_name)
        for pod in plan.evict:
            if self._evict(pod):
                result.evicted.append(_ref(pod))
        result.suspended = plan.suspended
        return result

    # -- effects -------------------------------------------------------------------------------

    def _write_node(self, verdict: nh.Verdict) -> bool:
        node = verdict.update
        assert node is not None
        m = node["metadata"]
        try:
            self.store.update("nodes", node, expected_rv=int(m["resourceVersion"]))
        except (errors.ConflictError, errors.NotFoundError) as e:
            log.info("node %s: not updated this pass: %s", verdict.name, e)
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
            try:
                self.store.update("pods", pod, expected_rv=int(pod["metadata"]["resourceVersion"]))
            except (errors.ConflictError, errors.NotFoundError) as e:
                log.info("pod %s: not marked not ready this pass: %s", _ref(pod), e)
                continue
            pod["kind"], pod["apiVersion"] = "Pod", "v1"
            events.record(self.registry, pod, "Warning", "NodeNotReady", "Node is not ready",
                          NODE_COMPONENT)  # fmt: skip
            marked.append(_ref(pod))
        return marked

    def _evict(self, pod: Obj) -> bool:
        """Force-delete: the node cannot confirm a graceful stop, and its agent removes the
        containers of pods no longer bound to it when it comes back."""
        pod["kind"], pod["apiVersion"] = "Pod", "v1"
        events.record(self.registry, pod, "Normal", "TaintManagerEviction",
                      f"Marking for deletion Pod {_ref(pod)}", EVICTION_COMPONENT)  # fmt: skip
        if not writes.force_delete(self.registry, PODS, pod):
            return False
        log.info("pod %s: evicted from node %s", _ref(pod), pod["spec"].get("nodeName"))
        return True

    def _note_disruption(self, verdicts: list[nh.Verdict], now: dt.datetime) -> None:
        """Log when evictions stop and resume; on resuming, every eviction clock restarts."""
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


def config_from(args: argparse.Namespace) -> nh.Config:
    return nh.Config(
        grace_period=args.node_monitor_grace_period,
        eviction_timeout=args.pod_eviction_timeout,
        eviction_rate=args.node_eviction_rate,
        unhealthy_threshold=args.unhealthy_zone_threshold,
    )
