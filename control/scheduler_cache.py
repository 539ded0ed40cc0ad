"""kube-scheduler's cache: the Nodes and, per node, what its pods take (``NodeUsage``), kept up to
date by the informers' events one pod or node at a time, never recomputed from a full list.
A pod the scheduler chose a node for is *assumed* there before its binding is written, so the
next pod already sees it; the informer's add of the bound pod confirms it, a failed bind forgets
it (assumed pods never expire, as in Kubernetes). Pods with inter-pod terms are indexed apart, so
a plain pod's cycle never walks the pods, and a pod nominated to a node after preempting there
holds its room against pods of lower priority. When nothing fits, the dry run of DefaultPreemption
runs on the same cache (and the PodDisruptionBudgets the scheduler hands it). A data structure
with its own lock: no I/O."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from common.informer import key_of
from common.objects import Node, Pod, as_node, as_pod
from control.schedplugins import defaultpreemption as dp
from control.schedplugins import framework
from control.schedplugins.interpodaffinity import Existing, PodTerms, has_terms
from control.scheduler import (
    Decision,
    NodeFacts,
    NodeUsage,
    counts_on_node,
    host_ports,
    nodes_to_find,
    select_node,
    tolerates_node,
    unfit_reason,
)
from control.volumebinding import NONE, VolumeWants

Obj = Mapping[str, Any]


class _PodsOn(Mapping[str, Sequence[Obj]]):
    """The pods counted on each node, read lazily from the cache (inside its lock); ``left``
    replaces one node's pods (a preemption dry run)."""

    def __init__(
        self, cache: SchedulerCache, left: tuple[str, Sequence[Obj]] | None = None
    ) -> None:
        self._cache, self._left = cache, left

    def __getitem__(self, node: str) -> Sequence[Obj]:
        if self._left is not None and self._left[0] == node:
            return self._left[1]
        return [self._cache._pods[k] for k in self._cache._on_node[node]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache._on_node)

    def __len__(self) -> int:
        return len(self._cache._on_node)


class SchedulerCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, Node] = {}
        # Each node's filters' and score's view, read once per version (``select_node``).
        self._facts: dict[str, NodeFacts] = {}
        # Where the next search for a node starts (kube-scheduler's nextStartNodeIndex), so
        # that the sampled nodes go round the cluster.
        self._next_start = 0
        self._usage: dict[str, NodeUsage] = {}
        self._pods: dict[str, Pod] = {}  # key -> the pod counted in its node's usage
        self._on_node: dict[str, set[str]] = {}  # node -> keys of the pods counted there
        self._assumed: set[str] = set()
        self._with_terms: dict[str, Existing] = {}  # counted pods with inter-pod terms
        self._nominated: dict[str, tuple[str, Pod]] = {}  # key -> (node, pod) after preempting
        # A namespace's labels (namespaceSelector of inter-pod terms); set by the scheduler.
        self.namespace_labels: Callable[[str], Mapping[str, str]] = lambda _ns: {}
        # Every PodDisruptionBudget, read by the preemption dry run; set by the scheduler.
        self.disruption_budgets: Callable[[], Sequence[Obj]] = lambda: ()

    # -- nodes --------------------------------------------------------------------------------

    def set_node(self, node: Node) -> None:
        """A node was added or changed."""
        with self._lock:
            self._nodes[node["metadata"]["name"]] = node

    def remove_node(self, node: Node) -> None:
        """A node was deleted; what its pods take stays counted until they go too."""
        name = node["metadata"]["name"]
        with self._lock:
            self._nodes.pop(name, None)
            self._facts.pop(name, None)
            self._drop_empty(name)

    # -- pods ---------------------------------------------------------------------------------

    def set_pod(self, pod: Pod) -> None:
        """A pod seen by the informer was added or changed: counted on its node while it is bound
        and not finished. An assumed pod seen bound is confirmed."""
        key = key_of(pod)
        with self._lock:
            self._assumed.discard(key)
            self._uncount(key)
            if pod.get("spec", {}).get("nodeName"):
                self._nominated.pop(key, None)
            if counts_on_node(pod):
                self._count(key, pod)

    def remove_pod(self, pod: Pod) -> str | None:
        """A pod was deleted; returns the node it was counted on, if any."""
        with self._lock:
            self._assumed.discard(key_of(pod))
            self._nominated.pop(key_of(pod), None)
            return self._uncount(key_of(pod))

    def nominate(self, pod: Pod, node: str | None) -> None:
        """``pod`` waits for room made on ``node`` (None: no longer)."""
        with self._lock:
            if node:
                self._nominated[key_of(pod)] = (node, pod)
            else:
                self._nominated.pop(key_of(pod), None)

    def nominated_node(self, key: str) -> str | None:
        with self._lock:
            found = self._nominated.get(key)
            return found[0] if found else None

    def assume(self, pod: Pod, node: str) -> None:
        """Count ``pod`` on ``node`` before its binding is written (AssumePod)."""
        key = key_of(pod)
        with self._lock:
            self._assume(key, pod, node)

    def forget(self, pod: Pod) -> str | None:
        """The binding of an assumed pod failed: take it back (ForgetPod). Returns its node."""
        key = key_of(pod)
        with self._lock:
            if key not in self._assumed:
                return None
            self._assumed.discard(key)
            return self._uncount(key)

    def is_assumed(self, key: str) -> bool:
        with self._lock:
            return key in self._assumed

    # -- decisions ----------------------------------------------------------------------------

    def schedule(self, pod: Pod, volumes: VolumeWants = NONE) -> Decision:
        """Pick a node for ``pod`` (``select_node``) on the cache as it is, and assume the pod
        there in the same step, so two decisions never both count the same free room. When no
        node fits, the preemption dry run names the node to nominate and its victims."""
        with self._lock:
            state = self._pre_filter(pod)
            usage = self._usage_for(pod)
            count = len(self._nodes)
            decision = select_node(
                pod, self._nodes.values(), usage, volumes, state,
                start=self._next_start, to_find=nodes_to_find(count), facts=self._facts,
            )  # fmt: skip
            if count:
                self._next_start = (self._next_start + decision.processed) % count
            if decision.node is not None:
                self._assume(key_of(pod), pod, decision.node)
                self._nominated.pop(key_of(pod), None)
                return decision
            if not decision.statuses:
                return decision
            return self._preempt(pod, decision, volumes)

    def fits(self, pod: Pod, node: str) -> bool:
        """Whether ``pod`` fits on ``node`` now (the hint that moves an unschedulable pod)."""
        with self._lock:
            obj = self._nodes.get(node)
            if obj is None:
                return False
            return unfit_reason(pod, obj, self._usage.get(node) or NodeUsage()) is None

    def usage(self, node: str) -> NodeUsage:
        """A copy of what the pods counted on ``node`` take."""
        with self._lock:
            u = self._usage.get(node) or NodeUsage()
            return NodeUsage(u.cpu_millis, u.memory, u.pods, set(u.host_ports), u.owners.copy())

    def node_names(self) -> list[str]:
        with self._lock:
            return sorted(self._nodes)

    # -- inside the lock ----------------------------------------------------------------------

    def _snapshot(self, left: tuple[str, Sequence[Obj]] | None = None) -> framework.Snapshot:
        with_terms: Sequence[Existing] = tuple(self._with_terms.values())
        if left is not None and with_terms:
            kept = {id(p) for p in left[1]}
            with_terms = [e for e in with_terms if e.node != left[0] or id(e.pod) in kept]
        return framework.Snapshot(
            self._nodes, _PodsOn(self, left), with_terms, self.namespace_labels
        )

    def _pre_filter(
        self, pod: Pod, left: tuple[str, Sequence[Obj]] | None = None
    ) -> framework.CycleState | None:
        snapshot = self._snapshot(left)
        if framework.plain(pod, snapshot):
            return None
        return framework.pre_filter(pod, snapshot, lambda node: tolerates_node(pod, as_node(node)))

    def _nominated_for(self, pod: Pod) -> dict[str, list[Pod]]:
        """Pods nominated to each node whose room ``pod`` may not take: of its priority or
        higher (kube-scheduler adds them to the node while filtering)."""
        key, mine = key_of(pod), dp.priority(pod)
        out: dict[str, list[Pod]] = {}
        for other_key, (node, other) in self._nominated.items():
            if other_key != key and dp.priority(other) >= mine:
                out.setdefault(node, []).append(other)
        return out

    def _usage_for(self, pod: Pod) -> Mapping[str, NodeUsage]:
        if not self._nominated:
            return self._usage
        extra = self._nominated_for(pod)
        if not extra:
            return self._usage
        usage = dict(self._usage)
        for node, pods in extra.items():
            u = usage.get(node) or NodeUsage()
            u = NodeUsage(u.cpu_millis, u.memory, u.pods, set(u.host_ports), u.owners.copy())
            for other in pods:
                u.add(other)
            usage[node] = u
        return usage

    def _preempt(self, pod: Pod, decision: Decision, volumes: VolumeWants) -> Decision:
        """DefaultPreemption's PostFilter on the cache: a nominated node and its victims, or the
        refusal with the reason of every node."""
        total = len(self._nodes)
        filtered = dp.histogram(Counter(decision.statuses.values()))
        nominated = self._nominated.get(key_of(pod), ("", pod))[0] or str(
            (pod.get("status") or {}).get("nominatedNodeName") or ""
        )
        on_nominated = [self._pods[k] for k in self._on_node.get(nominated, ())]
        # A nominated node that is gone counts as one removing pods cannot cure.
        status = decision.statuses.get(nominated, "") if nominated else None
        why = dp.ineligible(pod, on_nominated, status)
        if why is not None:
            message = dp.fit_error(total, filtered, f"preemption: {why}")
            return dataclasses.replace(decision, message=message)
        extra = self._nominated_for(pod)

        def fits(node: str, left: Sequence[Obj]) -> str | None:
            usage = NodeUsage()
            for other in [*left, *extra.get(node, ())]:
                usage.add(as_pod(other))
            state = self._pre_filter(pod, (node, left))
            return unfit_reason(pod, self._nodes[node], usage, volumes, state)

        candidate, reasons = dp.preempt(
            pod, decision.statuses, _PodsOn(self), fits, self.disruption_budgets()
        )
        if candidate is None:
            message = dp.fit_error(total, filtered, dp.preemption_message(total, reasons))
            return dataclasses.replace(decision, message=message)
        mine = dp.priority(pod)
        lower = [k for k, (n, p) in self._nominated.items()
                 if n == candidate.node and dp.priority(p) < mine]  # fmt: skip
        denominated = tuple(self._nominated.pop(k)[1] for k in lower)
        self._nominated[key_of(pod)] = (candidate.node, pod)
        return dataclasses.replace(
            decision,
            message=dp.fit_error(total, filtered),
            nominate=candidate.node,
            victims=tuple(candidate.victims),  # type: ignore[arg-type]
            denominated=denominated,
        )

    def _assume(self, key: str, pod: Pod, node: str) -> None:
        self._uncount(key)
        self._count(key, {**pod, "spec": {**pod.get("spec", {}), "nodeName": node}})
        self._assumed.add(key)

    def _count(self, key: str, pod: Pod) -> None:
        node = str(pod["spec"]["nodeName"])
        self._pods[key] = pod
        self._on_node.setdefault(node, set()).add(key)
        self._usage.setdefault(node, NodeUsage()).add(pod)
        if has_terms(pod):
            self._with_terms[key] = Existing(pod, PodTerms.of(pod), node)

    def _uncount(self, key: str) -> str | None:
        pod = self._pods.pop(key, None)
        if pod is None:
            return None
        self._with_terms.pop(key, None)
        node = str(pod["spec"]["nodeName"])
        usage = self._usage[node]
        usage.remove(pod)
        keys = self._on_node[node]
        keys.discard(key)
        if host_ports(pod):  # another pod of the node may hold the same port
            for other in keys:
                usage.host_ports |= host_ports(self._pods[other])
        self._drop_empty(node)
        return node

    def _drop_empty(self, node: str) -> None:
        usage = self._usage.get(node)
        if usage is not None and usage.pods <= 0 and node not in self._nodes:
            del self._usage[node]
            self._on_node.pop(node, None)
