"""Judging node health for the node lifecycle controller, as Kubernetes' node lifecycle and
taint-eviction controllers do: from a Node, its Lease and what the controller last saw of that
Lease, decide the Node's conditions and taints; then which pods to mark not ready and which to
evict (rate-limited per node, and never while most nodes look down at once). Pure: plain objects
and an explicit ``now`` in, decisions out."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common import conditions as cond
from common import meta
from common.heartbeat import MIN_INTERVAL, HeartbeatPolicy
from common.wellknown import (
    DISK_PRESSURE,
    DISK_PRESSURE_TAINT,
    MEMORY_PRESSURE,
    MEMORY_PRESSURE_TAINT,
    NETWORK_UNAVAILABLE,
    NETWORK_UNAVAILABLE_TAINT,
    NODE_CONDITIONS,
    NOT_READY_TAINT,
    PID_PRESSURE,
    PID_PRESSURE_TAINT,
    UNREACHABLE_TAINT,
    UNSCHEDULABLE_TAINT,
)

Obj = dict[str, Any]

# TaintNodesByCondition: a node whose condition is True gets this NoSchedule taint.
CONDITION_TAINTS = ((MEMORY_PRESSURE, MEMORY_PRESSURE_TAINT), (DISK_PRESSURE, DISK_PRESSURE_TAINT),
                    (PID_PRESSURE, PID_PRESSURE_TAINT),
                    (NETWORK_UNAVAILABLE, NETWORK_UNAVAILABLE_TAINT))  # fmt: skip
OWN_TAINTS = (UNREACHABLE_TAINT, NOT_READY_TAINT, UNSCHEDULABLE_TAINT,
              *(taint for _, taint in CONDITION_TAINTS))  # fmt: skip
# The conditions a node controller turns Unknown when the kubelet goes silent (Ready first).
UNKNOWN_REASON, UNKNOWN_MESSAGE = "NodeStatusUnknown", "Kubelet stopped posting node status."
NEVER_REASON, NEVER_MESSAGE = "NodeStatusNeverUpdated", "Kubelet never posted node status."
OWN_REASONS = (UNKNOWN_REASON, NEVER_REASON)

HEALTHY, NOT_READY, UNREACHABLE = "Healthy", "NotReady", "Unreachable"
# Kubernetes' eviction rate limiter lets one node through at once (burst 1), then `rate` per second.
EVICTION_BURST = 1.0


@dataclass(frozen=True)
class Config:
    """Kubernetes: 40 s grace (50 s from 1.32), 300 s before eviction, 0.1 node/s, 55 %."""

    # No Lease renewal for this long: Ready=Unknown. It holds for a node renewing at the
    # shortest interval the server hands out, and scales with a longer one (``grace_for``).
    grace_period: float = 10.0
    eviction_timeout: float = 5.0  # then, after this long, the node's pods are deleted
    eviction_rate: float = 0.1  # nodes per second whose pods may start being evicted
    unhealthy_threshold: float = 0.55  # more than this share of nodes down: evict nothing
    min_heartbeat_interval: float = MIN_INTERVAL  # the API server's shortest renew interval


@dataclass(frozen=True)
class Probe:
    """What the controller last saw of a node's Lease, by its own clock: ``renew`` is the
    renewTime read, ``seen`` when it last changed (or was first read), ``renewed`` whether it
    changed at least once since this controller started watching."""

    renew: str
    seen: dt.datetime
    renewed: bool = False


@dataclass(frozen=True)
class Verdict:
    name: str
    health: str  # HEALTHY, NOT_READY or UNREACHABLE
    probe: Probe
    update: Obj | None  # the Node with its new conditions and taints, if they change
    # When the node's NoExecute taint was added (its eviction clock); None: nothing to evict yet.
    since: dt.datetime | None
    went_down: bool  # Ready changes from True in this update (a NodeNotReady event)

    @property
    def down(self) -> bool:
        return self.health != HEALTHY


@dataclass(frozen=True)
class Bucket:
    """Token bucket of the eviction rate limiter."""

    tokens: float = EVICTION_BURST
    at: dt.datetime | None = None


@dataclass(frozen=True)
class EvictionPlan:
    evict: list[Obj]
    bucket: Bucket
    evicting: frozenset[str]  # nodes whose pods are being evicted (they got their token)
    suspended: bool  # too many nodes down: nothing is evicted
    waiting: list[str] = field(default_factory=list)  # nodes due but held by the rate limit


def condition(obj: Obj, ctype: str) -> Obj | None:
    found = cond.find((obj.get("status") or {}).get("conditions"), ctype)
    return None if found is None else dict(found)


def renew_time(lease: Obj | None) -> str:
    return str(((lease or {}).get("spec") or {}).get("renewTime") or "")


def grace_for(lease: Obj | None, config: Config) -> float:
    """The grace period of the node holding ``lease``, derived from the duration the API server
    gave that Lease (``common.heartbeat``): the configured one at the shortest renew interval,
    as many renewals long at a longer one."""
    policy = HeartbeatPolicy(min_interval=config.min_heartbeat_interval)
    duration = ((lease or {}).get("spec") or {}).get("leaseDurationSeconds")
    return policy.scaled_grace(config.grace_period, duration)


def expired(probe: Probe, lease: Obj | None, now: dt.datetime, config: Config) -> bool:
    """No renewal seen for longer than the node's grace period."""
    return (now - probe.seen).total_seconds() > grace_for(lease, config)


