"""An in-memory ``Store`` with the same semantics as ``RedisStore``, for pure-logic tests and
simulated clusters. It is a fake: nothing survives the process. The store contract tests run
against both implementations."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence

from common import errors
from control.store import (
    Obj,
    Progress,
    WatchEvent,
    block_for,
    check_claims,
    claim_owner,
    node_of,
    object_key,
    previous_of,
    summary,
    with_rv,
)


class MemoryStore:
    def __init__(self, *, history: int = 10_000) -> None:
        self.history = history
        self._objects: dict[tuple[str, str, str], tuple[Obj, int]] = {}
        self._log: dict[str, list[WatchEvent]] = {}
        self._compacted: dict[str, int] = {}
        self._rev = 0
        self._cond = threading.Condition()
        # pool -> value -> owner, and each object's claims (control.store.Store on claims).
        self._claims: dict[str, dict[str, str]] = {}
        self._held: dict[tuple[str, str, str], list[str]] = {}

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self._cond:
            found = self._objects.get((resource, namespace, name))
        if found is None:
            raise errors.NotFoundError(f'{resource} "{name}" not found')
        return with_rv(copy.deepcopy(found[0]), found[1])

    def list(
        self, resource: str, namespace: str | None = None, *, node: str | None = None
    ) -> tuple[list[Obj], int]:
        with self._cond:
            items = [
                with_rv(copy.deepcopy(o), rv)
                for (res, ns, _), (o, rv) in self._objects.items()
                if res == resource
                and (not namespace or ns == namespace)
                and (node is None or node_of(resource, o) == node)
            ]
            rev = self._rev
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items, rev

    def count(self, resource: str, namespace: str | None = None) -> int:
        with self._cond:
            return sum(
                1
                for res, ns, _ in self._objects
                if res == resource and (not namespace or ns == namespace)
            )

    def revision(self) -> int:
        with self._cond:
            return self._rev

    def progress(self, resource: str) -> Progress:
        with self._cond:
            log = self._log.get(resource) or []
            compacted = self._compacted.get(resource, 0)
            return Progress(self._rev, log[-1].rv if log else compacted, compacted)

    def ping(self) -> None:
        return None

    def _append(self, resource: str, etype: str, obj: Obj, old: Obj | None = None) -> int:
        self._rev += 1
        log = self._log.setdefault(resource, [])
        new = with_rv(copy.deepcopy(obj), self._rev)
        prev = previous_of(new, summary(old)) if old is not None else None
        log.append(WatchEvent(etype, new, self._rev, prev))
        if len(log) > self.history:
            dropped = log[: len(log) - self.history]
            del log[: len(dropped)]
            self._compacted[resource] = dropped[-1].rv
        self._cond.notify_all()
        return self._rev

    def claimed(self, pool: str) -> set[str]:
        with self._cond:
            return set(self._claims.get(pool, {}))

    def _take(self, key: tuple[str, str, str], claims: Sequence[str] | None) -> None:
        """Check then take an object's claims (None: keep them), releasing those it drops."""
        if claims is None:
            return
        wanted, owner = check_claims(claims), claim_owner(*key)
        for claim in wanted:
            pool, _, value = claim.partition(":")
            holder = self._claims.get(pool, {}).get(value)
            if holder is not None and holder != owner:
                raise errors.ClaimTakenError(f"{claim} is held by {holder}", claim=claim)
        self._release(key, keep=wanted)
        for claim in wanted:
            pool, _, value = claim.partition(":")
            self._claims.setdefault(pool, {})[value] = owner
        self._held[key] = wanted

    def _release(self, key: tuple[str, str, str], keep: Sequence[str] = ()) -> None:
        owner = claim_owner(*key)
        for claim in self._held.pop(key, []):
            pool, _, value = claim.partition(":")
            if claim not in keep and self._claims.get(pool, {}).get(value) == owner:
                del self._claims[pool][value]

    def create(self, resource: str, obj: Obj, *, claims: Sequence[str] = ()) -> Obj:
        ns, name = object_key(obj)
        key = (resource, ns, name)
        with self._cond:
            if key in self._objects:
                raise errors.AlreadyExistsError(f'{resource} "{name}" already exists')
            self._take(key, claims)
            obj["metadata"].pop("resourceVersion", None)
            rev = self._append(resource, "ADDED", obj)
            self._objects[key] = (copy.deepcopy(obj), rev)
        return with_rv(obj, rev)

    def _check(self, resource: str, key: tuple[str, str, str], expected_rv: int | None) -> Obj:
        found = self._objects.get(key)
        if found is None:
            raise errors.NotFoundError(f'{resource} "{key[2]}" not found')
        if expected_rv is not None and expected_rv != found[1]:
            raise errors.ConflictError(
                f'Operation cannot be fulfilled on {resource} "{key[2]}": the object has been '
                "modified; please apply your changes to the latest version and try again"
            )
        return found[0]

    def update(
        self,
        resource: str,
        obj: Obj,
        *,
        expected_rv: int | None = None,
        claims: Sequence[str] | None = None,
    ) -> Obj:
        ns, name = object_key(obj)
        with self._cond:
            old = self._check(resource, (resource, ns, name), expected_rv)
            self._take((resource, ns, name), claims)
            obj["metadata"].pop("resourceVersion", None)
            rev = self._append(resource, "MODIFIED", obj, old)
            self._objects[(resource, ns, name)] = (copy.deepcopy(obj), rev)
        return with_rv(obj, rev)

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        expected_rv: int | None = None,
        expected_uid: str | None = None,
    ) -> Obj:
        key = (resource, namespace, name)
        with self._cond:
            current = self._check(resource, key, expected_rv)
            uid = current["metadata"].get("uid", "")
            if expected_uid and expected_uid != uid:
                raise errors.ConflictError(
                    f"Precondition failed: UID in precondition: {expected_uid}, "
                    f"UID in object meta: {uid}"
                )
            del self._objects[key]
            self._release(key)
            rev = self._append(resource, "DELETED", current)
        return with_rv(copy.deepcopy(current), rev)

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        cursor = since
        while (block := block_for(poll, until)) is not None:
            with self._cond:
                pending = [e for e in self._log.get(resource, []) if e.rv > cursor]
                if not pending:
                    self._cond.wait(block)
                    pending = [e for e in self._log.get(resource, []) if e.rv > cursor]
                # Checked after the wait too: changes trimmed during it would be a silent gap.
                if self._compacted.get(resource, 0) > cursor:
                    raise errors.GoneError(
                        f"too old resource version: {cursor} ({self._compacted[resource]})"
                    )
            if not pending:
                yield None
                continue
            for e in pending:
                cursor = e.rv
                yield WatchEvent(e.type, copy.deepcopy(e.object), e.rv, e.prev)
