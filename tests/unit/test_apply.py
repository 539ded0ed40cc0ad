"""apply's three-way strategic merge patch (last-applied, manifest, live object), checked both as
the patch kubectl would send and by applying it with the server's strategic merge."""

from __future__ import annotations

import copy
from typing import Any

from common.apply import apply_patch, three_way_patch
from common.manifest import LAST_APPLIED, last_applied, with_last_applied
from common.patch import strategic_merge_patch

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "web", "image": "tinykube/web:1", "ports": [{"containerPort": 80}]},
                    {"name": "side", "image": "tinykube/sleeper:1"},
                ]
            },
        },
    },
}


def live(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the server holds after creating ``manifest`` with apply: defaults and status added."""
    obj = with_last_applied(manifest)
    obj["metadata"].update(uid="u1", resourceVersion="7", generation=1)
    obj["spec"]["strategy"] = {"type": "RollingUpdate"}
    for c in obj["spec"]["template"]["spec"]["containers"]:
        c["imagePullPolicy"] = "IfNotPresent"
        for p in c.get("ports", []):
            p["protocol"] = "TCP"
    obj["status"] = {"replicas": 2}
    return obj


def changed(**edits: Any) -> dict[str, Any]:
    out = copy.deepcopy(DEPLOY)
    for path, value in edits.items():
        *parents, last = path.split("__")
        target = out
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        target[last] = value
    return out


def test_unchanged_manifest_sends_nothing() -> None:
    assert apply_patch(live(DEPLOY), DEPLOY) == {}


def test_image_change_patches_one_container_by_name_and_keeps_defaults() -> None:
    current = live(DEPLOY)
    new = copy.deepcopy(DEPLOY)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "tinykube/web:2"
    patch = apply_patch(current, new)
    assert patch == {
        "metadata": {"annotations": {LAST_APPLIED: last_applied(new)}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
                    "containers": [{"name": "web", "image": "tinykube/web:2"}],
                }
            }
        },
    }
    result = strategic_merge_patch(current, patch)
    web = result["spec"]["template"]["spec"]["containers"][0]
    # The server's defaults survive: a JSON merge patch would have replaced the whole list.
    assert web == {
        "name": "web",
        "image": "tinykube/web:2",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
    }
    assert result["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert result["status"] == {"replicas": 2}


def test_removed_container_is_deleted_by_key() -> None:
    current = live(DEPLOY)
    new = copy.deepcopy(DEPLOY)
    del new["spec"]["template"]["spec"]["containers"][1]
    patch = apply_patch(current, new)
    spec = patch["spec"]["template"]["spec"]
    assert spec["containers"] == [{"$patch": "delete", "name": "side"}]
    assert spec["$setElementOrder/containers"] == [{"name": "web"}]
    result = strategic_merge_patch(current, patch)
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_removed_field_and_label_become_null_only_if_last_applied_had_them() -> None:
    manifest = copy.deepcopy(DEPLOY)
    manifest["metadata"]["labels"]["tier"] = "fe"
    current = live(manifest)
    current["metadata"]["labels"]["added-by-hand"] = "x"
    new = copy.deepcopy(DEPLOY)
    del new["spec"]["replicas"]
    patch = apply_patch(current, new)
    assert patch["metadata"]["labels"] == {"tier": None}
    assert patch["spec"] == {"replicas": None}
    result = strategic_merge_patch(current, patch)
    assert result["metadata"]["labels"] == {"app": "web", "added-by-hand": "x"}
    assert "replicas" not in result["spec"]


def test_live_drift_is_reset_to_the_manifest() -> None:
    current = live(DEPLOY)
    current["spec"]["replicas"] = 5  # tkctl scale happened since
    patch = apply_patch(current, DEPLOY)
    assert patch["spec"] == {"replicas": 2}
    assert "annotations" not in patch.get("metadata", {})


def test_new_container_and_new_env_item_are_added_whole() -> None:
    current = live(DEPLOY)
    new = copy.deepcopy(DEPLOY)
    containers = new["spec"]["template"]["spec"]["containers"]
    containers[0]["env"] = [{"name": "A", "value": "1"}]
    containers.insert(0, {"name": "init", "image": "busybox"})
    patch = apply_patch(current, new)
    items = patch["spec"]["template"]["spec"]["containers"]
    assert {"name": "init", "image": "busybox"} in items
    assert {"name": "web", "env": [{"name": "A", "value": "1"}]} in items
    result = strategic_merge_patch(current, patch)
    names = [c["name"] for c in result["spec"]["template"]["spec"]["containers"]]
    assert sorted(names) == ["init", "side", "web"]


def test_atomic_lists_are_replaced_whole() -> None:
    base = copy.deepcopy(DEPLOY)
    base["spec"]["template"]["spec"]["containers"][1]["args"] = ["sleep", "10"]
    current = live(base)
    new = copy.deepcopy(base)
    new["spec"]["template"]["spec"]["containers"][1]["args"] = ["sleep", "20"]
    patch = apply_patch(current, new)
    assert patch["spec"]["template"]["spec"]["containers"] == [
        {"name": "side", "args": ["sleep", "20"]}
    ]


def test_without_last_applied_nothing_is_deleted() -> None:
    current = live(DEPLOY)
    del current["metadata"]["annotations"]
    new = copy.deepcopy(DEPLOY)
    del new["spec"]["template"]["spec"]["containers"][1]
    patch = apply_patch(current, new)
    assert set(patch) == {"metadata"}
    assert patch["metadata"]["annotations"][LAST_APPLIED] == last_applied(new)


def test_three_way_explicit_null_and_nested_item_deletion() -> None:
    original = {"spec": {"containers": [{"name": "a", "image": "x", "env": [{"name": "E"}]}]}}
    current = copy.deepcopy(original)
    current["spec"]["containers"][0]["env"].append({"name": "F"})
    modified = {"spec": {"containers": [{"name": "a", "image": "x", "env": []}]}, "z": None}
    patch = three_way_patch(original, modified, current)
    assert patch == {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [
                {"name": "a", "env": [{"$patch": "delete", "name": "E"}],
                 "$setElementOrder/env": []}
            ],
        }
    }  # fmt: skip
    result = strategic_merge_patch(current, patch)
    assert result["spec"]["containers"][0]["env"] == [{"name": "F"}]
