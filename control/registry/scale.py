"""The ``scale`` subresource of Deployments, ReplicaSets and StatefulSets: an autoscaling/v1
Scale that shows the parent's ``spec.replicas``, ``status.replicas`` and selector; a PUT, PATCH or
apply of the Scale changes the parent's ``spec.replicas`` through the registry's ordinary update
(validation, generation, compare-and-set on the Scale's resourceVersion), as Kubernetes'
scaleUpdatedObjectInfo does; an apply's ownership of ``spec.replicas`` is the parent's
managedFields, converted as kube-apiserver's ScaleHandler converts them. ``scale_of`` and the
conversions are pure; the rest goes through the registry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from common import errors, meta
from common.labels import selector_from_object
from common.resources import ResourceType
from control.registry import answers
from control.registry import fieldsets as fs
from control.registry import managedfields as mf
from control.registry.fieldschema import root
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
    with mf.through("scale"):  # kube-apiserver names the scale subresource's manager
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


# spec.replicas, in the Scale and in every parent served (apps/v1 Deployment, ReplicaSet).
REPLICAS: fs.Tree = fs.decode({"f:spec": {"f:replicas": {}}})


def _owns_replicas(entry: mf.Entry) -> bool:
    return bool(fs.intersection(entry.fields, REPLICAS))


def to_scale(entries: list[mf.Entry]) -> list[mf.Entry]:
    """The parent's managers of ``spec.replicas``, as the Scale's (ScaleHandler.ToSubresource;
    each keeps its identity, so conflicts name it as the parent's entry does)."""
    return [replace(e, fields=REPLICAS) for e in entries if _owns_replicas(e)]


def to_parent(
    entries: list[mf.Entry], scale_entries: list[mf.Entry], api_version: str
) -> list[mf.Entry]:
    """The parent's entries after a write of its Scale (ScaleHandler.ToParent): a manager the
    Scale no longer lists loses ``spec.replicas``; the Scale's managers own it in the parent."""
    left = {e.identity(): e for e in scale_entries if _owns_replicas(e)}
    out = []
    for e in entries:
        if not _owns_replicas(e) or left.pop(e.identity(), None) is not None:
            out.append(e)
        elif rest := fs.difference(e.fields, REPLICAS):
            out.append(replace(e, fields=rest))
    out.extend(replace(e, fields=REPLICAS, api_version=api_version) for e in left.values())
    return out


def _applied(config: Any, name: str) -> Obj:
    if not isinstance(config, dict):
        raise errors.BadRequestError("the applied configuration must be an object")
    version = config.get("apiVersion")
    if version != API_VERSION:
        shown = version if isinstance(version, str) else ""
        raise errors.BadRequestError(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{shown}, expected: {API_VERSION}"
        )
    kind = config.get("kind")
    if kind != "Scale":
        raise errors.BadRequestError(
            f"the kind in the data ({kind if isinstance(kind, str) else ''}) does not match the "
            "expected kind (Scale)"
        )
    decode_object("Scale", copy.deepcopy(config))  # a field of the wrong type is a 400
    given = (config.get("metadata") or {}).get("name")
    if given is not None and given != name:
        raise errors.BadRequestError(
            f"the name of the object ({given}) does not match the name on the URL ({name})"
        )
    return config


def apply_scale(
    reg: Registry, rt: ResourceType, namespace: str, name: str, config: Any, force: bool,
    attempts: int,
) -> Obj:  # fmt: skip
    """``PATCH .../NAME/scale`` with an applied Scale: conflicts with the managers of the
    parent's ``spec.replicas`` unless forced, then the parent's update (never a create)."""
    config = _applied(config, name)
    pinned = parse_rv((config.get("metadata") or {}).get("resourceVersion"))
    for _ in range(attempts):
        parent = reg.get(rt, namespace, name)
        entries = mf.decode(parent)
        change = mf.Change(replace(mf.current(), subresource="scale"), mf.APPLY, API_VERSION,
                           meta.timestamp(reg.clock()), root("Scale"))  # fmt: skip
        merged, after = mf.apply(scale_of(parent), config, to_scale(entries), change, force,
                                 has_status=True)  # fmt: skip
        scale = _checked(merged, name)
        new = copy.deepcopy(parent)
        new.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
        new["metadata"]["managedFields"] = mf.encode(to_parent(entries, after, rt.api_version))
        decoded = reg.decode_for_apply(rt, namespace, new)
        try:
            with mf.applying():
                expected = pinned or int(parent["metadata"]["resourceVersion"])
                return scale_of(reg.write_update(rt, decoded, parent, expected))
        except errors.ConflictError:
            if pinned:
                raise
    raise answers.conflict(rt, name)
