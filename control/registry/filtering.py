"""What a list or a watch with selectors sees: whether an object matches its label and field
selectors, and how a change looks to a watch (an object that starts or stops matching arrives as
ADDED or DELETED, as kube-apiserver's watch filtering has it). Pure.
"""

from __future__ import annotations

from typing import Any

from common.resources import ResourceType
from common.selectors import FieldSelector, LabelSelector
from control.registry import strategies as st
from control.store import WatchEvent

Obj = dict[str, Any]


def complete(rt: ResourceType, obj: Obj) -> Obj:
    """The object with its apiVersion and kind (the store keeps neither)."""
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    return obj


def matches(rt: ResourceType, obj: Obj, labels: LabelSelector, fields: FieldSelector) -> bool:
    return labels.matches((obj.get("metadata") or {}).get("labels") or {}) and fields.matches(
        st.field_values(rt, obj)
    )


def filter_event(
    rt: ResourceType, e: WatchEvent, ns: str, labels: LabelSelector, fields: FieldSelector
) -> Obj | None:
    obj = complete(rt, e.object)
    if ns and obj["metadata"].get("namespace") != ns:
        return None
    now_matches = matches(rt, obj, labels, fields)
    if e.type != "MODIFIED" or e.prev is None:
        return {"type": e.type, "object": obj} if now_matches else None
    was_matching = matches(rt, e.prev, labels, fields)
    if now_matches and was_matching:
        return {"type": "MODIFIED", "object": obj}
    if now_matches:
        return {"type": "ADDED", "object": obj}
    if was_matching:
        return {"type": "DELETED", "object": obj}
    return None
