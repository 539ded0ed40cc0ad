"""``dryRun=All``: a store that answers every write as the real store would, and writes nothing.

As kube-apiserver's DryRunnableStorage: a create fails as the real one would when the name is
taken, an update or delete when the object is gone or its resourceVersion or uid precondition
does not hold; otherwise the object comes back as it would be stored, but no key changes, no
revision is consumed and no watcher hears of it. Reads go to the real store. A Registry that
writes through this store runs every other step (defaulting, admission, validation) for real.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

from common import errors
from control.store import (
    Obj,
    Progress,
    Store,
    WatchEvent,
    check_claims,
    claim_owner,
    object_key,
)

# The value of the ``dryRun`` option kube-apiserver accepts (``All``: every stage dry).
ALL = "All"


class DryRunStore:
    """The ``Store`` protocol over ``real``, whose writes only check."""

    def __init__(self, real: Store) -> None:
        self.real = real

    # -- writes: checked against the stored state, never made ------------------------------------

    def create(self, resource: str, obj: Obj, *, claims: Sequence[str] = ()) -> Obj:
        namespace, name = object_key(obj)
        self._check_claims(resource, namespace, name, claims)
        try:
            self.real.get(resource, namespace, name)
        except errors.NotFoundError:
            out = copy.deepcopy(obj)
            out.setdefault("metadata", {}).pop("resourceVersion", None)  # none was consumed
            return out
        raise errors.AlreadyExistsError(f"{resource} {namespace}/{name} already exists")

    def update(
        self,
        resource: str,
        obj: Obj,
        *,
        expected_rv: int | None = None,
        claims: Sequence[str] | None = None,
    ) -> Obj:
        namespace, name = object_key(obj)
        stored = self.real.get(resource, namespace, name)
        self._check_claims(resource, namespace, name, claims or ())
        rv = str(stored["metadata"].get("resourceVersion", ""))
        if expected_rv is not None and str(expected_rv) != rv:
            raise errors.ConflictError(f"{resource} {namespace}/{name}: resourceVersion changed")
        out = copy.deepcopy(obj)
        out.setdefault("metadata", {})["resourceVersion"] = rv  # the write would not happen
        return out

    def delete(
        self,
        resource: str,
        namespace: str,
        name: str,
        *,
        expected_rv: int | None = None,
        expected_uid: str | None = None,
    ) -> Obj:
        stored = self.real.get(resource, namespace, name)
        m = stored["metadata"]
        if expected_rv is not None and str(expected_rv) != str(m.get("resourceVersion")):
            raise errors.ConflictError(f"{resource} {namespace}/{name}: resourceVersion changed")
        if expected_uid and expected_uid != m.get("uid"):
            raise errors.ConflictError(
                f"Precondition failed: UID in precondition: {expected_uid}, "
                f"UID in object meta: {m.get('uid')}"
            )
        return stored

    def _check_claims(
        self, resource: str, namespace: str, name: str, claims: Sequence[str]
    ) -> None:
        """A claim another object holds fails the write as it would fail the real one."""
        owner = claim_owner(resource, namespace, name)
        for claim in check_claims(claims):
            holder = self.real.holder(claim)
            if holder is not None and holder != owner:
                raise errors.ClaimTakenError(f"{claim} is held by {holder}", claim=claim)

    # -- reads: the real store's ------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        return self.real.get(resource, namespace, name)

    def list(
        self, resource: str, namespace: str | None = None, *, node: str | None = None
    ) -> tuple[list[Obj], int]:
        return self.real.list(resource, namespace, node=node)

    def count(self, resource: str, namespace: str | None = None) -> int:
        return self.real.count(resource, namespace)

    def watch(
        self, resource: str, since: int, *, poll: float = 5.0, until: float | None = None
    ) -> Iterator[WatchEvent | None]:
        return self.real.watch(resource, since, poll=poll, until=until)

    def revision(self) -> int:
        return self.real.revision()

    def progress(self, resource: str) -> Progress:
        return self.real.progress(resource)

    def ping(self) -> None:
        self.real.ping()

    def claimed(self, pool: str) -> set[str]:
        return self.real.claimed(pool)

    def holder(self, claim: str) -> str | None:
        return self.real.holder(claim)

    def stale(self, resource: str, namespace: str, name: str) -> bool:
        return self.real.stale(resource, namespace, name)
