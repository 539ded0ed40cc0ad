"""Merge patch, strategic merge patch and JSON patch over plain values."""

from __future__ import annotations

import pytest

from common import errors
from common.patch import json_patch, merge_patch, merge_patch_diff, strategic_merge_patch


def test_merge_patch_rfc7386_examples() -> None:
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}


def test_merge_patch_diff_roundtrip() -> None:
    old = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2]}}
    new = {"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"x": [1]}}
    patch = merge_patch_diff(old, new)
    assert patch == {"metadata": {"labels": {"b": None, "c": "3"}}, "spec": {"x": [1]}}
    assert merge_patch(old, patch) == new
    assert merge_patch_diff(new, new) == {}


def test_strategic_merge_keeps_other_containers_and_fields() -> None:
    live = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x:1", "ports": [{"containerPort": 80}]},
                {"name": "b", "image": "y:1"},
            ]
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "x:2"}],
        }
    }
    out = strategic_merge_patch(live, patch)
    assert out["spec"]["containers"] == [
        {"name": "a", "image": "x:2", "ports": [{"containerPort": 80}]},
        {"name": "b", "image": "y:1"},
    ]
    deleted = strategic_merge_patch(
        live, {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}
    )
    assert [c["name"] for c in deleted["spec"]["containers"]] == ["a"]


def test_json_patch_ops_and_errors() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}, "spec": {"l": [1, 2]}}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/a"},
            {"op": "replace", "path": "/spec/l/0", "value": 9},
            {"op": "add", "path": "/spec/l/-", "value": 3},
            {"op": "test", "path": "/spec/l/1", "value": 2},
        ],
    )
    assert out == {"metadata": {"labels": {"b": "2"}}, "spec": {"l": [9, 2, 3]}}
    assert doc["spec"]["l"] == [1, 2]
    with pytest.raises(errors.InvalidError):
        json_patch(doc, [{"op": "remove", "path": "/nope"}])
    with pytest.raises(errors.BadRequestError):
        json_patch(doc, {"op": "add"})


def test_service_ports_merge_by_port() -> None:
    """kubectl apply of a Service whose targetPort changed: ServiceSpec.ports merges by port."""
    svc = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 31000},
                              {"name": "m", "port": 9153, "targetPort": 9153}]}}  # fmt: skip
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert out["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 9090, "nodePort": 31000},
        {"name": "m", "port": 9153, "targetPort": 9153},
    ]
    gone = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 9153, "$patch": "delete"}]}})
    assert [p["port"] for p in gone["spec"]["ports"]] == [80]
