"""Field sets as structured-merge-diff keeps them: fieldsV1 encoding, set operations, the set of
an applied configuration, comparisons, merges by list map keys and removal."""

from __future__ import annotations

from typing import Any

import pytest

import control.validation  # noqa: F401  (registers every kind's schema)
from control.registry import fieldsets as fs
from control.registry.fieldschema import ANY_NODE, ATOMIC, LIST, root

DEPLOYMENT = root("Deployment")
POD = root("Pod")
SERVICE = root("Service")


def _pod_spec(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": list(containers)}}


def test_fields_v1_round_trip_keeps_kubes_form() -> None:
    v1 = {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}},
    }
    tree = fs.decode(v1)
    assert fs.encode(tree) == v1
    assert list(fs.members(tree)) == [
        ("f:metadata", "f:labels"),
        ("f:metadata", "f:labels", "f:app"),
        ("f:spec", "f:containers", 'k:{"name":"web"}'),
        ("f:spec", "f:containers", 'k:{"name":"web"}', "f:image"),
    ]


def test_encode_orders_fields_before_keys_values_and_indices() -> None:
    tree = {"i:0": {".": {}}, "v:\"a\"": {".": {}}, "k:{}": {".": {}}, "f:z": {".": {}},
            "f:a": {".": {}}}  # fmt: skip
    assert list(fs.encode(tree)) == ["f:a", "f:z", "k:{}", 'v:"a"', "i:0"]


def test_set_operations() -> None:
    a = fs.decode({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}})
    b = fs.decode({"f:b": {"f:c": {}}, "f:e": {}})
    assert fs.encode(fs.union(a, b)) == {"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}, "f:e": {}}
    assert fs.encode(fs.difference(a, b)) == {"f:a": {}, "f:b": {"f:d": {}}}
    assert fs.encode(fs.intersection(a, b)) == {"f:b": {"f:c": {}}}
    assert fs.intersection(a, {}) == {}


def test_removable_keeps_a_node_with_an_owned_member_below() -> None:
    last = fs.decode({"f:labels": {".": {}, "f:a": {}, "f:b": {}}})
    owned = fs.decode({"f:labels": {"f:b": {}}})
    assert fs.encode(fs.removable(last, owned)) == {"f:labels": {"f:a": {}}}


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (("f:spec", "f:replicas"), ".spec.replicas"),
        (("f:spec", "f:containers", 'k:{"name":"web"}', "f:image"),
         '.spec.containers[name="web"].image'),
        (("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'),
         '.ports[containerPort=80,protocol="TCP"]'),
        (("f:finalizers", 'v:"x"'), '.finalizers[="x"]'),
        (("f:args", "i:2"), ".args[2]"),
    ],
)  # fmt: skip
def test_paths_print_as_structured_merge_diff_does(path: tuple[str, ...], shown: str) -> None:
    assert fs.path_string(path) == shown


def test_applied_set_names_leaves_and_list_items() -> None:
    config = {
        "metadata": {"labels": {"app": "web"}, "finalizers": ["x"]},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": _pod_spec(
                {"name": "web", "image": "i", "ports": [{"containerPort": 80}], "args": ["a"]}
            ),
        },
    }
    assert fs.encode(fs.field_set(config, DEPLOYMENT)) == {
        "f:metadata": {"f:finalizers": {'v:"x"': {}}, "f:labels": {"f:app": {}}},
        "f:spec": {
            "f:selector": {},  # an atomic struct
            "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {
                ".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {
                    ".": {}, "f:containerPort": {}}},
            }}}},
        },
    }  # fmt: skip


def test_service_ports_are_keyed_by_port_and_protocol() -> None:
    config = {"spec": {"ports": [{"port": 80, "protocol": "UDP"}]}}
    keys = fs.field_set(config, SERVICE)["f:spec"]["f:ports"]
    assert list(keys) == ['k:{"port":80,"protocol":"UDP"}']


