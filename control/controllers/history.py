"""The history of a controller's pod templates as ControllerRevisions, as Kubernetes'
pkg/controller/history: a revision's hash (the ``controller-revision-hash`` label), its name
``<owner>-<hash>``, a new revision owned by its controller, ordering, equality, the next revision
number, and an owner's revisions listed from the shared ControllerRevision informer's cache.
Shared by the DaemonSet and StatefulSet controllers. Pure: reads only the cache it is given.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from common.informer import Indexer
from common.labels import LabelSelector
from common.wellknown import CONTROLLER_REVISION_HASH_LABEL
from control.controllers.ownership import controller_of, controller_ref
from control.controllers.templatehash import FNV32_OFFSET, FNV32_PRIME, safe_encode

Obj = dict[str, Any]
# The longest prefix ControllerRevisionName keeps, so that "-<hash>" still fits in 253.
MAX_PREFIX = 223
NAMESPACE_INDEX = "namespace"  # every shared informer has it


def fnv32(data: bytes, start: int = FNV32_OFFSET) -> int:
    """Go's hash/fnv New32 (FNV-1: multiply, then xor), which HashControllerRevision uses."""
    h = start
    for byte in data:
        h = (h * FNV32_PRIME) & 0xFFFFFFFF
        h ^= byte
    return h


def _raw(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hash_revision(data: Any, collision_count: int | None = None) -> str:
    """HashControllerRevision: FNV-1 over the revision's data, then the collision count in
    decimal (the probe), printed as a decimal number mapped through the safe alphabet."""
    h = fnv32(_raw(data))
    if collision_count is not None:
        h = fnv32(str(collision_count).encode(), h)
    return safe_encode(str(h))


def revision_name(prefix: str, hash_: str) -> str:
    """ControllerRevisionName: ``<prefix>-<hash>``, the prefix cut to 223 characters."""
    return f"{prefix[:MAX_PREFIX]}-{hash_}"


def new_controller_revision(
    parent: Mapping[str, Any],
    template_labels: Mapping[str, str] | None,
    data: Any,
    revision: int,
    collision_count: int | None = None,
) -> Obj:
    """NewControllerRevision: a revision of ``parent`` (which carries apiVersion and kind)
    holding ``data``, labelled as its template plus the hash, named after parent and hash."""
    hash_ = hash_revision(data, collision_count)
    m = parent.get("metadata") or {}
    labels = dict(template_labels or {})
    labels[CONTROLLER_REVISION_HASH_LABEL] = hash_
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": revision_name(str(m.get("name", "")), hash_),
            "namespace": m.get("namespace", ""),
            "labels": labels,
            "ownerReferences": [controller_ref(parent)],
        },
        "data": copy.deepcopy(data),
        "revision": revision,
    }


def revision_of(cr: Mapping[str, Any]) -> int:
    return int(cr.get("revision") or 0)


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """SortControllerRevisions: by revision, then creation time, then name."""

    def key(cr: Obj) -> tuple[int, str, str]:
        m = cr.get("metadata") or {}
        return revision_of(cr), str(m.get("creationTimestamp") or ""), str(m.get("name", ""))

    return sorted(revisions, key=key)


def equal_revision(lhs: Mapping[str, Any] | None, rhs: Mapping[str, Any] | None) -> bool:
    """EqualRevision: two revisions of the same state (different hash labels never are)."""
    if lhs is None or rhs is None:
        return lhs is rhs
    lh = ((lhs.get("metadata") or {}).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL)
    rh = ((rhs.get("metadata") or {}).get("labels") or {}).get(CONTROLLER_REVISION_HASH_LABEL)
    if lh is not None and rh is not None and lh != rh:
        return False
    return lhs.get("data") == rhs.get("data")


def find_equal_revisions(revisions: Iterable[Obj], needle: Mapping[str, Any]) -> list[Obj]:
    """FindEqualRevisions: the revisions holding the same state as ``needle``."""
    return [cr for cr in revisions if equal_revision(cr, needle)]


def max_revision(revisions: Iterable[Mapping[str, Any]]) -> int:
    return max((revision_of(cr) for cr in revisions), default=0)


def next_revision(revisions: Iterable[Mapping[str, Any]]) -> int:
    """NextRevision: one more than the highest revision, 1 for the first."""
    return max_revision(revisions) + 1


def list_revisions(cache: Indexer, parent: Mapping[str, Any], selector: LabelSelector) -> list[Obj]:
    """ListControllerRevisions: the cached revisions of the parent's namespace that its selector
    matches and that it controls or nobody controls (orphans it may adopt)."""
    m = parent.get("metadata") or {}
    uid = m.get("uid")
    out = []
    for cr in cache.by_index(NAMESPACE_INDEX, str(m.get("namespace") or "")):
        ref = controller_of(cr)
        if ref is not None and ref.get("uid") != uid:
            continue
        if selector.matches((cr.get("metadata") or {}).get("labels") or {}):
            out.append(cr)
    return out
