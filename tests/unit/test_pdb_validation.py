"""policy/v1 PodDisruptionBudget: validation with kube-apiserver's messages, and its table."""

from __future__ import annotations

import datetime as dt

import pytest

from common.printers import headers, printer_for, row
from control.validation import validate


def pdb(**spec: object) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def messages(obj: dict) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate("PodDisruptionBudget", obj)]


@pytest.mark.parametrize(
    "spec",
    [{"minAvailable": 2}, {"minAvailable": "50%"}, {"maxUnavailable": 0},
     {"maxUnavailable": "100%", "unhealthyPodEvictionPolicy": "AlwaysAllow"}, {}],
)  # fmt: skip
def test_valid_budgets(spec: dict) -> None:
    assert messages(pdb(**spec)) == []


def test_min_and_max_are_mutually_exclusive() -> None:
    (msg,) = messages(pdb(minAvailable=1, maxUnavailable=1))
    assert msg.startswith("spec: Invalid value: ")
    assert msg.endswith(": minAvailable and maxUnavailable cannot be both set")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"minAvailable": -1}, 'spec.minAvailable: Invalid value: -1: must be greater than or '
                               "equal to 0"),
        ({"maxUnavailable": "150%"}, 'spec.maxUnavailable: Invalid value: "150%": must not be '
                                     "greater than 100%"),
        ({"unhealthyPodEvictionPolicy": "Never"}, 'spec.unhealthyPodEvictionPolicy: Unsupported '
         'value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"'),
    ],
)  # fmt: skip
def test_bad_fields_are_named(spec: dict, expected: str) -> None:
    assert messages(pdb(**spec)) == [expected]


def test_bad_percent_and_selector() -> None:
    obj = pdb(minAvailable="half")
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "a", "operator": "Near"}]}
    fields = [m.split(":")[0] for m in messages(obj)]
    assert fields == ["spec.minAvailable", "spec.selector.matchExpressions[0].operator"]


def test_table_columns_and_cells() -> None:
    printer = printer_for("poddisruptionbudgets")
    assert headers(printer) == [
        "NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE",
    ]  # fmt: skip
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    obj = pdb(maxUnavailable="25%")
    obj["metadata"]["creationTimestamp"] = "2025-12-31T23:59:00Z"
    obj["status"] = {"disruptionsAllowed": 2}
    assert row(printer, obj, now) == ["web", "N/A", "25%", "2", "60s"]
