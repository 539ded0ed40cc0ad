"""What a DaemonSet needs, as Kubernetes' daemon controller computes it (daemon_controller.go
manage/podsShouldBeOnNode, update.go rollingUpdate, updateDaemonSetStatus): the nodes that need
a daemon pod, the pods to delete (on nodes that should not run one, failed or extra pods, old
pods a rolling update replaces within ``maxUnavailable`` or after a ``maxSurge`` pod is
available) and the status.
Pure: objects in, a plan out; the clock is given.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.wellknown import (
    CONTROLLER_REVISION_HASH_LABEL,
    POD_TEMPLATE_GENERATION_LABEL,
    TEMPLATE_GENERATION,
)
from common.workloads import ROLLING_UPDATE, scaled_value
from control.controllers import ranking
from control.controllers.daemonset_nodes import should_run, target_node

Obj = dict[str, Any]
NodePods = dict[str, list[Obj]]
FAILED_DAEMON_POD = "FailedDaemonPod"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_m(obj.get("metadata")).get("name") or "")


def _spec(ds: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(ds.get("spec"))


def _phase(pod: Mapping[str, Any]) -> str:
    return str(_m(pod.get("status")).get("phase") or "")


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(_m(obj.get("metadata")).get("deletionTimestamp"))


def _min_ready(ds: Mapping[str, Any]) -> int:
    return int(_spec(ds).get("minReadySeconds") or 0)


def template_generation(ds: Mapping[str, Any]) -> int | None:
    """GetTemplateGeneration: the annotation kube-apiserver keeps (None if absent or bad)."""
    value = _m(_m(ds.get("metadata")).get("annotations")).get(TEMPLATE_GENERATION)
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def is_updated(pod: Mapping[str, Any], hash_: str, generation: int | None) -> bool:
    """IsPodUpdated: the pod is of the current revision (by hash or template generation)."""
    labels = _m(_m(pod.get("metadata")).get("labels"))
    if generation is not None and labels.get(POD_TEMPLATE_GENERATION_LABEL) == str(generation):
        return True
    return bool(hash_) and labels.get(CONTROLLER_REVISION_HASH_LABEL) == hash_


def _oldest_first(pods: Iterable[Obj]) -> list[Obj]:
    """podByCreationTimestampAndPhase: pods on a node first, then by age, then by name."""

    def key(pod: Obj) -> tuple[bool, str, str]:
        created = str(_m(pod.get("metadata")).get("creationTimestamp") or "")
        return not _m(pod.get("spec")).get("nodeName"), created, _name(pod)

    return sorted(pods, key=key)


def nodes_to_pods(pods: Iterable[Obj], include_deleted_terminal: bool = False) -> NodePods:
    """getNodesToDaemonPods: the DaemonSet's pods by the node they are meant for."""
    out: NodePods = {}
    for pod in pods:
        terminal = _phase(pod) in ("Succeeded", "Failed")
        if not include_deleted_terminal and terminal and _deleting(pod):
            continue
        node = target_node(pod)
        if node:
            out.setdefault(node, []).append(pod)
    return out


def _count(ds: Mapping[str, Any], key: str, desired: int) -> int:
    rolling = _m(_m(_spec(ds).get("updateStrategy")).get("rollingUpdate"))
    value = rolling.get(key)
    try:
        return scaled_value(0 if value is None else value, desired, True)
    except ValueError:
        return 0


def is_rolling(ds: Mapping[str, Any]) -> bool:
    return bool(_m(_spec(ds).get("updateStrategy")).get("type") == ROLLING_UPDATE)


def allows_surge(ds: Mapping[str, Any]) -> bool:
    """AllowsSurge: a rolling update with a non-zero ``maxSurge``."""
    return is_rolling(ds) and _count(ds, "maxSurge", 1) != 0


@dataclass
class DaemonSetPlan:
    create: list[str] = field(default_factory=list)  # node names
    delete: list[Obj] = field(default_factory=list)  # pods
    events: list[tuple[str, str, str]] = field(default_factory=list)  # type, reason, message
    failed_nodes: list[str] = field(default_factory=list)  # nodes whose failed pod goes now
    status: Obj = field(default_factory=dict)
    requeue_after: float | None = None

    def wait(self, seconds: float) -> None:
        self.requeue_after = seconds if self.requeue_after is None else min(
            self.requeue_after, seconds)  # fmt: skip


