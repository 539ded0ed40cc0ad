"""``metadata.managedFields``: who owns which fields, kept on every write as kube-apiserver's field
manager keeps it. An update gives its manager the fields it changed (an ``Update`` entry); an
apply makes the applied configuration's fields the manager's set (an ``Apply`` entry), refuses to
change fields others own unless forced (409, kube-apiserver's message), and removes the fields
the manager applied before and no longer does. Pure, but for the request's manager, held in a
context variable as the request context holds it in Kubernetes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from common import errors
from control.registry import fieldsets as fs
from control.registry.fieldschema import Node

Obj = dict[str, Any]

UPDATE, APPLY = "Update", "Apply"
# kube-apiserver keeps at most this many Update entries; the oldest merge into one bucket.
MAX_UPDATE_MANAGERS = 10
ANCIENT = "ancient-changes"
# The manager of the writes the control plane makes in process (no request, no user agent).
DEFAULT_MANAGER = "tinykube-control"
# kube-apiserver's limit on a fieldManager's length.
MAX_MANAGER_LENGTH = 128
# Metadata the server sets: never anybody's field (kube-apiserver's field manager strips them).
SERVER_METADATA = (
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
)  # fmt: skip


@dataclass(frozen=True)
class Manager:
    name: str
    subresource: str = ""  # set for a write through another resource (scale)


_current: ContextVar[Manager | None] = ContextVar("tinykube_manager", default=None)
_applying: ContextVar[bool] = ContextVar("tinykube_applying", default=False)


@contextlib.contextmanager
def managing(name: str, subresource: str = "") -> Iterator[None]:
    """The manager of the writes made within (a request's ``fieldManager`` or user agent)."""
    token = _current.set(Manager(name, subresource))
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def through(subresource: str) -> Iterator[None]:
    """Writes made for a subresource (a Scale) are that subresource's manager's."""
    token = _current.set(replace(current(), subresource=subresource))
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def applying() -> Iterator[None]:
    """An apply's write: its managedFields are computed already."""
    token = _applying.set(True)
    try:
        yield
    finally:
        _applying.reset(token)


def is_applying() -> bool:
    return _applying.get()


def current() -> Manager:
    return _current.get() or Manager(DEFAULT_MANAGER)


def manager_from(field_manager: str | None, user_agent: str) -> str:
    """The ``fieldManager`` query parameter, or the user agent's product (``kubectl`` of
    ``kubectl/v1.35.2 (linux/amd64)``), at most 128 characters, as kube-apiserver derives it."""
    if field_manager:
        return field_manager
    return user_agent.split("/")[0][:MAX_MANAGER_LENGTH]


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: fs.Tree
    subresource: str = ""

    def identity(self) -> tuple[str, str, str, str]:
        version = "" if self.operation == APPLY else self.api_version
        return self.manager, self.operation, version, self.subresource

    def shown(self) -> str:
        """The manager as kube-apiserver's conflict messages print it."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


def decode(obj: Obj) -> list[Entry]:
    out = []
    for raw in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(raw, dict) or (not raw.get("manager") and not raw.get("operation")):
            continue
        out.append(Entry(
            str(raw.get("manager") or ""), str(raw.get("operation") or UPDATE),
            str(raw.get("apiVersion") or ""), str(raw.get("time") or ""),
            fs.decode(raw.get("fieldsV1")), str(raw.get("subresource") or ""),
        ))  # fmt: skip
    return out


def encode(entries: list[Entry]) -> list[Obj]:
    """The entries as stored, sorted as kube-apiserver sorts them (Apply first, oldest first)."""
    out = []
    ordered = sorted(entries, key=lambda e: (e.operation, e.time, e.manager, e.api_version,
                                             e.subresource))  # fmt: skip
    for e in ordered:
        raw: Obj = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            raw["time"] = e.time
        raw["fieldsType"] = "FieldsV1"
        raw["fieldsV1"] = fs.encode(e.fields)
        if e.subresource:
            raw["subresource"] = e.subresource
        out.append(raw)
    return out


def tracked(obj: Any, sub: str, has_status: bool) -> Obj:
    """The part of an object whose fields are owned: no server metadata; only the status of
    a status write, no status on the main resource (when the kind has a status subresource)."""
    if not isinstance(obj, dict):
        return {}
    if sub == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    if has_status:
        out.pop("status", None)
    m = out.get("metadata")
    if isinstance(m, dict):
        out["metadata"] = {k: v for k, v in m.items() if k not in SERVER_METADATA}
    return out


def conflict_error(conflicts: list[tuple[Entry, tuple[str, ...]]]) -> errors.ConflictError:
    """kube-apiserver's 409 for an apply that would change fields others own."""
    causes = [
        errors.Cause(fs.path_string(path), "FieldManagerConflict", f"conflict with {e.shown()}")
        for e, path in conflicts
    ]
    if len(conflicts) == 1:
        e, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {e.shown()}: {fs.path_string(path)}"
    else:
        lines = []
        for shown in sorted({e.shown() for e, _ in conflicts}):
            lines.append(f"conflicts with {shown}:")
            lines.extend(f"- {fs.path_string(p)}" for e, p in conflicts if e.shown() == shown)
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.ConflictError(message, causes)


@dataclass(frozen=True)
class Change:
    """One write as the field manager sees it."""

    manager: Manager
    operation: str
    api_version: str
    now: str
    node: Node


def _take(entries: list[Entry], me: Entry, comparison: fs.Comparison, force: bool) -> list[Entry]:
    """Others lose the fields this write changed (or it conflicts) and the fields it removed."""
    changed = comparison.changed()
    conflicts: list[tuple[Entry, tuple[str, ...]]] = []
    out = []
    for e in entries:
        if e.identity() == me.identity():
            continue
        lost = fs.intersection(e.fields, changed)
        if lost and not force:
            conflicts.extend((e, path) for path in fs.members(lost))
        rest = fs.difference(fs.difference(e.fields, lost), comparison.removed)
        if rest:
            out.append(e if rest == e.fields else replace(e, fields=rest))
    if conflicts:
        raise conflict_error(conflicts)
    return out


def _mine(entries: list[Entry], change: Change, sub: str) -> Entry:
    wanted = Entry(change.manager.name, change.operation, change.api_version, change.now, {},
                   sub or change.manager.subresource)  # fmt: skip
    for e in entries:
        if e.identity() == wanted.identity():
            return e
    return wanted


def update(old: Obj, new: Obj, entries: list[Entry], change: Change, sub: str,
           has_status: bool) -> list[Entry]:  # fmt: skip
    """The entries after an update from ``old`` to ``new``: the manager owns what it changed."""
    comparison = fs.compare(tracked(old, sub, has_status), tracked(new, sub, has_status),
                            change.node)  # fmt: skip
    if not comparison.changed() and not comparison.removed:
        return entries
    me = _mine(entries, change, sub)
    others = _take(entries, me, comparison, force=True)
    mine = fs.union(fs.difference(me.fields, comparison.removed), comparison.changed())
    if mine:
        others.append(replace(me, fields=mine, time=change.now, api_version=change.api_version))
    return cap(others)


def apply(live: Obj, config: Obj, entries: list[Entry], change: Change, force: bool,
          allowed: fs.Tree | None = None, has_status: bool = False,
          ) -> tuple[Obj, list[Entry]]:  # fmt: skip
    """(the object after applying ``config`` to ``live``, the entries after it). Conflicts
    inside ``allowed`` (fields taken over from a client-side apply) are forced. An apply to the
    status subresource (its manager's ``subresource``) applies only the status."""
    node = change.node
    scope = "status" if change.manager.subresource == "status" else ""
    if scope:
        config = tracked(config, scope, has_status)
    merged = fs.merge(live, config, node)
    me = _mine(entries, change, scope)
    applied = fs.field_set(tracked(config, scope, has_status), node)
    others = [e for e in entries if e.identity() != me.identity()]
    owned = applied
    for e in others:
        owned = fs.union(owned, e.fields)
    if me.fields:
        merged = fs.remove(merged, fs.removable(me.fields, owned), node)
    comparison = fs.compare(tracked(live, scope, has_status), tracked(merged, scope, has_status),
                            node)  # fmt: skip
    try:
        kept = _take(others, me, comparison, force)
    except errors.ConflictError:
        if allowed is None or not _within(others, comparison, allowed):
            raise
        kept = _take(others, me, comparison, True)
    if applied:
        # An apply that changes nothing in the object keeps its time (kube-apiserver's).
        same = merged == live and me.time
        kept.append(replace(me, fields=applied, time=me.time if same else change.now))
    return merged, kept


def _within(others: list[Entry], comparison: fs.Comparison, allowed: fs.Tree) -> bool:
    changed = comparison.changed()
    for e in others:
        lost = fs.intersection(e.fields, changed)
        if lost and fs.difference(lost, allowed):
            return False
    return True


def cap(entries: list[Entry]) -> list[Entry]:
    """At most ``MAX_UPDATE_MANAGERS`` Update entries: the oldest merge into ``ancient-changes``
    (kube-apiserver's capManagersManager)."""
    updaters = sorted((e for e in entries if e.operation == UPDATE),
                      key=lambda e: (e.manager != ANCIENT, e.time))  # fmt: skip
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return entries
    merged = len(updaters) - MAX_UPDATE_MANAGERS + 1
    oldest, rest = updaters[:merged], updaters[merged:]
    bucket = Entry(ANCIENT, UPDATE, oldest[-1].api_version, oldest[-1].time, {})
    for e in oldest:
        bucket.fields = fs.union(bucket.fields, e.fields)
    gone = {id(e) for e in oldest}
    return [e for e in entries if id(e) not in gone and e.operation != UPDATE] + rest + [bucket]
