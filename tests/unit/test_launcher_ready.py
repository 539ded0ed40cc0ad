"""``tinykube up`` counts a node once pods can be scheduled to it: Ready, and without the
not-ready taint a Node is created with."""

from __future__ import annotations

from typing import Any

import pytest

from common.launcher import _ready

READY = {"conditions": [{"type": "Ready", "status": "True"}]}
NOT_READY = {"conditions": [{"type": "Ready", "status": "False"}]}
TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
OTHER = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    "node, ready",
    [
        ({"status": READY}, True),
        ({"status": READY, "spec": {"taints": [OTHER]}}, True),
        ({"status": READY, "spec": {"taints": [TAINT]}}, False),
        ({"status": NOT_READY}, False),
        ({"spec": {"taints": [TAINT]}}, False),
    ],
)
def test_a_node_counts_once_schedulable(node: dict[str, Any], ready: bool) -> None:
    assert _ready(node) is ready
