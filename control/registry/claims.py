"""Writing an object together with the unique values it holds (a Service's ClusterIP and node
ports): the strategy fills in what is missing from the values the store says are free, the
write claims them atomically, and when another API process took a value first the values are
picked again; a value the client asked for that is taken is the strategy's 422. A shell over the
store's ``claimed`` and the caller's write.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from typing import Any

from common import errors
from control.registry import strategies as st
from control.store import Store

Obj = dict[str, Any]
# Writes a candidate with its claims (None: the kind holds none), validating it first.
Write = Callable[[Obj, Sequence[str] | None], Obj]
# Picks after a lost race before the write is reported as failed (each pick sees the winner).
ATTEMPTS = 16

_rng = random.SystemRandom()


def write(
    store: Store,
    strategy: st.Strategy,
    admission: st.Admission,
    obj: Obj,
    old: Obj | None,
    writer: Write,
) -> Obj:
    """Allocate what ``obj`` lacks, then ``writer(candidate, claims)``, again on a lost race."""
    if not strategy.holds_claims:
        return writer(obj, None)
    lost: set[str] = set()

    def taken(pool: str) -> set[str]:
        prefix = f"{pool}:"
        return store.claimed(pool) | {c[len(prefix) :] for c in lost if c.startswith(prefix)}

    for _ in range(ATTEMPTS):
        candidate = copy.deepcopy(obj)
        requested = strategy.allocate(candidate, old, admission, taken, _rng)
        try:
            return writer(candidate, strategy.claims(candidate))
        except errors.ClaimTakenError as e:
            if e.claim in requested:
                raise strategy.claim_taken(candidate, e.claim) from None
            lost.add(e.claim)
    raise errors.ConflictError(
        "the values allocated for this object kept being taken by others; please try again"
    )
