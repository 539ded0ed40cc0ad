"""A Job's policies: ``podFailurePolicy`` applied to one failed pod (pod_failure_policy.go):
the first rule whose exit codes or pod conditions match decides: FailJob, FailIndex, Ignore or
Count; no match counts the failure. ``successPolicy`` against the succeeded indexes
(success_policy.go): the first rule met makes the Job succeed. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import batch

Obj = Mapping[str, Any]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _exit_code_match(pod: Obj, req: Obj) -> tuple[str, int] | None:
    """The first container terminated with a non-zero exit code the requirement matches."""
    status = _dict(pod.get("status"))
    values = set(req.get("values") or [])
    wanted = req.get("containerName")
    statuses = [*(status.get("initContainerStatuses") or []),
                *(status.get("containerStatuses") or [])]  # fmt: skip
    for cs in statuses:
        if wanted is not None and cs.get("name") != wanted:
            continue
        terminated = _dict(_dict(cs.get("state")).get("terminated"))
        code = terminated.get("exitCode")
        if not isinstance(code, int) or code == 0:
            continue
        if (code in values) == (req.get("operator") == "In"):
            return str(cs.get("name")), code
    return None


def _condition_match(pod: Obj, patterns: list[Any]) -> str | None:
    for c in _dict(pod.get("status")).get("conditions") or []:
        for p in patterns:
            p = _dict(p)
            if c.get("type") == p.get("type") and c.get("status") == (p.get("status") or "True"):
                return str(c.get("type"))
    return None


def failure_policy_action(job: Obj, pod: Obj) -> tuple[str, str]:
    """The action for a failed pod and, for FailJob, kube's message naming why."""
    policy = _dict(job.get("spec")).get("podFailurePolicy")
    m = _dict(pod.get("metadata"))
    where = f"{m.get('namespace')}/{m.get('name')}"
    for i, rule in enumerate(_dict(policy).get("rules") or []):
        rule = _dict(rule)
        action = str(rule.get("action") or "")
        if rule.get("onExitCodes") is not None:
            hit = _exit_code_match(pod, _dict(rule["onExitCodes"]))
            if hit is not None:
                return action, (
                    f"Container {hit[0]} for pod {where} failed with exit code {hit[1]} "
                    f"matching {action} rule at index {i}"
                )
        if rule.get("onPodConditions"):
            kind = _condition_match(pod, list(rule["onPodConditions"]))
            if kind is not None:
                return (
                    action,
                    f"Pod {where} has condition {kind} matching {action} rule at index {i}",
                )
    return batch.COUNT, ""


def _rule_indexes(text: str, completions: int) -> set[int]:
    """parseIndexesFromString: the indexes below ``completions``; a malformed part is skipped
    (validation refuses it on the way in)."""
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            continue
        out.update(range(max(first, 0), min(last, completions - 1) + 1))
    return out


def success_policy_match(job: Obj, succeeded: set[int]) -> str | None:
    """matchSuccessPolicy: the message naming the first rule the succeeded indexes meet (all
    its ``succeededIndexes``, or ``succeededCount`` of them, or of all indexes), if any."""
    spec = _dict(job.get("spec"))
    policy = spec.get("successPolicy")
    if policy is None or not succeeded:
        return None
    completions = int(spec.get("completions") or 0)
    for i, rule in enumerate(_dict(policy).get("rules") or []):
        rule = _dict(rule)
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            wanted = _rule_indexes(str(rule["succeededIndexes"]), completions)
            if not wanted:
                continue
            done = len(wanted & succeeded)
            if done == len(wanted) or (count is not None and done >= int(count)):
                return f"Matched rules at index {i}"
        elif count is not None and len(succeeded) >= int(count):
            return f"Matched rules at index {i}"
    return None
