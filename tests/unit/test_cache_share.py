"""Structural sharing between an object's versions in the watch cache."""

from __future__ import annotations

import copy
from typing import Any

from control.cache.share import share


def pod(phase: str, ready: bool) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "labels": {"app": "web"}, "resourceVersion": "7",
                     "managedFields": [{"manager": "a", "fieldsV1": {"f:spec": {}}},
                                       {"manager": "k", "time": phase}]},
        "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n1"},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": str(ready)}],
                   "restartCount": 0},
    }  # fmt: skip


def test_equal_parts_become_the_old_versions_own_and_the_new_value_is_unchanged() -> None:
    old, new = pod("Pending", False), pod("Running", True)
    expected = copy.deepcopy(new)
    assert share(new, old) is new
    assert new == expected
    assert new["spec"] is old["spec"]
    assert new["metadata"]["labels"] is old["metadata"]["labels"]
    assert new["metadata"]["managedFields"][0] is old["metadata"]["managedFields"][0]
    assert new["metadata"]["managedFields"][1] is not old["metadata"]["managedFields"][1]
    assert new["status"] is not old["status"]
    assert new["status"]["conditions"][0] is not old["status"]["conditions"][0]
    assert old == pod("Pending", False)  # the old version is never written to


def test_values_of_another_type_or_lists_of_another_length_are_kept() -> None:
    old = {"a": 1, "b": [1, 2], "c": {"x": 1}, "d": "s"}
    new = {"a": True, "b": [1, 2, 3], "c": {"x": 1.0}, "e": {"y": 1}}
    kept = {k: new[k] for k in new}
    share(new, old)
    assert new == {"a": True, "b": [1, 2, 3], "c": {"x": 1.0}, "e": {"y": 1}}
    assert all(new[k] is kept[k] for k in ("a", "b", "e"))
    assert type(new["c"]["x"]) is float


def test_nested_lists_are_shared_item_by_item() -> None:
    old = {"l": [[{"a": 1}, {"b": 2}], "x"]}
    new = {"l": [[{"a": 1}, {"b": 3}], "x"]}
    share(new, old)
    assert new == {"l": [[{"a": 1}, {"b": 3}], "x"]}
    assert new["l"][0][0] is old["l"][0][0]
    assert new["l"][0][1] is not old["l"][0][1]


def test_a_number_of_another_json_type_deep_inside_is_not_shared() -> None:
    old = {"c": {"x": 1, "y": [True]}, "d": {"n": 2**70}}
    new = {"c": {"x": 1.0, "y": [1]}, "d": {"n": 2**70}}
    share(new, old)
    assert type(new["c"]["x"]) is float and type(new["c"]["y"][0]) is int
    assert new["d"] is not old["d"]  # orjson cannot write it: left alone, equal all the same
    assert new["d"] == old["d"]
