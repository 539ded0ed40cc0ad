"""The ``scale`` subresource of Deployments, ReplicaSets and StatefulSets: an autoscaling/v1
Scale that shows the parent's ``spec.replicas``, ``status.replicas`` and selector; a PUT or PATCH
of the Scale changes the parent's ``spec.replicas`` through the registry's ordinary update
(validation, generation, compare-and-set on the Scale's resourceVersion), as Kubernetes'
scaleUpdatedObjectInfo does. ``scale_of`` is pure; the rest goes through the registry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from common import errors
from common.labels import selector_from_object
from common.resources import ResourceType
from control.registry import managedfields
from control.store import parse_rv
from control.validation import decode_object, invalid_error, validate

if TYPE_CHECKING:
    from control.registry.registry import Registry

Obj = dict[str, Any]
API_VERSION = "autoscaling/v1"


def scale_of(obj: Obj) -> Obj:
    """The Scale of a Deployment or ReplicaSet (scaleFromDeployment)."""
    m = obj.get("metadata") or {}
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    try:
        selector = str(selector_from_object(spec.get("selector")))
    except errors.BadRequestError:
        selector = ""
    out_status: Obj = {"replicas": int(status.get("replicas") or 0)}
    if selector:
        out_status["selector"] = selector
    keep = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    return {
        "kind": "Scale",
        "apiVersion": API_VERSION,
        "metadata": {k: m[k] for k in keep if k in m},
        "spec": {"replicas": int(spec.get("replicas") or 0)},
        "status": out_status,
    }


def _checked(body: Any, name: str) -> Obj:
    if not isinstance(body, dict):
        raise errors.BadRequestError("the request body must be a JSON object")
    scale = copy.deepcopy(body)
    api_version, kind = scale.get("apiVersion"), scale.get("kind")
    if api_version is not None and api_version != API_VERSION:
        raise errors.BadRequestError(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({API_VERSION})"
        )
    if kind is not None and kind != "Scale":
        raise errors.BadRequestError(
            f"the kind in the data ({kind}) does not match the expected kind (Scale)"
        )
    decode_object("Scale", scale)
    causes = validate("Scale", scale)
    if causes:
        raise invalid_error("Scale", name, causes)
    return scale


def _write(reg: Registry, rt: ResourceType, parent: Obj, scale: Obj) -> Obj:
    m = parent["metadata"]
    new = copy.deepcopy(parent)
    new.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
    rv = parse_rv((scale.get("metadata") or {}).get("resourceVersion"))
    new["metadata"]["resourceVersion"] = str(rv) if rv is not None else m["resourceVersion"]
    with managedfields.through("scale"):  # kube-apiserver names the scale subresource's manager
        return scale_of(reg.replace(rt, m.get("namespace", ""), m["name"], new))


def replace_scale(reg: Registry, rt: ResourceType, namespace: str, name: str, body: Any) -> Obj:
    """``PUT .../NAME/scale``."""
    scale = _checked(body, name)
    given = (scale.get("metadata") or {}).get("name")
    if given is not None and given != name:
        raise errors.BadRequestError(
            f"the name of the object ({given}) does not match the name on the URL ({name})"
        )
    return _write(reg, rt, reg.get(rt, namespace, name), scale)


def patch_scale(
    reg: Registry,
    rt: ResourceType,
    namespace: str,
    name: str,
    patch: Any,
    patcher: Callable[[Any, Any], Any],
    attempts: int,
) -> Obj:
    """``PATCH .../NAME/scale``: the patch applies to the Scale, then as a PUT."""
    pinned = isinstance(patch, dict) and (patch.get("metadata") or {}).get("resourceVersion")
    for _ in range(attempts):
        parent = reg.get(rt, namespace, name)
        scale = _checked(patcher(scale_of(parent), copy.deepcopy(patch)), name)
        try:
            return _write(reg, rt, parent, scale)
        except errors.ConflictError:
            if pinned:
                raise
    raise errors.ConflictError(
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