def observe(previous: Probe | None, lease: Obj | None, now: dt.datetime) -> Probe:
    """A first sight starts the grace period now, so a controller that starts (or becomes the
    leader) judges no node before a full grace period: no mass NotReady after an outage."""
    renew = renew_time(lease)
    if previous is None:
        return Probe(renew, now)
    if renew != previous.renew:
        return Probe(renew, now, renewed=True)
    return previous


def _unknown_conditions(node: Obj, now: dt.datetime) -> list[Obj]:
    """Every condition the agent posts turns Unknown (``tryUpdateNodeHealth``); the heartbeat
    times stay as the agent last wrote them."""
    stamp = meta.timestamp(now)
    created = (node.get("metadata") or {}).get("creationTimestamp") or stamp
    out = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    by_type = {c.get("type"): c for c in out}
    for ctype in NODE_CONDITIONS:
        c = by_type.get(ctype)
        if c is None:
            out.append(cond.build(ctype, "Unknown", stamp, NEVER_REASON, NEVER_MESSAGE,
                                  keep_empty=True, lastHeartbeatTime=created))  # fmt: skip
        elif c.get("status") != "Unknown":
            c.update(cond.build(ctype, "Unknown", stamp, UNKNOWN_REASON, UNKNOWN_MESSAGE,
                                previous=c, keep_empty=True))  # fmt: skip
    return out


def _reported_health(ready: Obj | None, probe: Probe) -> str:
    if ready is None or ready.get("status") == "True":
        return HEALTHY
    if ready.get("status") == "False":
        return NOT_READY
    if ready.get("reason") in OWN_REASONS and probe.renewed:
        return HEALTHY  # renewing again: the agent will post its own conditions next
    return UNREACHABLE


def _unreported(node: Obj) -> bool:
    """The node has posted no Ready condition yet and holds the not-ready NoSchedule taint it
    was created with (TaintNodesByCondition admission): it keeps it until it reports Ready."""
    taints = (node.get("spec") or {}).get("taints") or []
    return condition(node, "Ready") is None and any(
        t.get("key") == NOT_READY_TAINT and t.get("effect") == "NoSchedule" for t in taints
    )


