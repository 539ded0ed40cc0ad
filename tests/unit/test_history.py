"""ControllerRevisions: the history helpers (hash, name, ordering, equality, next revision, an
owner's revisions in a cache), validation with Kubernetes' messages and the table row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common import errors
from common.fielderrors import aggregate
from common.informer import Indexer, by_namespace
from common.labels import selector_from_object
from common.printers import PRINTERS, headers, row
from common.wellknown import CONTROLLER_REVISION_HASH_LABEL
from control.controllers import history
from control.validation import decode_object, validate

Obj = dict[str, Any]
OWNER: Obj = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "logs", "namespace": "default", "uid": "u-1"},
}
DATA: Obj = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}}}


def test_fnv1_matches_go_hash_fnv_new32() -> None:
    # Go: fnv.New32(); Write([]byte("hello")); Sum32() == 0xb6fa7167
    assert history.fnv32(b"hello") == 0xB6FA7167
    assert history.fnv32(b"") == history.FNV32_OFFSET


def test_hash_is_stable_safe_and_changes_with_data_and_probe() -> None:
    h = history.hash_revision(DATA)
    assert h == history.hash_revision({**DATA})
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 0 < len(h) <= 10
    assert history.hash_revision({"spec": {}}) != h
    assert history.hash_revision(DATA, 1) != h
    assert history.hash_revision(DATA, 1) != history.hash_revision(DATA, 2)


def test_revision_name_cuts_a_long_prefix() -> None:
    assert history.revision_name("logs", "abc") == "logs-abc"
    assert history.revision_name("x" * 300, "abc") == "x" * 223 + "-abc"


def test_new_controller_revision_is_owned_labelled_and_named() -> None:
    cr = history.new_controller_revision(OWNER, {"app": "logs"}, DATA, 3)
    h = history.hash_revision(DATA)
    assert cr["metadata"]["name"] == f"logs-{h}"
    assert cr["metadata"]["namespace"] == "default"
    assert cr["metadata"]["labels"] == {"app": "logs", CONTROLLER_REVISION_HASH_LABEL: h}
    ref = cr["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("DaemonSet", "u-1", True)
    assert cr["revision"] == 3 and cr["data"] == DATA and cr["data"] is not DATA
    assert validate("ControllerRevision", cr) == []


def _cr(name: str, revision: int, created: str = "2026-01-01T00:00:00Z", **extra: Any) -> Obj:
    m: Obj = {"name": name, "namespace": "default", "creationTimestamp": created}
    m.update(extra)
    return {"metadata": m, "data": {"n": name}, "revision": revision}


def test_sort_next_and_max_revision() -> None:
    crs = [_cr("c", 2), _cr("b", 1, "2026-01-02T00:00:00Z"), _cr("a", 1, "2026-01-02T00:00:00Z")]
    assert [c["metadata"]["name"] for c in history.sort_revisions(crs)] == ["a", "b", "c"]
    assert history.next_revision(crs) == 3 and history.max_revision(crs) == 2
    assert history.next_revision([]) == 1


def test_equal_revision_compares_data_and_hash_labels() -> None:
    a = history.new_controller_revision(OWNER, {}, DATA, 1)
    b = history.new_controller_revision(OWNER, {}, DATA, 7)
    c = history.new_controller_revision(OWNER, {}, {"spec": {}}, 1)
    assert history.equal_revision(a, b) and not history.equal_revision(a, c)
    labels = {CONTROLLER_REVISION_HASH_LABEL: "x"}
    relabelled = {**b, "metadata": {**b["metadata"], "labels": labels}}
    assert not history.equal_revision(a, relabelled)
    assert history.equal_revision(None, None) and not history.equal_revision(a, None)
    assert history.find_equal_revisions([a, c, b], b) == [a, b]


def test_list_revisions_keeps_owned_and_orphans_the_selector_matches() -> None:
    cache = Indexer({"namespace": by_namespace})
    mine = history.new_controller_revision(OWNER, {"app": "logs"}, DATA, 1)
    orphan = _cr("orphan", 1, labels={"app": "logs"})
    unselected_orphan = _cr("other", 1, labels={"app": "web"})
    foreign = _cr("foreign", 1, labels={"app": "logs"},
                  ownerReferences=[{"kind": "DaemonSet", "name": "x", "uid": "u-2",
                                    "controller": True}])  # fmt: skip
    elsewhere = history.new_controller_revision(
        {**OWNER, "metadata": {**OWNER["metadata"], "namespace": "kube-system"}},
        {"app": "logs"}, DATA, 1,
    )  # fmt: skip
    for o in (mine, orphan, unselected_orphan, foreign, elsewhere):
        cache.upsert(o)
    selector = selector_from_object({"matchLabels": {"app": "logs"}})
    names = sorted(c["metadata"]["name"] for c in history.list_revisions(cache, OWNER, selector))
    assert names == sorted([mine["metadata"]["name"], "orphan"])


def _errors(obj: Obj, old: Obj | None = None) -> str:
    causes = validate("ControllerRevision", obj, old)
    return aggregate(causes) if causes else ""


def test_validation_messages() -> None:
    ok = _cr("logs-1", 1)
    assert _errors(ok) == ""
    assert _errors({**ok, "data": None}) == "data: Required value: data is mandatory"
    assert _errors({**ok, "revision": -1}) == (
        "revision: Invalid value: -1: must be greater than or equal to 0"
    )
    bad_name = {**ok, "metadata": {**ok["metadata"], "name": "Bad_Name"}}
    assert _errors(bad_name).startswith('metadata.name: Invalid value: "Bad_Name"')


def test_update_keeps_data_but_may_renumber() -> None:
    old = _cr("logs-1", 1)
    old["metadata"]["resourceVersion"] = "5"
    assert _errors({**old, "revision": 4}, old) == ""  # rollback renumbers a revision
    assert _errors({**old, "data": {"n": "other"}}, old) == (
        'data: Invalid value: {"n":"other"}: field is immutable'
    )


def test_schema_takes_any_json_data_and_rejects_unknown_fields() -> None:
    decode_object("ControllerRevision", {**_cr("a", 1), "data": [1, "x"]})
    with pytest.raises(errors.BadRequestError, match='unknown field "spec"'):
        decode_object("ControllerRevision", {**_cr("a", 1), "spec": {}})


def test_table_row() -> None:
    now = dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC)
    cr = history.new_controller_revision(OWNER, {}, DATA, 2)
    cr["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    printer = PRINTERS["controllerrevisions"]
    assert headers(printer) == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert row(printer, cr, now) == [cr["metadata"]["name"], "daemonset.apps/logs", "2", "5m"]
    cr["metadata"].pop("ownerReferences")
    assert row(printer, cr, now)[1] == "<none>"
