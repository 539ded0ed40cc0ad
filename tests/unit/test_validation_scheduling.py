"""Pod validation of affinity, topologySpreadConstraints and preemptionPolicy, with
kube-apiserver's field paths and messages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_validation import errs, pod

NA = "spec.affinity.nodeAffinity"
REQ = "requiredDuringSchedulingIgnoredDuringExecution"
PREF = "preferredDuringSchedulingIgnoredDuringExecution"
TSC = "spec.topologySpreadConstraints[0]"


def node_expr(op: str, *values: str, key: str = "disk") -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return {"nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchExpressions": [e]}]}}}


def spread(**c: Any) -> list[dict[str, Any]]:
    return [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", **c}]


E0 = f"{NA}.{REQ}.nodeSelectorTerms[0].matchExpressions[0]"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"affinity": node_expr("In", "ssd")}, []),
        ({"affinity": node_expr("Gt", "4")}, []),
        ({"affinity": node_expr("In")},
         [f"{E0}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"]),
        ({"affinity": node_expr("Exists", "x")},
         [f"{E0}.values: Forbidden: may not be specified when `operator` is 'Exists' or "
          "'DoesNotExist'"]),
        ({"affinity": node_expr("Lt", "1", "2")},
         [f"{E0}.values: Required value: must be specified single value when `operator` is 'Lt' "
          "or 'Gt'"]),
        ({"affinity": node_expr("Near", "x")},
         [f'{E0}.operator: Invalid value: "Near": not a valid selector operator']),
        ({"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": []}}}},
         [f"{NA}.{REQ}.nodeSelectorTerms: Required value: must have at least one node selector "
          "term"]),
        ({"affinity": {"nodeAffinity": {REQ: {"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.uid", "operator": "In", "values": ["x"]}]}]}}}},
         [f'{NA}.{REQ}.nodeSelectorTerms[0].matchFields[0].key: Invalid value: "metadata.uid": '
          "not a valid field selector key"]),
        ({"affinity": {"nodeAffinity": {PREF: [{"weight": 0, "preference": {}}]}}},
         [f"{NA}.{PREF}[0].weight: Invalid value: 0: must be in the range 1-100"]),
        ({"affinity": {"podAntiAffinity": {REQ: [{"labelSelector": {}}]}}},
         [f"spec.affinity.podAntiAffinity.{REQ}[0].topologyKey: Required value: can not be "
          "empty"]),
        ({"affinity": {"podAffinity": {PREF: [{"weight": 101, "podAffinityTerm": {
            "topologyKey": "zone"}}]}}},
         [f"spec.affinity.podAffinity.{PREF}[0].weight: Invalid value: 101: must be in the range "
          "1-100"]),
        ({"topologySpreadConstraints": spread()}, []),
        ({"topologySpreadConstraints": spread(maxSkew=0)},
         [f"{TSC}.maxSkew: Invalid value: 0: must be greater than zero"]),
        ({"topologySpreadConstraints": spread(topologyKey="")},
         [f"{TSC}.topologyKey: Required value: can not be empty"]),
        ({"topologySpreadConstraints": spread(whenUnsatisfiable="Maybe")},
         [f'{TSC}.whenUnsatisfiable: Unsupported value: "Maybe": supported values: '
          '"DoNotSchedule", "ScheduleAnyway"']),
        ({"topologySpreadConstraints": spread(whenUnsatisfiable="ScheduleAnyway", minDomains=2)},
         [f"{TSC}.minDomains: Invalid value: 2: can only use minDomains if "
          "whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"]),
        ({"topologySpreadConstraints": spread() + spread()},
         [f"{TSC}.{{topologyKey, whenUnsatisfiable}}: Duplicate value: "
          '"{zone, DoNotSchedule}"']),
        ({"topologySpreadConstraints": spread(nodeTaintsPolicy="Always")},
         [f'{TSC}.nodeTaintsPolicy: Unsupported value: "Always": supported values: "Honor", '
          '"Ignore"']),
        ({"preemptionPolicy": "Sometimes"},
         ['spec.preemptionPolicy: Unsupported value: "Sometimes": supported values: "Never", '
          '"PreemptLowerPriority"']),
    ],
)  # fmt: skip
def test_scheduling_rules(spec: dict[str, Any], expected: list[str]) -> None:
    assert errs("Pod", pod(**spec)) == expected
