"""Informer-fed controllers driven step by step in tests: ``pump`` has every informer list the
registry once and tell its handlers what changed (as after a reconnect), ``drain`` runs a
controller's ``sync`` on each key that is ready, in the calling thread, as its workers would."""

from __future__ import annotations

from common import errors
from common.controller import Controller
from control.informers import SharedInformers

# A controller that keeps re-adding keys at once is a bug: fail rather than spin.
MAX_SYNCS = 10_000


def pump(informers: SharedInformers) -> None:
    for informer in list(informers._informers.values()):
        informer._relist()


def drain(controller: Controller) -> list[str]:
    """Sync every ready key (delayed ones stay queued); the keys synced, in order. A retryable
    API error requeues the key with back-off, as the workers do; anything else fails the test."""
    synced: list[str] = []
    queue = controller.queue
    while (key := queue.get(0)) is not None:
        assert len(synced) < MAX_SYNCS, f"{controller.name}: keys re-added without end"
        synced.append(key)
        try:
            controller.sync(key)
        except errors.ApiError as e:
            if not e.retryable:
                raise
            queue.add_rate_limited(key)
        else:
            queue.forget(key)
        finally:
            queue.done(key)
    return synced
