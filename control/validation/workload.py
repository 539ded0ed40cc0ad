"""The checks the apps/v1 workloads' validations share (pkg/apis/apps/validation): object meta
on create and update, the selector (present, not empty, parsed, immutable) and the
int-or-percent fields of the rolling updates, with kube-apiserver's messages. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from common import errors, names
from common.errors import Cause
from common.fielderrors import invalid, required
from common.labels import LabelSelector, label_selector_causes, selector_from_object
from control.validation.meta import (
    FIELD_IMMUTABLE,
    validate_object_meta,
    validate_object_meta_update,
)

Obj = Mapping[str, Any]


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def normalized(value: Any) -> Any:
    """Go's semantic equality: an empty map or list is the same as an absent one."""
    if isinstance(value, Mapping):
        return {k: normalized(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def validate_meta(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidateObjectMeta (a DNS subdomain name, namespaced) or ValidateObjectMetaUpdate."""
    if old is None:
        return validate_object_meta(obj.get("metadata"), True, names.name_is_dns_subdomain)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def empty_selector(sel: Any, path: str, kind: str) -> list[Cause]:
    """A selector with neither matchLabels nor matchExpressions, which a ``kind`` refuses."""
    sel = as_dict(sel)
    if sel.get("matchLabels") or sel.get("matchExpressions"):
        return []
    return [invalid(path, dict(sel), f"empty selector is invalid for {kind}")]


def validate_selector(spec: Obj, path: str, kind: str) -> list[Cause]:
    """``spec.selector``: required, a valid label selector, not empty."""
    sel = spec.get("selector")
    if sel is None:
        return [required(f"{path}.selector")]
    causes = label_selector_causes(sel, f"{path}.selector")
    return causes + empty_selector(sel, f"{path}.selector", kind)


def parsed_selector(spec: Obj, path: str) -> tuple[LabelSelector | None, list[Cause]]:
    """LabelSelectorAsSelector of ``spec.selector``, or the cause saying it cannot be."""
    try:
        return selector_from_object(spec.get("selector"), f"{path}.selector"), []
    except errors.BadRequestError:
        return None, [invalid(f"{path}.selector", spec.get("selector"), "invalid label selector")]


def selector_unchanged(obj: Obj, old: Obj) -> list[Cause]:
    """The apps/v1 strategies' immutable ``spec.selector``."""
    new_sel = as_dict(obj.get("spec")).get("selector")
    old_sel = as_dict(old.get("spec")).get("selector")
    if normalized(new_sel) == normalized(old_sel):
        return []
    return [invalid("spec.selector", new_sel, FIELD_IMMUTABLE)]


def validate_workload(
    obj: Obj, old: Obj | None, validate_spec: Callable[[Any], list[Cause]]
) -> list[Cause]:
    """A defaulted workload with an immutable selector: its meta and spec (``validate_spec``),
    and on update the selector unchanged."""
    causes = validate_meta(obj, old) + validate_spec(obj.get("spec"))
    if old is not None:
        causes += selector_unchanged(obj, old)
    return causes
