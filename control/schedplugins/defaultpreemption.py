"""kube-scheduler's DefaultPreemption (PostFilter) over plain values: whether the pod may
preempt at all, the victims on one node (every lower-priority pod out, then as many as still
let the pod fit reprieved, those a PodDisruptionBudget protects first, the most important
first), the node whose victims cost least (fewest budgets broken first), and the
``preemption: ...`` part of the FailedScheduling message. Pods of equal or higher priority are
never victims; budgets are best effort. Pure: whether the pod fits is asked of a ``fits``
callback."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common import budgets
from common.wellknown import DISRUPTION_TARGET, PREEMPTION_BY_SCHEDULER
from control.schedplugins.terms import m

Obj = Mapping[str, Any]
Fits = Callable[[Sequence[Obj]], "str | None"]  # the pods left on the node -> why not, or None
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER = "not eligible due to preemptionPolicy=Never."
TERMINATING = "not eligible due to a terminating pod on the nominated node."
# Filter reasons that removing pods from a node can cure (kube's Unschedulable status, as
# opposed to UnschedulableAndUnresolvable).
RESOLVABLE = frozenset({
    "Insufficient cpu", "Insufficient memory", "Too many pods",
    "node(s) didn't have free ports for the requested pod ports",
    "node(s) didn't match pod anti-affinity rules",
    "node(s) didn't satisfy existing pods anti-affinity rules",
    "node(s) didn't match pod topology spread constraints",
})  # fmt: skip
# Added to every priority before summing, so negative priorities still sum to more per pod.
PRIORITY_OFFSET = 2**31


def priority(pod: Obj) -> int:
    value = m(pod.get("spec")).get("priority")
    return value if isinstance(value, int) else 0


def start_time(pod: Obj) -> str:
    """When the pod started (its creation if it has not): RFC 3339 strings sort by time."""
    return str(m(pod.get("status")).get("startTime") or
               m(pod.get("metadata")).get("creationTimestamp") or "")  # fmt: skip


@dataclass(frozen=True)
class Candidate:
    node: str
    victims: tuple[Obj, ...]  # most important first
    violations: int = 0  # victims whose eviction a PodDisruptionBudget does not allow


def terminating_by_preemption(pod: Obj) -> bool:
    """podTerminatingByPreemption: being deleted, with ``DisruptionTarget=True`` set by the
    scheduler's preemption."""
    if not m(pod.get("metadata")).get("deletionTimestamp"):
        return False
    for cond in m(pod.get("status")).get("conditions") or []:
        c = m(cond)
        if c.get("type") == DISRUPTION_TARGET:
            return bool(c.get("status") == "True" and c.get("reason") == PREEMPTION_BY_SCHEDULER)
    return False


def ineligible(
    pod: Obj, nominated_pods: Iterable[Obj], nominated_status: str | None = None
) -> str | None:
    """Why ``pod`` may not preempt (PodEligibleToPreemptOthers), or None. ``nominated_pods`` are
    the pods of the node it is nominated to: one of lower priority that the scheduler's
    preemption is terminating means an earlier preemption is under way, unless that node's
    refusal (``nominated_status``) is one removing pods cannot cure."""
    if m(pod.get("spec")).get("preemptionPolicy") == "Never":
        return NEVER
    if nominated_status is not None and nominated_status not in RESOLVABLE:
        return None
    mine = priority(pod)
    for other in nominated_pods:
        if priority(other) < mine and terminating_by_preemption(other):
            return TERMINATING
    return None


def split_by_budgets(pods: Sequence[Obj], pdbs: Sequence[Obj]) -> tuple[list[Obj], list[Obj]]:
    """filterPodsWithPDBViolation: the pods whose eviction one of ``pdbs`` does not allow (its
    ``disruptionsAllowed`` used up by the pods before them), and the others, both in the order
    given. A budget with an empty selector matches no pod here; a pod the budget already counts
    as disrupted (``status.disruptedPods``) takes nothing from it."""
    allowed = [int(m(pdb.get("status")).get("disruptionsAllowed") or 0) for pdb in pdbs]
    violating: list[Obj] = []
    other: list[Obj] = []
    for pod in pods:
        meta = m(pod.get("metadata"))
        labels = m(meta.get("labels"))
        broken = False
        for i, pdb in enumerate(pdbs if labels else ()):
            if m(pdb.get("metadata")).get("namespace") != meta.get("namespace"):
                continue
            selector = budgets.selector_of(pdb)
            if selector.empty or not selector.matches(labels):
                continue
            if meta.get("name") in m(m(pdb.get("status")).get("disruptedPods")):
                continue
            allowed[i] -= 1
            broken = broken or allowed[i] < 0
        (violating if broken else other).append(pod)
    return violating, other