@dataclass(frozen=True)
class Context:
    ds: Mapping[str, Any]
    hash: str
    now: dt.datetime
    # Seconds until a node's next failed daemon pod may be deleted (absent: at once).
    backoff: Mapping[str, float] = field(default_factory=dict)

    def available(self, pod: Mapping[str, Any]) -> bool:
        return ranking.is_available(pod, _min_ready(self.ds), self.now)


def _finished_pods(c: Context, node: str, pods: list[Obj], plan: DaemonSetPlan) -> list[Obj]:
    """Failed and succeeded pods go (a failed one at most once per back-off); the others run."""
    running = []
    for pod in pods:
        if _deleting(pod):
            continue
        where = f"{_m(pod.get('metadata')).get('namespace')}/{_name(pod)} on node {node}"
        if _phase(pod) == "Failed":
            wait = c.backoff.get(node, 0.0)
            if wait > 0:
                plan.wait(wait)
                continue
            plan.failed_nodes.append(node)
            message = f"Found failed daemon pod {where}, will try to kill it"
            plan.events.append(("Warning", FAILED_DAEMON_POD, message))
            plan.delete.append(pod)
        elif _phase(pod) == "Succeeded":
            plan.delete.append(pod)
        else:
            running.append(pod)
    return running


def _surge_excess(c: Context, running: list[Obj]) -> list[Obj]:
    """With surge, a node keeps its oldest new pod and oldest old pod, and the old one only
    while it is ready and the new one is not yet available."""
    newest: Obj | None = None
    oldest: Obj | None = None
    out = []
    for pod in _oldest_first(running):
        labels = _m(_m(pod.get("metadata")).get("labels"))
        if labels.get(CONTROLLER_REVISION_HASH_LABEL) == c.hash:
            if newest is None:
                newest = pod
                continue
        elif oldest is None:
            oldest = pod
            continue
        out.append(pod)
    if (
        newest is not None
        and oldest is not None
        and (not ranking.is_ready(oldest) or c.available(newest))
    ):
        out.append(oldest)
    return out


def _node_actions(
    c: Context, node: Mapping[str, Any], by_node: NodePods, plan: DaemonSetPlan
) -> None:
    """podsShouldBeOnNode."""
    name = _name(node)
    run, keep = should_run(node, c.ds)
    pods = by_node.get(name)
    if run and pods is None:
        plan.create.append(name)
    elif keep:
        running = _finished_pods(c, name, pods or [], plan)
        if not allows_surge(c.ds):
            plan.delete += _oldest_first(running)[1:]
        elif len(running) <= 1:
            if not running and run:
                plan.create.append(name)
        else:
            plan.delete += _surge_excess(c, running)
    elif pods:
        plan.delete += [p for p in pods if not _deleting(p)]


def manage(c: Context, nodes: list[Obj], by_node: NodePods, plan: DaemonSetPlan) -> None:
    """manage: a pod for each node that should run one, none where none should; pods meant for
    a node that no longer exists and never placed there go too."""
    for node in nodes:
        _node_actions(c, node, by_node, plan)
    known = {_name(n) for n in nodes}
    for node_name, pods in by_node.items():
        if node_name not in known:
            plan.delete += [p for p in pods if not _m(p.get("spec")).get("nodeName")]


def _updated_pods(c: Context, pods: list[Obj]) -> tuple[Obj | None, Obj | None, bool]:
    """findUpdatedPodsOnNode: (new pod, old pod, at most one of each)."""
    new: Obj | None = None
    old: Obj | None = None
    generation = template_generation(c.ds)
    for pod in pods:
        if _deleting(pod):
            continue
        if is_updated(pod, c.hash, generation):
            if new is not None:
                return None, None, False
            new = pod
        elif old is not None:
            return None, None, False
        else:
            old = pod
    return new, old, True


def _desired(c: Context, nodes: list[Obj], by_node: NodePods) -> tuple[int, int, int]:
    """updatedDesiredNodeCounts: (maxSurge, maxUnavailable, desired); never both 0."""
    desired = 0
    for node in nodes:
        if should_run(node, c.ds)[0]:
            desired += 1
            by_node.setdefault(_name(node), [])
    surge, unavailable = _count(c.ds, "maxSurge", desired), _count(c.ds, "maxUnavailable", desired)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable, desired


