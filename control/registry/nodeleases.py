"""The API server's side of node heartbeats. Every write of a node's Lease (namespace
``kube-node-lease``) gets the duration the server hands out (``common.heartbeat``: from the number
of node Leases, counted at most every few seconds), so the agent learns from each renewal's answer
how long to wait before the next, and the node controller how long a silence to allow. And a
renewal is the cheapest write the server has: a PUT that changes nothing but ``spec.renewTime``,
at the version this process last wrote, is one compare-and-set with no read before it and no
decoding or validation beyond the new time (the rest of the body is the object the server already
validated). Anything else takes the general path. Shell: counts in the store, keeps per node the
Lease it last wrote."""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from common import errors, meta
from common.heartbeat import HeartbeatPolicy
from common.resources import ResourceType
from common.wellknown import NODE_LEASE_NAMESPACE
from control.registry import answers
from control.store import Store

Obj = dict[str, Any]

LEASE_NAMESPACE = NODE_LEASE_NAMESPACE
# The node count behind the intervals is read again after this long: a cluster that grows by
# hundreds of nodes a second still gets intervals that keep up.
COUNT_SECONDS = 5.0
# Leases remembered for the quick path (one per node); beyond it the least recent are dropped.
MEMO_SIZE = 20_000
# The MicroTime the agent writes; any other spelling takes the general path and its validation.
_MICRO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
# What a renewal may change in the spec: the time, and the duration the server sets anyway.
_RENEWED = ("renewTime", "leaseDurationSeconds")


def is_node_lease(rt: ResourceType, namespace: str) -> bool:
    return (
        rt.plural == "leases"
        and rt.group == "coordination.k8s.io"
        and (namespace == LEASE_NAMESPACE)
    )


def _valid_time(value: Any) -> bool:
    if not isinstance(value, str) or _MICRO.fullmatch(value) is None:
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _rest(spec: Any) -> Obj | None:
    if not isinstance(spec, dict):
        return None
    return {k: v for k, v in spec.items() if k not in _RENEWED}


def renewed_time(body: Any, memo: Obj, rt: ResourceType) -> str | None:
    """The new ``renewTime`` if ``body`` is ``memo`` with only that changed (and the duration,
    which the server sets); None if it is anything else. Pure."""
    if not isinstance(body, dict) or set(body) - {"apiVersion", "kind", "metadata", "spec"}:
        return None
    if body.get("apiVersion", rt.api_version) != rt.api_version:
        return None
    if body.get("kind", rt.kind) != rt.kind or body.get("metadata") != memo.get("metadata"):
        return None
    spec = body.get("spec")
    if _rest(spec) != _rest(memo.get("spec") or {}):
        return None
    assert isinstance(spec, dict)
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (type(duration) is not int or duration <= 0):
        return None  # the general path says why
    renew = spec.get("renewTime")
    return renew if _valid_time(renew) else None


def renewed_fields(metadata: Obj, now: str) -> None:
    """The managedFields of a renewal: the time of the entry that owns ``spec.renewTime`` is
    now (what kube-apiserver's field manager records; nothing else changes). Pure."""
    entries = metadata.get("managedFields")
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("time") == now:
            continue
        spec = (entry.get("fieldsV1") or {}).get("f:spec")
        if entry.get("operation") == "Update" and isinstance(spec, dict) and "f:renewTime" in spec:
            metadata["managedFields"] = [*entries[:index], {**entry, "time": now},
                                         *entries[index + 1 :]]  # fmt: skip
            return


class NodeLeases:
    def __init__(
        self,
        store: Store,
        policy: HeartbeatPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.policy = policy or HeartbeatPolicy()
        self.clock = clock
        self.jitter = jitter
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, Obj] = OrderedDict()
        self._nodes = 0
        self._counted_at: float | None = None

    def nodes(self) -> int:
        """The number of node Leases, read at most every ``COUNT_SECONDS``."""
        now = self.clock()
        with self._lock:
            fresh = self._counted_at is not None and now - self._counted_at < COUNT_SECONDS
            if fresh:
                return self._nodes
            self._counted_at = now  # one reader at a time; the others use the last count
        count = self.store.count("leases", LEASE_NAMESPACE)
        with self._lock:
            self._nodes = count
        return count

    def duration(self) -> int:
        """The Lease duration to hand out now (its renew interval is a quarter of it)."""
        return self.policy.lease_duration(self.nodes(), self.jitter())

    def remember(self, rt: ResourceType, obj: Obj) -> None:
        """Keep the node Lease just written (or read) for the next renewal's quick path."""
        m = obj.get("metadata") or {}
        if not is_node_lease(rt, str(m.get("namespace") or "")):
            return
        kept = {**obj, "metadata": dict(m), "spec": dict(obj.get("spec") or {})}
        kept.pop("apiVersion", None)
        kept.pop("kind", None)
        with self._lock:
            self._memo[str(m.get("name"))] = kept
            self._memo.move_to_end(str(m.get("name")))
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)

    def renew(
        self, rt: ResourceType, namespace: str, name: str, body: Any, duplicates: Sequence[object]
    ) -> Obj | None:
        """The quick path of a PUT: the written Lease, or None for the general path."""
        if duplicates or not is_node_lease(rt, namespace):
            return None
        with self._lock:
            memo = self._memo.get(name)
        if memo is None:
            return None
        renew = renewed_time(body, memo, rt)
        if renew is None or memo["metadata"].get("deletionTimestamp"):
            return None
        spec = {**memo["spec"], "renewTime": renew, "leaseDurationSeconds": self.duration()}
        if spec == memo["spec"]:
            return {**memo, "apiVersion": rt.api_version, "kind": rt.kind}  # nothing to write
        new = {**memo, "metadata": dict(memo["metadata"]), "spec": spec}
        renewed_fields(new["metadata"], meta.timestamp())
        if "generation" in new["metadata"]:  # a spec change, counted as the general path does
            new["metadata"]["generation"] = int(new["metadata"]["generation"]) + 1
        expected = int(memo["metadata"]["resourceVersion"])
        try:
            written = self.store.update("leases", new, expected_rv=expected)
        except errors.ConflictError:
            self._forget(name)
            raise answers.conflict(rt, name) from None
        except errors.NotFoundError:
            self._forget(name)
            raise answers.not_found(rt, name) from None
        self.remember(rt, written)
        written["apiVersion"], written["kind"] = rt.api_version, rt.kind
        return written

    def _forget(self, name: str) -> None:
        with self._lock:
            self._memo.pop(name, None)
