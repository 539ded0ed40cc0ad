"""Choosing a node for a pod: filters (cordoned, taints, nodeSelector and node affinity, host
ports, cpu/memory/pod count against allocatable, volumes, then the per-cycle plugins: topology
spread, inter-pod affinity), then a score (the plugins' weighted scores, then least allocated,
spread of the pod's siblings, fewest pods). Pure: plain objects in, a decision out; nothing here
reads a clock or store."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from common import quantity
from common.objects import Node, Pod, Taint
from common.wellknown import UNSCHEDULABLE_TAINT
from control.schedplugins.defaultpreemption import NOT_HELPFUL, fit_error, histogram
from control.schedplugins.defaultpreemption import preemption_message as _preemption
from control.schedplugins.framework import CycleState
from control.schedplugins.nodeaffinity import REASON as NODE_AFFINITY
from control.schedplugins.nodeaffinity import NodeAffinity
from control.volumebinding import NONE, VolumeWants, volume_conflict

Obj = dict[str, Any]
TERMINAL = ("Succeeded", "Failed")
# NodeUnschedulable: a cordoned node takes only the pods that tolerate this taint.
CORDONED: Taint = {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
UNSCHEDULABLE = "node(s) were unschedulable"
# Kubernetes schedules 110 pods per node unless the node says otherwise.
DEFAULT_MAX_PODS = 110
# Quantities are parsed once each: a decision reads every node's allocatable, and a cluster has
# few distinct values (parsing is most of a decision's time otherwise).
PARSED_QUANTITIES = 4096
parse_cpu_millis = lru_cache(PARSED_QUANTITIES)(quantity.parse_cpu_millis)
parse_bytes = lru_cache(PARSED_QUANTITIES)(quantity.parse_bytes)
# A count (allocatable pods) is read as bytes are: the quantity's ``Value()``, rounded up.
parse_count = parse_bytes


@dataclass
class NodeUsage:
    """What the pods already bound to a node take from it."""

    cpu_millis: int = 0
    memory: int = 0
    pods: int = 0
    host_ports: set[tuple[str, int]] = field(default_factory=set)
    owners: Counter[str] = field(default_factory=Counter)

    def add(self, pod: Pod) -> None:
        cpu, mem = pod_requests(pod)
        self.cpu_millis += cpu
        self.memory += mem
        self.pods += 1
        self.host_ports |= host_ports(pod)
        owner = controller_uid(pod)
        if owner:
            self.owners[owner] += 1

    def remove(self, pod: Pod) -> None:
        """Take back what ``add`` counted for ``pod``; its host ports are freed (the caller adds
        back those another pod of the node still holds)."""
        cpu, mem = pod_requests(pod)
        self.cpu_millis -= cpu
        self.memory -= mem
        self.pods -= 1
        self.host_ports -= host_ports(pod)
        owner = controller_uid(pod)
        if owner:
            self.owners[owner] -= 1
            if self.owners[owner] <= 0:
                del self.owners[owner]


@dataclass(frozen=True)
class Decision:
    node: str | None
    message: str  # why no node fits, in kube-scheduler's words
    statuses: Mapping[str, str] = field(default_factory=dict)  # node -> why it was refused
    nominate: str | None = None  # the node victims are preempted on, for the pod to go to
    victims: tuple[Pod, ...] = ()
    # Pods of lower priority nominated to that node before: their nomination is withdrawn.
    denominated: tuple[Pod, ...] = ()
    # Nodes filtered (feasible or refused) before a node was chosen: the next pod's search
    # starts this far on. 0 when none fits: every node was filtered, the start stays.
    processed: int = 0


def _container_requests(c: Mapping[str, Any]) -> tuple[int, int]:
    requests = (c.get("resources") or {}).get("requests") or {}
    cpu = parse_cpu_millis(requests["cpu"]) if "cpu" in requests else 0
    return cpu, parse_bytes(requests["memory"]) if "memory" in requests else 0


def pod_requests(pod: Pod) -> tuple[int, int]:
    """The pod's cpu (millicores) and memory requests as kube-scheduler counts them
    (component-helpers' PodRequests): its app containers and native sidecars together, or the
    largest init container plus the sidecars started before it, whichever is larger, plus
    ``spec.overhead``."""
    spec = pod.get("spec") or {}
    cpu = mem = 0
    for c in spec.get("containers") or []:
        c_cpu, c_mem = _container_requests(c)
        cpu, mem = cpu + c_cpu, mem + c_mem
    side_cpu = side_mem = init_cpu = init_mem = 0
    for c in spec.get("initContainers") or []:
        c_cpu, c_mem = _container_requests(c)
        if c.get("restartPolicy") == "Always":
            cpu, mem = cpu + c_cpu, mem + c_mem
            side_cpu, side_mem = side_cpu + c_cpu, side_mem + c_mem
            c_cpu, c_mem = side_cpu, side_mem
        else:
            c_cpu, c_mem = c_cpu + side_cpu, c_mem + side_mem
        init_cpu, init_mem = max(init_cpu, c_cpu), max(init_mem, c_mem)
    cpu, mem = max(cpu, init_cpu), max(mem, init_mem)
    overhead = spec.get("overhead")
    if not isinstance(overhead, Mapping):
        return cpu, mem
    if "cpu" in overhead:
        cpu += parse_cpu_millis(overhead["cpu"])
    if "memory" in overhead:
        mem += parse_bytes(overhead["memory"])
    return cpu, mem


def host_ports(pod: Pod) -> set[tuple[str, int]]:
    """The host ports the pod holds on its node, as kube-scheduler's GetHostPorts: its app
    containers' and its native sidecars' (init containers that run as long as the pod)."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    out = set()
    for c in [*sidecars, *(spec.get("containers") or [])]:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.add((str(p.get("protocol", "TCP")), int(p["hostPort"])))
    return out


def controller_uid(pod: Pod) -> str:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""


def counts_on_node(pod: Pod) -> bool:
    """Whether ``pod`` takes from its node: bound there and not finished."""
    node = (pod.get("spec") or {}).get("nodeName")
    return bool(node) and (pod.get("status") or {}).get("phase") not in TERMINAL


def usage_by_node(pods: Iterable[Pod]) -> dict[str, NodeUsage]:
    usage: dict[str, NodeUsage] = {}
    for pod in pods:
        if counts_on_node(pod):
            usage.setdefault(pod["spec"]["nodeName"], NodeUsage()).add(pod)
    return usage


def tolerates_node(pod: Pod, node: Node) -> bool:
    """Whether ``pod`` tolerates every NoSchedule and NoExecute taint of ``node``."""
    return all(_tolerates(pod, t) for t in _filtering_taints(node.get("spec") or {}))


def _filtering_taints(spec: Mapping[str, Any]) -> tuple[Taint, ...]:
    """The taints of a node's ``spec`` that keep pods off it (TaintToleration's filter):
    NoSchedule and NoExecute (a PreferNoSchedule taint keeps no pod off)."""
    return tuple(
        t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")
    )


def _tolerates(pod: Pod, taint: Taint) -> bool:
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


@dataclass(frozen=True)
class _Wants:
    """What a pod asks of a node, read once per decision."""

    cpu: int
    memory: int
    ports: set[tuple[str, int]]
    selector: Mapping[str, str]
    owner: str
    affinity: NodeAffinity | None  # only when the pod has node affinity

    @staticmethod
    def of(pod: Pod) -> _Wants:
        cpu, mem = pod_requests(pod)
        spec = pod.get("spec") or {}
        has_affinity = (spec.get("affinity") or {}).get("nodeAffinity")
        affinity = NodeAffinity.of(pod) if has_affinity else None
        selector = spec.get("nodeSelector") or {}
        return _Wants(cpu, mem, host_ports(pod), selector, controller_uid(pod), affinity)


def unfit_reason(
    pod: Pod,
    node: Node,
    usage: NodeUsage,
    volumes: VolumeWants = NONE,
    state: CycleState | None = None,
) -> str | None:
    """Why ``pod`` cannot go to ``node`` (kube-scheduler's reason text), or None if it fits."""
    return _refusal(pod, _Wants.of(pod), NodeFacts.of(node), usage, volumes, state)


def _refusal(
    pod: Pod,
    wants: _Wants,
    facts: NodeFacts,
    usage: NodeUsage,
    volumes: VolumeWants,
    state: CycleState | None,
) -> str | None:
    """Every Filter in kube-scheduler's order; the first refusal."""
    reason = facts.refusal(pod, wants, usage) or volume_conflict(volumes, facts.node)
    if reason is None and state is not None:
        return state.filter(facts.node)
    return reason


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the filters and the score read of a node, read once per version of the node (as
    kube-scheduler's NodeInfo keeps a node's allocatable parsed): ``node`` is the object they
    were read from. A decision looks at hundreds of nodes, each time for every pod."""

    node: Node
    name: str
    unschedulable: bool
    taints: tuple[Taint, ...]  # NoSchedule and NoExecute
    labels: Mapping[str, str]
    max_pods: int
    cpu: int | None  # allocatable, None when the node says nothing
    memory: int | None
    # The score's denominators, never 0: a node that says nothing counts one core and one byte.
    score_cpu: int
    score_memory: int

    @staticmethod
    def of(node: Node) -> NodeFacts:
        spec = node.get("spec") or {}
        meta = node.get("metadata") or {}
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        cpu = parse_cpu_millis(allocatable["cpu"]) if "cpu" in allocatable else None
        memory = parse_bytes(allocatable["memory"]) if "memory" in allocatable else None
        return NodeFacts(
            node, str(meta["name"]), bool(spec.get("unschedulable")), _filtering_taints(spec),
            meta.get("labels") or {}, parse_count(allocatable.get("pods", DEFAULT_MAX_PODS)),
            cpu, memory, (1000 if cpu is None else cpu) or 1, (memory or 1),
        )  # fmt: skip

    def refusal(self, pod: Pod, wants: _Wants, usage: NodeUsage) -> str | None:
        """NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit. A node
        that is not Ready is refused by the taints the node lifecycle controller puts on it (and
        the one a new Node is created with), as Kubernetes does since TaintNodesByCondition."""
        if self.unschedulable and not _tolerates(pod, CORDONED):
            return UNSCHEDULABLE
        for taint in self.taints:
            if not _tolerates(pod, taint):
                key, value = taint.get("key"), taint.get("value", "")
                return f"node(s) had untolerated taint {{{key}: {value}}}"
        if wants.selector and any(self.labels.get(k) != v for k, v in wants.selector.items()):
            return NODE_AFFINITY
        if wants.affinity is not None and not wants.affinity.matches(self.node):
            return NODE_AFFINITY
        if wants.ports and wants.ports & usage.host_ports:
            return "node(s) didn't have free ports for the requested pod ports"
        if usage.pods + 1 > self.max_pods:
            return "Too many pods"
        if wants.cpu and self.cpu is not None and wants.cpu > self.cpu - usage.cpu_millis:
            return "Insufficient cpu"
        if wants.memory and self.memory is not None and wants.memory > self.memory - usage.memory:
            return "Insufficient memory"
        return None

    def score(self, wants: _Wants, usage: NodeUsage, plugins: int = 0) -> Score:
        used = (
            (usage.cpu_millis + wants.cpu) / self.score_cpu
            + (usage.memory + wants.memory) / self.score_memory
        ) / 2
        siblings = usage.owners.get(wants.owner, 0) if wants.owner else 0
        # Lower sorts first: the plugins' highest score, fewest siblings (spread), least
        # allocated, fewest pods, then by name.
        return (-plugins, siblings, round(used, 3), usage.pods, self.name)


Score = tuple[int, int, float, int, str]


# kube-scheduler's minFeasibleNodesToFind and minFeasibleNodesPercentageToFind.
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5


def nodes_to_find(total: int, percentage: int = 0) -> int:
    """How many feasible nodes the search stops at (kube-scheduler's numFeasibleNodesToFind):
    every node below 100; else ``percentage`` of them (0: adaptive, 50 % less 1 % per 125
    nodes, at least 5 %), and at least 100. Scoring a sample of a large cluster costs a pod
    less than scoring all of it, and picks as well."""
    if total < MIN_FEASIBLE_NODES or percentage >= 100:
        return total
    if percentage <= 0:
        percentage = max(MIN_FEASIBLE_PERCENTAGE, 50 - total // 125)
    return max(MIN_FEASIBLE_NODES, total * percentage // 100)


def select_node(
    pod: Pod,
    nodes: Iterable[Node],
    usage: Mapping[str, NodeUsage],
    volumes: VolumeWants = NONE,
    state: CycleState | None = None,
    *,
    start: int = 0,
    to_find: int = 0,
    facts: MutableMapping[str, NodeFacts] | None = None,
) -> Decision:
    """The node ``pod`` should run on, or None and kube-scheduler's explanation (with the
    refusal of each node, for preemption to read). The nodes are filtered from index ``start``
    on, round the list, until ``to_find`` of them fit (0: all are filtered), as
    findNodesThatPassFilters does; the decision says how many were looked at. ``facts``: the
    caller's ``NodeFacts`` by node name, kept up to date here (read again where a node changed)."""
    nodes = list(nodes)
    if volumes.error and nodes:
        return _refused(len(nodes), volumes.error)
    wants = _Wants.of(pod)
    fits: list[tuple[NodeFacts, NodeUsage]] = []
    statuses: dict[str, str] = {}
    empty = NodeUsage()
    count = len(nodes)
    start = start % count if count else 0
    known = {} if facts is None else facts
    for node in itertools.chain(itertools.islice(nodes, start, None), nodes[:start]):
        name = node["metadata"]["name"]
        f = known.get(name)
        if f is None or f.node is not node:
            f = known[name] = NodeFacts.of(node)
        u = usage.get(name) or empty
        reason = _refusal(pod, wants, f, u, volumes, state)
        if reason is None:
            fits.append((f, u))
            if len(fits) == to_find:
                break
        else:
            statuses[name] = reason
    if fits:
        plugins = state.scores([f.node for f, _ in fits]) if state is not None else [0] * len(fits)
        best = min(f.score(wants, u, p) for (f, u), p in zip(fits, plugins, strict=True))
        return Decision(best[-1], "", processed=len(fits) + len(statuses))
    if not nodes:
        return Decision(None, "no nodes available to schedule pods")
    reasons = Counter(statuses.values())
    return Decision(None, fit_error(len(nodes), histogram(reasons), _preemption(
        len(nodes), {NOT_HELPFUL: len(nodes)})), statuses)  # fmt: skip


def _refused(count: int, detail: str) -> Decision:
    return Decision(None, fit_error(count, detail, _preemption(count, {NOT_HELPFUL: count})))
