"""The DefaultTolerationSeconds admission (pure): which pods get the not-ready and unreachable
NoExecute tolerations, in Kubernetes' order, and which already tolerate those taints; and the
control plane's flags that set the seconds."""

from __future__ import annotations

from typing import Any

from control.main import default_tolerations, parse_args
from control.registry.strategies import add_default_tolerations

NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 5}  # fmt: skip
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
               "effect": "NoExecute", "tolerationSeconds": 7}  # fmt: skip


def admitted(*tolerations: dict[str, Any]) -> list[dict[str, Any]]:
    pod: dict[str, Any] = {"spec": {"containers": []}}
    if tolerations:
        pod["spec"]["tolerations"] = list(tolerations)
    add_default_tolerations(pod, 5, 7)
    return list(pod["spec"]["tolerations"])


def test_a_pod_without_tolerations_gets_both_not_ready_first() -> None:
    assert admitted() == [NOT_READY, UNREACHABLE]


def test_a_pod_tolerating_one_taint_gets_only_the_other() -> None:
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 60}  # fmt: skip
    assert admitted(own) == [own, NOT_READY]
    forever = {"key": "node.kubernetes.io/not-ready", "operator": "Exists"}  # any effect
    assert admitted(forever) == [forever, UNREACHABLE]


def test_a_toleration_of_every_taint_covers_both() -> None:
    everything = {"operator": "Exists"}
    assert admitted(everything) == [everything]
    no_execute = {"operator": "Exists", "effect": "NoExecute"}
    assert admitted(no_execute) == [no_execute]


def test_tolerations_of_other_taints_or_effects_do_not_count() -> None:
    other = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoExecute"}
    no_schedule = {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                   "effect": "NoSchedule"}  # fmt: skip
    assert admitted(other, no_schedule) == [other, no_schedule, NOT_READY, UNREACHABLE]


def test_admitting_twice_changes_nothing() -> None:
    pod: dict[str, Any] = {"spec": {}}
    add_default_tolerations(pod, 5, 7)
    once = [dict(t) for t in pod["spec"]["tolerations"]]
    add_default_tolerations(pod, 5, 7)
    assert pod["spec"]["tolerations"] == once


def test_the_seconds_follow_the_eviction_timeout_unless_given() -> None:
    assert default_tolerations(parse_args([])) == (5, 5)
    assert default_tolerations(parse_args(["--pod-eviction-timeout=1.5s"])) == (2, 2)
    args = parse_args(["--pod-eviction-timeout=2s", "--default-unreachable-toleration-seconds=300"])
    assert default_tolerations(args) == (2, 300)
