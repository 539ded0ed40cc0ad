"""The field manager's rules: Update and Apply entries, conflicts as kube-apiserver words them,
force, removal of dropped fields, the cap on Update entries, managers from user agents, and the
Lease renewal's cheap update of its entry's time."""

from __future__ import annotations

from typing import Any

import pytest

import control.validation  # noqa: F401  (registers every kind's schema)
from common import errors
from control.registry import fieldsets as fs
from control.registry import managedfields as mf
from control.registry.fieldschema import root
from control.registry.nodeleases import renewed_fields

NODE = root("Deployment")


def _change(name: str, operation: str = mf.UPDATE, now: str = "2026-01-01T00:00:00Z") -> mf.Change:
    return mf.Change(mf.Manager(name), operation, "apps/v1", now, NODE)


def _obj(replicas: int = 1, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "d", "labels": labels}, "spec": {"replicas": replicas}}


def test_manager_from_field_manager_or_user_agent() -> None:
    assert mf.manager_from("kubectl-edit", "kubectl/v1.35.2 (linux/amd64)") == "kubectl-edit"
    assert mf.manager_from(None, "kubectl/v1.35.2 (linux/amd64) kubernetes/abc") == "kubectl"
    assert mf.manager_from("", "x" * 300) == "x" * 128


def test_update_gives_the_manager_what_it_changed_and_takes_it_from_others() -> None:
    first = mf.update({}, _obj(1, a="1"), [], _change("one"), "", True)
    assert [e.manager for e in first] == ["one"]
    second = mf.update(_obj(1, a="1"), _obj(2, a="1"), first, _change("two"), "", True)
    owners = {e.manager: fs.encode(e.fields) for e in second}
    assert owners["two"] == {"f:spec": {"f:replicas": {}}}
    assert owners["one"] == {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}}


def test_an_update_that_changes_nothing_keeps_the_entries() -> None:
    entries = mf.update({}, _obj(1), [], _change("one"), "", True)
    assert mf.update(_obj(1), _obj(1), entries, _change("two"), "", True) is entries


def test_status_writes_track_only_the_status() -> None:
    old = {**_obj(1), "status": {"replicas": 0}}
    new = {**_obj(5), "status": {"replicas": 1}}
    entries = mf.update(old, new, [], _change("ctrl"), "status", True)
    assert entries[0].subresource == "status"
    assert fs.encode(entries[0].fields) == {"f:status": {"f:replicas": {}}}


def test_apply_conflict_message_and_force() -> None:
    owned = mf.update({}, _obj(1), [], _change("kubectl-client-side-apply"), "", True)
    with pytest.raises(errors.ConflictError) as e:
        mf.apply(_obj(1), {"spec": {"replicas": 2}}, owned, _change("kubectl", mf.APPLY), False)
    assert e.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
        ".spec.replicas"
    )
    merged, entries = mf.apply(
        _obj(1), {"spec": {"replicas": 2}}, owned, _change("kubectl", mf.APPLY), True
    )
    assert merged["spec"]["replicas"] == 2
    fields = {e.manager: fs.encode(e.fields) for e in entries}
    assert fields["kubectl"] == {"f:spec": {"f:replicas": {}}}
    assert "f:spec" not in fields["kubectl-client-side-apply"]


def test_apply_conflicts_allowed_by_a_take_over_are_forced() -> None:
    owned = mf.update({}, _obj(1), [], _change("kubectl-client-side-apply"), "", True)
    allowed = fs.decode({"f:spec": {"f:replicas": {}}})
    merged, _ = mf.apply(_obj(1), {"spec": {"replicas": 2}}, owned,
                         _change("kubectl", mf.APPLY), False, allowed)  # fmt: skip
    assert merged["spec"]["replicas"] == 2


def test_apply_removes_what_the_manager_no_longer_applies() -> None:
    change = _change("me", mf.APPLY)
    _, entries = mf.apply({}, _obj(1, a="1", b="2"), [], change, False)
    merged, entries = mf.apply(_obj(1, a="1", b="2"), _obj(1, a="1"), entries, change, False)
    assert merged["metadata"]["labels"] == {"a": "1"}
    assert [e.operation for e in entries] == [mf.APPLY]


def test_conflicts_of_several_managers_are_listed_by_manager() -> None:
    e = mf.conflict_error([
        (mf.Entry("b", mf.APPLY, "v1", "", {}), ("f:spec", "f:x")),
        (mf.Entry("a", mf.UPDATE, "v1", "", {}, "status"), ("f:status",)),
    ])  # fmt: skip
    assert e.message == (
        'Apply failed with 2 conflicts: conflicts with "a" with subresource "status" using v1:\n'
        '- .status\nconflicts with "b":\n- .spec.x'
    )
    assert e.code == 409


def test_encode_sorts_apply_first_then_by_time() -> None:
    entries = [mf.Entry("u", mf.UPDATE, "v1", "2", {"f:a": {".": {}}}),
               mf.Entry("z", mf.APPLY, "v1", "3", {"f:b": {".": {}}}),
               mf.Entry("t", mf.UPDATE, "v1", "1", {"f:c": {".": {}}}, "status")]  # fmt: skip
    encoded = mf.encode(entries)
    assert [e["manager"] for e in encoded] == ["z", "t", "u"]
    assert encoded[1]["subresource"] == "status" and encoded[0]["fieldsType"] == "FieldsV1"
    assert mf.decode({"metadata": {"managedFields": encoded}})[0].fields == {"f:b": {".": {}}}


def test_update_entries_are_capped_into_ancient_changes() -> None:
    entries = [mf.Entry(f"m{i:02}", mf.UPDATE, "v1", f"t{i:02}", {f"f:x{i}": {".": {}}})
               for i in range(12)]  # fmt: skip
    capped = mf.cap(entries)
    names = sorted(e.manager for e in capped)
    assert len(capped) == mf.MAX_UPDATE_MANAGERS
    assert "ancient-changes" in names and "m00" not in names and "m02" not in names
    bucket = next(e for e in capped if e.manager == "ancient-changes")
    assert set(bucket.fields) == {"f:x0", "f:x1", "f:x2"}
    assert mf.cap(capped) == capped


def test_a_lease_renewal_moves_only_its_entrys_time() -> None:
    entry = {"manager": "agent", "operation": "Update", "time": "old",
             "fieldsV1": {"f:spec": {"f:renewTime": {}, "f:holderIdentity": {}}}}  # fmt: skip
    other = {"manager": "x", "operation": "Update", "time": "old", "fieldsV1": {"f:metadata": {}}}
    metadata = {"managedFields": [other, entry]}
    renewed_fields(metadata, "new")
    assert [e["time"] for e in metadata["managedFields"]] == ["old", "new"]
    assert entry["time"] == "old"  # the remembered Lease is not changed in place


def test_an_apply_that_changes_nothing_keeps_its_time() -> None:
    _, entries = mf.apply({}, _obj(1), [], _change("me", mf.APPLY, now="t1"), False)
    live = _obj(1)
    _, again = mf.apply(live, _obj(1), entries, _change("me", mf.APPLY, now="t2"), False)
    assert [e.time for e in again] == ["t1"]
    _, changed = mf.apply(live, _obj(2), entries, _change("me", mf.APPLY, now="t3"), False)
    assert [e.time for e in changed] == ["t3"]