def _importance(pod: Obj) -> tuple[int, str]:
    """MoreImportantPod sorts first: higher priority, then the one running longer."""
    return -priority(pod), start_time(pod)


def select_victims(
    pod: Obj, pods: Sequence[Obj], fits: Fits, pdbs: Sequence[Obj] = ()
) -> tuple[tuple[Obj, ...], int, str]:
    """SelectVictimsOnNode: the fewest lower-priority pods of a node whose removal lets ``pod``
    fit (those a budget protects reprieved first), how many of them break a budget, or () and
    why not."""
    mine = priority(pod)
    lower = [p for p in pods if priority(p) < mine]
    if not lower:
        return (), 0, NO_VICTIMS
    kept = [p for p in pods if priority(p) >= mine]
    reason = fits(kept)
    if reason is not None:
        return (), 0, reason
    lower.sort(key=_importance)
    violating, other = split_by_budgets(lower, pdbs)
    victims: list[Obj] = []
    broken = 0
    for group in (violating, other):
        for p in group:
            if fits([*kept, p]) is None:
                kept.append(p)  # reprieved
            else:
                victims.append(p)
                if group is violating:
                    broken += 1
    if violating and other:
        victims.sort(key=_importance)
    return tuple(victims), broken, ""


def pick_one(candidates: Sequence[Candidate]) -> Candidate:
    """pickOneNodeForPreemption: fewest budgets broken, then lowest highest victim priority,
    then smallest sum of priorities, then fewest victims, then the latest start of the top
    victims, then first."""
    ranked = list(candidates)
    scores: list[Callable[[Candidate], Any]] = [
        lambda c: -c.violations,
        lambda c: -priority(c.victims[0]),
        lambda c: -sum(priority(p) + PRIORITY_OFFSET for p in c.victims),
        lambda c: -len(c.victims),
        lambda c: min(start_time(p) for p in c.victims if priority(p) == priority(c.victims[0])),
    ]
    for score in scores:
        best = max(score(c) for c in ranked)
        ranked = [c for c in ranked if score(c) == best]
        if len(ranked) == 1:
            break
    return ranked[0]


def preempt(
    pod: Obj,
    statuses: Mapping[str, str],
    pods_on: Mapping[str, Sequence[Obj]],
    fits: Callable[[str, Sequence[Obj]], str | None],
    pdbs: Sequence[Obj] = (),
) -> tuple[Candidate | None, Counter[str]]:
    """The dry run over the nodes whose refusal removing pods could cure (``statuses``: node ->
    filter reason): the chosen candidate, or None and the reason of every node. ``pdbs``: every
    PodDisruptionBudget of the cluster."""
    reasons: Counter[str] = Counter()
    candidates = []
    for node, status in sorted(statuses.items()):
        if status not in RESOLVABLE:
            reasons[NOT_HELPFUL] += 1
            continue
        on_node = pods_on.get(node, ())
        victims, broken, why = select_victims(pod, on_node, functools.partial(fits, node), pdbs)
        if victims:
            candidates.append(Candidate(node, victims, broken))
        else:
            reasons[why or NO_VICTIMS] += 1
    if candidates:
        return pick_one(candidates), Counter()
    return None, reasons


def histogram(reasons: Mapping[str, int]) -> str:
    """``count reason`` parts sorted as strings, as kube-scheduler's FitError sorts them."""
    return ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))


def fit_error(total: int, reasons: str, post_filter: str = "") -> str:
    """FitError.Error(): ``0/N nodes are available: <reasons>.`` and `` <post filter>.``"""
    message = f"0/{total} nodes are available: {reasons}."
    return f"{message} {post_filter}." if post_filter else message


def preemption_message(total: int, reasons: Mapping[str, int]) -> str:
    return "preemption: " + fit_error(total, histogram(reasons))