def desired_taints(node: Obj, health: str, now: dt.datetime) -> list[Obj]:
    """The node's taints with the controller's own ones matching ``health`` and cordoning
    (doNoScheduleTaintingPass and doNoExecuteTaintingPass); other taints are kept as they are,
    existing ones keep their ``timeAdded``."""
    spec = node.get("spec") or {}
    wanted: list[tuple[str, str]] = []
    if health == UNREACHABLE:
        wanted += [(UNREACHABLE_TAINT, "NoSchedule"), (UNREACHABLE_TAINT, "NoExecute")]
    elif health == NOT_READY:
        wanted += [(NOT_READY_TAINT, "NoSchedule"), (NOT_READY_TAINT, "NoExecute")]
    elif _unreported(node):
        wanted.append((NOT_READY_TAINT, "NoSchedule"))
    if health != UNREACHABLE:  # a silent node's conditions are all Unknown
        wanted += [(taint, "NoSchedule") for ctype, taint in CONDITION_TAINTS
                   if (condition(node, ctype) or {}).get("status") == "True"]  # fmt: skip
    if spec.get("unschedulable"):
        wanted.append((UNSCHEDULABLE_TAINT, "NoSchedule"))
    out = [
        dict(t)
        for t in spec.get("taints") or []
        if t.get("key") not in OWN_TAINTS or (t.get("key"), t.get("effect")) in wanted
    ]
    have = {(t.get("key"), t.get("effect")) for t in out}
    for key, effect in wanted:
        if (key, effect) not in have:
            taint = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = meta.timestamp(now)
            out.append(taint)
    return out


def _eviction_clock(taints: Sequence[Obj], health: str, now: dt.datetime) -> dt.datetime | None:
    key = {UNREACHABLE: UNREACHABLE_TAINT, NOT_READY: NOT_READY_TAINT}.get(health)
    for t in taints:
        if t.get("key") == key and t.get("effect") == "NoExecute":
            return meta.parse_time(t.get("timeAdded")) or now
    return None


def judge_node(
    node: Obj, lease: Obj | None, previous: Probe | None, now: dt.datetime, config: Config
) -> Verdict:
    """The node's health, and the Node to write when its conditions or taints must change."""
    name = str(node["metadata"]["name"])
    probe = observe(previous, lease, now)
    status = node.get("status") or {}
    conditions = list(status.get("conditions") or [])
    ready = condition(node, "Ready")
    silent = expired(probe, lease, now, config)
    if silent:
        health = UNREACHABLE
        conditions = _unknown_conditions(node, now)
    else:
        health = _reported_health(ready, probe)
    taints = desired_taints(node, health, now)
    spec = node.get("spec") or {}
    update = None
    taints_changed = taints != list(spec.get("taints") or [])
    if taints_changed or conditions != list(status.get("conditions") or []):
        update = copy.deepcopy(node)
        update.setdefault("status", {})["conditions"] = conditions
        if taints_changed:  # a spec change, so a new generation, as the API server counts
            m = update["metadata"]
            m["generation"] = int(m.get("generation") or 1) + 1
        if taints:
            update.setdefault("spec", {})["taints"] = taints
        else:
            update.setdefault("spec", {}).pop("taints", None)
    went_down = update is not None and (ready or {}).get("status") == "True" and health != HEALTHY
    # A node marked Unknown before this controller started is not evicted before this controller
    # has itself waited a full grace period without a renewal.
    since = _eviction_clock(taints, health, now) if silent or health == NOT_READY else None
    return Verdict(name, health, probe, update, since, went_down)


def pods_to_mark_not_ready(pods: Sequence[Obj], now: dt.datetime) -> list[Obj]:
    """``MarkPodsNotReady``: the pods of an unreachable node whose Ready condition is True, with
    it set to False (the agent that would say otherwise cannot be heard)."""
    out = []
    for pod in pods:
        ready = condition(pod, "Ready")
        if ready is None or ready.get("status") != "True":
            continue
        changed = copy.deepcopy(pod)
        for c in changed["status"]["conditions"]:
            if c.get("type") == "Ready":
                c.update(status="False", lastTransitionTime=meta.timestamp(now))
        out.append(changed)
    return out


