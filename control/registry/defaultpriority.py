"""The two PriorityClasses every cluster has, made at API server start as kube-apiserver's
scheduling post-start hook makes them: ``system-node-critical`` (2000001000) and
``system-cluster-critical`` (2000000000). A class already there is kept. The manifests are
pure; ``ensure_system_priority_classes`` writes through the Registry."""

from __future__ import annotations

import logging
from typing import Any

from common import errors
from common.resources import must
from control.registry.registry import Registry

log = logging.getLogger(__name__)

PRIORITY_CLASSES = must("priorityclasses")
SYSTEM_CLASSES = (
    ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be "
     "moved from their current node."),
    ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in "
     "the cluster, but can be moved to another node if necessary."),
)  # fmt: skip


def system_classes() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": name}, "value": value, "description": description}
        for name, value, description in SYSTEM_CLASSES
    ]  # fmt: skip


def ensure_system_priority_classes(registry: Registry) -> None:
    """Create the system classes that are missing."""
    for pc in system_classes():
        try:
            registry.create(PRIORITY_CLASSES, "", pc)
            log.info("scheduling: made PriorityClass %s", pc["metadata"]["name"])
        except errors.AlreadyExistsError:
            pass
