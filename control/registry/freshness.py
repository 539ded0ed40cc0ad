"""Reads at a resourceVersion, as kube-apiserver serves them: ``resourceVersion`` and
``resourceVersionMatch`` checked as its ``ValidateListOptions``; a revision not reached within 3 s
is a 504 "Too large resource version" (``storage.NewTooLargeResourceVersionError``) — lists and
watches wait for the watch cache (``control.cache``), a GET here for the store. An ``Exact`` list
of a revision older than the watch cache's ring is 410, as etcd answers for a compacted one.
Effectful: it polls the store's revision.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from common import errors, fielderrors
from control.store import Store, parse_rv

# kube-apiserver's watch cache blockTimeout and resourceVersionTooHighRetrySeconds.
BLOCK_TIMEOUT = 3.0
RETRY_AFTER_SECONDS = 1
# How often the store's revision is read while waiting: one cheap GET per step.
POLL_STEP = 0.05

EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"


def too_large(wanted: int, current: int) -> errors.ServerTimeoutError:
    return errors.ServerTimeoutError(
        f"Timeout: Too large resource version: {wanted}, current: {current}",
        [errors.Cause("", "ResourceVersionTooLarge", "Too large resource version")],
        {"retryAfterSeconds": RETRY_AFTER_SECONDS},
    )


def check_exact(match: str, wanted: int, listing: dict[str, Any]) -> None:
    """An ``Exact`` list is served only at the revision asked for; an older one is gone."""
    if match == EXACT and int(listing["metadata"]["resourceVersion"]) != wanted:
        raise errors.GoneError("The resourceVersion for the provided list is too old.")


def minimum_revision(
    resource_version: str, match: str, *, watch: bool = False, continue_token: str = ""
) -> int:
    """The revision a read must be at least as fresh as (0: any), from the query's
    ``resourceVersion`` and ``resourceVersionMatch``; 422 for the pairs Kubernetes refuses."""
    rv = parse_rv(resource_version)
    if match:
        _check_match(resource_version, match, watch, continue_token)
    return rv or 0


def _check_match(resource_version: str, match: str, watch: bool, continue_token: str) -> None:
    path = "resourceVersionMatch"
    causes: list[errors.Cause] = []
    if watch:
        detail = "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        causes.append(fielderrors.forbidden(path, detail))
        if match != NOT_OLDER_THAN:
            causes.append(fielderrors.not_supported(path, match, [NOT_OLDER_THAN]))
    else:
        if not resource_version:
            detail = "resourceVersionMatch is forbidden unless resourceVersion is provided"
            causes.append(fielderrors.forbidden(path, detail))
        if continue_token:
            detail = "resourceVersionMatch is forbidden when continue is provided"
            causes.append(fielderrors.forbidden(path, detail))
        if match not in (EXACT, NOT_OLDER_THAN):
            causes.append(fielderrors.not_supported(path, match, [EXACT, NOT_OLDER_THAN, ""]))
        if match == EXACT and resource_version == "0":
            detail = 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
            causes.append(fielderrors.forbidden(path, detail))
    if causes:
        raise errors.InvalidError(
            f'ListOptions.meta.k8s.io "" is invalid: {fielderrors.aggregate(causes)}',
            causes,
            {"name": "", "group": "meta.k8s.io", "kind": "ListOptions"},
        )


def wait_fresh(
    store: Store,
    revision: int,
    *,
    timeout: float = BLOCK_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Wait until the store has reached ``revision`` and return its current revision; after
    ``timeout`` seconds raise the 504 "Too large resource version"."""
    current = store.revision()
    if current >= revision:
        return current
    deadline = clock() + timeout
    while clock() < deadline:
        sleep(min(POLL_STEP, max(0.0, deadline - clock())))
        current = store.revision()
        if current >= revision:
            return current
    raise too_large(revision, current)
