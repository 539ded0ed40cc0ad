"""A DaemonSet's history as ControllerRevisions, as Kubernetes' daemon controller keeps it
(update.go getPatch, snapshot, Match, cleanupHistory): a revision holds the pod template as the
strategic merge patch that restores it (what ``rollout undo`` applies), is named
``<ds>-<hash of the template>``, and the oldest beyond ``revisionHistoryLimit`` that no pod is
of go. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from common.wellknown import CONTROLLER_REVISION_HASH_LABEL
from common.workloads import daemonset_revision_data
from control.controllers.history import revision_name, sort_revisions
from control.controllers.ownership import controller_ref
from control.controllers.templatehash import compute_hash

Obj = dict[str, Any]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _spec(ds: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(ds.get("spec"))


def revision_data(ds: Mapping[str, Any]) -> Obj:
    """getPatch: the DaemonSet's pod template as the strategic merge patch that restores it."""
    return daemonset_revision_data(ds)


def new_revision(ds: Mapping[str, Any], revision: int) -> Obj:
    """snapshot: the ControllerRevision of the DaemonSet's template, named ``<ds>-<hash>``."""
    dm = _m(ds.get("metadata"))
    collisions = _m(ds.get("status")).get("collisionCount")
    hash_ = compute_hash(_m(_spec(ds).get("template")), collisions)
    labels = dict(_m(_m(_m(_spec(ds).get("template")).get("metadata")).get("labels")))
    labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
    m: Obj = {"name": revision_name(str(dm.get("name") or ""), hash_),
              "namespace": dm.get("namespace"), "labels": labels,
              "ownerReferences": [controller_ref(ds)]}  # fmt: skip
    if dm.get("annotations"):
        m["annotations"] = copy.deepcopy(dict(dm["annotations"]))
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": m,
            "data": revision_data(ds), "revision": revision}  # fmt: skip


def matches(ds: Mapping[str, Any], revision: Mapping[str, Any]) -> bool:
    """Match: the revision holds the DaemonSet's current template."""
    return revision.get("data") == revision_data(ds)


def revisions_to_delete(ds: Mapping[str, Any], old: list[Obj], pods: Iterable[Obj]) -> list[Obj]:
    """cleanupHistory: the oldest revisions beyond ``revisionHistoryLimit`` no pod is of."""
    limit = _spec(ds).get("revisionHistoryLimit")
    to_kill = len(old) - (10 if limit is None else int(limit))
    live = {
        _m(_m(p.get("metadata")).get("labels")).get(CONTROLLER_REVISION_HASH_LABEL) for p in pods
    }
    out = []
    for cr in sort_revisions(old):
        if to_kill <= 0:
            break
        if _m(_m(cr.get("metadata")).get("labels")).get(CONTROLLER_REVISION_HASH_LABEL) in live:
            continue
        out.append(cr)
        to_kill -= 1
    return out