def test_compare_reports_added_modified_removed_only_where_unequal() -> None:
    old = {"metadata": {"labels": {"a": "1", "b": "2"}},
           **_pod_spec({"name": "web", "image": "1"})}  # fmt: skip
    new = {"metadata": {"labels": {"a": "1", "c": "3"}},
           **_pod_spec({"name": "web", "image": "2"}, {"name": "side", "image": "s"})}  # fmt: skip
    c = fs.compare(old, new, POD)
    assert fs.encode(c.added) == {
        "f:metadata": {"f:labels": {"f:c": {}}},
        "f:spec": {"f:containers": {'k:{"name":"side"}': {".": {}, "f:image": {}, "f:name": {}}}},
    }
    assert fs.encode(c.modified) == {
        "f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}
    }
    assert fs.encode(c.removed) == {"f:metadata": {"f:labels": {"f:b": {}}}}
    assert fs.compare(old, old, POD).changed() == {}


def test_a_new_map_is_a_member_itself_a_struct_is_not() -> None:
    c = fs.compare({}, {"metadata": {"labels": {"a": "1"}}}, POD)
    assert fs.encode(c.added) == {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}}


def test_merge_by_list_map_keys_keeps_others_items_and_fields() -> None:
    live = _pod_spec({"name": "a", "image": "1", "command": ["x"]}, {"name": "b", "image": "2"})
    config = _pod_spec({"name": "a", "image": "9"}, {"name": "c", "image": "3"})
    merged = fs.merge(live, config, POD)
    assert merged["spec"]["containers"] == [
        {"name": "a", "image": "9", "command": ["x"]},
        {"name": "b", "image": "2"},
        {"name": "c", "image": "3"},
    ]


def test_merge_replaces_atomic_lists_and_unions_sets() -> None:
    live = {"metadata": {"finalizers": ["a"]}, **_pod_spec({"name": "a", "args": ["1", "2"]})}
    config = {"metadata": {"finalizers": ["b"]}, **_pod_spec({"name": "a", "args": ["3"]})}
    merged = fs.merge(live, config, POD)
    assert merged["metadata"]["finalizers"] == ["a", "b"]
    assert merged["spec"]["containers"][0]["args"] == ["3"]


def test_remove_takes_out_members_and_list_items() -> None:
    obj = {"metadata": {"labels": {"a": "1", "b": "2"}},
           **_pod_spec({"name": "a", "image": "1"}, {"name": "b", "image": "2"})}  # fmt: skip
    tree = fs.decode({"f:metadata": {"f:labels": {"f:a": {}}},
                      "f:spec": {"f:containers": {'k:{"name":"b"}': {}}}})  # fmt: skip
    out = fs.remove(obj, tree, POD)
    assert out["metadata"]["labels"] == {"b": "2"}
    assert [c["name"] for c in out["spec"]["containers"]] == ["a"]
    assert obj["metadata"]["labels"] == {"a": "1", "b": "2"}  # a copy


def test_the_schema_knows_list_types_and_free_form_values() -> None:
    containers = POD.child("spec").child("containers")
    assert containers.kind == LIST and containers.list_type == "map"
    assert containers.keys == ("name",)
    assert POD.child("spec").child("tolerations").list_type == "atomic"
    assert DEPLOYMENT.child("spec").child("selector").kind == ATOMIC
    assert POD.child("nonsense") is ANY_NODE


def test_atomic_maps_are_owned_as_one_value() -> None:
    config = {"spec": {"nodeSelector": {"disk": "ssd"}, "containers": []}}
    assert fs.encode(fs.field_set(config, POD)) == {"f:spec": {"f:containers": {},
                                                              "f:nodeSelector": {}}}  # fmt: skip
    merged = fs.merge({"spec": {"nodeSelector": {"a": "1"}}}, config, POD)
    assert merged["spec"]["nodeSelector"] == {"disk": "ssd"}