def _roll_without_surge(c: Context, by_node: NodePods, max_unavailable: int) -> list[Obj]:
    unavailable = 0
    replace: list[Obj] = []
    candidates: list[Obj] = []
    for node in sorted(by_node):
        new, old, ok = _updated_pods(c, by_node[node])
        if not ok or (new is None) == (old is None):
            unavailable += 1  # the manage loop creates or deletes here
        elif new is not None:
            unavailable += 0 if c.available(new) else 1
        elif old is not None and not c.available(old):
            replace.append(old)
            unavailable += 1
        elif old is not None and unavailable < max_unavailable:
            candidates.append(old)
    room = min(max(0, max_unavailable - unavailable), len(candidates))
    return replace + candidates[:room]


def _roll_with_surge(
    c: Context, nodes: Mapping[str, Obj], by_node: NodePods, surge: int, desired: int
) -> tuple[list[str], list[Obj]]:
    delete: list[Obj] = []
    sunset: list[Obj] = []
    allowed: list[str] = []
    candidates: list[str] = []
    surging = available = 0
    for name in sorted(by_node):
        new, old, ok = _updated_pods(c, by_node[name])
        if not ok:
            surging += 1
            continue
        current = old if old is not None else new
        available += 1 if current is not None and c.available(current) else 0
        if old is None:
            continue
        runs = name in nodes and should_run(nodes[name], c.ds)[0]
        if new is None and not c.available(old):
            (allowed.append(name) if runs else delete.append(old))
        elif new is None:
            if not runs:
                sunset.append(old)
            elif surging < surge:
                candidates.append(name)
        elif not c.available(new):
            surging += 1
        else:
            delete.append(old)
    delete += sunset[: max(0, min(available - desired, len(sunset)))]
    room = min(max(0, surge - surging), len(candidates))
    return allowed + candidates[:room], delete


def rolling_update(c: Context, nodes: list[Obj], by_node: NodePods, plan: DaemonSetPlan) -> None:
    """rollingUpdate: replace old pods within maxUnavailable, or surge within maxSurge."""
    by_node = {k: list(v) for k, v in by_node.items()}
    surge, unavailable, desired = _desired(c, nodes, by_node)
    if surge == 0:
        plan.delete += _roll_without_surge(c, by_node, unavailable)
        return
    create, delete = _roll_with_surge(c, {_name(n): n for n in nodes}, by_node, surge, desired)
    plan.create += create
    plan.delete += delete


def daemonset_status(c: Context, nodes: list[Obj], by_node: NodePods, observed: bool) -> Obj:
    """updateDaemonSetStatus: the counts over the nodes, observedGeneration when the sync acted
    on this generation."""
    desired = current = misscheduled = ready = updated = available = 0
    generation = template_generation(c.ds)
    for node in nodes:
        pods = by_node.get(_name(node)) or []
        if not should_run(node, c.ds)[0]:
            misscheduled += 1 if pods else 0
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = _oldest_first(pods)[0]
        if ranking.is_ready(pod):
            ready += 1
            available += 1 if c.available(pod) else 0
        updated += 1 if is_updated(pod, c.hash, generation) else 0
    status: Obj = copy.deepcopy(dict(_m(c.ds.get("status"))))
    status.update(currentNumberScheduled=current, numberMisscheduled=misscheduled,
                  desiredNumberScheduled=desired, numberReady=ready)  # fmt: skip
    for key, value in (("updatedNumberScheduled", updated), ("numberAvailable", available),
                       ("numberUnavailable", desired - available)):  # fmt: skip
        if value:
            status[key] = value
        else:
            status.pop(key, None)
    if observed:
        status["observedGeneration"] = int(_m(c.ds.get("metadata")).get("generation") or 0)
    return status


def plan_daemonset(
    c: Context, nodes: list[Obj], pods: list[Obj], satisfied: bool = True
) -> DaemonSetPlan:
    """syncDaemonSet's decisions: with its creations and deletions all observed (``satisfied``),
    manage the nodes, then roll the update once manage has nothing to do; always the status."""
    plan = DaemonSetPlan()
    by_node = nodes_to_pods(pods)
    if satisfied and not _deleting(c.ds):
        manage(c, nodes, by_node, plan)
        if not plan.create and not plan.delete and is_rolling(c.ds):
            rolling_update(c, nodes, by_node, plan)
    plan.status = daemonset_status(c, nodes, by_node, satisfied)
    if _min_ready(c.ds) > 0 and plan.status["numberReady"] != plan.status.get("numberAvailable", 0):
        plan.wait(float(_min_ready(c.ds)))
    return plan
