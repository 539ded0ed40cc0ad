"""The storage interface of the API server: versioned objects plus an ordered change log.

Every write gets the next value of one global revision, which becomes the object's
``metadata.resourceVersion`` and the id of the change in the log; a watch resumes from any revision
still in the log, without gap or duplicate. ``RedisStore`` is the real implementation,
``MemoryStore`` a fake for pure-logic tests; one contract suite runs against both. Pure interface.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from common.errors import BadRequestError

Obj = dict[str, Any]


@dataclass(frozen=True)
class WatchEvent:
    """One change (ADDED, MODIFIED or DELETED); ``object`` carries its new resourceVersion."""

    type: str
    object: Obj
    rv: int
    # For MODIFIED: the selectable fields of the object before the change (labels, spec.nodeName,
    # status.phase), so a filtered watch can tell an object entering or leaving its selection.
    prev: Obj | None = None


@dataclass(frozen=True)
class Progress:
    """Where a resource's change log stands, read in one atomic step: the store's global
    ``revision``, the revision of the resource's ``last`` change still in its log (0: none) and
    the highest revision trimmed from it (``compacted``: a watch must start at or after it). No
    change of the resource lies between ``last`` and ``revision``."""

    revision: int
    last: int
    compacted: int


class Store(Protocol):
    """Objects are keyed by (resource, namespace, name); namespace ``""`` when cluster-scoped.

    An object may hold *claims*: values unique across the store (``serviceips:10.96.0.10``,
    ``nodeports:30080``), written atomically with it. A create or update naming a claim another
    object holds fails with ``ClaimTakenError`` and writes nothing; an update without ``claims``
    keeps the object's, one with ``claims`` replaces them; a delete releases them. So two API
    processes can never hand out one ClusterIP twice, and nothing outlives its object.

    Errors: ``NotFoundError``, ``AlreadyExistsError``, ``ConflictError`` (stale resourceVersion or
    uid precondition), ``ClaimTakenError``, ``GoneError`` (watch from a compacted revision),
    ``ServiceUnavailableError`` (the backing store cannot be reached), all from
    ``common.errors``.
    """

    def get(self, resource: str, namespace: str, name: str) -> Obj: ...

    def list(
        self, resource: str, namespace: str | None = None, *, node: str | None = None
    ) -> tuple[list[Obj], int]:
        """All objects of a resource (in a namespace, or bound to a node) and their revision."""
        ...

    def count(self, resource: str, namespace: str | None = None) -> int:
        """How many objects of a resource there are (in a namespace), without reading them."""
        ...

    def create(self, resource: str, obj: Obj, *, claims: Sequence[str] = ()) -> Obj: ...

    def update(
        self,
        resource: str,
        obj: Obj,
        *,
        expected_rv: int | None = None,
        claims: Sequence[str] | None = None,
    ) -> Obj:
        """Replace an object; with ``expected_rv`` only if it is still at that revision."""
        ...

    def claimed(self, pool: str) -> set[str]:
        """The values of a pool that some object holds (``claimed("serviceips")``)."""
        ...

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        expected_rv: int | None = None,
        expected_uid: str | None = None,
    ) -> Obj: ...

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        """Yield every change after revision ``since``, in order; ``None`` every ``poll`` seconds
        without a change, so the caller can send keep-alives or stop. With ``until`` (a
        ``time.monotonic()`` deadline) it never blocks past it and ends there."""
        ...

    def revision(self) -> int: ...

    def progress(self, resource: str) -> Progress:
        """How far the resource's log goes, so a cache that has read it up to ``last`` knows it is
        complete up to ``revision`` (etcd's progress notification)."""
        ...

    def ping(self) -> None: ...


def claim_owner(resource: str, namespace: str, name: str) -> str:
    """Who holds a claim: one object, by resource and key."""
    return f"{resource}/{namespace}/{name}"


def check_claims(claims: Sequence[str]) -> list[str]:
    """Claims as the stores keep them: ``pool:value``, no blanks, each once, in order."""
    for claim in claims:
        pool, sep, value = claim.partition(":")
        if not (pool and sep and value) or any(c.isspace() for c in claim):
            raise ValueError(f"a claim is pool:value without blanks: {claim!r}")
    return list(dict.fromkeys(claims))


def object_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta["name"])


def node_of(resource: str, obj: Obj) -> str:
    """The value of the pods-by-node index (``spec.nodeName``); empty for other resources."""
    if resource != "pods":
        return ""
    return str((obj.get("spec") or {}).get("nodeName") or "")


def summary(obj: Obj) -> dict[str, Any]:
    """The fields of an object that label and field selectors look at, as stored with a change."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    out: dict[str, Any] = {"labels": meta.get("labels") or {}}
    if spec and spec.get("nodeName") is not None:
        out["nodeName"] = spec["nodeName"]
    if status and status.get("phase") is not None:
        out["phase"] = status["phase"]
    return out


def previous_of(obj: Obj, prev: dict[str, Any]) -> Obj:
    """Rebuild enough of an object's previous state from its ``summary`` to evaluate selectors."""
    meta = obj.get("metadata") or {}
    labels = prev.get("labels")
    return {
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "labels": labels if isinstance(labels, dict) else {},
        },
        "spec": {"nodeName": prev["nodeName"]} if prev.get("nodeName") else {},
        "status": {"phase": prev["phase"]} if prev.get("phase") else {},
    }


def block_for(poll: float, until: float | None, now: float | None = None) -> float | None:
    """How long a watch may wait for the next change: ``poll``, cut short by the deadline
    ``until``; ``None`` once the deadline has passed."""
    if until is None:
        return poll
    left = until - (time.monotonic() if now is None else now)
    return min(poll, left) if left > 0 else None


def with_rv(obj: Obj, rv: int) -> Obj:
    meta = obj.setdefault("metadata", {})
    meta["resourceVersion"] = str(rv)
    return obj


def parse_rv(value: str | int | None) -> int | None:
    """A resourceVersion from a client: ``None``/empty means none; else it must be a number."""
    if value is None or value == "":
        return None
    try:
        rv = int(value)
    except (TypeError, ValueError):
        raise BadRequestError(f'invalid resource version "{value}"') from None
    if rv < 0:
        raise BadRequestError(f'invalid resource version "{value}"')
    return rv