def _toleration_seconds(pod: Obj, key: str) -> tuple[bool, float | None]:
    """Whether the pod tolerates the NoExecute taint ``key``, and for how long (None: forever)."""
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") not in (None, "", "NoExecute"):
            continue
        if t.get("operator") == "Exists":
            if t.get("key") not in (None, "", key):
                continue
        elif t.get("key") != key or t.get("value", "") != "":
            continue
        seconds = t.get("tolerationSeconds")
        return True, None if seconds is None else max(0.0, float(seconds))
    return False, None


def eviction_time(
    pod: Obj, verdict: Verdict, config: Config, calm_since: dt.datetime | None = None
) -> dt.datetime | None:
    """When ``pod`` on the down node becomes due: its own toleration of the node's NoExecute
    taint if it has one (Kubernetes' tolerationSeconds), else the configured eviction timeout
    (Kubernetes' default toleration of 300 s), counted from the taint or from the end of the
    last disruption (``calm_since``), whichever is later. None: never."""
    if verdict.since is None:
        return None
    start = max(verdict.since, calm_since) if calm_since is not None else verdict.since
    key = UNREACHABLE_TAINT if verdict.health == UNREACHABLE else NOT_READY_TAINT
    tolerated, seconds = _toleration_seconds(pod, key)
    if tolerated and seconds is None:
        return None
    delay = seconds if tolerated and seconds is not None else config.eviction_timeout
    return start + dt.timedelta(seconds=delay)


def _refill(bucket: Bucket, now: dt.datetime, rate: float) -> Bucket:
    if bucket.at is None:
        return Bucket(bucket.tokens, now)
    elapsed = max(0.0, (now - bucket.at).total_seconds())
    return Bucket(min(EVICTION_BURST, bucket.tokens + elapsed * max(0.0, rate)), now)


def disrupted(verdicts: Sequence[Verdict], threshold: float) -> bool:
    """More than ``threshold`` of the nodes look down at once: more likely the control plane's
    own connectivity than the nodes, so evicting would do harm (Kubernetes stops evictions)."""
    down = sum(1 for v in verdicts if v.down)
    return bool(verdicts) and down / len(verdicts) > threshold


def plan_evictions(
    verdicts: Sequence[Verdict],
    pods_by_node: Mapping[str, Sequence[Obj]],
    bucket: Bucket,
    evicting: frozenset[str],
    now: dt.datetime,
    config: Config,
    calm_since: dt.datetime | None = None,
) -> EvictionPlan:
    """The pods to delete now. A down node takes a token of the rate limiter when its first pods
    fall due; after that its pods go as they fall due, until the node is healthy again.

    ``calm_since`` is when the last disruption ended: no eviction clock counts the time spent
    in it, so a node still silent when the others come back gets its full timeout from then
    (Kubernetes resets its nodes' timestamps when it leaves full disruption, and only taints
    nodes once their zone is no longer disrupted)."""
    bucket = _refill(bucket, now, config.eviction_rate)
    down = sorted(
        (v for v in verdicts if v.down),
        key=lambda v: (v.since or now, v.name),
    )
    still = frozenset(v.name for v in down) & evicting
    if disrupted(verdicts, config.unhealthy_threshold):
        return EvictionPlan([], bucket, still, True)
    tokens, chosen, waiting, evict = bucket.tokens, set(still), [], []
    for v in down:
        due = []
        for pod in pods_by_node.get(v.name, ()):
            when = eviction_time(pod, v, config, calm_since)
            if when is not None and when <= now:
                due.append(pod)
        if not due:
            continue
        if v.name not in chosen:
            if tokens < 1.0:
                waiting.append(v.name)
                continue
            tokens -= 1.0
            chosen.add(v.name)
        evict += due
    return EvictionPlan(evict, Bucket(tokens, now), frozenset(chosen), False, waiting)
