"""One scheduling pass for tests that step the control plane by hand: fresh shared informers
list the registry, the scheduler runs a cycle for every pod its active queue holds, then waits for
the binding cycles it started. The same code as the running scheduler, stepped."""

from __future__ import annotations

import threading

from control.informers import SharedInformers
from control.registry.registry import Registry
from control.scheduling import Scheduler

SYNC_TIMEOUT = 10.0


def schedule_pending(registry: Registry) -> int:
    """Schedule what is pending now; returns how many pods were bound."""
    informers = SharedInformers(registry)
    scheduler = Scheduler(registry, informers)
    stop = threading.Event()
    informers.start(stop)
    try:
        assert informers.wait_for_sync(stop, SYNC_TIMEOUT), "the informers did not sync"
        while scheduler.schedule_next(0):
            pass
        assert scheduler.wait_for_bindings(SYNC_TIMEOUT), "the binding cycles did not end"
    finally:
        stop.set()
    return scheduler.bound
