"""What the Registry does with the body it is given: a caller's body is copied before the write
changes it (defaults, server-owned metadata), unless the caller gives it away (``owned``: the
API server's decoded request body, used once)."""

from __future__ import annotations

import copy
from typing import Any

from common.resources import must
from control.memory_store import MemoryStore
from control.registry.registry import Registry

NAMESPACES, PODS = must("namespaces"), must("pods")


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


def test_a_body_is_left_as_the_caller_gave_it_unless_given_away() -> None:
    registry = Registry(MemoryStore())
    try:
        registry.create(NAMESPACES, "", {"metadata": {"name": "team"}})
        body = pod("kept")
        created, _ = registry.create(PODS, "team", body)
        assert body == pod("kept")
        replacement = copy.deepcopy(created)
        replacement["metadata"]["labels"] = {"a": "b"}
        sent = copy.deepcopy(replacement)
        replaced = registry.replace(PODS, "team", "kept", sent)
        assert sent == replacement and replaced["metadata"]["labels"] == {"a": "b"}

        given = pod("given")
        owned, _ = registry.create(PODS, "team", given, owned=True)
        assert given["metadata"]["uid"] == owned["metadata"]["uid"]  # the body was the object
        assert given["spec"]["restartPolicy"] == "Always"
    finally:
        registry.cache.stop()
