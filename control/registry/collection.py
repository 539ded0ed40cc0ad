"""``DELETE`` on a collection (deletecollection), as kube-apiserver's generic store does it: the
DeleteOptions are checked once, the objects the selectors match are listed (a consistent read),
then each is deleted as a DELETE of it would be (grace periods, finalizers, propagation, dry
run); one already gone is skipped. The answer is the list of what was deleted. A shell over the
Registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common import errors
from common.resources import ResourceType
from control.validation import decode_object, invalid_error, validate

if TYPE_CHECKING:
    from control.registry.registry import Registry

Obj = dict[str, Any]


def delete_collection(
    reg: Registry,
    rt: ResourceType,
    namespace: str,
    options: Any,
    *,
    label_selector: str = "",
    field_selector: str = "",
) -> Obj:
    opts = options if isinstance(options, dict) else {}
    decode_object("DeleteOptions", opts)
    causes = validate("DeleteOptions", opts)
    if causes:
        raise invalid_error("DeleteOptions", "", causes)
    listing = reg.list(rt, namespace, label_selector=label_selector, field_selector=field_selector)
    deleted = []
    for obj in listing["items"]:
        m = obj["metadata"]
        try:
            deleted.append(reg.delete(rt, m.get("namespace", ""), m["name"], dict(opts)))
        except errors.NotFoundError:
            continue  # deleted meanwhile: what the caller asked for
    listing["items"] = deleted
    return listing
