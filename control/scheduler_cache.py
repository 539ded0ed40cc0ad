"""kube-scheduler's cache: the Nodes and, per node, what its pods take (``NodeUsage``), kept up to
date by the informers' events one pod or node at a time, never recomputed from a full list.
A pod the scheduler chose a node for is *assumed* there before its binding is written, so the
next pod already sees it; the informer's add of the bound pod confirms it, a failed bind forgets
it (assumed pods never expire, as in Kubernetes). A data structure with its own lock: no I/O."""

from __future__ import annotations

import threading

from common.informer import key_of
from common.objects import Node, Pod
from control.scheduler import (
    Decision,
    NodeUsage,
    counts_on_node,
    host_ports,
    select_node,
    unfit_reason,
)
from control.volumebinding import NONE, VolumeWants


class SchedulerCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, Node] = {}
        self._usage: dict[str, NodeUsage] = {}
        self._pods: dict[str, Pod] = {}  # key -> the pod counted in its node's usage
        self._on_node: dict[str, set[str]] = {}  # node -> keys of the pods counted there
        self._assumed: set[str] = set()

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
            self._drop_empty(name)

    # -- pods ---------------------------------------------------------------------------------

    def set_pod(self, pod: Pod) -> None:
        """A pod seen by the informer was added or changed: counted on its node while it is bound
        and not finished. An assumed pod seen bound is confirmed."""
        key = key_of(pod)
        with self._lock:
            self._assumed.discard(key)
            self._uncount(key)
            if counts_on_node(pod):
                self._count(key, pod)

    def remove_pod(self, pod: Pod) -> str | None:
        """A pod was deleted; returns the node it was counted on, if any."""
        with self._lock:
            self._assumed.discard(key_of(pod))
            return self._uncount(key_of(pod))

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
        there in the same step, so two decisions never both count the same free room."""
        with self._lock:
            decision = select_node(pod, self._nodes.values(), self._usage, volumes)
            if decision.node is not None:
                self._assume(key_of(pod), pod, decision.node)
            return decision

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

    def _assume(self, key: str, pod: Pod, node: str) -> None:
        self._uncount(key)
        self._count(key, {**pod, "spec": {**pod.get("spec", {}), "nodeName": node}})
        self._assumed.add(key)

    def _count(self, key: str, pod: Pod) -> None:
        node = str(pod["spec"]["nodeName"])
        self._pods[key] = pod
        self._on_node.setdefault(node, set()).add(key)
        self._usage.setdefault(node, NodeUsage()).add(pod)

    def _uncount(self, key: str) -> str | None:
        pod = self._pods.pop(key, None)
        if pod is None:
            return None
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
