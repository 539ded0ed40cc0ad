"""The garbage collector's plan: given these owners and dependents, this is garbage."""

from __future__ import annotations

from typing import Any

from control.controllers.gc_plan import plan_collection

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
