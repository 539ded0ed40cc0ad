"""The garbage collector's plan: given these owners and dependents, this is garbage; per object
(``plan_item``), the same as over the whole collection; which work an object asks for
(``needs``), and which references an update released (``released``)."""

from __future__ import annotations

from typing import Any

from control.controllers.gc_plan import (
    ATTEMPT_TO_DELETE,
    ATTEMPT_TO_ORPHAN,
    needs,
    owner_key,
    plan_collection,
    plan_item,
    released,
)

Obj = dict[str, Any]


def obj(kind: str, name: str, *owners: Obj, finalizers: list[str] | None = None,
        deleting: bool = False, block: bool = True) -> Obj:  # fmt: skip
    api = "v1" if kind == "Pod" else "apps/v1"
    m: Obj = {"name": name, "namespace": "default", "uid": f"{kind}-{name}"}
    if owners:
        m["ownerReferences"] = [
            {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
             "uid": o["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}
            for o in owners
        ]  # fmt: skip
    if finalizers:
        m["finalizers"] = finalizers
    if deleting:
        m["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    return {"apiVersion": api, "kind": kind, "metadata": m}


PLURAL = {"Deployment": "deployments", "ReplicaSet": "replicasets", "Pod": "pods"}


def plan(*objects: Obj) -> Any:
    return plan_collection((PLURAL[o["kind"]], o) for o in objects)


def names(objs: list[Obj]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def test_dependents_of_a_gone_owner_are_deleted_in_the_background() -> None:
    d = obj("Deployment", "web")
    rs = obj("ReplicaSet", "web-abc", d)
    p = plan(rs)  # the Deployment is gone
    assert [(x.obj["metadata"]["name"], x.policy) for x in p.delete] == [("web-abc", "Background")]
    assert [r["uid"] for r in p.delete[0].dangling] == ["Deployment-web"]
    assert plan(d, rs).delete == []


def test_an_owner_recreated_under_the_same_name_does_not_save_the_old_dependents() -> None:
    old = obj("Deployment", "web")
    rs = obj("ReplicaSet", "web-abc", old)
    new = obj("Deployment", "web")
    new["metadata"]["uid"] = "another-uid"
    assert names([x.obj for x in plan(new, rs).delete]) == ["web-abc"]


def test_references_to_gone_owners_are_dropped_when_a_live_one_remains() -> None:
    a, b = obj("Deployment", "a"), obj("Deployment", "b")
    rs = obj("ReplicaSet", "shared", a, b)
    rs["metadata"]["ownerReferences"][1]["controller"] = False
    p = plan(b, rs)
    assert p.delete == []
    [stripped] = p.strip
    assert [r["name"] for r in stripped["metadata"]["ownerReferences"]] == ["b"]


def test_orphan_finalizer_releases_dependents() -> None:
    d = obj("Deployment", "web", finalizers=["orphan"], deleting=True)
    rs = obj("ReplicaSet", "web-abc", d)
    p = plan(d, rs)
    [(owner, released)] = p.orphan
    assert owner is d and names(released) == ["web-abc"]
    assert "ownerReferences" not in released[0]["metadata"]
    assert p.delete == []


def test_foreground_deletes_dependents_and_waits_for_blocking_ones() -> None:
    d = obj("Deployment", "web", finalizers=["foregroundDeletion"], deleting=True)
    rs = obj("ReplicaSet", "web-abc", d)
    pod = obj("Pod", "web-abc-1", rs)
    p = plan(d, rs, pod)
    # The ReplicaSet has dependents of its own: deleted in the foreground too.
    assert [(x.obj["metadata"]["name"], x.policy) for x in p.delete] == [("web-abc", "Foreground")]
    assert p.unblock == []
    # Once it is gone, nothing blocks the Deployment any more.
    assert names(plan(d, pod).unblock) == ["web"]
    # A dependent that does not block does not hold the owner.
    loose = obj("ReplicaSet", "loose", d, block=False)
    assert names(plan(d, loose).unblock) == ["web"]


def test_objects_being_deleted_are_left_to_their_own_deletion() -> None:
    rs = obj("ReplicaSet", "web-abc", obj("Deployment", "gone"), deleting=True)
    assert plan(rs).delete == []


def test_owner_kinds_tinykube_does_not_serve_never_collect() -> None:
    rs = obj("ReplicaSet", "web-abc")
    rs["metadata"]["ownerReferences"] = [{"apiVersion": "example.com/v1", "kind": "Thing",
                                          "name": "t", "uid": "t"}]  # fmt: skip
    assert plan(rs).delete == [] and plan(rs).strip == []


def owners_of(dependent: Obj, *present: Obj) -> dict[tuple[str, str, str], Obj]:
    keys = [owner_key(dependent, r) for r in dependent["metadata"].get("ownerReferences") or []]
    found = {(PLURAL[o["kind"]], "default", o["metadata"]["name"]): o for o in present}
    return {k: found[k] for k in keys if k in found}


def test_one_item_is_planned_as_the_whole_collection_plans_it() -> None:
    d = obj("Deployment", "web", finalizers=["foregroundDeletion"], deleting=True)
    rs = obj("ReplicaSet", "web-abc", d)
    pod = obj("Pod", "web-abc-1", rs)
    whole = plan(d, rs, pod)
    # The ReplicaSet, with its owner and its dependents: what the whole plan says of it.
    one = plan_item(rs, owners_of(rs, d), [pod])
    assert [(x.obj, x.policy) for x in one.delete] == [(x.obj, x.policy) for x in whole.delete]
    # The Deployment, once its ReplicaSet is gone: unblocked.
    assert names(plan_item(d, {}, []).unblock) == ["web"]
    assert plan_item(d, {}, [rs]).unblock == []
    # A dependent whose owner was not found: deleted, the reference named as dangling.
    [gone] = plan_item(pod, {}, []).delete
    assert gone.obj is pod and [r["uid"] for r in gone.dangling] == ["ReplicaSet-web-abc"]


def test_an_object_needs_work_only_when_an_owner_is_missing_or_a_deletion_waits() -> None:
    d = obj("Deployment", "web")
    rs = obj("ReplicaSet", "web-abc", d)
    assert needs(d, {}) == ()  # no owner, not being deleted
    assert needs(rs, owners_of(rs, d)) == ()  # its owner is there: nothing to do
    assert needs(rs, {}) == (ATTEMPT_TO_DELETE,)  # its owner is not
    other = obj("Deployment", "web")
    other["metadata"]["uid"] = "another-uid"
    assert needs(rs, owners_of(rs, other)) == (ATTEMPT_TO_DELETE,)  # another object by its name
    fg = obj("Deployment", "web", finalizers=["foregroundDeletion"], deleting=True)
    assert needs(fg, {}) == (ATTEMPT_TO_DELETE,)
    assert needs(rs, owners_of(rs, fg)) == (ATTEMPT_TO_DELETE,)  # its owner waits on it
    orphaning = obj("Deployment", "web", finalizers=["orphan"], deleting=True)
    assert needs(orphaning, {}) == (ATTEMPT_TO_ORPHAN,)
    assert needs(rs, owners_of(rs, orphaning)) == ()  # an orphaning owner is still solid
    assert needs(obj("Deployment", "going", deleting=True), {}) == ()


def test_released_references_are_the_dropped_and_the_no_longer_blocking() -> None:
    a, b = obj("Deployment", "a"), obj("Deployment", "b")
    before = obj("ReplicaSet", "rs", a, b)
    assert released(before, before) == []
    dropped = obj("ReplicaSet", "rs", b)
    assert [r["name"] for r in released(before, dropped)] == ["a"]
    loose = obj("ReplicaSet", "rs", a, b, block=False)
    assert [r["name"] for r in released(before, loose)] == ["a", "b"]
    assert released(loose, before) == []  # starting to block releases nothing
