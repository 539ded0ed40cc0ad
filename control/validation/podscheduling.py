"""Validation of the scheduling rules of a pod spec (ValidatePodSpec's affinity,
topologySpreadConstraints and preemptionPolicy parts) with kube-apiserver's messages: node
selector terms and their operators, pod (anti-)affinity terms and weights, spread constraints.
Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common import names
from common.errors import Cause
from common.fielderrors import (
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    validate_label_name,
)
from common.labels import label_selector_causes

NOT_POSITIVE = "must be greater than zero"
WEIGHT_RANGE = "must be in the range 1-100"
NOT_EMPTY = "can not be empty"
BAD_OPERATOR = "not a valid selector operator"
ONE_VALUE = "must be specified single value when `operator` is 'Lt' or 'Gt'"
SCHEDULE_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
INCLUSION_POLICIES = ("Honor", "Ignore")
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _requirement(req: Mapping[str, Any], path: str) -> list[Cause]:
    op, values = req.get("operator"), _l(req.get("values"))
    if op in ("In", "NotIn"):
        if not values:
            return [required(f"{path}.values",
                             "must be specified when `operator` is 'In' or 'NotIn'")]  # fmt: skip
    elif op in ("Exists", "DoesNotExist"):
        if values:
            return [forbidden(f"{path}.values",
                              "may not be specified when `operator` is 'Exists' or "
                              "'DoesNotExist'")]  # fmt: skip
    elif op in ("Gt", "Lt"):
        if len(values) != 1:
            return [required(f"{path}.values", ONE_VALUE)]
    else:
        return [invalid(f"{path}.operator", op, BAD_OPERATOR)]
    return validate_label_name(str(req.get("key") or ""), f"{path}.key")


def _field_requirement(req: Mapping[str, Any], path: str) -> list[Cause]:
    op = req.get("operator")
    if op not in ("In", "NotIn"):
        return [invalid(f"{path}.operator", op, BAD_OPERATOR)]
    causes = []
    if len(_l(req.get("values"))) != 1:
        causes.append(required(f"{path}.values", "must be only one value when `operator` is "
                               "'In' or 'NotIn' for node field selector"))  # fmt: skip
    if req.get("key") != "metadata.name":
        causes.append(invalid(f"{path}.key", req.get("key"), "not a valid field selector key"))
    return causes


def _term(term: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, req in enumerate(_l(term.get("matchExpressions"))):
        causes += _requirement(_m(req), f"{path}.matchExpressions[{i}]")
    for i, req in enumerate(_l(term.get("matchFields"))):
        causes += _field_requirement(_m(req), f"{path}.matchFields[{i}]")
    return causes


def _weight(weight: Any, path: str) -> list[Cause]:
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        return [invalid(f"{path}.weight", weight, WEIGHT_RANGE)]
    return []


def _node_affinity(affinity: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    if REQUIRED in affinity and affinity[REQUIRED] is not None:
        terms = _l(_m(affinity[REQUIRED]).get("nodeSelectorTerms"))
        tpath = f"{path}.{REQUIRED}.nodeSelectorTerms"
        if not terms:
            causes.append(required(tpath, "must have at least one node selector term"))
        for i, term in enumerate(terms):
            causes += _term(_m(term), f"{tpath}[{i}]")
    for i, pref in enumerate(map(_m, _l(affinity.get(PREFERRED)))):
        ppath = f"{path}.{PREFERRED}[{i}]"
        causes += _weight(pref.get("weight"), ppath)
        causes += _term(_m(pref.get("preference")), f"{ppath}.preference")
    return causes


def _pod_term(term: Mapping[str, Any], path: str) -> list[Cause]:
    causes = label_selector_causes(term.get("labelSelector"), f"{path}.labelSelector")
    causes += label_selector_causes(term.get("namespaceSelector"), f"{path}.namespaceSelector")
    for name in _l(term.get("namespaces")):
        causes += [invalid(f"{path}.namespace", name, msg)
                   for msg in names.name_is_dns_label(str(name), False)]  # fmt: skip
    key = str(term.get("topologyKey") or "")
    if not key:
        return [*causes, required(f"{path}.topologyKey", NOT_EMPTY)]
    return causes + validate_label_name(key, f"{path}.topologyKey")


def _pod_affinity(affinity: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, term in enumerate(_l(affinity.get(REQUIRED))):
        causes += _pod_term(_m(term), f"{path}.{REQUIRED}[{i}]")
    for i, weighted in enumerate(map(_m, _l(affinity.get(PREFERRED)))):
        wpath = f"{path}.{PREFERRED}[{i}]"
        causes += _weight(weighted.get("weight"), wpath)
        causes += _pod_term(_m(weighted.get("podAffinityTerm")), f"{wpath}.podAffinityTerm")
    return causes


def _constraint(c: Mapping[str, Any], rest: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    skew = c.get("maxSkew")
    if not isinstance(skew, int) or skew <= 0:
        causes.append(invalid(f"{path}.maxSkew", skew, NOT_POSITIVE))
    if not c.get("topologyKey"):
        causes.append(required(f"{path}.topologyKey", NOT_EMPTY))
    action = c.get("whenUnsatisfiable")
    if action not in SCHEDULE_ACTIONS:
        causes.append(not_supported(f"{path}.whenUnsatisfiable", action, SCHEDULE_ACTIONS))
    pair = (c.get("topologyKey"), action)
    if any((_m(o).get("topologyKey"), _m(o).get("whenUnsatisfiable")) == pair for o in rest):
        causes.append(duplicate(f"{path}.{{topologyKey, whenUnsatisfiable}}",
                                f"{{{pair[0]}, {pair[1]}}}"))  # fmt: skip
    domains = c.get("minDomains")
    if domains is not None:
        if not isinstance(domains, int) or domains <= 0:
            causes.append(invalid(f"{path}.minDomains", domains, NOT_POSITIVE))
        elif action != "DoNotSchedule":
            causes.append(invalid(f"{path}.minDomains", domains, "can only use minDomains if "
                                  f"whenUnsatisfiable=DoNotSchedule, not {action}"))  # fmt: skip
    for key in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
        if c.get(key) is not None and c[key] not in INCLUSION_POLICIES:
            causes.append(not_supported(f"{path}.{key}", c[key], INCLUSION_POLICIES))
    return causes + label_selector_causes(c.get("labelSelector"), f"{path}.labelSelector")


def validate_scheduling(spec: Mapping[str, Any], path: str = "spec") -> list[Cause]:
    """The field errors of the spec's affinity, spread constraints and preemption policy."""
    affinity = _m(spec.get("affinity"))
    apath = f"{path}.affinity"
    causes = _node_affinity(_m(affinity.get("nodeAffinity")), f"{apath}.nodeAffinity")
    causes += _pod_affinity(_m(affinity.get("podAffinity")), f"{apath}.podAffinity")
    causes += _pod_affinity(_m(affinity.get("podAntiAffinity")), f"{apath}.podAntiAffinity")
    constraints = _l(spec.get("topologySpreadConstraints"))
    for i, c in enumerate(constraints):
        causes += _constraint(_m(c), constraints[i + 1 :], f"{path}.topologySpreadConstraints[{i}]")
    policy = spec.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        causes.append(not_supported(f"{path}.preemptionPolicy", policy, PREEMPTION_POLICIES))
    return causes
