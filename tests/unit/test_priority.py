"""PriorityClass: its validation with kube-apiserver's messages, the Priority admission plugin
(a pod's priority from its class or the global default, 403 for an unknown class or a
disagreeing priority, a single global default), and its table columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import errors
from common.printers import printer_for
from control.cli.describers import describe_pod
from control.registry import priority
from control.registry.defaultpriority import system_classes
from control.validation import validate


def pc(name: str, value: int, default: bool = False, **extra: Any) -> dict[str, Any]:
    meta = {"name": name}
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": meta, "value": value, "globalDefault": default, **extra}  # fmt: skip


def messages(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [c.message for c in validate("PriorityClass", obj, old)]


def test_the_system_classes_are_valid_and_imitations_are_not() -> None:
    for cls in system_classes():
        assert messages(cls) == []
    assert messages(pc("system-mine", 10)) == [
        "Forbidden: priority class names with 'system-' prefix are reserved for system use only."
        " error: system-mine is not a known system priority class"
    ]
    assert (
        "value of system-node-critical PriorityClass must be 2000001000"
        in messages(pc("system-node-critical", 5))[0]
    )


def test_user_values_policy_and_immutable_fields() -> None:
    assert messages(pc("huge", 1_000_000_001)) == [
        "Forbidden: maximum allowed value of a user defined priority is 1000000000"
    ]
    assert messages(pc("odd", 1, preemptionPolicy="Sometimes")) == [
        'Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"'
    ]
    old = pc("a", 1, preemptionPolicy="Never")
    old["metadata"]["resourceVersion"] = "1"
    new = pc("a", 2, preemptionPolicy="PreemptLowerPriority")
    new["metadata"]["resourceVersion"] = "1"
    assert messages(new, old) == [
        "Forbidden: may not be changed in an update.",
        'Invalid value: "PreemptLowerPriority": field is immutable',
    ]


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": [], **spec}}


def test_a_pod_gets_its_classes_priority_and_policy() -> None:
    p = pod(priorityClassName="high")
    priority.admit_pod(p, [pc("high", 1000, preemptionPolicy="Never")])
    assert (p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (1000, "Never")


def test_without_a_class_the_lowest_global_default_or_zero() -> None:
    p = pod()
    priority.admit_pod(p, [])
    assert p["spec"]["priority"] == 0
    assert p["spec"]["preemptionPolicy"] == "PreemptLowerPriority"
    assert "priorityClassName" not in p["spec"]
    p = pod()
    classes = [pc("b", 50, True, preemptionPolicy="PreemptLowerPriority"),
               pc("a", 10, True, preemptionPolicy="PreemptLowerPriority"), pc("c", 5)]  # fmt: skip
    priority.admit_pod(p, classes)
    assert (p["spec"]["priorityClassName"], p["spec"]["priority"]) == ("a", 10)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"priorityClassName": "nope"}, 'pods "p" is forbidden: no PriorityClass with name nope '
         "was found"),
        ({"priorityClassName": "high", "priority": 7}, 'pods "p" is forbidden: the integer value '
         "of priority (7) must not be provided in pod spec; priority admission controller "
         "computed 1000 from the given PriorityClass name"),
    ],
)  # fmt: skip
def test_an_unknown_class_or_a_disagreeing_priority_is_forbidden(
    spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(errors.ForbiddenError) as e:
        priority.admit_pod(pod(**spec), [pc("high", 1000, preemptionPolicy="PreemptLowerPriority")])
    assert str(e.value) == message


def test_only_one_global_default() -> None:
    existing = [pc("first", 1, True)]
    priority.admit_class(pc("first", 1, True), existing)  # itself, on update
    priority.admit_class(pc("plain", 1), existing)
    with pytest.raises(errors.ForbiddenError) as e:
        priority.admit_class(pc("second", 2, True), existing)
    assert str(e.value) == (
        'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is already '
        "marked as default. Only one default can exist"
    )


def test_table_columns() -> None:
    printer = printer_for("priorityclasses")
    assert [c.header for c in printer.columns] == [
        "NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"
    ]  # fmt: skip
    now = dt.datetime(2026, 12, 5, 8, tzinfo=dt.UTC)
    obj = pc("high", 1000, True, preemptionPolicy="Never")
    obj["metadata"]["creationTimestamp"] = "2026-12-05T07:00:00Z"
    assert printer.cells(obj, now) == ["high", "1000", "true", "60m", "Never"]


def test_describe_shows_the_class_and_the_nominated_node() -> None:
    p = {"metadata": {"name": "p", "namespace": "default"},
         "spec": {"priority": 1000, "priorityClassName": "high", "containers": []},
         "status": {"phase": "Pending", "nominatedNodeName": "node-1"}}  # fmt: skip
    lines = describe_pod(p, [], dt.datetime(2026, 12, 5, tzinfo=dt.UTC)).splitlines()
    assert lines[2:4] == ["Priority:             1000", "Priority Class Name:  high"]
    assert "NominatedNodeName:    node-1" in lines


def test_a_class_the_lister_has_not_seen_is_looked_up_again() -> None:
    reads: list[int] = []

    def reread() -> list[dict[str, Any]]:
        reads.append(1)
        return [pc("new", 300, preemptionPolicy="Never")]

    p = pod(priorityClassName="new")
    priority.admit_pod(p, [], reread)
    assert (p["spec"]["priority"], reads) == (300, [1])
    known = pod(priorityClassName="new")
    priority.admit_pod(known, [pc("new", 300)], reread)
    assert reads == [1]  # found in the lister: no second read
    with pytest.raises(errors.ForbiddenError):
        priority.admit_pod(pod(priorityClassName="gone"), [], reread)
