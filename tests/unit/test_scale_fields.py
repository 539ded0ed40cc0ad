"""The conversion of managedFields between a Deployment and its Scale (kube-apiserver's
ScaleHandler): only the managers of ``spec.replicas`` are the Scale's, and a write of the Scale
gives the parent's ``spec.replicas`` to the Scale's managers, leaving every other field alone."""

from __future__ import annotations

from control.registry import fieldsets as fs
from control.registry import managedfields as mf
from control.registry.scale import REPLICAS, to_parent, to_scale

T = "2026-01-01T00:00:00Z"
IMAGE = fs.decode({"f:spec": {"f:template": {"f:spec": {"f:image": {}}}}})


def _entry(manager: str, fields: fs.Tree, operation: str = mf.APPLY, sub: str = "") -> mf.Entry:
    return mf.Entry(manager, operation, "apps/v1", T, fields, sub)


def _owners(entries: list[mf.Entry]) -> dict[str, fs.Tree]:
    return {e.manager: fs.encode(e.fields) for e in entries}


def test_the_scale_sees_only_the_managers_of_replicas() -> None:
    parent = [
        _entry("apply", fs.union(REPLICAS, IMAGE)),
        _entry("images", IMAGE, mf.UPDATE),
        _entry("hpa", REPLICAS, mf.UPDATE, "scale"),
    ]
    scale = to_scale(parent)
    assert _owners(scale) == {"apply": {"f:spec": {"f:replicas": {}}},
                              "hpa": {"f:spec": {"f:replicas": {}}}}  # fmt: skip
    # Each keeps its identity (the parent's API version of an Update), as conflicts name it.
    assert [e.identity() for e in scale] == [parent[0].identity(), parent[2].identity()]


def test_a_scale_write_moves_replicas_and_keeps_the_rest() -> None:
    parent = [_entry("apply", fs.union(REPLICAS, IMAGE)), _entry("other", REPLICAS, mf.UPDATE)]
    newcomer = mf.Entry("scaler", mf.APPLY, "autoscaling/v1", T, REPLICAS, "scale")
    after = to_parent(parent, [newcomer], "apps/v1")
    assert _owners(after) == {
        "apply": {"f:spec": {"f:template": {"f:spec": {"f:image": {}}}}},
        "scaler": {"f:spec": {"f:replicas": {}}},
    }
    mine = next(e for e in after if e.manager == "scaler")
    assert (mine.api_version, mine.subresource, mine.operation) == ("apps/v1", "scale", mf.APPLY)


def test_managers_still_listed_by_the_scale_keep_their_entries() -> None:
    parent = [_entry("apply", fs.union(REPLICAS, IMAGE)), _entry("co", REPLICAS, sub="scale")]
    after = to_parent(parent, to_scale(parent), "apps/v1")
    assert after == parent
    # A Scale that lists nobody takes replicas from everyone; an entry left empty goes.
    assert _owners(to_parent(parent, [], "apps/v1")) == {
        "apply": {"f:spec": {"f:template": {"f:spec": {"f:image": {}}}}}
    }
