"""Validation of a Job's ``podFailurePolicy``, ``podReplacementPolicy`` and ``successPolicy``
(validatePodFailurePolicy, validatePodReplacementPolicy and validateSuccessPolicy of
pkg/apis/batch/validation) and of index lists (validateIndexesFormat), with kube-apiserver's
messages. Pure: no I/O.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from typing import Any

from common import batch, names
from common.errors import Cause
from common.fielderrors import (
    INVALID,
    TOO_LONG,
    duplicate,
    invalid,
    not_supported,
    required,
    too_many,
)
from control.validation.meta import validate_nonnegative

Obj = Mapping[str, Any]

MAX_RULES = 20
MAX_EXIT_CODE_VALUES = 255
MAX_CONDITION_PATTERNS = 20
CONDITION_STATUSES = ("False", "True", "Unknown")
REPLACEMENT_POLICIES = (batch.FAILED, batch.TERMINATING_OR_FAILED)
MAX_SUCCESS_RULES = 20
MAX_SUCCEEDED_INDEXES = 64 * 1024


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _omit(path: str, detail: str) -> Cause:
    """field.Invalid with field.OmitValueType: no value is printed."""
    return Cause(path, INVALID, f"Invalid value: {detail}")


def _validate_exit_codes(req: Obj, path: str, containers: set[str]) -> list[Cause]:
    operator = req.get("operator")
    causes: list[Cause] = []
    if not operator:
        causes.append(required(f"{path}.operator", 'valid values: ["In" "NotIn"]'))
    elif operator not in batch.EXIT_CODE_OPERATORS:
        causes.append(not_supported(f"{path}.operator", operator, batch.EXIT_CODE_OPERATORS))
    name = req.get("containerName")
    if name is not None and name not in containers:
        causes.append(
            invalid(
                f"{path}.containerName",
                name,
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = _list(req.get("values"))
    if not values:
        causes.append(invalid(f"{path}.values", values, "at least one value is required"))
    elif len(values) > MAX_EXIT_CODE_VALUES:
        causes.append(too_many(f"{path}.values", len(values), MAX_EXIT_CODE_VALUES))
    seen: set[int] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            causes.append(
                invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator")
            )
        if value in seen:
            causes.append(duplicate(f"{path}.values[{j}]", value))
        seen.add(value)
    if any(a > b for a, b in itertools.pairwise(values)):
        causes.append(invalid(f"{path}.values", values, "must be ordered"))
    return causes


def _validate_conditions(patterns: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    if len(patterns) > MAX_CONDITION_PATTERNS:
        causes.append(too_many(path, len(patterns), MAX_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = _dict(pattern)
        kind = str(pattern.get("type") or "")
        causes.extend(invalid(f"{path}[{j}].type", kind, m) for m in names.is_qualified_name(kind))
        status = pattern.get("status")
        if not status:
            causes.append(
                required(f"{path}[{j}].status", 'valid values: ["False" "True" "Unknown"]')
            )
        elif status not in CONDITION_STATUSES:
            causes.append(not_supported(f"{path}[{j}].status", status, CONDITION_STATUSES))
    return causes


def _validate_rule(spec: Obj, rule: Obj, path: str, containers: set[str]) -> list[Cause]:
    action = rule.get("action")
    causes: list[Cause] = []
    if not action:
        causes.append(
            required(f"{path}.action", 'valid values: ["Count" "FailIndex" "FailJob" "Ignore"]')
        )
    elif action == batch.FAIL_INDEX:
        if spec.get("backoffLimitPerIndex") is None:
            causes.append(
                invalid(f"{path}.action", action, "requires the backoffLimitPerIndex to be set")
            )
    elif action not in batch.POD_FAILURE_ACTIONS:
        causes.append(not_supported(f"{path}.action", action, batch.POD_FAILURE_ACTIONS))
    codes, conditions = rule.get("onExitCodes"), _list(rule.get("onPodConditions"))
    if codes is not None:
        causes.extend(_validate_exit_codes(_dict(codes), f"{path}.onExitCodes", containers))
    if conditions:
        causes.extend(_validate_conditions(conditions, f"{path}.onPodConditions"))
    if codes is not None and conditions:
        causes.append(
            _omit(path, "specifying both OnExitCodes and OnPodConditions is not supported")
        )
    if codes is None and not conditions:
        causes.append(_omit(path, "specifying one of OnExitCodes and OnPodConditions is required"))
    return causes


def validate_failure_policy(spec: Obj, path: str) -> list[Cause]:
    policy = spec.get("podFailurePolicy")
    causes: list[Cause] = []
    if policy is not None:
        rules = _list(_dict(policy).get("rules"))
        if len(rules) > MAX_RULES:
            causes.append(too_many(f"{path}.podFailurePolicy.rules", len(rules), MAX_RULES))
        pod = _dict(_dict(spec.get("template")).get("spec"))
        containers = {
            str(_dict(c).get("name"))
            for c in _list(pod.get("containers")) + _list(pod.get("initContainers"))
        }
        for i, rule in enumerate(rules):
            rpath = f"{path}.podFailurePolicy.rules[{i}]"
            causes.extend(_validate_rule(spec, _dict(rule), rpath, containers))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        allowed = (batch.FAILED,) if policy is not None else REPLACEMENT_POLICIES
        if replacement not in allowed:
            causes.append(not_supported(f"{path}.podReplacementPolicy", replacement, allowed))
    return causes


# -- successPolicy ---------------------------------------------------------------------------


def _interval(text: str, completions: int) -> tuple[int, int]:
    """parseIndexInterval: ``"x"`` or ``"x-y"``, each below ``completions``, x < y."""
    limits = text.split("-")
    if len(limits) > 2:
        raise ValueError(
            f"the fragment {json.dumps(text)} violates the requirement that an index interval "
            "can have at most two parts separated by '-'"
        )
    bounds: list[int] = []
    for part in limits:
        if not re.fullmatch(r"[+-]?[0-9]+", part):
            raise ValueError(f"cannot convert string to integer for index: {json.dumps(part)}")
        if int(part) >= completions:
            raise ValueError(f"too large index: {json.dumps(part)}")
        bounds.append(int(part))
    if len(bounds) == 2 and bounds[0] >= bounds[1]:
        raise ValueError(f"non-increasing order, previous: {bounds[0]}, current: {bounds[1]}")
    return bounds[0], bounds[-1]


def indexes_total(text: str, completions: int) -> int:
    """validateIndexesFormat: the number of indexes of ``"1,3-5"``; ValueError with kube's
    message when a fragment is malformed, too large or out of order."""
    if not text:
        return 0
    last: int | None = None
    total = 0
    for part in text.split(","):
        lo, hi = _interval(part, completions)
        if last is not None and last >= lo:
            raise ValueError(f"non-increasing order, previous: {last}, current: {lo}")
        total += hi - lo + 1
        last = hi
    return total


def _validate_success_rule(rule: Obj, completions: int, path: str) -> list[Cause]:
    indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
    causes: list[Cause] = []
    if indexes is None and count is None:
        causes.append(
            required(path, "at least one of succeededCount or succeededIndexes must be specified")
        )
    total = 0
    if indexes is not None:
        ipath = f"{path}.succeededIndexes"
        if len(str(indexes)) > MAX_SUCCEEDED_INDEXES:
            detail = f"Too long: may not be more than {MAX_SUCCEEDED_INDEXES} bytes"
            causes.append(Cause(ipath, TOO_LONG, detail))
        try:
            total = indexes_total(str(indexes), completions)
        except ValueError as e:
            causes.append(invalid(ipath, indexes, f"error parsing succeededIndexes: {e}"))
    if count is not None:
        cpath = f"{path}.succeededCount"
        causes.extend(validate_nonnegative(count, cpath))
        if count > completions:
            detail = (
                f"must be less than or equal to {completions} (the number of specified completions)"
            )
            causes.append(invalid(cpath, count, detail))
        if indexes is not None and count > total:
            detail = (
                f"must be less than or equal to {total} "
                "(the number of indexes in the specified succeededIndexes field)"
            )
            causes.append(invalid(cpath, count, detail))
    return causes


def validate_success_policy(spec: Obj, path: str) -> list[Cause]:
    """validateSuccessPolicy: only for Indexed Jobs; 1 to 20 rules, each naming indexes within
    completions and/or a count they can reach."""
    policy = spec.get("successPolicy")
    if policy is None:
        return []
    ppath = f"{path}.successPolicy"
    if spec.get("completionMode") != batch.INDEXED:
        return [invalid(ppath, policy, "requires indexed completion mode")]
    rules = _list(_dict(policy).get("rules"))
    causes: list[Cause] = []
    if not rules:
        detail = "at least one rules must be specified when the successPolicy is specified"
        causes.append(required(f"{ppath}.rules", detail))
    if len(rules) > MAX_SUCCESS_RULES:
        causes.append(too_many(f"{ppath}.rules", len(rules), MAX_SUCCESS_RULES))
    completions = spec.get("completions")
    completions = completions if isinstance(completions, int) else 0
    for i, rule in enumerate(rules):
        causes.extend(_validate_success_rule(_dict(rule), completions, f"{ppath}.rules[{i}]"))
    return causes
