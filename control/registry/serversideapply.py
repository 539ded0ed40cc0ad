"""Server-side apply and the field manager's part of every write, as kube-apiserver's: ``track``
records an Update in ``metadata.managedFields`` before an object is stored; ``apply`` serves a
``PATCH`` of ``application/apply-patch+yaml`` (an upsert: the object is created when it does not
exist), with kubectl's take-over of the fields a client-side apply set. Shell: reads and writes
through the registry."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from common import errors, meta
from common.resources import ResourceType
from common.wellknown import LAST_APPLIED as LAST_APPLIED_ANNOTATION
from control.registry import answers
from control.registry import fieldsets as fs
from control.registry import managedfields as mf
from control.registry.fieldschema import root
from control.store import parse_rv
from control.validation import decode_object

if TYPE_CHECKING:
    from control.registry.registry import Registry

Obj = dict[str, Any]

# The manager whose applies take over a client-side apply's fields (kubectl's --server-side).
KUBECTL = "kubectl"
# The manager of the fields an object had when it was first applied without managedFields.
BEFORE_FIRST_APPLY = "before-first-apply"
# Read-modify-write attempts of an apply before the conflict is reported to the client.
APPLY_ATTEMPTS = 8


def _change(reg: Registry, rt: ResourceType, operation: str) -> mf.Change:
    return mf.Change(mf.current(), operation, rt.api_version, meta.timestamp(reg.clock()),
                     root(rt.kind))  # fmt: skip


def track(reg: Registry, rt: ResourceType, new: Obj, old: Obj | None, sub: str) -> None:
    """Set ``new``'s managedFields for an Update by the request's manager (not for an apply,
    whose entries are made already). managedFields sent by the client replace the stored ones,
    as kube-apiserver takes them (kubectl's migration of client-side apply sends its own)."""
    if mf.is_applying():
        return
    m = new["metadata"]
    before = (old or {}).get("metadata", {}).get("managedFields")
    sent = m.get("managedFields")
    given = sent if sent and sent != before and sub != "status" else before
    entries = mf.decode({"metadata": {"managedFields": given}})
    after = mf.update(old or {}, new, entries, _change(reg, rt, mf.UPDATE), sub,
                      "status" in rt.subresources)  # fmt: skip
    if after is entries and given == before:
        if before:
            m["managedFields"] = before
        else:
            m.pop("managedFields", None)
        return
    encoded = mf.encode(after)
    if encoded:
        m["managedFields"] = encoded
    else:
        m.pop("managedFields", None)


def keep_applied(new: Obj, sent: Obj) -> None:
    """A status write keeps the stored metadata, but an apply's managedFields are its own."""
    if mf.is_applying():
        fields = sent["metadata"].get("managedFields")
        if fields:
            new["metadata"]["managedFields"] = fields


def apply(
    reg: Registry, rt: ResourceType, namespace: str, name: str, config: Any, force: bool, sub: str
) -> tuple[Obj, bool]:
    """``PATCH`` with an applied configuration: merged into the live object (or created);
    (the object, whether it was created)."""
    if not isinstance(config, dict):
        raise errors.BadRequestError("the applied configuration must be an object")
    if sub not in ("", "status"):
        raise errors.MethodNotAllowedError(
            f"apply is not supported on the {sub} subresource by this server yet"
        )
    version = config.get("apiVersion")
    if version != rt.api_version:
        shown = version if isinstance(version, str) else ""
        raise errors.BadRequestError(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{shown}, expected: {rt.api_version}"
        )
    metadata = config.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        # The decoder's 400 (json: cannot unmarshal ... into ObjectMeta), never a 500.
        decode_object(rt.kind, {"apiVersion": version, "kind": rt.kind, "metadata": metadata})
        raise errors.BadRequestError("the applied configuration's metadata must be an object")
    given = (metadata or {}).get("name")
    if given is not None and given != name:
        raise errors.BadRequestError(
            f"the name of the object ({given}) does not match the name on the URL ({name})"
        )
    for _ in range(APPLY_ATTEMPTS):
        try:
            live = reg.get(rt, namespace, name)
        except errors.NotFoundError:
            if sub:
                raise
            return _create(reg, rt, namespace, name, config), True
        try:
            with mf.through(sub):
                return _update(reg, rt, namespace, live, config, force, sub), False
        except errors.ConflictError as e:
            if "Apply failed" in e.message:
                raise
    raise answers.conflict(rt, name)


def _create(reg: Registry, rt: ResourceType, namespace: str, name: str, config: Obj) -> Obj:
    change = _change(reg, rt, mf.APPLY)
    base: Obj = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {"name": name}}
    obj, entries = mf.apply(base, config, [], change, True, None, "status" in rt.subresources)
    obj["metadata"]["managedFields"] = mf.encode(entries)
    with mf.applying():
        created, _ = reg.create(rt, namespace, obj)
    return created


def _update(
    reg: Registry, rt: ResourceType, namespace: str, live: Obj, config: Obj, force: bool, sub: str
) -> Obj:
    change = _change(reg, rt, mf.APPLY)
    entries = mf.decode(live)
    if not entries:
        # An object nobody manages yet (stored before managedFields were kept, or whose
        # managedFields were cleared): its fields are first given to one manager, so an apply
        # that changes them conflicts, as kube-apiserver's skipNonAppliedManager does.
        before = replace(change, manager=mf.Manager(BEFORE_FIRST_APPLY), operation=mf.UPDATE)
        entries = mf.update({}, live, [], before, "", "status" in rt.subresources)
    allowed = _taken_over(live, change) if change.manager.name == KUBECTL and not sub else None
    obj, after = mf.apply(live, config, entries, change, force, allowed,
                          "status" in rt.subresources)  # fmt: skip
    m = obj["metadata"] = dict(obj["metadata"])
    annotations = m.get("annotations") or {}
    if change.manager.name == KUBECTL and LAST_APPLIED_ANNOTATION in annotations and not sub:
        m["annotations"] = {**annotations, LAST_APPLIED_ANNOTATION: _last_applied(config)}
    m["managedFields"] = mf.encode(after)
    decoded = reg.decode_for_apply(rt, namespace, obj)
    with mf.applying():
        # A resourceVersion in the configuration is a precondition, as in any write.
        expected = parse_rv((config.get("metadata") or {}).get("resourceVersion"))
        rv = expected or int(live["metadata"]["resourceVersion"])
        return reg.write_update(rt, decoded, live, rv, sub)


def _taken_over(live: Obj, change: mf.Change) -> fs.Tree | None:
    """The fields kubectl may take from a client-side apply: those of the last-applied
    configuration whose live value is still the one it applied (kube-apiserver's upgrade)."""
    text = (live["metadata"].get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict):
        return None
    node = change.node
    tracked = mf.tracked(last, "", False)
    fields = fs.field_set(tracked, node)
    modified = fs.compare(mf.tracked(live, "", False), fs.merge(mf.tracked(live, "", False),
                                                               tracked, node), node)  # fmt: skip
    return fs.difference(fields, modified.changed())


def _last_applied(config: Obj) -> str:
    kept = copy.deepcopy(config)
    annotations = (kept.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED_ANNOTATION, None)
        if not annotations:
            kept["metadata"].pop("annotations")
    return json.dumps(kept, separators=(",", ":"), sort_keys=True)
